//! Fuzzes the decision path: the frame handler the TCP server calls (`Switch::handle`: decode →
//! request → claim → decide → journal → encode) against a real in-memory `State`.
//!
//! Each input is a short script (built with `arbitrary`) run against a fresh state: funded credit
//! and deposit-model cards, a card with a PIN, a locked card, an ordered physical card, a fee
//! schedule, a USD→EUR rate and two open holds. A step sends a 2100/2120/2200/2220/2420/2304/2804
//! (or its repeat) whose field values come from the input and which the project's own encoder
//! writes; or two such messages at once (the second may wait on the first's card or hold); or
//! raw bytes, or an encoded message with one byte replaced; or advances the clock and expires
//! holds; or makes the next commits fail.
//!
//! It must never panic or hang. After every step the money invariants hold
//! (`State::check_invariants`) and every answer sent decodes with the contract's spec as the
//! request's response; after the script no funds stay reserved, no card update is pending and no
//! hold is busy.
//!
//! The commit target is [`MemoryCommits`]: a fuzz harness's in-process implementation of
//! `CommitTarget`, not production code. It stores nothing but the ids of the batches it accepted,
//! and fails the commits the script asks it to fail.
#![no_main]

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use antaca::authorization::Switch;
use antaca::authorization::operations::Settings;
use antaca::cards::{self, CardRequest};
use antaca::config::Config;
use antaca::crypto::CardKeys;
use antaca::crypto::pin_block::{ClearPin, ZonePinKey};
use antaca::fees::{FxRate, ScheduleVersion};
use antaca::iso8583::{FieldRef, Message, OutMessage, Spec};
use antaca::network::{FrameHandler, Reply};
use antaca::state::journal::{BatchId, CommitTarget, Written};
use antaca::state::{
    BalanceKind, Change, FundingModel, IdKind, JournalError, JournalLimits, LoadedState, LockReason, ManualClock,
    Owner, State, Submission, TransferKind,
};
use antaca::{app, balances};
use bytes::Bytes;
use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// 2026-11-24 12:00 UTC.
const START_MS: i64 = 1_795_521_600_000;
/// Steps run per input at most: short scripts keep the fuzzer at thousands of inputs a second.
const STEPS_MAX: usize = 12;
/// A step that takes longer than this is a hang (every wait in the switch is on memory).
const STEP_TIMEOUT: Duration = Duration::from_secs(5);
const CREDIT: &str = "dev-credit-eur";
const DEPOSIT: &str = "dev-deposit-eur";
const ACQUIRERS: [&str; 2] = ["123456", "98765432101"];
const LOCAL_TIMES: [&str; 3] = ["261124120000", "261124120500", "261124130000"];

static SPEC: LazyLock<Arc<Spec>> =
    LazyLock::new(|| Arc::new(Spec::load(&Path::new(ROOT).join("../specs/iso8583_2003_ascii.yaml")).unwrap()));

static CONFIG: LazyLock<Config> = LazyLock::new(|| {
    Config::load_with_env(&Path::new(ROOT).join("../config.toml"), std::iter::empty()).expect("config.toml loads")
});

/// One current-thread runtime for every input: the switch, the journal's committer and the
/// in-doubt resolutions all run on it, inside `block_on`.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
});

/// What the next commit does instead of succeeding.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Unavailable,
    /// The batch is stored but the commit is in doubt (`resolve` says stored).
    InDoubtStored,
    /// The batch is not stored and the commit is in doubt (`resolve` says not stored).
    InDoubtLost,
}

/// The fuzz harness's commit target (not production): commits in memory, accepting every batch
/// unless a fault was planned for it; remembers the ids of the batches it stored so that
/// `resolve` answers truthfully after an in-doubt commit.
#[derive(Debug, Default)]
struct MemoryCommits {
    stored: Mutex<HashSet<BatchId>>,
    faults: Mutex<VecDeque<Fault>>,
}

