//! Committed holds per second on PostgreSQL: the journal's group commit against one transaction per
//! hold, side by side in one group (`journal`).
//!
//! A hold is what a deposit-model approval writes: `InsertHold`, two `BalanceDelta`s (the user's and
//! the partner's held amounts) and `RecordAnswer`, with fresh ids and a distinct transaction
//! identity each. `SUBMITTERS` tasks submit concurrently, each waiting for its hold to be durable
//! before submitting the next (as the switch waits before answering):
//! - `group_commit`: through the real `State` and `Journal`, with the real `Store` as its commit
//!   target: one committer writes whatever is queued in one transaction;
//! - `one_per_change`: the same holds, each in its own transaction (`Store::commit` with one hold's
//!   changes), from as many tasks through a pool of `ONE_PER_CHANGE_POOL` connections.
//!
//! Each submitter has its own card and user balance; the partner deposit balances are shared, 8 of
//! them round-robin (as a few partners' would be). 16 connections are where one-per-change peaks
//! on the 2-core machine (8: about half; 32 and 64: about 25 % less), so the comparison is against
//! its best.
//!
//! Every run creates a fresh database (`antaca_bench_<random>`) on the server at
//! `ANTACA_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and drops it
//! after; without a reachable PostgreSQL the bench says so and measures nothing. Knobs:
//! `ANTACA_BENCH_BATCH_WAIT_US` (`journal.batch_wait_us`; default: config.toml's),
//! `ANTACA_BENCH_COMMITS_IN_FLIGHT` (`journal.commits_in_flight_max`),
//! `ANTACA_BENCH_SUBMITTERS`, `ANTACA_BENCH_PARTNER_BALANCES`, `ANTACA_BENCH_POOL` (one-per-change).
//! After the group it prints holds/s of both (medians of the last measured iterations), their
//! ratio, and the group committer's average batch size and commit time.
//!
//! `cargo bench --bench journal` (`-- --measurement-time 4` for a quicker look)

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use antaca::config::Config;
use antaca::crypto::CardKeys;
use antaca::state::journal::{BatchId, CommitTarget, Written};
use antaca::state::{
    Balance, BalanceId, BalanceKind, BalanceState, Card, CardId, CardKind, CardStatus, Change, Customer, FundingModel,
    HoldStatus, IdKind, JournalError, JournalLimits, KycStatus, LoadedState, Owner, Partner, Program, RecordedAnswer,
    State, Submission, SystemClock, TransactionId,
};
use antaca::store::{BatchMarker, Store};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

const POSTGRES_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Concurrent submitters (default).
const SUBMITTERS: usize = 256;
/// Holds each submitter commits per measured iteration.
const GROUP_HOLDS_PER_SUBMITTER: usize = 40;
const ONE_PER_CHANGE_HOLDS_PER_SUBMITTER: usize = 4;
/// The group committer's pool (it uses one connection at a time).
const GROUP_POOL: u32 = 8;
/// Connections the one-per-change submitters share.
const ONE_PER_CHANGE_POOL: u32 = 16;
/// Partner deposit balances the submitters share (default).
const PARTNER_BALANCES: usize = 8;
const PARTNER: &str = "bench-partner";
const PROGRAM: &str = "bench-deposit-eur";
const HOLD_AMOUNT: i64 = 100;

/// The store as the journal's commit target (as the application wraps it), counting batches.
struct StoreTarget {
    store: Store,
    /// The fencing epoch, as the application takes it (`Store::take_over`).
    epoch: Option<i64>,
    batches: AtomicU64,
    changes: AtomicU64,
    commit_nanos: AtomicU64,
}

impl StoreTarget {
    fn new(store: Store, epoch: Option<i64>) -> StoreTarget {
        StoreTarget {
            store,
            epoch,
            batches: AtomicU64::new(0),
            changes: AtomicU64::new(0),
            commit_nanos: AtomicU64::new(0),
        }
    }

    /// Batches, changes and time spent in `Store::commit` since the last call.
    fn take(&self) -> (u64, u64, Duration) {
        (
            self.batches.swap(0, Ordering::Relaxed),
            self.changes.swap(0, Ordering::Relaxed),
            Duration::from_nanos(self.commit_nanos.swap(0, Ordering::Relaxed)),
        )
    }
}

