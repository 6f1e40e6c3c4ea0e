//! What keeps the switch honest about being up: a connection's tracing span never leaks into other
//! tasks (issue 23's cause), and a panic in a task the switch cannot serve without ends the
//! process instead of leaving one that answers 9109 for ever (its blast radius).
//!
//! This binary installs the log subscriber at `info`, as `config.toml` does: at the `warn` the
//! other tests use, the connection span is disabled and the leak cannot happen.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use support::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Panics seen anywhere in this process (a panicking task is otherwise only a line on stderr).
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default(info);
    }));
}

/// A log layer that sees a span left entered on a thread it no longer runs on: for each span, the
/// threads it was entered on, in order; an exit on another thread than the last enter, or a close
/// while still entered, is counted. That is the fault's signature (a guard of `Span::enter` held
/// across an `.await`), seen whenever the task moves between workers, not only in the rare race
/// where the subscriber then panics.
#[derive(Default)]
struct EnteredOnThread {
    entered: Mutex<HashMap<tracing::span::Id, Vec<std::thread::ThreadId>>>,
    crossed: AtomicUsize,
}

static ENTERED: LazyLock<EnteredOnThread> = LazyLock::new(EnteredOnThread::default);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for &'static EnteredOnThread {
    fn on_enter(&self, id: &tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut entered = self.entered.lock().unwrap();
        entered.entry(id.clone()).or_default().push(std::thread::current().id());
    }

    fn on_exit(&self, id: &tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut entered = self.entered.lock().unwrap();
        let thread = entered.get_mut(id).and_then(Vec::pop);
        if thread != Some(std::thread::current().id()) {
            self.crossed.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn on_close(&self, id: tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
        if self
            .entered
            .lock()
            .unwrap()
            .remove(&id)
            .is_some_and(|threads| !threads.is_empty())
        {
            self.crossed.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Before the fix, the connection's span stayed entered on the worker thread its task last ran on
/// while the task waited; when the task moved to another worker (the committer's, which wakes it)
/// and ended there, the first thread kept a closed span as its current one, and a span created there
/// while it was closing (sqlx's, under the committer) panicked the subscriber: `tried to clone a span
/// that already closed`. Many short connections, each closing with its request still in the
/// journal, across four workers, move connection tasks between threads hundreds of times.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_connections_closing_mid_request_leave_no_span_behind() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    count_panics();
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(tracing_subscriber::fmt::layer().with_test_writer())
        .with(&*ENTERED)
        .init();
    let database = support::TestStore::sqlite().await;
    let app = TestApp::start(&database.url).await;
    let card = app.funded_card(CREDIT_PROGRAM, 100_000_000).await;
    let spec = spec();
    let mut rounds = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (address, pan, spec) = (app.address, card.pan().to_owned(), spec.clone());
        rounds.spawn(async move {
            for _ in 0..40 {
                let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
                let frame = Tx::authorization(&pan, 100).encode(&spec);
                let _ = socket.write_all(&frame).await;
                // Closed at once: the request is decided and committed after its connection is gone.
                drop(socket);
                tokio::task::yield_now().await;
            }
        });
    }
    while let Some(round) = rounds.join_next().await {
        round.expect("a client round");
    }
    let mut client = app.connect().await;
    let answer = client.exchange(&Tx::authorization(card.pan(), 100)).await;
    assert_eq!(answer.action(), "0000", "the switch still approves after the storm");
    drop(client);
    app.stop().await;
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "no task panicked (see stderr)");
    assert_eq!(
        ENTERED.crossed.load(Ordering::SeqCst),
        0,
        "every span was exited on the thread it was entered on, before it closed"
    );
}

/// The committer panics (injected on its third batch: a debug build's test hook, absent from
/// release builds) while the switch serves: the request whose batch it was is not approved, and
/// the process exits with status 70 within a second, instead of answering 9109 for ever.
#[cfg(debug_assertions)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_committer_ends_the_process_within_a_second() {
    let directory = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", directory.path().join("antaca.db").display());
    let cards = directory.path().join("cards.jsonl");
    let provisioned = switch_command(directory.path(), &database_url)
        .args(["provision", "--config", &config_path(), "--cards", "1", "--out"])
        .arg(&cards)
        .status()
        .await
        .expect("running antaca provision");
    assert!(provisioned.success(), "antaca provision: {provisioned}");
    let card: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&cards).unwrap().lines().next().unwrap()).unwrap();
    let pan = card["pan"].as_str().unwrap().to_owned();

    let mut child = switch_command(directory.path(), &database_url)
        .args(["serve", "--config", &config_path()])
        .env(antaca::state::journal::INJECTED_PANIC_VARIABLE, "3")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawning antaca serve");
    let address = listener_address(child.stdout.take().unwrap()).await;
    let stderr = tokio::spawn(read_all(child.stderr.take().unwrap()));
    let mut client = Client::connect(address).await;
    let spec = spec();
    let (mut approved, mut failed_at) = (0, None);
    for _ in 0..20 {
        let sent = Instant::now();
        client.send(&Tx::authorization(&pan, 100)).await;
        match tokio::time::timeout(Duration::from_secs(5), client.receive_raw()).await {
            Ok(Some(bytes)) if decode(&spec, &bytes).action() == "0000" => approved += 1,
            Ok(Some(bytes)) => {
                assert_eq!(
                    decode(&spec, &bytes).action(),
                    "9109",
                    "a request the journal lost is 9109"
                );
                failed_at = Some(sent);
                break;
            }
            Ok(None) | Err(_) => {
                failed_at = Some(sent);
                break;
            }
        }
    }
    let failed_at = failed_at.expect("the injected panic stopped the approvals");
    assert!(approved >= 1, "the switch served before the panic");
    let status = tokio::time::timeout(Duration::from_secs(1).saturating_sub(failed_at.elapsed()), child.wait())
        .await
        .expect("the process exited within a second of the failed request")
        .unwrap();
    assert_eq!(status.code(), Some(70), "exit status EX_SOFTWARE");
    let stderr = stderr.await.unwrap();
    assert!(
        stderr.contains("vital task `journal committer` panicked"),
        "the log says which task failed: {stderr}"
    );
}