impl CommitTarget for MemoryCommits {
    fn commit<'a>(
        &'a self,
        batch: BatchId,
        _changes: &'a [Change],
        written: Written,
    ) -> Pin<Box<dyn Future<Output = Result<(), JournalError>> + Send + 'a>> {
        written.signal();
        let fault = self.faults.lock().unwrap().pop_front();
        let result = match fault {
            None => {
                self.stored.lock().unwrap().insert(batch);
                Ok(())
            }
            Some(Fault::Unavailable) => Err(JournalError::Unavailable),
            Some(Fault::InDoubtStored) => {
                self.stored.lock().unwrap().insert(batch);
                Err(JournalError::InDoubt)
            }
            Some(Fault::InDoubtLost) => Err(JournalError::InDoubt),
        };
        Box::pin(std::future::ready(result))
    }

    fn resolve(&self, batch: BatchId) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(std::future::ready(self.stored.lock().unwrap().contains(&batch)))
    }
}

/// A card of the world, as the network knows it.
#[derive(Debug)]
struct WorldCard {
    pan: String,
    expiry: String,
    cvc2: String,
    pin: Option<&'static str>,
}

/// Identity of a message sent (or pre-opened), for DE 56 of later completions and reversals.
#[derive(Debug, Clone)]
struct Sent {
    mti: u16,
    stan: String,
    local_time: &'static str,
    acquirer: &'static str,
}

struct World {
    switch: Switch,
    /// The journal's committer task: it ends once the state is dropped.
    committer: tokio::task::JoinHandle<()>,
    target: Arc<MemoryCommits>,
    clock: Arc<ManualClock>,
    cards: Vec<WorldCard>,
    sent: Vec<Sent>,
    zone_pin_key: ZonePinKey,
}

async fn customer_balance(state: &State, partner: &str) -> i64 {
    let customer = antaca::state::Customer {
        id: state.next_id(IdKind::Customer),
        partner_id: partner.to_owned(),
        external_ref: None,
        kyc_status: antaca::state::KycStatus::Verified,
        created_at: state.now_ms(),
    };
    let id = customer.id;
    let mut submission = Submission::default();
    submission.push(Change::InsertCustomer(customer));
    state.submit(submission).await.unwrap();
    balances::open(state, BalanceKind::User, Owner::Customer(id), partner, "EUR")
        .await
        .unwrap()
        .id
}

/// A user balance with `funds` under `program`'s funding model, and a card on it.
async fn card(state: &State, program: &str, funds: i64, request: CardRequest) -> WorldCard {
    let entry = state.program(program).unwrap();
    let user = customer_balance(state, &entry.program.partner_id).await;
    match entry.program.funding {
        _ if funds == 0 => {}
        FundingModel::PartnerCredit => {
            balances::transfer(state, entry.funding_balance, user, funds, TransferKind::Reload)
                .await
                .unwrap();
        }
        FundingModel::PartnerDeposit => balances::load_external(state, user, funds).await.unwrap(),
    }
    let pin = request.pin.as_ref().map(|_| "1234");
    let issued = cards::issue(state, user, program, request).await.unwrap();
    WorldCard {
        pan: issued.pan,
        expiry: issued.expiry,
        cvc2: issued.cvc2,
        pin,
    }
}