impl CommitTarget for StoreTarget {
    fn commit<'a>(
        &'a self,
        batch: BatchId,
        changes: &'a [Change],
        written: Written,
    ) -> Pin<Box<dyn Future<Output = Result<(), JournalError>> + Send + 'a>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self
                .store
                .commit_signalling(
                    changes,
                    Some(BatchMarker {
                        batch,
                        epoch: self.epoch,
                    }),
                    written,
                )
                .await
                .map_err(|_| JournalError::Failed);
            self.commit_nanos
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.changes.fetch_add(changes.len() as u64, Ordering::Relaxed);
            result
        })
    }
}

/// The balances and card of one submitter.
#[derive(Debug, Clone, Copy)]
struct Account {
    card: CardId,
    user: BalanceId,
    partner: BalanceId,
}

/// A fresh database, dropped at the end of the run.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

impl Database {
    async fn create() -> Result<Database, String> {
        let admin_url = std::env::var("ANTACA_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL_DEFAULT.to_owned());
        let mut admin = connect_admin(&admin_url).await?;
        let name = format!("antaca_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .map_err(|error| format!("cannot create a database: {error}"))?;
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        Ok(Database { admin_url, name, url })
    }

    async fn drop_database(self) {
        if let Ok(mut admin) = connect_admin(&self.admin_url).await {
            let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            if sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut admin)
                .await
                .is_ok()
            {
                return;
            }
        }
        eprintln!("could not drop the bench database {}; drop it by hand", self.name);
    }
}

async fn connect_admin(url: &str) -> Result<PgConnection, String> {
    let options = PgConnectOptions::from_str(url).map_err(|error| format!("invalid URL: {error}"))?;
    match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect_with(&options)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(format!("cannot connect: {error}")),
        Err(_) => Err("no answer within 5 s".to_owned()),
    }
}

/// `url` with its database name replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Partner, deposit program, `partner_balances` partner deposit balances, and per submitter a
/// customer, a user balance and an active card, committed directly to the store. Submitter `i`
/// holds on partner deposit balance `i % partner_balances`.
async fn provision(store: &Store, submitters: usize, partner_balances: usize) -> Vec<Account> {
    let now = now_ms();
    let mut changes = vec![
        Change::UpsertPartner(Partner {
            id: PARTNER.to_owned(),
            name: PARTNER.to_owned(),
            created_at: now,
        }),
        Change::UpsertProgram(Program {
            id: PROGRAM.to_owned(),
            partner_id: PARTNER.to_owned(),
            bin: "400000".to_owned(),
            currency: "EUR".to_owned(),
            funding: FundingModel::PartnerDeposit,
            validity_months: 36,
        }),
    ];
    let first_partner_balance = submitters as i64 + 1;
    for partner_balance in first_partner_balance..first_partner_balance + partner_balances as i64 {
        changes.push(Change::InsertBalance(balance(
            partner_balance,
            BalanceKind::PartnerDeposit,
            Owner::Partner(PARTNER.to_owned()),
            now,
        )));
    }
    let mut accounts = Vec::with_capacity(submitters);
    for index in 0..submitters {
        let number = index as i64 + 1;
        let account = Account {
            card: number,
            user: number,
            partner: first_partner_balance + (index % partner_balances) as i64,
        };
        changes.extend(submitter_changes(index, &account, now));
        accounts.push(account);
    }
    store.commit(&changes).await.expect("provisioning the bench database");
    accounts
}

/// An empty active EUR balance of the bench partner.
fn balance(id: BalanceId, kind: BalanceKind, owner: Owner, now: i64) -> Balance {
    Balance {
        id,
        kind,
        owner,
        partner_id: PARTNER.to_owned(),
        currency: "EUR".to_owned(),
        ledger: 0,
        held: 0,
        state: BalanceState::Active,
        low_balance_threshold: None,
        program_id: None,
        created_at: now,
    }
}

