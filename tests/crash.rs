//! The crash test: the real `antaca` binary serves authorizations and reversals from several
//! pipelined connections and is killed with SIGKILL mid-load, again and again; after every kill the
//! database is loaded again in-process and checked against what the acquirer side was told.
//!
//! After each restart:
//! - every request answered before the kill has its recorded answer, with the same action code (and
//!   approval code); every approval has its hold, for the amount asked, on the card's balance, and
//!   every decline has none;
//! - every reversal answered 4000 is applied (the hold's remaining is what the reversal asked for);
//! - a request in flight at the kill either happened entirely or not at all: a hold exists exactly
//!   when an approval is recorded for its transaction, a reversal is applied exactly when its 4000 is
//!   recorded (no half batch), and nothing is stored that was never sent;
//! - the money invariants hold (`State::check_invariants`, also run by the start-up load), each
//!   card's balance keeps its funds as ledger and holds exactly the sum of its open holds, and the
//!   total per currency is what was loaded from outside;
//! - every open hold is in the restarted memory as stored, and memory holds no hold the store lacks;
//! - repeats of answered requests, sent to the restarted switch, get the same answers.
//!
//! `crash_cycles_sqlite` and `crash_cycles_postgres` run 3 cycles each; `crash_cycles_soak_sqlite`
//! and `crash_cycles_soak_postgres` (ignored) run 100 cycles each:
//! `cargo test --test crash -- --ignored --nocapture`.
//! `ANTACA_CRASH_SEED` repeats a run's request mix and kill delays (the seed is printed; timing still
//! varies), `ANTACA_CRASH_CYCLES` changes the number of cycles. Each run uses a copy of the binary,
//! and on PostgreSQL waits for the killed switch's instance lock to be released before restarting.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use antaca::iso8583::Spec;
use antaca::state::{Hold, HoldStatus, RecordedAnswer, TransactionId};
use antaca::store::Store;
use support::TestStore;
use support::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::{Semaphore, mpsc};

/// Cards the load spreads over.
const CARDS: usize = 24;
/// Funds of each card (cents): enough that only the deliberately oversized requests are declined.
const FUNDS: i64 = 10_000_000_000;
/// Concurrent connections to the switch.
const CONNECTIONS: usize = 4;
/// Requests in flight per connection.
const WINDOW: usize = 128;
/// Answers to see before the kill timer starts: the switch is under load when it dies.
const ANSWERS_BEFORE_KILL: usize = 200;
/// Repeats sent to the restarted switch per cycle.
const REPEATS: usize = 16;