async fn world() -> World {
    let config = &*CONFIG;
    let target = Arc::new(MemoryCommits::default());
    let clock = Arc::new(ManualClock::new(START_MS));
    let keys = CardKeys::new(config.crypto.data_key.bytes(), config.crypto.lookup_key.bytes()).unwrap();
    let limits = JournalLimits {
        batch_max: 256,
        batch_wait: Duration::ZERO,
        queue_max: 64,
        commits_in_flight_max: 1,
    };
    let (state, committer) = State::open(LoadedState::default(), target.clone(), limits, keys, clock.clone());
    antaca::balances::programs::set_up_programs(&state, &config.programs).await.unwrap();
    let fees = r#"{"enabled": true, "pos": {"fixed": "0.05", "percent": "1"}, "ecommerce": {"fixed": "0.10",
        "percent": "1.5"}, "atm": {"fixed": "2", "percent": "0"}, "currencyConversionPercent": "2"}"#;
    let mut setup = Submission::default();
    for (version, program) in [CREDIT, DEPOSIT].into_iter().enumerate() {
        setup.push(Change::InsertFeeSchedule(ScheduleVersion {
            program_id: program.to_owned(),
            version: version as i64 + 1,
            effective_from: 0,
            schedule: serde_json::from_str(fees).unwrap(),
            created_at: 0,
            created_by: "fuzz".to_owned(),
        }));
    }
    setup.push(Change::InsertFxRate(FxRate {
        id: "fuzz-usd-eur".to_owned(),
        from: "USD".to_owned(),
        to: "EUR".to_owned(),
        rate: rust_decimal::Decimal::new(9215, 4),
        valid_from: 0,
        valid_to: None,
        created_at: 0,
        created_by: "fuzz".to_owned(),
    }));
    state.submit(setup).await.unwrap();
    let credit = state.program(CREDIT).unwrap().funding_balance;
    let deposit = state.program(DEPOSIT).unwrap().funding_balance;
    balances::load_external(&state, credit, 1_000_000).await.unwrap();
    balances::load_external(&state, deposit, 3_000).await.unwrap();
    let with_pin = || CardRequest {
        kind: Some(antaca::state::CardKind::Physical),
        pin: Some("1234".to_owned()),
    };
    let mut cards = vec![
        card(&state, CREDIT, 100_000, CardRequest::default()).await,
        card(&state, CREDIT, 10_000, with_pin()).await,
        card(&state, DEPOSIT, 5_000, CardRequest::default()).await,
        card(&state, CREDIT, 500, CardRequest::default()).await,
        card(&state, CREDIT, 0, with_pin()).await,
    ];
    // Card 1 is an activated physical card with a PIN; card 3 is locked (lost); card 4 stays ordered.
    for (index, card) in cards.iter().enumerate() {
        let id = state.card_by_pan(card.pan.as_bytes()).unwrap().lock().card.id;
        match index {
            1 => {
                cards::link(&state, id).await.unwrap();
                cards::activate(&state, id).await.unwrap();
            }
            3 => cards::lock(&state, id, LockReason::Lost).await.unwrap(),
            _ => {}
        }
    }
    cards[4].pin = Some("1234");
    let settings = Settings {
        zone_pin_key: ZonePinKey::new(config.authorization.zone_pin_key.bytes()).unwrap(),
        pin_tries_max: 3,
        hold_ttl_ms: 7 * 86_400_000,
    };
    let mut world = World {
        switch: Switch::new(SPEC.clone(), state, settings),
        committer,
        target,
        clock,
        cards,
        sent: Vec::new(),
        zone_pin_key: ZonePinKey::new(config.authorization.zone_pin_key.bytes()).unwrap(),
    };
    // Open holds: one on the credit card, one on the deposit-model card, and one on the credit
    // card under the identity of the golden 2100 (tests/fixtures), which the golden 2420 reverses.
    for (card, amount) in [(0, 1_234), (2, 700)] {
        let (frame, sent) = world.encode(&Tx::authorization(card, amount));
        world.pre_open(&frame).await;
        world.sent.push(sent);
    }
    let identity = golden();
    let mut golden = OutMessage::new(2100);
    golden
        .set_text(2, world.cards[0].pan.as_bytes())
        .set_text(3, b"000000")
        .set_text(4, b"000000012345")
        .set_text(11, identity.stan.as_bytes())
        .set_text(12, identity.local_time.as_bytes())
        .set_text(32, identity.acquirer.as_bytes())
        .set_text(49, b"978");
    let mut frame = Vec::new();
    golden.encode_into(&SPEC, &mut frame).unwrap();
    world.pre_open(&frame).await;
    world.sent.push(identity);
    world
}