/// Submitter `index`'s customer, user balance and active virtual card (all numbered
/// `index + 1`; the PAN hash is that number, so it is distinct).
fn submitter_changes(index: usize, account: &Account, now: i64) -> [Change; 3] {
    let number = index as i64 + 1;
    let mut pan_hash = [0u8; 32];
    pan_hash[..8].copy_from_slice(&number.to_be_bytes());
    [
        Change::InsertCustomer(Customer {
            id: number,
            partner_id: PARTNER.to_owned(),
            external_ref: None,
            kyc_status: KycStatus::Verified,
            created_at: now,
        }),
        Change::InsertBalance(balance(account.user, BalanceKind::User, Owner::Customer(number), now)),
        Change::InsertCard(Card {
            id: account.card,
            balance_id: account.user,
            program_id: PROGRAM.to_owned(),
            kind: CardKind::Virtual,
            status: CardStatus::Active,
            pan_hash,
            pan_encrypted: vec![0; 32],
            pan_first6: "400000".to_owned(),
            pan_last4: format!("{:04}", index % 10_000),
            expiry: "2912".to_owned(),
            cvc_encrypted: vec![0; 19],
            pin_verification: None,
            pin_tries: 0,
            created_at: now,
        }),
    ]
}

/// The state loaded from the store, its journal committing to it.
async fn open_state(store: &Store, limits: JournalLimits) -> (State, Arc<StoreTarget>) {
    let snapshot = store.load(0).await.expect("loading the bench database");
    let loaded = LoadedState {
        partners: snapshot.partners,
        programs: snapshot.programs,
        customers: snapshot.customers,
        corporations: snapshot.corporations,
        balances: snapshot.balances,
        cards: snapshot.cards,
        holds: snapshot.holds,
        answers: snapshot.answers,
        external_loads: store.external_loads().await.expect("loading external loads"),
        max_ids: [
            snapshot.max_ids.balance,
            snapshot.max_ids.card,
            snapshot.max_ids.hold,
            snapshot.max_ids.customer,
            snapshot.max_ids.corporation,
            snapshot.max_ids.transfer,
        ],
        lifecycle: snapshot.lifecycle,
        fees: snapshot.fees,
    };
    let keys = CardKeys::new(&[7; 32], &[9; 32]).unwrap();
    let epoch = store.take_over().await.expect("taking the bench database over");
    let target = Arc::new(StoreTarget::new(store.clone(), epoch));
    let (state, _committer) = State::open(loaded, target.clone(), limits, keys, Arc::new(SystemClock));
    (state, target)
}

/// Distinct transaction identities across the run.
static TRANSACTIONS: AtomicU64 = AtomicU64::new(0);

/// One approval's changes: the hold, the two held deltas, the recorded answer.
fn hold_changes(state: &State, account: Account) -> Vec<Change> {
    let sequence = TRANSACTIONS.fetch_add(1, Ordering::Relaxed);
    let transaction = TransactionId {
        acquirer: 123_456,
        acquirer_digits: 6,
        stan: (sequence % 1_000_000) as u32,
        local_time: 260_101_000_000 + sequence / 1_000_000,
    };
    let id = state.next_id(IdKind::Hold);
    let now = now_ms();
    vec![
        Change::InsertHold(antaca::state::Hold {
            id,
            transaction,
            card_id: account.card,
            user_balance_id: account.user,
            partner_balance_id: Some(account.partner),
            amount: HOLD_AMOUNT,
            remaining: HOLD_AMOUNT,
            status: HoldStatus::Open,
            created_at: now,
            expires_at: now + 7 * 86_400_000,
        }),
        Change::BalanceDelta {
            balance_id: account.user,
            ledger: 0,
            held: HOLD_AMOUNT,
        },
        Change::BalanceDelta {
            balance_id: account.partner,
            ledger: 0,
            held: HOLD_AMOUNT,
        },
        Change::RecordAnswer(RecordedAnswer {
            transaction,
            mti: 2100,
            action_code: *b"0000",
            approval_code: Some(*b"123456"),
            available: Some((-HOLD_AMOUNT, 978)),
            hold_id: Some(id),
            created_at: now,
        }),
    ]
}