/// Percentages of the load.
const DECLINED_PERCENT: u64 = 5;
const REVERSED_PERCENT: u64 = 25;
const PARTIAL_REVERSAL_PERCENT: u64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_cycles_sqlite() {
    run(TestStore::sqlite().await, cycles(3), 100..=800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_cycles_postgres() {
    if let Some(database) = TestStore::postgres().await {
        run(database, cycles(3), 100..=800).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: 100 kill/restart cycles, minutes"]
async fn crash_cycles_soak_sqlite() {
    run(TestStore::sqlite().await, cycles(100), 20..=400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: 100 kill/restart cycles, minutes"]
async fn crash_cycles_soak_postgres() {
    let database = TestStore::postgres().await.expect("the soak needs PostgreSQL");
    run(database, cycles(100), 20..=400).await;
}

fn cycles(default: usize) -> usize {
    std::env::var("ANTACA_CRASH_CYCLES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (SplitMix64), so a failing run can be replayed from its seed.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn within(&mut self, range: &RangeInclusive<u64>) -> u64 {
        range.start() + self.below(range.end() - range.start() + 1)
    }
}

#[derive(Debug, Clone)]
struct CardInfo {
    pan: String,
    balance_id: i64,
}

/// A request the acquirer side sent (its identity is the map key).
#[derive(Debug, Clone, Copy)]
enum Sent {
    Authorization {
        card: usize,
        amount: i64,
    },
    /// A reversal of an approved authorization, leaving `remaining` held (0: full reversal).
    Reversal {
        original: TransactionId,
        remaining: i64,
    },
}

/// An answer the acquirer side received.
#[derive(Debug, Clone)]
struct Got {
    action: String,
    approval: Option<String>,
}

/// Everything sent and received, over all cycles of one store.
#[derive(Debug, Default)]
struct Book {
    sent: HashMap<TransactionId, Sent>,
    got: HashMap<TransactionId, Got>,
}

/// The identity of our requests: DE 32 is fixed, DE 11 counts within a cycle, DE 12 names the cycle.
fn identity(stan: u32, local_time: u64) -> TransactionId {
    TransactionId {
        acquirer: ACQUIRER.parse().unwrap(),
        acquirer_digits: ACQUIRER.len() as u8,
        stan,
        local_time,
    }
}

fn authorization_tx(card: &CardInfo, amount: i64, transaction: TransactionId) -> Tx {
    Tx::authorization(&card.pan, amount as u64)
        .set(11, format!("{:06}", transaction.stan))
        .set(12, format!("{:012}", transaction.local_time))
}

/// The request a `Sent` stands for, rebuilt from the book.
fn rebuild(book: &Book, cards: &[CardInfo], transaction: TransactionId) -> Tx {
    match book.sent[&transaction] {
        Sent::Authorization { card, amount } => authorization_tx(&cards[card], amount, transaction),
        Sent::Reversal { original, remaining } => {
            let remaining = (remaining > 0).then_some(remaining as u64);
            rebuild(book, cards, original)
                .reversal(remaining)
                .set(11, format!("{:06}", transaction.stan))
                .set(12, format!("{:012}", transaction.local_time))
        }
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "not yet split into named steps (issue 24); the lint holds everywhere else"
)]
async fn run(database: TestStore, cycles: usize, kill_after_ms: RangeInclusive<u64>) {
    let seed = std::env::var("ANTACA_CRASH_SEED")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(1) as u64);
    println!("{:?}: {cycles} cycles, ANTACA_CRASH_SEED={seed}", database.backend);
    let mut rng = Rng(seed);
    let started = Instant::now();

    // (a) Provision in-process: funded cards on the credit program.
    let app = TestApp::start(&database.url).await;
    let mut cards = Vec::with_capacity(CARDS);
    for _ in 0..CARDS {
        let card = app.funded_card(CREDIT_PROGRAM, FUNDS).await;
        cards.push(CardInfo {
            pan: card.pan().to_owned(),
            balance_id: card.balance_id,
        });
    }
    let loaded_before = database.store.external_loads().await.unwrap();
    let funds_total = loaded_before.get("EUR").copied().unwrap_or(0);
    assert_eq!(funds_total, FUNDS * CARDS as i64, "only our cards were funded");
    app.stop().await;

    let binary = BinaryCopy::new();
    let cards = Arc::new(cards);
    let book = Arc::new(Mutex::new(Book::default()));
    let spec = spec();
    let mut totals = Totals::default();
    for cycle in 0..cycles {
        let cycle_started = Instant::now();
        // (b) The real binary, as a child process.
        wait_until_unlocked(&database).await;
        let mut switch = Switch::spawn(&binary.0, &database.url).await;
        if let Some(holders) = instance_lock_holders(&database).await {
            assert_eq!(holders, 1, "the running switch holds the instance lock");
        }
        // (c) Load from several connections; kill mid-way.
        let local_time = 260_000_000_000 + cycle as u64;
        let load = Load {
            address: switch.address,
            spec: spec.clone(),
            cards: cards.clone(),
            book: book.clone(),
            local_time,
            stans: Arc::new(AtomicU32::new(1)),
            answered: Arc::new(AtomicUsize::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let drivers: Vec<_> = (0..CONNECTIONS)
            .map(|connection| tokio::spawn(load.clone().drive(rng.next() ^ connection as u64)))
            .collect();
        let loaded = Instant::now();
        while load.answered.load(Ordering::Relaxed) < ANSWERS_BEFORE_KILL {
            assert!(
                loaded.elapsed() < Duration::from_secs(30),
                "cycle {cycle}: the switch answered {} requests in 30 s; its log:\n{}",
                load.answered.load(Ordering::Relaxed),
                switch.log()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.within(&kill_after_ms))).await;
        if let Ok(Some(status)) = switch.child.try_wait() {
            panic!(
                "cycle {cycle}: the switch died before the kill ({status}); its log:\n{}",
                switch.log()
            );
        }
        switch.child.kill().await.expect("SIGKILL the switch");
        load.stop.store(true, Ordering::Relaxed);
        for driver in drivers {
            tokio::time::timeout(Duration::from_secs(10), driver)
                .await
                .expect("the load ends once the switch is dead")
                .expect("the load task does not panic");
        }
        let served_ms = loaded.elapsed().as_millis();
        // (d) Restart in-process from the same database and check.
        // The load has ended: the book is ours alone until the next cycle.
        let seen = std::mem::take(&mut *book.lock().unwrap());
        let verified = verify(&database, &seen, &cards, funds_total, local_time).await;
        *book.lock().unwrap() = seen;
        totals.add(&verified);
        println!(
            "{:?} cycle {cycle}: {} sent, {} answered ({} approved, {} declined, {} reversed) in {served_ms} ms \
             before SIGKILL; {} in flight at the kill, of which {} were committed; {} holds ({} open) stored; \
             cycle {} ms",
            database.backend,
            verified.sent,
            verified.answered,
            verified.approved,
            verified.declined,
            verified.reversed,
            verified.in_flight,
            verified.in_flight_committed,
            verified.holds,
            verified.open_holds,
            cycle_started.elapsed().as_millis()
        );
    }
    println!(
        "{:?}: {cycles} kill/restart cycles passed in {:.1} s: {} requests sent, {} answered, {} approvals, \
         {} reversals answered, {} in flight at a kill ({} of them committed), seed {seed}",
        database.backend,
        started.elapsed().as_secs_f64(),
        totals.sent,
        totals.answered,
        totals.approved,
        totals.reversed,
        totals.in_flight,
        totals.in_flight_committed
    );
}

/// The instance lock key of `antaca::instance_lock` ("ANTA"), as PostgreSQL lists it in `pg_locks`.
const INSTANCE_LOCK_KEY: i64 = 0x414E_5441;

/// Waits until no session holds the switch's instance lock on the database. A switch's PostgreSQL
/// session, and with it its advisory lock, ends a moment after the process is killed or the
/// application dropped; a switch started meanwhile would be refused. (SQLite's file lock is gone
/// when the process has exited or the application is dropped.)
async fn wait_until_unlocked(database: &TestStore) {
    let started = Instant::now();
    while instance_lock_holders(database).await.unwrap_or(0) != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the instance lock is still held 30 s after its switch ended"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sessions holding the instance lock on a PostgreSQL database (`None` on SQLite).
async fn instance_lock_holders(database: &TestStore) -> Option<i64> {
    let Store::Postgres(pool) = &database.store else {
        return None;
    };
    let holders = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND classid::int8 = 0 AND objid::int8 = $1 AND objsubid = 1",
    )
    .bind(INSTANCE_LOCK_KEY)
    .fetch_one(pool)
    .await
    .expect("reading pg_locks");
    Some(holders)
}

/// A copy of the `antaca` binary for one run: a build in the same target directory meanwhile (another
/// test run, an editor's check) does not swap the program between two cycles.
struct BinaryCopy(PathBuf);

impl BinaryCopy {
    fn new() -> BinaryCopy {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "antaca-crash-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::copy(env!("CARGO_BIN_EXE_antaca"), &path).expect("copying the antaca binary");
        BinaryCopy(path)
    }
}

impl Drop for BinaryCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The `antaca serve` child process.
struct Switch {
    child: Child,
    address: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Switch {
    async fn spawn(binary: &Path, database_url: &str) -> Switch {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut child = Command::new(binary)
            .args(["serve", "--config", &format!("{root}/config.toml")])
            .current_dir(root)
            .env_remove("RUST_LOG")
            .env("ANTACA__DATABASE__URL", database_url)
            .env("ANTACA__NETWORK__LISTEN", "127.0.0.1:0")
            .env("ANTACA__HTTP__LISTEN", "127.0.0.1:0")
            .env(
                "ANTACA__NETWORK__SPEC_PATH",
                format!("{root}/specs/iso8583_2003_ascii.yaml"),
            )
            .env("ANTACA__LOG__FORMAT", "json")
            .env("ANTACA__LOG__LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawning the antaca binary");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (bound, mut bound_address) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let logging = [
            tokio::spawn(keep_log(BufReader::new(stdout), log.clone(), Some(bound))),
            tokio::spawn(keep_log(BufReader::new(stderr), log.clone(), None)),
        ];
        let address = tokio::time::timeout(Duration::from_secs(30), bound_address.recv())
            .await
            .ok()
            .flatten();
        let Some(address) = address else {
            let _ = child.start_kill();
            let status = child.wait().await;
            for task in logging {
                let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
            }
            panic!(
                "the switch did not log \"ISO 8583 listener bound\" (exit: {status:?}); its log:\n{}",
                log.lock().unwrap().join("\n")
            );
        };
        Switch { child, address, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

/// Keeps the child's last log lines (for failure messages) and finds the listener's address.
async fn keep_log(
    mut lines: BufReader<impl tokio::io::AsyncRead + Unpin>,
    log: Arc<Mutex<Vec<String>>>,
    bound: Option<mpsc::UnboundedSender<SocketAddr>>,
) {
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if let Some(bound) = &bound
            && line.contains("ISO 8583 listener bound")
            && let Some(address) = json_field(&line, "address").and_then(|text| text.parse().ok())
        {
            let _ = bound.send(address);
        }
        let mut log = log.lock().unwrap();
        if log.len() == 200 {
            log.remove(0);
        }
        log.push(line.trim_end().to_owned());
    }
}

/// The string value of `"name":"..."` in a JSON log line.
fn json_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\":\"");
    let start = line.find(&key)? + key.len();
    let end = line[start..].find('"')?;
    Some(&line[start..start + end])
}

/// One cycle's load, shared by its connections.
#[derive(Clone)]
struct Load {
    address: SocketAddr,
    spec: Arc<Spec>,
    cards: Arc<Vec<CardInfo>>,
    book: Arc<Mutex<Book>>,
    local_time: u64,
    stans: Arc<AtomicU32>,
    answered: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Load {
    fn next_identity(&self) -> TransactionId {
        let stan = self.stans.fetch_add(1, Ordering::Relaxed);
        assert!(stan < 1_000_000, "DE 11 ran out within one cycle");
        identity(stan, self.local_time)
    }

    /// One connection: authorizations (a few oversized, to be declined) pipelined up to `WINDOW`
    /// in flight, and reversals of some of the approved ones, until the switch dies.
    #[allow(
        clippy::too_many_lines,
        reason = "not yet split into named steps (issue 24); the lint holds everywhere else"
    )]
    async fn drive(self, seed: u64) {
        let Ok(stream) = TcpStream::connect(self.address).await else {
            return;
        };
        stream.set_nodelay(true).unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let window = Arc::new(Semaphore::new(WINDOW));
        let (reversals, mut to_reverse) = mpsc::unbounded_channel::<TransactionId>();

        let receiving = {
            let load = self.clone();
            let window = window.clone();
            tokio::spawn(async move {
                let mut rng = Rng(seed ^ 0x5555_5555);
                let mut header = [0u8; 2];
                loop {
                    if reader.read_exact(&mut header).await.is_err() {
                        break;
                    }
                    let mut body = vec![0u8; u16::from_be_bytes(header) as usize];
                    if reader.read_exact(&mut body).await.is_err() {
                        break;
                    }
                    let response = decode(&load.spec, &body);
                    let stan: u32 = response.text(11).expect("DE 11 echoed").parse().unwrap();
                    let local_time: u64 = response.text(12).expect("DE 12 echoed").parse().unwrap();
                    let transaction = identity(stan, local_time);
                    let got = Got {
                        action: response.action().to_owned(),
                        approval: response.text(38).map(str::to_owned),
                    };
                    let approved = got.action == "0000";
                    let sent = {
                        let mut book = load.book.lock().unwrap();
                        let previous = book.got.insert(transaction, got);
                        assert!(previous.is_none(), "{transaction} answered twice");
                        *book.sent.get(&transaction).expect("an answer to a request we sent")
                    };
                    if approved && matches!(sent, Sent::Authorization { .. }) && rng.chance(REVERSED_PERCENT) {
                        let _ = reversals.send(transaction);
                    }
                    load.answered.fetch_add(1, Ordering::Relaxed);
                    window.add_permits(1);
                }
                // The switch is gone: the sender stops waiting for room.
                window.close();
            })
        };

        let mut rng = Rng(seed);
        while !self.stop.load(Ordering::Relaxed) {
            let Ok(permit) = window.acquire().await else {
                break;
            };
            permit.forget();
            let transaction = self.next_identity();
            let tx = {
                let mut book = self.book.lock().unwrap();
                let sent = match to_reverse.try_recv() {
                    Ok(original) => {
                        let Sent::Authorization { amount, .. } = book.sent[&original] else {
                            unreachable!("only authorizations are reversed")
                        };
                        let remaining = if amount > 1 && rng.chance(PARTIAL_REVERSAL_PERCENT) {
                            1 + rng.below(amount as u64 - 1) as i64
                        } else {
                            0
                        };
                        Sent::Reversal { original, remaining }
                    }
                    Err(_) => {
                        let card = rng.below(CARDS as u64) as usize;
                        let amount = if rng.chance(DECLINED_PERCENT) {
                            2 * FUNDS
                        } else {
                            1 + rng.below(10_000) as i64
                        };
                        Sent::Authorization { card, amount }
                    }
                };
                // Into the book before the wire: anything the switch could have seen is known here.
                book.sent.insert(transaction, sent);
                rebuild(&book, &self.cards, transaction)
            };
            let bytes = tx.encode(&self.spec);
            let mut framed = Vec::with_capacity(bytes.len() + 2);
            framed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            framed.extend_from_slice(&bytes);
            if writer.write_all(&framed).await.is_err() {
                break;
            }
        }
        drop(writer);
        let _ = receiving.await;
    }
}

/// What one verification saw.
#[derive(Debug, Default)]
struct Verified {
    sent: usize,
    answered: usize,
    approved: usize,
    declined: usize,
    reversed: usize,
    in_flight: usize,
    in_flight_committed: usize,
    holds: usize,
    open_holds: usize,
}

#[derive(Debug, Default)]
struct Totals {
    sent: usize,
    answered: usize,
    approved: usize,
    reversed: usize,
    in_flight: usize,
    in_flight_committed: usize,
}

impl Totals {
    fn add(&mut self, cycle: &Verified) {
        self.sent += cycle.sent;
        self.answered += cycle.answered;
        self.approved += cycle.approved;
        self.reversed += cycle.reversed;
        self.in_flight += cycle.in_flight;
        self.in_flight_committed += cycle.in_flight_committed;
    }
}

/// Restarts from the database in-process and checks it against the book (all cycles so far);
/// the counts returned are those of the cycle with DE 12 `local_time`.
#[allow(
    clippy::too_many_lines,
    reason = "not yet split into named steps (issue 24); the lint holds everywhere else"
)]
async fn verify(database: &TestStore, book: &Book, cards: &[CardInfo], funds_total: i64, local_time: u64) -> Verified {
    // The start-up load itself refuses a state that breaks an invariant.
    wait_until_unlocked(database).await;
    let app = TestApp::start(&database.url).await;
    app.state
        .check_invariants()
        .expect("the money invariants hold after the restart");

    let holds: Vec<Hold> = database.store.holds().await.unwrap();
    let answers: Vec<RecordedAnswer> = database.store.load(0).await.unwrap().answers;
    let hold_of: HashMap<TransactionId, &Hold> = holds.iter().map(|hold| (hold.transaction, hold)).collect();
    let answer_of: HashMap<TransactionId, &RecordedAnswer> =
        answers.iter().map(|answer| (answer.transaction, answer)).collect();
    let action = |answer: &RecordedAnswer| String::from_utf8(answer.action_code.to_vec()).unwrap();
    let approval = |answer: &RecordedAnswer| {
        answer
            .approval_code
            .map(|code| String::from_utf8(code.to_vec()).unwrap())
    };

    let mut verified = Verified::default();
    for (&transaction, &sent) in &book.sent {
        let this_cycle = transaction.local_time == local_time;
        let got = book.got.get(&transaction);
        let answer = answer_of.get(&transaction).copied();
        if this_cycle {
            verified.sent += 1;
            if got.is_some() {
                verified.answered += 1;
            } else {
                verified.in_flight += 1;
                verified.in_flight_committed += usize::from(answer.is_some());
            }
        }
        if let Some(got) = got {
            let answer = answer.unwrap_or_else(|| panic!("{transaction} was answered {got:?} but nothing is recorded"));
            assert_eq!(action(answer), got.action, "{transaction}: recorded action code");
            assert_eq!(approval(answer), got.approval, "{transaction}: recorded approval code");
        }
        match sent {
            Sent::Authorization { card, amount } => {
                let hold = hold_of.get(&transaction).copied();
                let approved = answer.is_some_and(|answer| action(answer) == "0000");
                assert_eq!(
                    hold.is_some(),
                    approved,
                    "{transaction}: a hold exists exactly when an approval is recorded (answer {answer:?}, hold {hold:?})"
                );
                if let Some(hold) = hold {
                    assert_eq!(hold.amount, amount, "{transaction}: the hold is for the amount asked");
                    assert_eq!(
                        hold.user_balance_id, cards[card].balance_id,
                        "{transaction}: on the card's balance"
                    );
                    assert_eq!(
                        answer.unwrap().hold_id,
                        Some(hold.id),
                        "{transaction}: the answer names its hold"
                    );
                    // Open holds are all in memory; closed ones may be (for late reversals).
                    match app.state.hold_by_transaction(&transaction) {
                        Some(cell) => assert_eq!(cell.lock().hold, *hold, "{transaction}: memory has the stored hold"),
                        None => assert_ne!(hold.status, HoldStatus::Open, "{transaction}: open hold not in memory"),
                    }
                }
                if this_cycle && got.is_some() {
                    if approved {
                        verified.approved += 1;
                    } else {
                        verified.declined += 1;
                    }
                }
            }
            Sent::Reversal { original, remaining } => {
                let hold = hold_of
                    .get(&original)
                    .unwrap_or_else(|| panic!("{original}: reversed after its approval, but has no hold"));
                let applied = hold.remaining != hold.amount || hold.status != HoldStatus::Open;
                if let Some(got) = got {
                    assert_eq!(
                        got.action, "4000",
                        "{transaction}: a reversal of an approval is accepted"
                    );
                }
                let accepted = answer.is_some_and(|answer| action(answer) == "4000");
                assert_eq!(
                    applied, accepted,
                    "{transaction}: the reversal of {original} is applied exactly when its 4000 is recorded \
                     (answer {answer:?}, hold {hold:?})"
                );
                if applied {
                    assert_eq!(hold.remaining, remaining, "{original}: held after the reversal");
                    let status = if remaining == 0 {
                        HoldStatus::Reversed
                    } else {
                        HoldStatus::Open
                    };
                    assert_eq!(hold.status, status, "{original}: status after the reversal");
                    assert_eq!(
                        answer.unwrap().hold_id,
                        Some(hold.id),
                        "{transaction}: the answer names the hold"
                    );
                }
                if this_cycle && got.is_some() {
                    verified.reversed += 1;
                }
            }
        }
    }
    // Nothing stored that was never sent: no hold or answer without its request.
    for hold in &holds {
        assert!(
            matches!(book.sent.get(&hold.transaction), Some(Sent::Authorization { .. })),
            "hold {} for {} was never asked for",
            hold.id,
            hold.transaction
        );
    }
    for answer in &answers {
        assert!(
            book.sent.contains_key(&answer.transaction),
            "an answer is recorded for {}, never sent",
            answer.transaction
        );
    }
    verified.holds = holds.len();

    // Each card's balance: its funds, minus exactly its open holds.
    let mut held_by_balance: HashMap<i64, i64> = HashMap::new();
    for hold in holds.iter().filter(|hold| hold.status == HoldStatus::Open) {
        verified.open_holds += 1;
        *held_by_balance.entry(hold.user_balance_id).or_default() += hold.remaining;
    }
    let in_memory = app.state.counts().2;
    assert!(
        (verified.open_holds..=holds.len()).contains(&in_memory),
        "memory has {in_memory} holds: every open one ({}), and only stored ones ({})",
        verified.open_holds,
        holds.len()
    );
    for card in cards {
        let balance = app.state.balance(card.balance_id).unwrap().snapshot();
        let held = held_by_balance.get(&card.balance_id).copied().unwrap_or(0);
        assert_eq!(
            balance.ledger, FUNDS,
            "balance {}: authorizations post nothing",
            card.balance_id
        );
        assert_eq!(
            balance.held, held,
            "balance {}: held is its open holds",
            card.balance_id
        );
        assert_eq!(
            balance.available(),
            FUNDS - held,
            "balance {}: available",
            card.balance_id
        );
    }
    // Money is conserved per currency.
    let mut ledger_by_currency: HashMap<String, i64> = HashMap::new();
    for balance in app.state.balances() {
        *ledger_by_currency.entry(balance.currency).or_default() += balance.ledger;
    }
    assert_eq!(ledger_by_currency.get("EUR").copied(), Some(funds_total), "EUR total");
    assert!(
        ledger_by_currency
            .iter()
            .all(|(currency, total)| currency == "EUR" || *total == 0),
        "no money in other currencies: {ledger_by_currency:?}"
    );
    let loads = database.store.external_loads().await.unwrap();
    assert_eq!(loads.get("EUR").copied(), Some(funds_total), "external loads");

    // The restarted switch answers repeats of answered requests as it answered them.
    let mut answered: Vec<(TransactionId, &Got)> = book
        .got
        .iter()
        .filter(|(transaction, _)| transaction.local_time == local_time)
        .map(|(transaction, got)| (*transaction, got))
        .collect();
    answered.sort_by_key(|(transaction, _)| *transaction);
    if !answered.is_empty() {
        let mut client = app.connect().await;
        let step = (answered.len() / REPEATS).max(1);
        for (transaction, got) in answered.iter().step_by(step).take(REPEATS) {
            let repeat = rebuild(book, cards, *transaction).repeat();
            let response = client.exchange(&repeat).await;
            assert_eq!(
                response.action(),
                got.action,
                "{transaction}: a repeat after the restart"
            );
            assert_eq!(
                response.text(38),
                got.approval.as_deref(),
                "{transaction}: the approval code of a repeat"
            );
        }
    }
    app.stop().await;
    verified
}
