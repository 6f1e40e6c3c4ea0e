//! `simulator load`: many connections, each with requests pipelined on it,
//! in a closed loop (K in flight per connection) or an open loop at a target
//! rate, where latency counts from each request's intended send time, so a
//! slow answer cannot hide the requests that should have been sent meanwhile
//! (no coordinated omission).
//!
//! Requests are iso8583_rs's bytes (a `Template` per message kind, fields
//! rewritten in place); every answer is parsed with iso8583_rs. Each
//! connection has a writer task, which writes every request that is due in
//! one write, and a reader task behind a buffered framed reader; they share
//! the table of requests in flight, keyed by STAN.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::codec::FramedRead;

use crate::cards::{self, Card};
use crate::report::{self, Outcome, Totals};
use crate::wire::{self, SplitMix64, Template, put_number};

/// What the load sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// 2100 purchase.
    Auth,
    /// 2804 echo test (831).
    Echo,
    /// 2200 purchase, posted at once.
    Financial,
    /// 2420 full reversal of an approved 2100.
    Reversal,
    /// 2220 completion of an approved 2100.
    Completion,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Auth,
        Kind::Echo,
        Kind::Financial,
        Kind::Reversal,
        Kind::Completion,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Auth => "auth",
            Kind::Echo => "echo",
            Kind::Financial => "financial",
            Kind::Reversal => "reversal",
            Kind::Completion => "completion",
        }
    }

    /// The action code of success.
    fn success(self) -> &'static [u8] {
        match self {
            Kind::Echo => b"8000",
            Kind::Reversal => b"4000",
            Kind::Auth | Kind::Financial | Kind::Completion => b"0000",
        }
    }

    fn needs_cards(self) -> bool {
        self != Kind::Echo
    }
}

/// Kinds with weights, e.g. `auth=90,echo=10`.
#[derive(Debug, Clone)]
pub struct Mix {
    weights: Vec<(Kind, u32)>,
    total: u32,
}