/// `holds_each` holds from every account's task through the journal; returns the elapsed time.
async fn group_commit(state: &State, accounts: &[Account], holds_each: usize) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = accounts
        .iter()
        .map(|&account| {
            let state = state.clone();
            tokio::spawn(async move {
                for _ in 0..holds_each {
                    let submission = Submission {
                        changes: hold_changes(&state, account),
                        releases: Vec::new(),
                    };
                    state.submit(submission).await.expect("the hold commits");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed()
}

/// The same holds, each committed in a transaction of its own, from as many tasks.
async fn one_per_change(state: &State, store: &Store, accounts: &[Account], holds_each: usize) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = accounts
        .iter()
        .map(|&account| {
            let state = state.clone();
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..holds_each {
                    let changes = hold_changes(&state, account);
                    store.commit(&changes).await.expect("the hold commits");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed()
}

/// Holds per second of every measured call, per function, for the summary.
#[derive(Default)]
struct Rates(Vec<f64>);

impl Rates {
    fn record(&mut self, holds: usize, elapsed: Duration) {
        self.0.push(holds as f64 / elapsed.as_secs_f64());
    }

    /// The median of the last `samples` calls (criterion's measurement follows its warm-up).
    fn median(&self, samples: usize) -> f64 {
        let mut last: Vec<f64> = self.0.iter().rev().take(samples).copied().collect();
        last.sort_by(f64::total_cmp);
        if last.is_empty() { 0.0 } else { last[last.len() / 2] }
    }
}

fn env_number<T: FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|value| value.parse().ok())
}

/// The bench's settings: config.toml's journal limits, overridden by the `ANTACA_BENCH_*`
/// variables (see the module's note).
#[derive(Debug, Clone, Copy)]
struct Knobs {
    batch_wait_us: u64,
    submitters: usize,
    pool: u32,
    partner_balances: usize,
    limits: JournalLimits,
}

impl Knobs {
    fn from_env() -> Knobs {
        let root = env!("CARGO_MANIFEST_DIR");
        let config = Config::load_with_env(std::path::Path::new(&format!("{root}/config.toml")), std::iter::empty())
            .expect("the repository's config.toml loads");
        let batch_wait_us = env_number("ANTACA_BENCH_BATCH_WAIT_US").unwrap_or(config.journal.batch_wait_us);
        let submitters = env_number("ANTACA_BENCH_SUBMITTERS").unwrap_or(SUBMITTERS);
        let pool = env_number("ANTACA_BENCH_POOL").unwrap_or(ONE_PER_CHANGE_POOL);
        let partner_balances = env_number("ANTACA_BENCH_PARTNER_BALANCES")
            .unwrap_or(PARTNER_BALANCES)
            .clamp(1, submitters);
        let limits = JournalLimits {
            batch_max: config.journal.batch_max as usize,
            batch_wait: Duration::from_micros(batch_wait_us),
            queue_max: config.journal.queue_max as usize,
            commits_in_flight_max: env_number("ANTACA_BENCH_COMMITS_IN_FLIGHT")
                .unwrap_or(config.journal.commits_in_flight_max as usize),
        };
        Knobs {
            batch_wait_us,
            submitters,
            pool,
            partner_balances,
            limits,
        }
    }
}

fn journal(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let database = match runtime.block_on(Database::create()) {
        Ok(database) => database,
        Err(reason) => {
            eprintln!(
                "*** journal bench SKIPPED: PostgreSQL is unreachable ({reason}); set ANTACA_TEST_POSTGRES_URL ***"
            );
            return;
        }
    };
    let knobs = Knobs::from_env();
    let (group_store, pool_store, (state, target), accounts) = runtime.block_on(async {
        let group_store = Store::connect(&database.url, GROUP_POOL).await.expect("connecting");
        let pool_store = Store::connect(&database.url, knobs.pool).await.expect("connecting");
        let accounts = provision(&group_store, knobs.submitters, knobs.partner_balances).await;
        let state = open_state(&group_store, knobs.limits).await;
        (group_store, pool_store, state, accounts)
    });
    eprintln!(
        "journal bench: {} submitters on {} partner deposit balances, batch_max {} changes, batch_wait_us {}, \
         one-per-change pool {} connections, database {}",
        knobs.submitters,
        knobs.partner_balances,
        knobs.limits.batch_max,
        knobs.batch_wait_us,
        knobs.pool,
        database.name
    );

    let group_rates = Mutex::new(Rates::default());
    let single_rates = Mutex::new(Rates::default());
    let mut group = c.benchmark_group("journal");
    let bench = Bench {
        runtime: &runtime,
        state: &state,
        accounts: &accounts,
    };
    bench.group_commit(&mut group, &group_rates);
    bench.one_per_change(&mut group, &pool_store, &single_rates);
    group.finish();
    summarize(&target, &group_rates, &single_rates);

    if let Err(problem) = state.check_invariants() {
        panic!("the bench broke an invariant: {problem}");
    }
    drop(state);
    runtime.block_on(async {
        group_store.close().await;
        pool_store.close().await;
        database.drop_database().await;
    });
}

/// What both measurements run on: the runtime, the state over the bench database, and the
/// submitters' accounts.
struct Bench<'a> {
    runtime: &'a tokio::runtime::Runtime,
    state: &'a State,
    accounts: &'a [Account],
}

impl Bench<'_> {
    /// `journal/group_commit`: every submitter commits [`GROUP_HOLDS_PER_SUBMITTER`] holds
    /// through the journal per iteration; each iteration's rate goes into `rates`.
    fn group_commit(&self, group: &mut BenchmarkGroup<'_, WallTime>, rates: &Mutex<Rates>) {
        let holds = self.accounts.len() * GROUP_HOLDS_PER_SUBMITTER;
        group.throughput(Throughput::Elements(holds as u64));
        group.bench_function("group_commit", |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let elapsed =
                        self.runtime
                            .block_on(group_commit(self.state, self.accounts, GROUP_HOLDS_PER_SUBMITTER));
                    rates.lock().unwrap().record(holds, elapsed);
                    total += elapsed;
                }
                total
            })
        });
    }

    /// `journal/one_per_change`: every submitter commits [`ONE_PER_CHANGE_HOLDS_PER_SUBMITTER`]
    /// holds, each in its own transaction through `pool_store`; each iteration's rate goes into
    /// `rates`.
    fn one_per_change(&self, group: &mut BenchmarkGroup<'_, WallTime>, pool_store: &Store, rates: &Mutex<Rates>) {
        let holds = self.accounts.len() * ONE_PER_CHANGE_HOLDS_PER_SUBMITTER;
        group.throughput(Throughput::Elements(holds as u64));
        group.bench_function("one_per_change", |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let elapsed = self.runtime.block_on(one_per_change(
                        self.state,
                        pool_store,
                        self.accounts,
                        ONE_PER_CHANGE_HOLDS_PER_SUBMITTER,
                    ));
                    rates.lock().unwrap().record(holds, elapsed);
                    total += elapsed;
                }
                total
            })
        });
    }
}

/// Prints the group committer's batches (average size and commit time), and both rates with
/// their ratio (medians of the last measured iterations).
fn summarize(target: &StoreTarget, group_rates: &Mutex<Rates>, single_rates: &Mutex<Rates>) {
    let sample_size = 10; // the last ones measured, for the summary
    let (batches, changes, committing) = target.take();
    eprintln!(
        "journal bench: group commit wrote {batches} batches, {:.1} holds per batch on average, {:.2} ms per \
         commit on average",
        changes as f64 / 4.0 / batches.max(1) as f64,
        committing.as_secs_f64() * 1000.0 / batches.max(1) as f64
    );
    let grouped = group_rates.lock().unwrap().median(sample_size * 3);
    let single = single_rates.lock().unwrap().median(sample_size * 3);
    if single > 0.0 {
        eprintln!(
            "journal bench: group_commit {grouped:.0} holds/s, one_per_change {single:.0} holds/s (medians of \
             the last measured iterations): group commit is {:.1}x one per change",
            grouped / single
        );
    }
}

criterion_group! {
    name = benches;
    // Command-line options (`--measurement-time`, `--sample-size`) override these.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    targets = journal
}
criterion_main!(benches);
