//! The authorization path in process: decode → claim → decide (card checks,
//! funds reservation) → journal hand-off → encode, on a warm state of 100,000
//! cards. No storage: the journal's commit target accepts every batch at once
//! (`NoStorage`), so this measures the switch itself; `benches/journal.rs`
//! measures committing to PostgreSQL.
//!
//! Run: `cargo bench --bench authorize`; with `ANTACA_BENCH_FEES=1` the program charges an
//! e-commerce fee (fixed + percent, the bench's request is e-commerce), so the fee computation and
//! the hold's fee record are on the measured path.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use antaca::authorization::Switch;
use antaca::authorization::operations::Settings;
use antaca::balances;
use antaca::cards::{self, CardRequest};
use antaca::config::Config;
use antaca::crypto::CardKeys;
use antaca::crypto::pin_block::ZonePinKey;
use antaca::iso8583::{OutMessage, Spec};
use antaca::network::Reply;
use antaca::state::journal::{BatchId, CommitTarget, Written};
use antaca::state::{
    BalanceKind, Change, JournalError, JournalLimits, LoadedState, ManualClock, Owner, State, TransferKind,
};
use criterion::{Criterion, criterion_group, criterion_main};

const CARDS: usize = 100_000;
/// Every this many authorizations, outside the timing, holds are expired and
/// answers forgotten, so memory stays as warm and as large as in service.
const RESET_EVERY: u64 = 50_000;

/// Accepts every batch without storing it: this bench is about the switch.
#[derive(Debug)]
struct NoStorage;

impl CommitTarget for NoStorage {
    fn commit<'a>(
        &'a self,
        _: BatchId,
        _: &'a [Change],
        _: Written,
    ) -> Pin<Box<dyn Future<Output = Result<(), JournalError>> + Send + 'a>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

struct Fixture {
    spec: Arc<Spec>,
    switch: Switch,
    clock: Arc<ManualClock>,
    pans: Vec<String>,
    template: Vec<u8>,
    /// Offsets of the PAN, STAN and DE 12 digits in `template`.
    pan_at: usize,
    stan_at: usize,
    local_time_at: usize,
}

async fn fixture() -> Fixture {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = Config::load_with_env(std::path::Path::new(&format!("{root}/config.toml")), std::iter::empty())
        .expect("config.toml loads");
    let spec = Arc::new(Spec::load(std::path::Path::new(&format!("{root}/specs/iso8583_2003_ascii.yaml"))).unwrap());
    let clock = Arc::new(ManualClock::new(1_795_521_600_000));
    let keys = CardKeys::new(config.crypto.data_key.bytes(), config.crypto.lookup_key.bytes()).unwrap();
    let limits = JournalLimits {
        batch_max: 4096,
        batch_wait: Duration::ZERO,
        queue_max: 65_536,
        commits_in_flight_max: 1,
    };
    let (state, _journal) = State::open(LoadedState::default(), Arc::new(NoStorage), limits, keys, clock.clone());
    antaca::balances::programs::set_up_programs(&state, &config.programs)
        .await
        .unwrap();
    if std::env::var("ANTACA_BENCH_FEES").is_ok_and(|value| value == "1") {
        add_fee_schedule(&state).await;
    }
    let pans = funded_cards(&state).await;
    let settings = Settings {
        zone_pin_key: ZonePinKey::new(config.authorization.zone_pin_key.bytes()).unwrap(),
        pin_tries_max: 3,
        hold_ttl_ms: 7 * 86_400_000,
    };
    let switch = Switch::new(spec.clone(), state, settings);
    let template = authorization(&spec, &pans[0]);
    let find = |needle: &[u8]| {
        template
            .windows(needle.len())
            .position(|window| window == needle)
            .unwrap()
    };
    let (pan_at, stan_at, local_time_at) = (find(pans[0].as_bytes()), find(b"000001"), find(b"261124120000"));
    Fixture {
        spec,
        switch,
        clock,
        pans,
        template,
        pan_at,
        stan_at,
        local_time_at,
    }
}