#[cfg(debug_assertions)]
fn config_path() -> String {
    format!("{}/config.toml", env!("CARGO_MANIFEST_DIR"))
}

/// `antaca` with the test's database, listeners on port 0, and certificates and keys in `directory`.
#[cfg(debug_assertions)]
fn switch_command(directory: &std::path::Path, database_url: &str) -> Command {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut command = Command::new(env!("CARGO_BIN_EXE_antaca"));
    command
        .current_dir(root)
        .env_remove("RUST_LOG")
        .env("ANTACA__DATABASE__URL", database_url)
        .env("ANTACA__NETWORK__LISTEN", "127.0.0.1:0")
        .env("ANTACA__HTTP__LISTEN", "127.0.0.1:0")
        .env(
            "ANTACA__NETWORK__SPEC_PATH",
            format!("{root}/specs/iso8583_2003_ascii.yaml"),
        )
        .env("ANTACA__TLS__DEV_DIRECTORY", directory.join("tls"))
        .env("ANTACA__JWE__DEV_DIRECTORY", directory.join("jwe"))
        .env("ANTACA__LOG__FORMAT", "json")
        .env("ANTACA__LOG__LEVEL", "info")
        .stdin(std::process::Stdio::null());
    command
}

/// Reads the switch's log until it names the ISO 8583 listener's address, then keeps draining it.
#[cfg(debug_assertions)]
async fn listener_address(stdout: tokio::process::ChildStdout) -> std::net::SocketAddr {
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("ISO 8583 listener bound")
                && let Some(address) = line.split("\"address\":\"").nth(1)
            {
                return address.split('"').next().unwrap().parse().unwrap();
            }
        }
        panic!("the switch ended before binding its listener");
    })
    .await
    .expect("the switch bound its listener within 30 s");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    found
}

#[cfg(debug_assertions)]
async fn read_all(stderr: tokio::process::ChildStderr) -> String {
    let mut text = String::new();
    let _ = tokio::io::AsyncReadExt::read_to_string(&mut BufReader::new(stderr), &mut text).await;
    text
}
