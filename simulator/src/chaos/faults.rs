//! The parts the chaos run owns and breaks: its own PostgreSQL instance
//! (created with initdb under the run's directory, on a free port, so that
//! stopping it disturbs nobody else) and the switch process (the real binary,
//! SIGKILLed and started again).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Whether this process runs as root (initdb and postgres refuse to).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?.to_owned();
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// A PostgreSQL instance of the run's own.
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    pub port: u16,
    /// As root, PostgreSQL runs as this user.
    run_as: Option<String>,
}

impl Postgres {
    /// The newest /usr/lib/postgresql/*/bin, unless given.
    fn find_bin(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
        if let Some(bin) = given {
            return Ok(bin);
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .context("no /usr/lib/postgresql: give --pg-bin")?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version = entry.file_name().to_str()?.parse().ok()?;
                Some((version, entry.path().join("bin")))
            })
            .collect();
        versions.sort();
        versions
            .pop()
            .map(|(_, bin)| bin)
            .context("no PostgreSQL under /usr/lib/postgresql: give --pg-bin")
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command.stdin(Stdio::null()).kill_on_drop(false);
        command
    }

    /// initdb in `root/pg` (trust authentication, local only) on a free port.
    pub async fn create(root: &Path, bin: Option<PathBuf>) -> anyhow::Result<Postgres> {
        let bin = Self::find_bin(bin)?;
        let data = root.join("pg");
        std::fs::create_dir_all(&data)?;
        let run_as = running_as_root().then(|| "postgres".to_owned());
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .args([&format!("{user}:"), data.to_str().context("path")?])
                .status()
                .await?;
            ensure!(status.success(), "chown {} failed", data.display());
        }
        let port = free_port()?;
        let postgres = Postgres {
            bin,
            log: data.join("postgres.log"),
            data,
            port,
            run_as,
        };
        let output = postgres
            .command("initdb")
            .args(["-D"])
            .arg(&postgres.data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .await
            .context("running initdb")?;
        ensure!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(postgres)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub async fn start(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=200",
            self.port,
            self.data.display()
        );
        let output = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .output()
            .await?;
        ensure!(
            output.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    /// Stops at once, as a crash would (`-m immediate`: no checkpoint; recovery at the next start).
    pub async fn stop(&self) -> anyhow::Result<()> {
        let output = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "-t", "60", "stop"])
            .output()
            .await?;
        ensure!(
            output.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    /// The postmaster and its children: SIGSTOP freezes every commit in progress (slow commits).
    fn processes(&self) -> anyhow::Result<Vec<u32>> {
        let pid_file = std::fs::read_to_string(self.data.join("postmaster.pid")).context("postmaster.pid")?;
        let postmaster: u32 = pid_file
            .lines()
            .next()
            .context("empty postmaster.pid")?
            .trim()
            .parse()?;
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc")?.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
            let parent = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|ppid| ppid.parse::<u32>().ok());
            if parent == Some(postmaster) {
                pids.push(pid);
            }
        }
        Ok(pids)
    }

    pub async fn signal_all(&self, signal: &str) -> anyhow::Result<()> {
        let pids = self.processes()?;
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .args(pids.iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status()
            .await?;
        // A backend may exit between the listing and the signal; that is not a failure.
        let _ = status;
        Ok(())
    }

    /// Stops for good at the end of the run (also on error paths, from Drop).
    fn stop_now(&self) {
        let _ = std::process::Command::new("kill")
            .arg("-CONT")
            .args(self.processes().unwrap_or_default().iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status();
        let mut command = match &self.run_as {
            Some(user) => {
                let mut command = std::process::Command::new("runuser");
                command.args(["-u", user, "--"]).arg(self.bin.join("pg_ctl"));
                command
            }
            None => std::process::Command::new(self.bin.join("pg_ctl")),
        };
        let _ = command
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// A port free at the time of asking.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// How to start the switch.
#[derive(Debug, Clone)]
pub struct SwitchCommand {
    pub binary: PathBuf,
    pub config: PathBuf,
    pub spec: PathBuf,
    pub database_url: String,
    /// Working directory: data/ and the development certificates go here.
    pub directory: PathBuf,
    pub extra_env: Vec<(String, String)>,
}

impl SwitchCommand {
    /// `antaca <subcommand> --config …` in the run's directory with the run's environment.
    fn command(&self, subcommand: &str) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg(subcommand)
            .arg("--config")
            .arg(&self.config)
            .current_dir(&self.directory)
            .env_remove("RUST_LOG")
            .env("ANTACA__DATABASE__URL", &self.database_url)
            .env("ANTACA__NETWORK__SPEC_PATH", &self.spec)
            .env("ANTACA__TLS__DEV_DIRECTORY", self.directory.join("tls"))
            .env("ANTACA__LOG__FORMAT", "json")
            .env("ANTACA__LOG__LEVEL", "info")
            .stdin(Stdio::null());
        for (key, value) in &self.extra_env {
            command.env(key, value);
        }
        command
    }

    /// `antaca provision`: funded cards written straight to the database (the switch must be stopped).
    pub async fn provision(&self, cards: usize, funds: i64, out: &Path) -> anyhow::Result<()> {
        let output = self
            .command("provision")
            .args([
                "--cards",
                &cards.to_string(),
                "--funds",
                &funds.to_string(),
                "--pin-every",
                "0",
            ])
            .arg("--out")
            .arg(out)
            .output()
            .await
            .context("running antaca provision")?;
        ensure!(
            output.status.success(),
            "antaca provision failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }
}

/// The running switch.
#[derive(Debug)]
pub struct Switch {
    child: Child,
    pub iso: SocketAddr,
    pub https: SocketAddr,
}

impl Switch {
    /// Starts the switch and waits for both listeners; a switch that exits at once (the killed
    /// one's instance lock not yet released) is started again, for up to a minute.
    pub async fn start(how: &SwitchCommand) -> anyhow::Result<Switch> {
        let mut last_error = None;
        for _ in 0..60 {
            match Self::start_once(how).await {
                Ok(switch) => return Ok(switch),
                Err(error) => {
                    last_error = Some(error);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("the switch did not start")))
    }

    async fn start_once(how: &SwitchCommand) -> anyhow::Result<Switch> {
        let mut command = how.command("serve");
        command
            .env("ANTACA__NETWORK__LISTEN", "127.0.0.1:0")
            .env("ANTACA__HTTP__LISTEN", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().context("spawning the switch")?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (bound_sender, mut bound) = tokio::sync::mpsc::unbounded_channel();
        let stdout = child.stdout.take().context("stdout")?;
        let stderr = child.stderr.take().context("stderr")?;
        // Every start's log goes to the run's switch.log as well, for the post-mortem of a failed run.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(how.directory.join("switch.log"))
            .map(|file| Arc::new(Mutex::new(file)))
            .ok();
        tokio::spawn(keep_log(
            BufReader::new(stdout),
            log.clone(),
            file.clone(),
            Some(bound_sender),
        ));
        tokio::spawn(keep_log(BufReader::new(stderr), log.clone(), file, None));
        let (mut iso, mut https) = (None, None);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while iso.is_none() || https.is_none() {
            match tokio::time::timeout_at(deadline, bound.recv()).await {
                Ok(Some((Listener::Iso, address))) => iso = Some(address),
                Ok(Some((Listener::Https, address))) => https = Some(address),
                _ => {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    let tail: Vec<String> = log.lock().map(|log| log.iter().cloned().collect()).unwrap_or_default();
                    bail!("the switch did not bind its listeners; its log:\n{}", tail.join("\n"));
                }
            }
        }
        Ok(Switch {
            child,
            iso: iso.context("iso")?,
            https: https.context("https")?,
        })
    }

    /// SIGKILL: no shutdown, no flush.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// SIGTERM and wait: the orderly stop.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        }
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => self.kill_quietly().await,
        }
        Ok(())
    }

    async fn kill_quietly(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

#[derive(Debug, Clone, Copy)]
enum Listener {
    Iso,
    Https,
}

async fn keep_log(
    mut lines: BufReader<impl tokio::io::AsyncRead + Unpin>,
    log: Arc<Mutex<VecDeque<String>>>,
    file: Option<Arc<Mutex<std::fs::File>>>,
    bound: Option<tokio::sync::mpsc::UnboundedSender<(Listener, SocketAddr)>>,
) {
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if let Some(bound) = &bound {
            let listener = if line.contains("ISO 8583 listener bound") {
                Some(Listener::Iso)
            } else if line.contains("HTTPS listener bound") {
                Some(Listener::Https)
            } else {
                None
            };
            if let Some(listener) = listener
                && let Some(address) = json_string(&line, "address").and_then(|text| text.parse().ok())
            {
                let _ = bound.send((listener, address));
            }
        }
        if let Some(file) = &file
            && let Ok(mut file) = file.lock()
        {
            let _ = std::io::Write::write_all(&mut *file, line.as_bytes());
        }
        if let Ok(mut log) = log.lock() {
            if log.len() == 100 {
                log.pop_front();
            }
            log.push_back(line.trim_end().to_owned());
        }
    }
}

/// The string value of `"name":"..."` in a JSON log line.
pub fn json_string<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\":\"");
    let start = line.find(&key)? + key.len();
    let end = line[start..].find('"')?;
    Some(&line[start..start + end])
}