/// With `ANTACA_BENCH_FEES=1`: an e-commerce fee (0.10 + 1.5 %) on the program, so that the
/// decision computes a fee.
async fn add_fee_schedule(state: &State) {
    let schedule = serde_json::from_str(r#"{"enabled": true, "ecommerce": {"fixed": "0.10", "percent": "1.5"}}"#);
    let mut submission = antaca::state::Submission::default();
    submission.push(Change::InsertFeeSchedule(antaca::fees::ScheduleVersion {
        program_id: "dev-credit-eur".to_owned(),
        version: 1,
        effective_from: 0,
        schedule: schedule.unwrap(),
        created_at: 0,
        created_by: "bench".to_owned(),
    }));
    state.submit(submission).await.unwrap();
}

/// [`CARDS`] cards, each of its own verified user with a balance funded far beyond what the
/// bench spends; their PANs.
async fn funded_cards(state: &State) -> Vec<String> {
    let program = state.program("dev-credit-eur").unwrap();
    balances::load_external(state, program.funding_balance, i64::MAX / 4)
        .await
        .unwrap();
    let mut pans = Vec::with_capacity(CARDS);
    for _ in 0..CARDS {
        let user = open_user(state).await;
        balances::transfer(
            state,
            program.funding_balance,
            user,
            1_000_000_000_000,
            TransferKind::Reload,
        )
        .await
        .unwrap();
        pans.push(
            cards::issue(state, user, "dev-credit-eur", CardRequest::default())
                .await
                .unwrap()
                .pan,
        );
    }
    pans
}

async fn open_user(state: &State) -> i64 {
    let customer = antaca::state::Customer {
        id: state.next_id(antaca::state::IdKind::Customer),
        partner_id: "dev-partner".to_owned(),
        external_ref: None,
        kyc_status: antaca::state::KycStatus::Verified,
        created_at: state.now_ms(),
    };
    let id = customer.id;
    let mut submission = antaca::state::Submission::default();
    submission.push(Change::InsertCustomer(customer));
    state.submit(submission).await.unwrap();
    balances::open(state, BalanceKind::User, Owner::Customer(id), "dev-partner", "EUR")
        .await
        .unwrap()
        .id
}

/// A realistic 2100: e-commerce purchase with CVC2-less data, 12.34 EUR.
fn authorization(spec: &Spec, pan: &str) -> Vec<u8> {
    let mut message = OutMessage::new(2100);
    message
        .set_text(2, pan.as_bytes())
        .set_text(3, b"000000")
        .set_number(4, 1234)
        .set_text(7, b"1124120000")
        .set_text(11, b"000001")
        .set_text(12, b"261124120000")
        .set_text(22, b"812")
        .set_text(24, b"100")
        .set_text(26, b"5411")
        .set_text(32, b"12345678")
        .set_text(37, b"RRN000000001")
        .set_text(41, b"TERM0001")
        .set_text(42, b"MERCHANT0000001")
        .set_text(49, b"978");
    let mut out = Vec::new();
    message.encode_into(spec, &mut out).unwrap();
    out
}

fn write_digits(mut value: u64, out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn bench_authorize(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fixture = runtime.block_on(fixture());
    let mut frame = fixture.template.clone();
    let mut sequence: u64 = 0;
    let mut group = c.benchmark_group("authorize");
    group.bench_function("decide", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iterations {
                    sequence += 1;
                    if sequence.is_multiple_of(RESET_EVERY) {
                        reset(&fixture).await;
                    }
                    // A fresh identity and the next card, patched into the template.
                    let pan = &fixture.pans[(sequence % CARDS as u64) as usize];
                    frame[fixture.pan_at..fixture.pan_at + 16].copy_from_slice(pan.as_bytes());
                    write_digits(sequence % 1_000_000, &mut frame[fixture.stan_at..fixture.stan_at + 6]);
                    write_digits(
                        261_124_000_000 + sequence / 1_000_000,
                        &mut frame[fixture.local_time_at..fixture.local_time_at + 12],
                    );
                    let started = Instant::now();
                    let reply = fixture.switch.answer(&frame).await;
                    elapsed += started.elapsed();
                    match reply {
                        Reply::Send(answer) => {
                            let decoded = antaca::iso8583::Message::decode(&fixture.spec, &answer).unwrap();
                            assert_eq!(decoded.str(39), Some("0000"));
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
                elapsed
            })
        })
    });
    group.finish();
}

/// Expires every hold and forgets every answer (outside the timed section).
async fn reset(fixture: &Fixture) {
    fixture.clock.advance(8 * 86_400_000);
    fixture.switch.expire_holds().await;
    fixture.switch.state().forget_answers_before(fixture.clock.now_ms());
}

use antaca::state::Clock;

criterion_group!(benches, bench_authorize);
criterion_main!(benches);
