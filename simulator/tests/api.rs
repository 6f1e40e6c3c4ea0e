//! The simulator's HTTP side end to end: the real `antaca` binary provisions
//! cards on a fresh SQLite database, serves on port 0, and the real
//! `simulator` binary runs `provision --api` and `scenarios --api` against it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The `antaca` binary of the same profile, built now (cargo builds a test's own package's
/// binaries only).
fn antaca_binary() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "-p", "antaca", "--bin", "antaca"])
        .current_dir(workspace_root())
        .status()
        .expect("running cargo build");
    assert!(status.success(), "cargo build -p antaca failed");
    Path::new(env!("CARGO_BIN_EXE_simulator")).with_file_name("antaca")
}

fn antaca(binary: &Path, directory: &Path, subcommand: &str) -> Command {
    let root = workspace_root();
    let mut command = Command::new(binary);
    command
        .arg(subcommand)
        .arg("--config")
        .arg(root.join("config.toml"))
        .current_dir(directory)
        .env_remove("RUST_LOG")
        .env(
            "ANTACA__DATABASE__URL",
            format!("sqlite://{}", directory.join("antaca.db").display()),
        )
        .env("ANTACA__NETWORK__SPEC_PATH", root.join("specs/iso8583_2003_ascii.yaml"))
        .env("ANTACA__TLS__DEV_DIRECTORY", directory.join("tls"))
        .env("ANTACA__NETWORK__LISTEN", "127.0.0.1:0")
        .env("ANTACA__HTTP__LISTEN", "127.0.0.1:0")
        .env("ANTACA__CARDS__PERSONALIZATION_DELAY_S", "1")
        .env("ANTACA__LOG__FORMAT", "json")
        .stdin(Stdio::null());
    command
}

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `antaca serve`; answers its ISO 8583 and HTTPS addresses from its log.
fn serve(binary: &Path, directory: &Path) -> (Served, SocketAddr, SocketAddr) {
    let mut child = antaca(binary, directory, "serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning antaca serve");
    let stdout = child.stdout.take().unwrap();
    let served = Served(child);
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            for (listener, marker) in [("iso", "ISO 8583 listener bound"), ("https", "HTTPS listener bound")] {
                if line.contains(marker)
                    && let Some(address) = address_in(&line)
                {
                    let _ = sender.send((listener, address));
                }
            }
        }
    });
    let (mut iso, mut https) = (None, None);
    while iso.is_none() || https.is_none() {
        let (listener, address) = receiver
            .recv_timeout(Duration::from_secs(120))
            .expect("the switch did not log both listeners");
        if listener == "iso" {
            iso = Some(address);
        } else {
            https = Some(address);
        }
    }
    (served, iso.unwrap(), https.unwrap())
}

fn address_in(line: &str) -> Option<SocketAddr> {
    let key = "\"address\":\"";
    let start = line.find(key)? + key.len();
    let end = line[start..].find('"')?;
    line[start..start + end].parse().ok()
}

fn simulator(directory: &Path, api: SocketAddr) -> (Command, Vec<String>) {
    let root = workspace_root();
    let mut command = Command::new(env!("CARGO_BIN_EXE_simulator"));
    command.current_dir(&root).env_remove("SPEC_FILE").stdin(Stdio::null());
    let tls = directory.join("tls");
    let api_args = vec![
        "--api".to_owned(),
        format!("https://localhost:{}", api.port()),
        "--cert".to_owned(),
        tls.join("partner-dev-partner.pem").display().to_string(),
        "--key".to_owned(),
        tls.join("partner-dev-partner-key.pem").display().to_string(),
        "--ca".to_owned(),
        tls.join("ca.pem").display().to_string(),
        "--spec".to_owned(),
        root.join("specs/iso8583_2003_ascii.yaml").display().to_string(),
    ];
    (command, api_args)
}

#[test]
fn provision_and_scenarios_over_the_api() {
    let directory = tempfile::tempdir().unwrap();
    let directory = directory.path();
    let binary = antaca_binary();

    // Cards with their numbers for the ISO 8583 side, written on the database before serving.
    let offline = directory.join("cards.jsonl");
    let output = antaca(&binary, directory, "provision")
        .args(["--cards", "24", "--funds", "1000000", "--pin-every", "4", "--out"])
        .arg(&offline)
        .output()
        .unwrap();
    assert!(output.status.success(), "antaca provision: {output:?}");

    let (_served, iso, https) = serve(&binary, directory);

    let made = directory.join("api-cards.jsonl");
    let (mut provision, api_args) = simulator(directory, https);
    let output = provision
        .arg("provision")
        .args(&api_args)
        .args(["--cards", "6", "--pin-every", "3", "--concurrency", "4", "--out"])
        .arg(&made)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "simulator provision --api failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&made).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the cards file is owner-only");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&made)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    for line in &lines {
        assert!(line["card_id"].as_i64().is_some() && line["customer_id"].as_i64().is_some());
        assert!(line["balance_id"].as_i64().is_some() && line["expiry"].as_str().is_some());
        // Card data read through the JWE route: a card number and a CVC2.
        let pan = line["pan"].as_str().expect("a card number");
        assert!(
            pan.len() >= 12 && pan.bytes().all(|byte| byte.is_ascii_digit()),
            "{pan}"
        );
        assert!(line["cvc2"].as_str().is_some_and(|cvc2| cvc2.len() == 3));
    }
    assert_eq!(lines.iter().filter(|line| line["pin"].is_string()).count(), 2);

    let (mut scenarios, api_args) = simulator(directory, https);
    let output = scenarios
        .arg("scenarios")
        .arg("--switch")
        .arg(iso.to_string())
        .arg("--cards")
        .arg(&offline)
        .args(&api_args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "simulator scenarios --api failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok    lock over the HTTP API"), "{stdout}");
    assert!(stdout.contains("ok    card lifecycle over HTTP"), "{stdout}");
    assert!(stdout.contains(", 0 failed, 0 skipped"), "{stdout}");
}