/// The identity of `tests/fixtures/2100_authorization_pin_cvc2.hex` (and DE 56 of the 2420's).
fn golden() -> Sent {
    Sent {
        mti: 2100,
        stan: "123456".to_owned(),
        local_time: "261124233045",
        acquirer: "123456",
    }
}
/// The PAN of the golden fixtures: frames sent as they are carry card 1's PAN instead.
const GOLDEN_PAN: &[u8] = b"4111111111111111";

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Kind {
    Authorization,
    AuthorizationAdvice,
    Financial,
    FinancialAdvice,
    FileUpdate,
    Reversal,
    NetworkManagement,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum CardPick {
    Card(u8),
    /// A PAN no card has (same BIN, other digits).
    Unknown(u32),
    Absent,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Secret<T> {
    Absent,
    Right,
    Wrong,
    Raw(T),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum OriginalPick {
    Absent,
    /// One of the messages sent before (or pre-opened), by index.
    Sent(u8),
    /// An identity never sent.
    Unknown(u16),
    /// Raw DE 56 digits.
    Raw([u8; 12]),
}

/// A message's field values; the project's encoder writes it.
#[derive(Arbitrary, Debug, Clone)]
struct Tx {
    kind: Kind,
    repeat: bool,
    card: CardPick,
    /// DE 3 digits 1–2: 00, 01, 20, 30 or anything else.
    processing: u8,
    amount: Option<u32>,
    /// DE 49: 978, 840, or another number.
    currency: u16,
    billing: Option<(u32, u16)>,
    expiry: Secret<u16>,
    cvc2: Secret<[u8; 3]>,
    pin: Secret<[u8; 8]>,
    /// DE 22 digits 1–2.
    entry_mode: Option<u8>,
    merchant_category: Option<u16>,
    function_code: Option<u16>,
    /// STAN, kept small so that duplicates happen.
    stan: u8,
    local_time: u8,
    acquirer: bool,
    original: OriginalPick,
    lock_reason: Option<u8>,
    file_update_code: Option<u8>,
    /// Bit k drops the k-th field the message would carry.
    drop: u32,
}

impl Tx {
    fn authorization(card: u8, amount: u32) -> Tx {
        Tx {
            kind: Kind::Authorization,
            repeat: false,
            card: CardPick::Card(card),
            processing: 0,
            amount: Some(amount),
            currency: 978,
            billing: None,
            expiry: Secret::Absent,
            cvc2: Secret::Absent,
            pin: Secret::Absent,
            entry_mode: Some(81),
            merchant_category: Some(5411),
            function_code: Some(100),
            stan: card,
            local_time: 0,
            acquirer: false,
            original: OriginalPick::Absent,
            lock_reason: None,
            file_update_code: None,
            drop: 0,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Step {
    Send(Tx),
    /// Two messages at once, as two pipelined frames: the second may wait on the first.
    Together(Tx, Tx),
    /// Encoded, then the byte at `at` (modulo the length) replaced.
    Tamper(Tx, u16, u8),
    Raw(Vec<u8>),
    /// Moves the clock on by minutes, then expires what is due (the housekeeping round).
    Advance(u16),
    /// The next `count` (1–4) commits fail this way.
    Fail(Fault, u8),
}

fn digits(value: u64, width: usize) -> String {
    let modulo = 10u64.pow(width as u32);
    format!("{:0width$}", value % modulo)
}

impl World {
    async fn pre_open(&self, frame: &[u8]) {
        let Reply::Send(answer) = self.switch.answer(frame).await else {
            panic!("the pre-opened hold is answered");
        };
        assert_eq!(Message::decode(&SPEC, &answer).unwrap().str(39), Some("0000"));
    }

    /// The frame of `tx`, and its identity (for DE 56 of later messages).
    fn encode(&self, tx: &Tx) -> (Vec<u8>, Sent) {
        let base = match tx.kind {
            Kind::Authorization => 2100,
            Kind::AuthorizationAdvice => 2120,
            Kind::Financial => 2200,
            Kind::FinancialAdvice => 2220,
            Kind::FileUpdate => 2304,
            Kind::Reversal => 2420,
            Kind::NetworkManagement => 2804,
        };
        let repeatable = !matches!(tx.kind, Kind::FileUpdate | Kind::NetworkManagement);
        let mti = base + u16::from(tx.repeat && repeatable);
        let card = match tx.card {
            CardPick::Card(index) => Some(&self.cards[usize::from(index) % self.cards.len()]),
            _ => None,
        };
        let pan = match tx.card {
            CardPick::Card(_) => card.unwrap().pan.clone(),
            CardPick::Unknown(rest) => format!("53999900{}", digits(u64::from(rest), 8)),
            CardPick::Absent => String::new(),
        };
        let processing = match tx.processing % 8 {
            0 | 1 => "000000".to_owned(),
            2 => "010000".to_owned(),
            3 => "200000".to_owned(),
            4 => "300000".to_owned(),
            _ => digits(u64::from(tx.processing), 2) + "0000",
        };
        let currency = |code: u16| match code % 4 {
            0 | 1 => "978".to_owned(),
            2 => "840".to_owned(),
            _ => digits(u64::from(code / 4), 3),
        };
        let expiry = match tx.expiry {
            Secret::Absent => None,
            Secret::Right => card.map(|card| card.expiry.clone()),
            Secret::Wrong => Some("2001".to_owned()),
            Secret::Raw(yymm) => Some(digits(u64::from(yymm), 4)),
        };
        let cvc2 = match tx.cvc2 {
            Secret::Absent => None,
            Secret::Right => card.map(|card| format!("9203{}", card.cvc2)),
            Secret::Wrong => card.map(|card| format!("9203{}", if card.cvc2 == "999" { "998" } else { "999" })),
            // Raw DE 48: any subelements, well-formed or not.
            Secret::Raw(raw) => Some(String::from_utf8_lossy(&raw).into_owned()),
        };
        let lock = tx
            .lock_reason
            .map(|reason| format!("9302{}", digits(u64::from(reason), 2)));
        let private = match (cvc2, lock) {
            (None, None) => None,
            (cvc2, lock) => Some(cvc2.unwrap_or_default() + &lock.unwrap_or_default()),
        };
        let pin_block = match (tx.pin, card) {
            (Secret::Absent, _) | (Secret::Right | Secret::Wrong, None) => None,
            (Secret::Raw(raw), _) => Some(raw),
            (Secret::Right | Secret::Wrong, Some(card)) => {
                let pin = match tx.pin {
                    Secret::Right => card.pin.unwrap_or("0000"),
                    _ => "9999",
                };
                self.zone_pin_key
                    .encrypt_pin(&ClearPin::new(pin.as_bytes()).unwrap(), card.pan.as_bytes())
                    .ok()
            }
        };
        let original = match tx.original {
            OriginalPick::Absent => None,
            OriginalPick::Sent(index) if self.sent.is_empty() => Some(format!("2100{}", digits(u64::from(index), 6))),
            OriginalPick::Sent(index) => {
                let sent = &self.sent[usize::from(index) % self.sent.len()];
                Some(format!(
                    "{:04}{}{}{:02}{}",
                    sent.mti,
                    sent.stan,
                    sent.local_time,
                    sent.acquirer.len(),
                    sent.acquirer
                ))
            }
            OriginalPick::Unknown(stan) => Some(format!(
                "2100{}{}06{}",
                digits(u64::from(stan), 6),
                LOCAL_TIMES[0],
                ACQUIRERS[0]
            )),
            OriginalPick::Raw(raw) => Some(String::from_utf8_lossy(&raw).into_owned()),
        };
        let stan = digits(u64::from(tx.stan % 16), 6);
        let local_time = LOCAL_TIMES[usize::from(tx.local_time) % LOCAL_TIMES.len()];
        let acquirer = ACQUIRERS[usize::from(tx.acquirer)];
        let amount = tx.amount.map(|amount| digits(u64::from(amount % 100_000), 12));
        let billing = tx
            .billing
            .map(|(amount, code)| (digits(u64::from(amount % 100_000), 12), currency(code)));
        let entry_mode = tx.entry_mode.map(|mode| digits(u64::from(mode), 2) + "1");
        let merchant_category = tx.merchant_category.map(|code| digits(u64::from(code), 4));
        let function_code = tx.function_code.map(|code| digits(u64::from(code), 3));
        let file_update = tx.file_update_code.map(|code| [b'0' + code % 4]);
        let currency = currency(tx.currency);

        let mut fields: Vec<(usize, &[u8])> = Vec::with_capacity(20);
        if !pan.is_empty() && !matches!(tx.kind, Kind::NetworkManagement) {
            fields.push((2, pan.as_bytes()));
        }
        if !matches!(tx.kind, Kind::FileUpdate | Kind::NetworkManagement) {
            fields.push((3, processing.as_bytes()));
            if let Some(amount) = &amount {
                fields.push((4, amount.as_bytes()));
            }
            if let Some((amount, currency)) = &billing {
                fields.push((6, amount.as_bytes()));
                fields.push((51, currency.as_bytes()));
            }
            fields.push((49, currency.as_bytes()));
        }
        fields.push((7, b"1124120000"));
        fields.push((11, stan.as_bytes()));
        fields.push((12, local_time.as_bytes()));
        if let Some(expiry) = &expiry {
            fields.push((14, expiry.as_bytes()));
        }
        if let Some(mode) = &entry_mode {
            fields.push((22, mode.as_bytes()));
        }
        if let Some(code) = &function_code {
            fields.push((24, code.as_bytes()));
        }
        if let Some(code) = &merchant_category {
            fields.push((26, code.as_bytes()));
        }
        fields.push((32, acquirer.as_bytes()));
        fields.push((37, b"RRN000000001"));
        fields.push((41, b"TERM0001"));
        fields.push((42, b"MERCHANT0000001"));
        if let Some(private) = &private {
            fields.push((48, private.as_bytes()));
        }
        if let Some(block) = &pin_block {
            fields.push((52, block));
        }
        if let Some(original) = &original {
            fields.push((56, original.as_bytes()));
        }
        if let Some(code) = &file_update {
            fields.push((91, code));
        }
        let mut keep: Vec<bool> = (0..fields.len())
            .map(|index| index >= 32 || tx.drop & (1 << index) == 0)
            .collect();
        let mut frame = Vec::with_capacity(256);
        loop {
            let mut message = OutMessage::new(mti);
            for ((position, value), _) in fields.iter().zip(&keep).filter(|(_, keep)| **keep) {
                message.set_text(*position, value);
            }
            match message.encode_into(&SPEC, &mut frame) {
                Ok(()) => break,
                // A raw value the encoder refuses (out of format): send the message without it.
                Err(error) => match error.field {
                    FieldRef::De(refused) => {
                        let before = keep.iter().filter(|kept| **kept).count();
                        for (kept, (position, _)) in keep.iter_mut().zip(&fields) {
                            *kept &= *position != usize::from(refused);
                        }
                        assert!(keep.iter().filter(|kept| **kept).count() < before, "{error}");
                    }
                    other => panic!("the harness encodes only known fields and MTIs: {other:?} {error}"),
                },
            }
        }
        let sent = Sent {
            mti: base,
            stan,
            local_time,
            acquirer,
        };
        (frame, sent)
    }

    /// Answers `frames` at once, as the connection's pipelining does, and checks every answer.
    async fn answer(&self, frames: Vec<Vec<u8>>) {
        let mut tasks = Vec::with_capacity(frames.len());
        for frame in &frames {
            tasks.push(tokio::spawn(self.switch.handle(Bytes::copy_from_slice(frame))));
        }
        for (frame, task) in frames.iter().zip(tasks) {
            let reply = tokio::time::timeout(STEP_TIMEOUT, task)
                .await
                .expect("an answer within the step's time: no decision hangs")
                .expect("the handler does not panic");
            check_reply(frame, &reply);
        }
    }

    async fn step(&mut self, step: &Step) {
        match step {
            Step::Send(tx) => {
                let (frame, sent) = self.encode(tx);
                self.answer(vec![frame]).await;
                self.sent.push(sent);
            }
            Step::Together(first, second) => {
                let (one, sent_one) = self.encode(first);
                let (two, sent_two) = self.encode(second);
                self.answer(vec![one, two]).await;
                self.sent.push(sent_one);
                self.sent.push(sent_two);
            }
            Step::Tamper(tx, at, byte) => {
                let (mut frame, _) = self.encode(tx);
                let at = usize::from(*at) % frame.len();
                frame[at] = *byte;
                self.answer(vec![frame]).await;
            }
            Step::Raw(bytes) => self.answer(vec![bytes.clone()]).await,
            Step::Advance(minutes) => {
                self.clock.advance(i64::from(*minutes) * 60_000);
                tokio::time::timeout(STEP_TIMEOUT, self.switch.expire_holds())
                    .await
                    .expect("expiring holds does not hang");
            }
            Step::Fail(fault, count) => {
                let mut faults = self.target.faults.lock().unwrap();
                faults.extend(std::iter::repeat_n(*fault, usize::from(count % 4) + 1));
            }
        }
        if let Err(problem) = self.switch.state().check_invariants() {
            panic!("money invariant broken after {step:?}: {problem}");
        }
    }

    /// Once every step is answered: nothing stays reserved, pending or busy.
    fn check_settled(&self) {
        let state = self.switch.state();
        for balance in state.balances() {
            let reserved = state.balance(balance.id).unwrap().lock().reserved;
            assert_eq!(reserved, 0, "balance {} keeps {reserved} reserved", balance.id);
        }
        for card in state.cards() {
            let pending = state.card(card.id).unwrap().lock().pending.clone();
            assert!(pending.is_none(), "card {} keeps a pending update {pending:?}", card.id);
        }
        let last_hold = state.next_id(IdKind::Hold);
        for id in 1..last_hold {
            if let Some(hold) = state.hold(id) {
                assert!(!hold.lock().busy, "hold {id} stays busy");
            }
        }
    }
}

/// An answer is a response the network can read: it decodes whole with the contract's spec, has
/// the request's response MTI and an action code.
fn check_reply(frame: &[u8], reply: &Reply) {
    let Reply::Send(answer) = reply else {
        return;
    };
    let response = Message::decode(&SPEC, answer).expect("an answer sent decodes whole");
    let request = Message::decode_lenient(&SPEC, frame)
        .expect("a request answered was readable")
        .0;
    assert_eq!(
        response.mti(),
        antaca::authorization::switch::response_mti(request.mti())
    );
    let action = response.str(39).expect("an answer carries DE 39");
    assert!(action.len() == 4 && action.bytes().all(|digit| digit.is_ascii_digit()));
}

/// A script: a few steps.
#[derive(Arbitrary, Debug)]
struct Script {
    steps: Vec<Step>,
}

// An input that starts with an MTI's first digit (`2`) is one frame, sent as it is (the golden
// fixtures seed the corpus this way; card 1 stands in for their PAN). Any other input is a
// [`Script`].
fuzz_target!(|data: &[u8]| {
    let frame = data.first() == Some(&b'2');
    let script = match frame {
        true => Script { steps: Vec::new() },
        false => match Script::arbitrary_take_rest(Unstructured::new(data)) {
            Ok(script) => script,
            Err(_) => return,
        },
    };
    if std::env::var_os("DECIDE_DEBUG").is_some() {
        eprintln!("{script:#?}");
    }
    RUNTIME.block_on(async {
        let mut world = world().await;
        if frame {
            let mut frame = data.to_vec();
            if let Some(at) = frame.windows(GOLDEN_PAN.len()).position(|window| window == GOLDEN_PAN) {
                frame[at..at + GOLDEN_PAN.len()].copy_from_slice(world.cards[1].pan.as_bytes());
            }
            world.step(&Step::Raw(frame)).await;
        }
        for step in script.steps.iter().take(STEPS_MAX) {
            world.step(step).await;
        }
        world.check_settled();
        // Ends the committer within this input, so that libFuzzer's leak check sees every
        // allocation of the input freed (else it scans for leaks after every input).
        let World { switch, committer, .. } = world;
        drop(switch);
        committer.await.unwrap();
    });
});