impl std::str::FromStr for Mix {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Mix> {
        let mut weights = Vec::new();
        for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .with_context(|| format!("--mix: {part:?} is not KIND=WEIGHT"))?;
            let kind = Kind::ALL
                .into_iter()
                .find(|kind| kind.name() == name.trim())
                .with_context(|| {
                    format!("--mix: unknown kind {name:?} (auth, echo, financial, reversal, completion)")
                })?;
            let weight: u32 = weight
                .trim()
                .parse()
                .with_context(|| format!("--mix: weight of {name}"))?;
            if weight > 0 {
                weights.push((kind, weight));
            }
        }
        let total = weights.iter().map(|(_, weight)| weight).sum();
        ensure!(total > 0, "--mix names no kind with a weight above 0");
        Ok(Mix { weights, total })
    }
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .weights
            .iter()
            .map(|(kind, weight)| format!("{}={weight}", kind.name()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl Mix {
    fn pick(&self, random: &mut SplitMix64) -> Kind {
        let mut ticket = random.below(u64::from(self.total)) as u32;
        for &(kind, weight) in &self.weights {
            if ticket < weight {
                return kind;
            }
            ticket -= weight;
        }
        self.weights[0].0
    }

    fn needs_cards(&self) -> bool {
        self.weights.iter().any(|(kind, _)| kind.needs_cards())
    }
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub switch: SocketAddr,
    pub cards: Option<PathBuf>,
    pub connections: usize,
    pub in_flight: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// Target messages per second over all connections (open loop); `None`: closed loop.
    pub rate: Option<f64>,
    pub mix: Mix,
    pub report: PathBuf,
    pub plot: Option<PathBuf>,
    /// How long to wait, after the last request, for the answers still due.
    pub drain: Duration,
}

/// Requests written in one write at most.
const BATCH_MAX: usize = 256;
/// Approved authorizations kept per connection for later reversals and completions.
const APPROVED_MAX: usize = 65_536;
/// DE 32 of the load: 10 digits, `1` + the run's nonce + the connection.
const CONNECTIONS_MAX: usize = 10_000;
/// Largest latency recorded (longer ones are recorded as this), in µs.
pub const LATENCY_US_MAX: u64 = 60_000_000;

/// Runs the load: a connection task per `--connections`, each sending and reading until the
/// end, then the report (table, JSON and the optional plot).
pub async fn run(options: LoadOptions) -> anyhow::Result<()> {
    check_options(&options)?;
    let cards = read_cards(&options)?;
    let nonce = wire::run_nonce();
    let templates = Arc::new(Templates::new(&cards, &acquirer(nonce, 0))?);
    let cards = Arc::new(cards);
    let series = Arc::new(Mutex::new(BTreeMap::new()));
    let start = Instant::now() + Duration::from_millis(200);
    let measured_from = start + options.warmup;
    let end = measured_from + options.duration;
    let links = connect_all(&options).await?;
    let progress = report::Progress::start(options.warmup + options.duration);
    let mut tasks = Vec::with_capacity(options.connections);
    let mut counters = Vec::with_capacity(options.connections);
    for (index, socket) in links.into_iter().enumerate() {
        let shared = Arc::new(Shared::new(options.in_flight));
        counters.push(shared.clone());
        let connection = Connection {
            index,
            acquirer: acquirer(nonce, index),
            templates: templates.clone(),
            cards: cards.clone(),
            mix: options.mix.clone(),
            schedule: Schedule::of_connection(&options, index),
            start,
            measured_from,
            end,
            shared,
            series: series.clone(),
            drain: options.drain,
        };
        tasks.push(tokio::spawn(connection.run(socket)));
    }
    let ticker = progress.follow(counters, start);
    let mut totals = Totals::new(start, measured_from, end);
    let first_error = gather(tasks, &mut totals).await?;
    ticker.abort();
    progress.finish();
    if let Some(error) = first_error {
        eprintln!(
            "simulator: {} connection(s) failed; first: {error:#}",
            totals.connection_errors
        );
    }
    let series = std::mem::take(&mut *series.lock().expect("series lock"));
    write_report(&options, &totals, &series)?;
    ensure!(totals.answered() > 0, "no request was answered");
    Ok(())
}

/// The bounds on the options that the code relies on (DE 32 digits, unique STANs in flight).
fn check_options(options: &LoadOptions) -> anyhow::Result<()> {
    ensure!(
        (1..=CONNECTIONS_MAX).contains(&options.connections),
        "--connections must be 1 to {CONNECTIONS_MAX}"
    );
    ensure!(
        (1..=100_000).contains(&options.in_flight),
        "--in-flight must be 1 to 100000 (STANs in flight must stay unique)"
    );
    if let Some(rate) = options.rate {
        ensure!(rate > 0.0 && rate.is_finite(), "--rate must be above 0");
    }
    Ok(())
}

/// The cards of `--cards`; none when the mix needs none (echo only).
fn read_cards(options: &LoadOptions) -> anyhow::Result<Vec<Card>> {
    Ok(match (&options.cards, options.mix.needs_cards()) {
        (Some(path), _) => cards::read(path)?,
        (None, false) => Vec::new(),
        (None, true) => bail!("--mix {} needs --cards FILE (from `antaca provision`)", options.mix),
    })
}

/// Opens the `--connections` connections to the switch, with `TCP_NODELAY`.
async fn connect_all(options: &LoadOptions) -> anyhow::Result<Vec<TcpStream>> {
    let mut links = Vec::with_capacity(options.connections);
    for _ in 0..options.connections {
        let socket = TcpStream::connect(options.switch)
            .await
            .with_context(|| format!("connecting to {}", options.switch))?;
        socket.set_nodelay(true)?;
        links.push(socket);
    }
    Ok(links)
}

/// Waits for every connection task and adds its outcome to `totals`; a connection that failed
/// counts in `totals.connection_errors`, and the first such error is returned.
async fn gather(
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Outcome>>>,
    totals: &mut Totals,
) -> anyhow::Result<Option<anyhow::Error>> {
    let mut first_error = None;
    for task in tasks {
        match task.await.context("a connection task panicked")? {
            Ok(outcome) => totals.add(outcome),
            Err(error) => {
                totals.connection_errors += 1;
                first_error.get_or_insert(error);
            }
        }
    }
    Ok(first_error)
}

/// Prints the summary table, writes the JSON report and, with `--plot`, the plot.
fn write_report(options: &LoadOptions, totals: &Totals, series: &Series) -> anyhow::Result<()> {
    let summary = report::summarize(options, totals, series);
    println!("{}", summary.table());
    summary.write_json(&options.report)?;
    println!("report written to {}", options.report.display());
    if let Some(path) = &options.plot {
        crate::plot::draw(path, &summary, &totals.latency, series)?;
        println!("plot written to {}", path.display());
    }
    Ok(())
}

fn acquirer(nonce: u64, connection: usize) -> String {
    format!("1{nonce:05}{connection:04}")
}

/// The message templates (PAN lengths may differ between cards: one set per length).
struct Templates {
    echo: EchoTemplate,
    by_pan_length: HashMap<usize, CardTemplates>,
}

struct EchoTemplate {
    template: Template,
    transmitted: std::ops::Range<usize>,
    stan: std::ops::Range<usize>,
}

struct CardTemplates {
    auth: SpendTemplate,
    financial: SpendTemplate,
    reversal: FollowUpTemplate,
    completion: FollowUpTemplate,
}

/// 2100 / 2200: a card-not-present purchase with expiry and CVC2.
struct SpendTemplate {
    template: Template,
    pan: std::ops::Range<usize>,
    amount: std::ops::Range<usize>,
    transmitted: std::ops::Range<usize>,
    stan: std::ops::Range<usize>,
    local: std::ops::Range<usize>,
    expiry: std::ops::Range<usize>,
    acquirer: std::ops::Range<usize>,
    retrieval: std::ops::Range<usize>,
    private_data: std::ops::Range<usize>,
    currency: std::ops::Range<usize>,
}

/// 2420 / 2220: names its original in DE 56.
struct FollowUpTemplate {
    template: Template,
    pan: std::ops::Range<usize>,
    amount: std::ops::Range<usize>,
    transmitted: std::ops::Range<usize>,
    stan: std::ops::Range<usize>,
    local: std::ops::Range<usize>,
    acquirer: std::ops::Range<usize>,
    currency: std::ops::Range<usize>,
    original: std::ops::Range<usize>,
}

impl Templates {
    fn new(cards: &[Card], acquirer: &str) -> anyhow::Result<Templates> {
        let echo = Template::new(
            "2804",
            &[(7, "0101000000".into()), (11, "000001".into()), (24, "831".into())],
            &[7, 11],
        )?;
        let echo = EchoTemplate {
            transmitted: echo.slot(7),
            stan: echo.slot(11),
            template: echo,
        };
        let mut by_pan_length = HashMap::new();
        for card in cards {
            if let std::collections::hash_map::Entry::Vacant(slot) = by_pan_length.entry(card.pan.len()) {
                slot.insert(CardTemplates::new(card.pan.len(), acquirer)?);
            }
        }
        Ok(Templates { echo, by_pan_length })
    }
}

impl CardTemplates {
    fn new(pan_length: usize, acquirer: &str) -> anyhow::Result<CardTemplates> {
        let pan = "1".repeat(pan_length);
        let spend = |mti: &str| -> anyhow::Result<SpendTemplate> {
            let fields: Vec<(u32, String)> = vec![
                (2, pan.clone()),
                (3, "000000".into()),
                (4, "000000000100".into()),
                (7, "0101000000".into()),
                (11, "000001".into()),
                (12, "250101000000".into()),
                (14, "3001".into()),
                (22, "812".into()),
                (24, "100".into()),
                (26, "5411".into()),
                (32, acquirer.into()),
                (37, "000000000001".into()),
                (41, "TERM0001".into()),
                (42, "MERCHANT0000001".into()),
                (48, "9203000".into()),
                (49, "978".into()),
            ];
            let template = Template::new(mti, &fields, &[2, 4, 7, 11, 12, 14, 32, 37, 48, 49])?;
            Ok(SpendTemplate {
                pan: template.slot(2),
                amount: template.slot(4),
                transmitted: template.slot(7),
                stan: template.slot(11),
                local: template.slot(12),
                expiry: template.slot(14),
                acquirer: template.slot(32),
                retrieval: template.slot(37),
                private_data: template.slot(48),
                currency: template.slot(49),
                template,
            })
        };
        let original = format!("2100000001250101000000{:02}{acquirer}", acquirer.len());
        let follow_up = |mti: &str, function: &str| -> anyhow::Result<FollowUpTemplate> {
            let fields: Vec<(u32, String)> = vec![
                (2, pan.clone()),
                (3, "000000".into()),
                (4, "000000000100".into()),
                (7, "0101000000".into()),
                (11, "000001".into()),
                (12, "250101000000".into()),
                (24, function.into()),
                (32, acquirer.into()),
                (49, "978".into()),
                (56, original.clone()),
            ];
            let template = Template::new(mti, &fields, &[2, 4, 7, 11, 12, 32, 49, 56])?;
            Ok(FollowUpTemplate {
                pan: template.slot(2),
                amount: template.slot(4),
                transmitted: template.slot(7),
                stan: template.slot(11),
                local: template.slot(12),
                acquirer: template.slot(32),
                currency: template.slot(49),
                original: template.slot(56),
                template,
            })
        };
        Ok(CardTemplates {
            auth: spend("2100")?,
            financial: spend("2200")?,
            reversal: follow_up("2420", "400")?,
            completion: follow_up("2220", "201")?,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Schedule {
    /// As many in flight as allowed, always.
    Closed,
    /// Request `n` is due at `phase + n × interval` after the start.
    Open { interval_ns: f64, phase_ns: f64 },
}

impl Schedule {
    /// The schedule of connection `index`: closed without `--rate`; open at its share of the
    /// rate otherwise, the connections' sends spread over the interval.
    fn of_connection(options: &LoadOptions, index: usize) -> Schedule {
        match options.rate {
            None => Schedule::Closed,
            Some(rate) => {
                let interval_ns = 1e9 * options.connections as f64 / rate;
                // Spread the connections' sends over the interval.
                let phase_ns = interval_ns * index as f64 / options.connections as f64;
                Schedule::Open { interval_ns, phase_ns }
            }
        }
    }
}

/// An approved 2100, for a later reversal or completion.
#[derive(Debug, Clone, Copy)]
struct Approved {
    card: u32,
    amount: u64,
    stan: u32,
    local: [u8; 12],
}

/// A request in flight.
#[derive(Debug, Clone, Copy)]
struct Pending {
    kind: Kind,
    /// When it was due (open loop) or sent (closed loop).
    intended: Instant,
    local: Option<[u8; 12]>,
    approved_if: Option<Approved>,
}

/// Requests in flight by STAN; STANs are small distinct integers, so a
/// multiplicative hash does (SipHash showed in the simulator's profile).
type PendingMap = HashMap<u32, Pending, std::hash::BuildHasherDefault<StanHasher>>;

#[derive(Debug, Default, Clone, Copy)]
struct StanHasher(u64);

impl std::hash::Hasher for StanHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.0 = u64::from(value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// What a connection's writer and reader share.
pub struct Shared {
    pending: Mutex<PendingMap>,
    approved: Mutex<VecDeque<Approved>>,
    /// One permit per request that may still be put in flight.
    slots: Semaphore,
    pub answered: AtomicU64,
    /// Requests due within the measured window.
    measured: AtomicU64,
    writer_done: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn new(in_flight: usize) -> Shared {
        Shared {
            pending: Mutex::new(PendingMap::with_capacity_and_hasher(in_flight * 2, Default::default())),
            approved: Mutex::new(VecDeque::new()),
            slots: Semaphore::new(in_flight),
            answered: AtomicU64::new(0),
            measured: AtomicU64::new(0),
            writer_done: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// Per-second latency histograms of all connections, by second since the start.
pub type Series = BTreeMap<u64, Histogram<u64>>;

struct Connection {
    index: usize,
    acquirer: String,
    templates: Arc<Templates>,
    cards: Arc<Vec<Card>>,
    mix: Mix,
    schedule: Schedule,
    start: Instant,
    measured_from: Instant,
    end: Instant,
    shared: Arc<Shared>,
    series: Arc<Mutex<Series>>,
    drain: Duration,
}

impl Connection {
    async fn run(self, socket: TcpStream) -> anyhow::Result<Outcome> {
        self.check_templates()?;
        let (reader, writer) = socket.into_split();
        let this = Arc::new(self);
        let writing = tokio::spawn(this.clone().write_loop(writer));
        let outcome = this.clone().read_loop(reader).await;
        // A writer still blocked (the peer stopped reading) is given up on.
        let written = match tokio::time::timeout(Duration::from_secs(1), writing).await {
            Ok(joined) => joined.context("the writer panicked")?,
            Err(_) => Ok(()),
        };
        let mut outcome = outcome?;
        written?;
        outcome.sent = this.shared.measured.load(Ordering::Relaxed);
        Ok(outcome)
    }

    /// Sends until the end, then closes its half of the connection; counts
    /// the requests due in the measured window in `shared.measured`.
    async fn write_loop(self: Arc<Self>, mut writer: tokio::net::tcp::OwnedWriteHalf) -> anyhow::Result<()> {
        let mut out = Vec::with_capacity(BATCH_MAX * 200);
        let mut random = SplitMix64::new(wire::run_nonce() << 16 ^ self.index as u64);
        let mut identity = IdentityClock::new();
        let mut sequence: u64 = 0;
        let mut batch: Vec<Instant> = Vec::with_capacity(BATCH_MAX);
        tokio::time::sleep_until(self.start).await;
        loop {
            batch.clear();
            let more = match self.schedule {
                Schedule::Closed => self.closed_batch(&mut batch).await?,
                Schedule::Open { interval_ns, phase_ns } => {
                    self.open_batch(&mut batch, &mut sequence, interval_ns, phase_ns)
                        .await?
                }
            };
            if !more {
                break;
            }
            identity.tick();
            out.clear();
            self.put_batch(&batch, &mut out, &mut random, &mut identity);
            writer.write_all(&out).await.context("writing requests")?;
        }
        self.shared.writer_done.store(true, Ordering::Release);
        writer.shutdown().await.ok();
        Ok(())
    }

    /// The closed loop's next batch: waits for a free slot, then takes every slot free now (up
    /// to [`BATCH_MAX`]), each request intended now. False at the end of the run.
    async fn closed_batch(&self, batch: &mut Vec<Instant>) -> anyhow::Result<bool> {
        let permit = tokio::select! {
            permit = self.shared.slots.acquire() => permit.context("slots closed")?,
            () = tokio::time::sleep_until(self.end) => return Ok(false),
        };
        permit.forget();
        let now = Instant::now();
        if now >= self.end {
            return Ok(false);
        }
        batch.push(now);
        while batch.len() < BATCH_MAX {
            match self.shared.slots.try_acquire() {
                Ok(permit) => {
                    permit.forget();
                    batch.push(now);
                }
                Err(_) => break,
            }
        }
        Ok(true)
    }

    /// The open loop's next batch: sleeps until request `sequence` is due, then takes every
    /// request due by now (up to [`BATCH_MAX`]) that has a free slot; waits for a slot only
    /// when the batch would be empty. False at the end of the run.
    async fn open_batch(
        &self,
        batch: &mut Vec<Instant>,
        sequence: &mut u64,
        interval_ns: f64,
        phase_ns: f64,
    ) -> anyhow::Result<bool> {
        let due = |n: u64| self.start + Duration::from_nanos((phase_ns + n as f64 * interval_ns) as u64);
        let next = due(*sequence);
        if next >= self.end {
            return Ok(false);
        }
        if next > Instant::now() {
            tokio::time::sleep_until(next).await;
        }
        let now = Instant::now();
        while batch.len() < BATCH_MAX {
            let intended = due(*sequence);
            if intended > now || intended >= self.end {
                break;
            }
            // Late requests keep their intended time: the wait is latency.
            let permit = match self.shared.slots.try_acquire() {
                Ok(permit) => permit,
                Err(_) if batch.is_empty() => tokio::select! {
                    permit = self.shared.slots.acquire() => permit.context("slots closed")?,
                    () = tokio::time::sleep_until(self.end) => return Ok(false),
                },
                Err(_) => break,
            };
            permit.forget();
            batch.push(intended);
            *sequence += 1;
        }
        Ok(true)
    }

    /// Writes a request into `out` for each intended time of `batch`, each with a new STAN, and
    /// enters it in the table of requests in flight (under one lock for the batch).
    fn put_batch(&self, batch: &[Instant], out: &mut Vec<u8>, random: &mut SplitMix64, identity: &mut IdentityClock) {
        let mut pending = self.shared.pending.lock().expect("pending lock");
        for &intended in batch {
            let stan = identity.next_stan();
            let request = self.put_request(out, random, identity, stan);
            if intended >= self.measured_from {
                self.shared.measured.fetch_add(1, Ordering::Relaxed);
            }
            let previous = pending.insert(
                stan,
                Pending {
                    kind: request.0,
                    intended,
                    local: request.1,
                    approved_if: request.2,
                },
            );
            assert!(previous.is_none(), "STAN {stan} reused while in flight");
        }
    }

    /// Writes one framed request into `out`; returns its kind, DE 12 and, for
    /// an authorization, what to remember if it is approved.
    fn put_request(
        &self,
        out: &mut Vec<u8>,
        random: &mut SplitMix64,
        identity: &IdentityClock,
        stan: u32,
    ) -> (Kind, Option<[u8; 12]>, Option<Approved>) {
        self.put_request_of(out, random, identity, stan, &self.mix)
    }

    /// [`Connection::put_request`] with a kind drawn from `mix`. A reversal or completion with
    /// no approved authorization left to name becomes an authorization.
    fn put_request_of(
        &self,
        out: &mut Vec<u8>,
        random: &mut SplitMix64,
        identity: &IdentityClock,
        stan: u32,
        mix: &Mix,
    ) -> (Kind, Option<[u8; 12]>, Option<Approved>) {
        let mut kind = mix.pick(random);
        let original = match kind {
            Kind::Reversal | Kind::Completion => {
                let taken = self.shared.approved.lock().expect("approved lock").pop_front();
                if taken.is_none() {
                    kind = Kind::Auth;
                }
                taken
            }
            _ => None,
        };
        if kind == Kind::Echo {
            let echo = &self.templates.echo;
            let message = frame(out, &echo.template.bytes);
            message[echo.transmitted.clone()].copy_from_slice(&identity.transmitted);
            put_number(&mut message[echo.stan.clone()], u64::from(stan));
            return (kind, None, None);
        }
        let card_index = match original {
            Some(original) => original.card,
            None => random.below(self.cards.len() as u64) as u32,
        };
        match (kind, original) {
            (Kind::Auth | Kind::Financial, _) => self.put_spend(out, random, identity, stan, kind, card_index),
            (Kind::Reversal | Kind::Completion, Some(original)) => {
                self.put_follow_up(out, identity, stan, kind, &original)
            }
            _ => unreachable!("reversals and completions without an original became authorizations"),
        }
    }

    /// Writes a 2100 (`Kind::Auth`) or 2200 (`Kind::Financial`) on card `card_index` for a
    /// random amount; an authorization returns what to remember if it is approved.
    fn put_spend(
        &self,
        out: &mut Vec<u8>,
        random: &mut SplitMix64,
        identity: &IdentityClock,
        stan: u32,
        kind: Kind,
        card_index: u32,
    ) -> (Kind, Option<[u8; 12]>, Option<Approved>) {
        let card = &self.cards[card_index as usize];
        let templates = &self.templates.by_pan_length[&card.pan.len()];
        let spend = if kind == Kind::Auth {
            &templates.auth
        } else {
            &templates.financial
        };
        let amount = 1 + random.below(2_000);
        let message = frame(out, &spend.template.bytes);
        message[spend.pan.clone()].copy_from_slice(card.pan.as_bytes());
        put_number(&mut message[spend.amount.clone()], amount);
        message[spend.transmitted.clone()].copy_from_slice(&identity.transmitted);
        put_number(&mut message[spend.stan.clone()], u64::from(stan));
        message[spend.local.clone()].copy_from_slice(&identity.local);
        message[spend.expiry.clone()].copy_from_slice(card.expiry.as_bytes());
        message[spend.acquirer.clone()].copy_from_slice(self.acquirer.as_bytes());
        let retrieval = &mut message[spend.retrieval.clone()];
        retrieval[..6].copy_from_slice(&identity.local[6..]);
        put_number(&mut retrieval[6..], u64::from(stan));
        let private_data = &mut message[spend.private_data.clone()];
        private_data[4..].copy_from_slice(card.cvc2.as_bytes());
        put_number(&mut message[spend.currency.clone()], u64::from(card.currency));
        let approved = (kind == Kind::Auth).then_some(Approved {
            card: card_index,
            amount,
            stan,
            local: identity.local,
        });
        (kind, Some(identity.local), approved)
    }

    /// Writes a 2420 (`Kind::Reversal`) or 2220 (`Kind::Completion`) of `original`, for its
    /// whole amount, naming it in DE 56.
    fn put_follow_up(
        &self,
        out: &mut Vec<u8>,
        identity: &IdentityClock,
        stan: u32,
        kind: Kind,
        original: &Approved,
    ) -> (Kind, Option<[u8; 12]>, Option<Approved>) {
        let card = &self.cards[original.card as usize];
        let templates = &self.templates.by_pan_length[&card.pan.len()];
        let follow_up = if kind == Kind::Reversal {
            &templates.reversal
        } else {
            &templates.completion
        };
        let message = frame(out, &follow_up.template.bytes);
        message[follow_up.pan.clone()].copy_from_slice(card.pan.as_bytes());
        put_number(&mut message[follow_up.amount.clone()], original.amount);
        message[follow_up.transmitted.clone()].copy_from_slice(&identity.transmitted);
        put_number(&mut message[follow_up.stan.clone()], u64::from(stan));
        message[follow_up.local.clone()].copy_from_slice(&identity.local);
        message[follow_up.acquirer.clone()].copy_from_slice(self.acquirer.as_bytes());
        put_number(&mut message[follow_up.currency.clone()], u64::from(card.currency));
        // DE 56: 2100, the original's STAN and DE 12, then DE 32 as LL (unchanged) + digits.
        let named = &mut message[follow_up.original.clone()];
        put_number(&mut named[4..10], u64::from(original.stan));
        named[10..22].copy_from_slice(&original.local);
        named[24..].copy_from_slice(self.acquirer.as_bytes());
        (kind, Some(identity.local), None)
    }

    /// Builds one request of each kind this connection sends, parses it
    /// back with iso8583_rs and compares the fields with what was meant, so
    /// a wrong template slot stops the run before it sends anything.
    fn check_templates(&self) -> anyhow::Result<()> {
        if self.cards.is_empty() {
            return Ok(());
        }
        let identity = IdentityClock::new();
        let original = Approved {
            card: 0,
            amount: 1234,
            stan: 4321,
            local: *b"240229235959",
        };
        let card = &self.cards[0];
        let local = std::str::from_utf8(&identity.local)?;
        let expected_original = format!("2100004321240229235959{:02}{}", self.acquirer.len(), self.acquirer);
        for kind in [
            Kind::Auth,
            Kind::Financial,
            Kind::Reversal,
            Kind::Completion,
            Kind::Echo,
        ] {
            let mut out = Vec::new();
            let mix = Mix {
                weights: vec![(kind, 1)],
                total: 1,
            };
            self.shared.approved.lock().expect("approved lock").push_front(original);
            let (built, _, _) = self.put_request_of(&mut out, &mut SplitMix64::new(7), &identity, 777, &mix);
            self.shared
                .approved
                .lock()
                .expect("approved lock")
                .retain(|a| a.stan != 4321);
            let answer = wire::Answer::from_bytes(&out[2..])?;
            // Purchases pick a random card: check against the card of that PAN.
            let card = match answer.get(2) {
                Some(pan) if matches!(built, Kind::Auth | Kind::Financial) => self
                    .cards
                    .iter()
                    .find(|card| card.pan == pan)
                    .with_context(|| format!("template {}: DE 2 names no card of the file", kind.name()))?,
                _ => card,
            };
            let mut expected: Vec<(u32, String)> =
                vec![(11, "000777".into()), (7, identity_text(&identity.transmitted))];
            if built != Kind::Echo {
                expected.extend([
                    (2, card.pan.clone()),
                    (12, local.to_owned()),
                    (32, self.acquirer.clone()),
                ]);
            }
            if matches!(built, Kind::Reversal | Kind::Completion) {
                expected.extend([(4, "000000001234".into()), (56, expected_original.clone())]);
            }
            if matches!(built, Kind::Auth | Kind::Financial) {
                expected.extend([(14, card.expiry.clone()), (48, format!("9203{}", card.cvc2))]);
            }
            for (position, value) in expected {
                ensure!(
                    answer.get(position) == Some(value.as_str()),
                    "template {}: DE {position} is {:?}, meant {value:?}",
                    kind.name(),
                    answer.get(position)
                );
            }
        }
        Ok(())
    }

    /// Reads answers until every request is answered after the writer ended,
    /// the switch closes, or the drain time is over.
    async fn read_loop(self: Arc<Self>, reader: tokio::net::tcp::OwnedReadHalf) -> anyhow::Result<Outcome> {
        let mut frames = FramedRead::with_capacity(reader, wire::framing_codec(), 64 * 1024);
        let mut outcome = Outcome::new();
        let mut second = SecondHistogram::new(self.start, self.series.clone());
        let mut buffer = Vec::with_capacity(512);
        let drain_deadline = self.end + self.drain;
        let mut check_at = self.end;
        loop {
            let frame = tokio::select! {
                frame = frames.next() => frame,
                () = tokio::time::sleep_until(drain_deadline) => break,
                () = tokio::time::sleep_until(check_at) => {
                    if self.all_answered() {
                        break;
                    }
                    check_at = Instant::now() + Duration::from_millis(10);
                    continue;
                }
            };
            let Some(frame) = frame else { break };
            let frame = frame.context("reading answers")?;
            let received = Instant::now();
            buffer.clear();
            buffer.extend_from_slice(&frame);
            self.answer(&mut buffer, received, &mut outcome, &mut second);
            if received >= self.end && self.all_answered() {
                break;
            }
        }
        second.flush();
        let unanswered = self.shared.pending.lock().expect("pending lock");
        outcome.unanswered = unanswered
            .values()
            .filter(|pending| pending.intended >= self.measured_from && pending.intended < self.end)
            .count() as u64;
        Ok(outcome)
    }

    /// The writer has ended and nothing is in flight.
    fn all_answered(&self) -> bool {
        self.shared.writer_done.load(Ordering::Acquire) && self.shared.pending.lock().expect("pending lock").is_empty()
    }

    fn answer(&self, buffer: &mut Vec<u8>, received: Instant, outcome: &mut Outcome, second: &mut SecondHistogram) {
        let message = match wire::parse_owned(buffer) {
            Ok(message) => message,
            Err(_) => {
                outcome.unreadable += 1;
                return;
            }
        };
        let stan = wire::field(&message, 11).and_then(|stan| stan.parse::<u32>().ok());
        let pending = stan.and_then(|stan| self.shared.pending.lock().expect("pending lock").remove(&stan));
        let Some(pending) = pending else {
            outcome.unmatched += 1;
            return;
        };
        self.shared.slots.add_permits(1);
        self.shared.answered.fetch_add(1, Ordering::Relaxed);
        let action = wire::field(&message, 39).unwrap_or_default();
        if let Some(local) = pending.local
            && wire::field(&message, 12).as_deref().map(str::as_bytes) != Some(&local[..])
        {
            outcome.unmatched += 1;
            return;
        }
        let success = action.as_bytes() == pending.kind.success();
        if success && let Some(approved) = pending.approved_if {
            let mut queue = self.shared.approved.lock().expect("approved lock");
            if queue.len() == APPROVED_MAX {
                queue.pop_front();
            }
            queue.push_back(approved);
        }
        if pending.intended < self.measured_from || pending.intended >= self.end {
            return;
        }
        let latency_us = received
            .saturating_duration_since(pending.intended)
            .as_micros()
            .clamp(1, u128::from(LATENCY_US_MAX)) as u64;
        outcome.record(pending.kind, &action, success, latency_us, received);
        second.record(received, latency_us);
    }
}

fn identity_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Appends a 2-byte length header and `message`, returns the message's bytes to fill in.
fn frame<'a>(out: &'a mut Vec<u8>, message: &[u8]) -> &'a mut [u8] {
    out.extend_from_slice(&(message.len() as u16).to_be_bytes());
    let at = out.len();
    out.extend_from_slice(message);
    &mut out[at..]
}

/// STANs and DE 12/DE 7 of one connection: a STAN repeats only after 999,999
/// others, and DE 12 is moved past the previous cycle's at each wrap, so that
/// DE 32 + DE 11 + DE 12 never repeats within a run.
struct IdentityClock {
    stan: u32,
    /// DE 12 never goes below this (Unix seconds).
    floor: i64,
    current: i64,
    local: [u8; 12],
    transmitted: [u8; 10],
}

impl IdentityClock {
    fn new() -> IdentityClock {
        let mut clock = IdentityClock {
            stan: 0,
            floor: 0,
            current: -1,
            local: [b'0'; 12],
            transmitted: [b'0'; 10],
        };
        clock.tick();
        clock
    }

    fn tick(&mut self) {
        self.set(wire::unix_seconds().max(self.floor));
    }

    fn set(&mut self, seconds: i64) {
        if seconds != self.current {
            self.current = seconds;
            self.floor = seconds;
            self.local.copy_from_slice(wire::local_date_time(seconds).as_bytes());
            self.transmitted
                .copy_from_slice(wire::transmission_date_time(seconds).as_bytes());
        }
    }

    /// The next STAN (1 to 999999); at a wrap DE 12 moves on a second.
    fn next_stan(&mut self) -> u32 {
        if self.stan >= 999_999 {
            self.stan = 1;
            self.set(self.current + 1);
        } else {
            self.stan += 1;
        }
        self.stan
    }
}

/// The current second's latencies of one connection, merged into the shared
/// series when the second ends.
struct SecondHistogram {
    start: Instant,
    second: u64,
    histogram: Histogram<u64>,
    series: Arc<Mutex<Series>>,
}

impl SecondHistogram {
    fn new(start: Instant, series: Arc<Mutex<Series>>) -> SecondHistogram {
        SecondHistogram {
            start,
            second: 0,
            histogram: report::new_histogram(2),
            series,
        }
    }

    fn record(&mut self, at: Instant, latency_us: u64) {
        let second = at.saturating_duration_since(self.start).as_secs();
        if second != self.second {
            self.flush();
            self.second = second;
        }
        self.histogram.saturating_record(latency_us);
    }

    fn flush(&mut self) {
        if self.histogram.is_empty() {
            return;
        }
        let mut series = self.series.lock().expect("series lock");
        let entry = series.entry(self.second).or_insert_with(|| report::new_histogram(2));
        entry.add(&self.histogram).ok();
        self.histogram.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_do_not_repeat_across_a_stan_wrap() {
        let mut clock = IdentityClock::new();
        let first = (clock.next_stan(), clock.local);
        for _ in 1..999_999 {
            clock.next_stan();
        }
        let wrapped = clock.next_stan();
        assert_eq!((first.0, wrapped), (1, 1), "STANs run 1 to 999999, then again");
        assert!(clock.local > first.1, "DE 12 moved past the first cycle's");
        clock.tick();
        assert!(clock.local > first.1, "and the wall clock does not move it back");
    }

    #[test]
    fn mix_parses_and_picks_by_weight() {
        let mix: Mix = "auth=90, echo=10".parse().unwrap();
        assert_eq!(mix.to_string(), "auth=90,echo=10");
        let mut random = SplitMix64::new(1);
        let echoes = (0..10_000).filter(|_| mix.pick(&mut random) == Kind::Echo).count();
        assert!((800..1200).contains(&echoes), "{echoes} echoes in 10,000");
        assert!("auth=0".parse::<Mix>().is_err());
        assert!("refund=5".parse::<Mix>().is_err());
    }
}
