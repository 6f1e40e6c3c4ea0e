//! `simulator scenarios`: named functional scenarios against a running
//! switch, end to end over TCP, each printed ok or FAIL with what differed.
//!
//! Every row of the contract's action-code table that the network side can
//! reach is covered. Cards come from the file `antaca provision` wrote; a
//! card is probed with a balance inquiry before use, so cards that an earlier
//! run locked are skipped, and the lock scenarios consume cards.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};

use crate::api::{Api, ApiOptions, failure_code};
use crate::cards::{self, Card};
use crate::pin::ZonePinKey;
use crate::wire::{self, Answer, Link};

#[derive(Debug, Clone)]
pub struct ScenarioOptions {
    pub switch: SocketAddr,
    pub cards: PathBuf,
    pub zone_pin_key: String,
    /// The lifecycle API: the HTTP scenarios run only with it.
    pub api: Option<ApiOptions>,
}

/// How long an answer may take before the scenario fails.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// EUR, the currency of the dev programs.
const CURRENCY: &str = "978";

/// Runs every scenario in order, each printed ok, FAIL or skip; true if none failed.
pub async fn run(options: ScenarioOptions) -> anyhow::Result<bool> {
    let cards = cards::read(&options.cards)?;
    let key = ZonePinKey::from_hex(&options.zone_pin_key)?;
    let peer = Peer::connect(options.switch).await?;
    let api = options.api.as_ref().map(Api::new).transpose()?;
    let mut context = Context {
        api,
        peer,
        cards,
        used: HashSet::new(),
        key,
        money_card: None,
    };
    let mut tally = Tally::default();
    single_request_scenarios(&mut context, &mut tally).await;
    sequence_scenarios(&mut context, &mut tally).await;
    card_state_scenarios(&mut context, &mut tally).await;
    http_scenarios(&mut context, &mut tally).await;
    println!(
        "{} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.skipped
    );
    Ok(tally.failed == 0)
}

/// Network management, then one request each: the approval and every decline a single
/// request can meet (unknown PAN, funds, amount, expiry, CVC2, unsupported, malformed).
async fn single_request_scenarios(context: &mut Context, tally: &mut Tally) {
    tally.report(
        "network management: sign-on, echo test, sign-off answer 2814/8000",
        network_management(context).await,
    );
    tally.report(
        "network management: an unknown function code answers 1015",
        unknown_function(context).await,
    );
    tally.report(
        "approval: 2110/0000 with DE 38 and DE 54, request fields echoed",
        approval(context).await,
    );
    tally.report("unknown PAN declines 1011", unknown_pan(context).await);
    tally.report(
        "amount above the funds declines 1016, nothing held",
        insufficient_funds(context).await,
    );
    tally.report("zero amount declines 1010", zero_amount(context).await);
    tally.report(
        "DE 14 not the card's expiry declines 1001",
        expiry_mismatch(context).await,
    );
    tally.report(
        "wrong CVC2 (DE 48 tag 92) declines 1029; the right one approves",
        cvc2(context).await,
    );
    tally.report(
        "unsupported processing code or currency declines 1015",
        unsupported(context).await,
    );
    tally.report(
        "malformed: no DE 32, or a letter in DE 4, answers 9100 echoing DE 11",
        malformed(context).await,
    );
}

/// Requests that follow others: duplicates and repeats, reversals, completion, advice, and
/// the financial messages.
async fn sequence_scenarios(context: &mut Context, tally: &mut Tally) {
    tally.report(
        "duplicate and repeat 2101 get the first answer; held once",
        duplicates(context).await,
    );
    tally.report(
        "a declined request repeated gets the same decline",
        declined_repeat(context).await,
    );
    tally.report(
        "full reversal 2420/400 answers 4000 and releases the hold",
        full_reversal(context).await,
    );
    tally.report(
        "partial reversal 2420/401 leaves DE 4 held; its repeat releases nothing more",
        partial_reversal(context).await,
    );
    tally.report(
        "reversal before its original answers 9114; the original is then declined",
        reversal_first(context).await,
    );
    tally.report(
        "completion 2220 answers 2230/0000 and posts the final amount",
        completion(context).await,
    );
    tally.report(
        "advice 2120 answers 2130/0000 and holds even when funds are short",
        advice(context).await,
    );
    tally.report(
        "financial 2200 posts at once; refund credits; balance inquiry reports",
        financial(context).await,
    );
}

/// What changes a card's state over the network: PIN tries, and the stop list with each lock
/// reason (these consume cards).
async fn card_state_scenarios(context: &mut Context, tally: &mut Tally) {
    tally.report(
        "PIN: right 0000, wrong 1017, third wrong 1006, then the right PIN 1006",
        pin_tries(context).await,
    );
    for (reason, code) in LOCK_REASONS {
        let name = format!("stop list 2304 reason {reason} answers 2314/3000, then authorizations decline {code}");
        let outcome = stop_list(context, reason, code).await;
        tally.report(&name, outcome);
    }
    tally.report(
        "stop list 2304 with an unknown reason answers 9100",
        stop_list_unknown_reason(context).await,
    );
}

/// The scenarios over the lifecycle API, skipped without `--api`.
async fn http_scenarios(context: &mut Context, tally: &mut Tally) {
    let http_scenarios = [
        "lock over the HTTP API (7): the authorization declines 1002; unlocked, it approves; \
         lost (1) cannot be unlocked (409 CARD_LOCK_IRREVERSIBLE) and declines 2008",
        "card lifecycle over HTTP: a reload shows in DE 54; a physical card ordered, linked, activated, \
         locked and unlocked",
    ];
    if context.api.is_some() {
        let outcome = http_lock(context).await;
        tally.report(http_scenarios[0], outcome);
        let outcome = http_lifecycle(context).await;
        tally.report(http_scenarios[1], outcome);
    } else {
        for name in http_scenarios {
            tally.skip(name, "needs --api");
        }
    }
}

/// Lock reasons and the action code each answers (network-interface.md, "Card lock reasons").
const LOCK_REASONS: [(u8, &str); 9] = [
    (1, "2008"),
    (2, "2009"),
    (3, "1000"),
    (4, "1016"),
    (5, "1018"),
    (6, "1006"),
    (7, "1002"),
    (8, "1011"),
    (11, "1006"),
];

#[derive(Default)]
struct Tally {
    passed: u32,
    failed: u32,
    skipped: u32,
}

impl Tally {
    fn report(&mut self, name: &str, outcome: anyhow::Result<()>) {
        match outcome {
            Ok(()) => {
                self.passed += 1;
                println!("ok    {name}");
            }
            Err(error) => {
                self.failed += 1;
                println!("FAIL  {name}\n      {error:#}");
            }
        }
    }

    fn skip(&mut self, name: &str, why: &str) {
        self.skipped += 1;
        println!("skip  {name} (skipped: {why})");
    }
}

/// A request under construction: MTI and field values as iso8583_rs takes them.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) mti: String,
    fields: BTreeMap<u32, String>,
}

impl Request {
    pub(crate) fn new(mti: &str) -> Request {
        Request {
            mti: mti.to_owned(),
            fields: BTreeMap::new(),
        }
    }

    pub(crate) fn set(mut self, position: u32, value: impl Into<String>) -> Request {
        self.fields.insert(position, value.into());
        self
    }

    pub(crate) fn without(mut self, position: u32) -> Request {
        self.fields.remove(&position);
        self
    }

    pub(crate) fn get(&self, position: u32) -> &str {
        self.fields.get(&position).map_or("", String::as_str)
    }

    /// DE 56 naming this request: MTI, STAN, DE 12, DE 32 as LL + digits.
    pub(crate) fn original_data(&self) -> String {
        let acquirer = self.get(32);
        format!(
            "{}{}{}{:02}{acquirer}",
            self.mti,
            self.get(11),
            self.get(12),
            acquirer.len()
        )
    }

    /// The same request as a repeat (last MTI digit 1).
    pub(crate) fn repeat(&self) -> Request {
        let mut repeat = self.clone();
        repeat.mti.replace_range(3..4, "1");
        repeat
    }

    pub(crate) fn bytes(&self) -> anyhow::Result<Vec<u8>> {
        let fields: Vec<(u32, &str)> = self.fields.iter().map(|(p, v)| (*p, v.as_str())).collect();
        wire::build(&self.mti, &fields)
    }
}

/// The network's side of one connection: STANs, DE 12 and DE 32 of this run.
struct Peer {
    link: Link,
    acquirer: String,
    stan: u32,
    local: String,
    transmitted: String,
}

impl Peer {
    async fn connect(switch: SocketAddr) -> anyhow::Result<Peer> {
        let now = wire::unix_seconds();
        Ok(Peer {
            link: Link::connect(switch).await?,
            // A per-run acquirer: identities (DE 32 + 11 + 12) never meet an earlier run's.
            acquirer: format!("2{:05}", wire::run_nonce()),
            stan: 0,
            local: wire::local_date_time(now),
            transmitted: wire::transmission_date_time(now),
        })
    }

    fn next_stan(&mut self) -> String {
        self.stan = self.stan % 999_999 + 1;
        format!("{:06}", self.stan)
    }

    /// A 2100/2120/2200-like request for `amount` on `pan`.
    fn spend(&mut self, mti: &str, pan: &str, processing: &str, amount: u64) -> Request {
        Request::new(mti)
            .set(2, pan)
            .set(3, processing)
            .set(4, format!("{amount:012}"))
            .set(7, self.transmitted.clone())
            .set(11, self.next_stan())
            .set(12, self.local.clone())
            .set(22, "012")
            .set(24, "100")
            .set(26, "5411")
            .set(32, self.acquirer.clone())
            .set(37, format!("RRN{:09}", self.stan))
            .set(41, "TERM0001")
            .set(42, "MERCHANT0000001")
            .set(49, CURRENCY)
    }

    fn authorization(&mut self, pan: &str, amount: u64) -> Request {
        self.spend("2100", pan, "000000", amount)
    }

    /// A 2420 reversal of `original`: full (`None`) or partial, leaving `remaining`.
    fn reversal(&mut self, original: &Request, remaining: Option<u64>) -> Request {
        let amount = match remaining {
            Some(remaining) => format!("{remaining:012}"),
            None => original.get(4).to_owned(),
        };
        Request::new("2420")
            .set(2, original.get(2))
            .set(3, original.get(3))
            .set(4, amount)
            .set(7, self.transmitted.clone())
            .set(11, self.next_stan())
            .set(12, self.local.clone())
            .set(24, if remaining.is_some() { "401" } else { "400" })
            .set(32, self.acquirer.clone())
            .set(49, CURRENCY)
            .set(56, original.original_data())
    }

    /// A 2220 completion of `original` for `amount`.
    fn completion(&mut self, original: &Request, amount: u64) -> Request {
        Request::new("2220")
            .set(2, original.get(2))
            .set(3, original.get(3))
            .set(4, format!("{amount:012}"))
            .set(7, self.transmitted.clone())
            .set(11, self.next_stan())
            .set(12, self.local.clone())
            .set(24, "201")
            .set(32, self.acquirer.clone())
            .set(49, CURRENCY)
            .set(56, original.original_data())
    }

    /// Sends one request, waits for its answer, checks that DE 11 is echoed.
    async fn exchange(&mut self, request: &Request) -> anyhow::Result<Answer> {
        self.send_bytes(request.bytes()?).await?;
        let answer = self.receive().await?;
        ensure!(
            answer.get(11) == Some(request.get(11)),
            "{} STAN {}: the answer carries DE 11 {:?}",
            request.mti,
            request.get(11),
            answer.get(11)
        );
        Ok(answer)
    }

    async fn send_bytes(&mut self, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.link.send(bytes).await
    }

    async fn receive(&mut self) -> anyhow::Result<Answer> {
        let bytes = tokio::time::timeout(ANSWER_TIMEOUT, self.link.receive())
            .await
            .context("no answer within 10 s")??;
        Answer::from_bytes(&bytes)
    }

    /// A 2100 balance inquiry (processing 30): the card's available funds from DE 54.
    async fn available(&mut self, pan: &str) -> anyhow::Result<i64> {
        let inquiry = self.spend("2100", pan, "300000", 0);
        let answer = self.exchange(&inquiry).await?;
        ensure!(
            answer.action() == "0000",
            "balance inquiry answered {}, not 0000",
            answer.action()
        );
        answer.available().context("balance inquiry without a readable DE 54")
    }
}

struct Context {
    api: Option<Api>,
    peer: Peer,
    cards: Vec<Card>,
    used: HashSet<usize>,
    key: ZonePinKey,
    money_card: Option<Card>,
}

impl Context {
    /// A card not used yet by this run that answers a balance inquiry (so not
    /// locked by an earlier run); with `pin`, one that has a PIN.
    async fn fresh_card(&mut self, pin: bool) -> anyhow::Result<Card> {
        for index in 0..self.cards.len() {
            if self.used.contains(&index) || (pin && self.cards[index].pin.is_none()) {
                continue;
            }
            self.used.insert(index);
            let card = self.cards[index].clone();
            if self.peer.available(&card.pan).await.is_ok() {
                return Ok(card);
            }
        }
        bail!(
            "no usable card{} left in the cards file (provision more with `antaca provision`)",
            if pin { " with a PIN" } else { "" }
        )
    }

    /// A fresh card the cards file also names by its API ids (customer, card, balance).
    async fn fresh_api_card(&mut self) -> anyhow::Result<(Card, (i64, i64, i64))> {
        for index in 0..self.cards.len() {
            let Some(ids) = self.cards[index].api_ids() else {
                continue;
            };
            if self.used.contains(&index) {
                continue;
            }
            self.used.insert(index);
            let card = self.cards[index].clone();
            if self.peer.available(&card.pan).await.is_ok() {
                return Ok((card, ids));
            }
        }
        bail!("no usable card with customer_id and card_id left in the cards file (from `antaca provision`)")
    }

    fn api(&self) -> anyhow::Result<Api> {
        self.api.clone().context("needs --api")
    }

    /// The card the money scenarios share (not locked by any scenario).
    async fn money_card(&mut self) -> anyhow::Result<Card> {
        if let Some(card) = &self.money_card {
            return Ok(card.clone());
        }
        let card = self.fresh_card(false).await?;
        self.money_card = Some(card.clone());
        Ok(card)
    }
}

fn expect_action(what: &str, answer: &Answer, mti: &str, action: &str) -> anyhow::Result<()> {
    ensure!(
        answer.mti == mti && answer.action() == action,
        "{what}: expected {mti}/{action}, answered {}/{}",
        answer.mti,
        answer.action()
    );
    Ok(())
}

fn expect_available(what: &str, got: i64, want: i64) -> anyhow::Result<()> {
    ensure!(got == want, "{what}: available {got}, expected {want}");
    Ok(())
}

async fn network_management(context: &mut Context) -> anyhow::Result<()> {
    for code in ["801", "831", "802"] {
        let request = Request::new("2804")
            .set(7, context.peer.transmitted.clone())
            .set(11, context.peer.next_stan())
            .set(24, code);
        let answer = context.peer.exchange(&request).await?;
        expect_action(&format!("2804/{code}"), &answer, "2814", "8000")?;
        ensure!(answer.get(24) == Some(code), "2804/{code}: DE 24 not echoed");
        ensure!(answer.get(7) == Some(request.get(7)), "2804/{code}: DE 7 not echoed");
    }
    Ok(())
}

async fn unknown_function(context: &mut Context) -> anyhow::Result<()> {
    let request = Request::new("2804").set(11, context.peer.next_stan()).set(24, "899");
    let answer = context.peer.exchange(&request).await?;
    expect_action("2804/899", &answer, "2814", "1015")
}

async fn approval(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let before = context.peer.available(&card.pan).await?;
    let request = context.peer.authorization(&card.pan, 2_500);
    let answer = context.peer.exchange(&request).await?;
    expect_action("2100", &answer, "2110", "0000")?;
    ensure!(
        answer.get(38).is_some_and(|code| code.len() == 6),
        "DE 38 approval code missing or not 6 characters: {:?}",
        answer.get(38)
    );
    let available = answer.available().context("no readable DE 54")?;
    expect_available("DE 54 of the approval", available, before - 2_500)?;
    let balance = answer.get(54).unwrap_or_default();
    ensure!(
        balance.starts_with(&format!("0002{CURRENCY}")),
        "DE 54 {balance:?} is not account 00, amount type 02, EUR"
    );
    for position in [2, 3, 4, 7, 11, 12, 32, 37, 41, 42, 49] {
        ensure!(
            answer.get(position) == Some(request.get(position)),
            "DE {position} not echoed: sent {:?}, answered {:?}",
            request.get(position),
            answer.get(position)
        );
    }
    // Leave the balance as found.
    clean_up(context, &request).await
}

/// Reverses an approved request in full, leaving the balance as found.
async fn clean_up(context: &mut Context, request: &Request) -> anyhow::Result<()> {
    let reversal = context.peer.reversal(request, None);
    let answer = context.peer.exchange(&reversal).await?;
    expect_action("the reversal that cleans up", &answer, "2430", "4000")
}

async fn decline(context: &mut Context, request: Request, action: &str) -> anyhow::Result<()> {
    let answer = context.peer.exchange(&request).await?;
    expect_action(&request.mti, &answer, "2110", action)?;
    ensure!(answer.get(38).is_none(), "a decline carries DE 38 {:?}", answer.get(38));
    Ok(())
}

async fn unknown_pan(context: &mut Context) -> anyhow::Result<()> {
    let known: HashSet<&str> = context.cards.iter().map(|card| card.pan.as_str()).collect();
    let unknown = (0..1000u64)
        .map(|n| format!("539999{:010}", 9_000_000_000 + n))
        .find(|pan| !known.contains(pan.as_str()))
        .context("no unknown PAN found")?;
    let request = context.peer.authorization(&unknown, 100);
    decline(context, request, "1011").await
}

async fn insufficient_funds(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let before = context.peer.available(&card.pan).await?;
    let request = context.peer.authorization(&card.pan, before.max(0) as u64 + 1);
    decline(context, request, "1016").await?;
    let after = context.peer.available(&card.pan).await?;
    expect_available("after the decline", after, before)
}

async fn zero_amount(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let request = context.peer.authorization(&card.pan, 0);
    decline(context, request, "1010").await
}

async fn expiry_mismatch(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let wrong = if card.expiry == "2001" { "2002" } else { "2001" };
    let request = context.peer.authorization(&card.pan, 100).set(14, wrong);
    decline(context, request, "1001").await?;
    let later = format!("{:04}", (card.expiry.parse::<u32>().unwrap_or(0) + 100) % 10_000);
    let request = context.peer.authorization(&card.pan, 100).set(14, later);
    decline(context, request, "1001").await
}

async fn cvc2(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let wrong = if card.cvc2 == "999" { "998" } else { "999" };
    let request = context
        .peer
        .authorization(&card.pan, 100)
        .set(48, format!("9203{wrong}"));
    decline(context, request, "1029").await?;
    let right = context
        .peer
        .authorization(&card.pan, 100)
        .set(14, card.expiry.clone())
        .set(48, format!("9203{}", card.cvc2));
    let answer = context.peer.exchange(&right).await?;
    expect_action("the right CVC2 and expiry", &answer, "2110", "0000")?;
    clean_up(context, &right).await
}

async fn unsupported(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let request = context.peer.authorization(&card.pan, 100).set(3, "400000");
    decline(context, request, "1015").await?;
    let request = context.peer.authorization(&card.pan, 100).set(49, "840");
    decline(context, request, "1015").await
}

async fn malformed(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let request = context.peer.authorization(&card.pan, 100).without(32);
    let answer = context.peer.exchange(&request).await?;
    expect_action("no DE 32", &answer, "2110", "9100")?;
    let request = context.peer.authorization(&card.pan, 100).set(4, "00000000010A");
    let answer = context.peer.exchange(&request).await?;
    expect_action("a letter in DE 4", &answer, "2110", "9100")
}

async fn duplicates(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let before = context.peer.available(&card.pan).await?;
    let request = context.peer.authorization(&card.pan, 1_000);
    let first = context.peer.exchange(&request).await?;
    expect_action("the first", &first, "2110", "0000")?;
    let duplicate = context.peer.exchange(&request).await?;
    let repeat = context.peer.exchange(&request.repeat()).await?;
    for (what, again) in [("the duplicate", &duplicate), ("the repeat 2101", &repeat)] {
        ensure!(
            (again.mti.as_str(), again.action(), again.get(38), again.get(54))
                == (first.mti.as_str(), first.action(), first.get(38), first.get(54)),
            "{what} answered {}/{} DE 38 {:?} DE 54 {:?}; the first was {}/{} DE 38 {:?} DE 54 {:?}",
            again.mti,
            again.action(),
            again.get(38),
            again.get(54),
            first.mti,
            first.action(),
            first.get(38),
            first.get(54)
        );
    }
    let after = context.peer.available(&card.pan).await?;
    expect_available("held once", after, before - 1_000)?;
    clean_up(context, &request).await
}

async fn declined_repeat(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let before = context.peer.available(&card.pan).await?;
    let request = context.peer.authorization(&card.pan, before.max(0) as u64 + 1);
    decline(context, request.clone(), "1016").await?;
    decline(context, request.repeat(), "1016").await
}

async fn full_reversal(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let before = context.peer.available(&card.pan).await?;
    let request = context.peer.authorization(&card.pan, 6_000);
    expect_action("2100", &context.peer.exchange(&request).await?, "2110", "0000")?;
    expect_available("held", context.peer.available(&card.pan).await?, before - 6_000)?;
    let reversal = context.peer.reversal(&request, None);
    let answer = context.peer.exchange(&reversal).await?;
    expect_action("2420/400", &answer, "2430", "4000")?;
    ensure!(answer.get(56) == Some(reversal.get(56)), "DE 56 not echoed");
    expect_available("released", context.peer.available(&card.pan).await?, before)?;
    let again = context.peer.reversal(&request, None);
    expect_action(
        "a second reversal",
        &context.peer.exchange(&again).await?,
        "2430",
        "4000",
    )?;
    expect_available("released once", context.peer.available(&card.pan).await?, before)
}

async fn partial_reversal(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let before = context.peer.available(&card.pan).await?;
    let request = context.peer.authorization(&card.pan, 6_000);
    expect_action("2100", &context.peer.exchange(&request).await?, "2110", "0000")?;
    let partial = context.peer.reversal(&request, Some(2_500));
    expect_action("2420/401", &context.peer.exchange(&partial).await?, "2430", "4000")?;
    expect_available(
        "DE 4 stays held",
        context.peer.available(&card.pan).await?,
        before - 2_500,
    )?;
    expect_action("2421", &context.peer.exchange(&partial.repeat()).await?, "2430", "4000")?;
    expect_available("the repeat", context.peer.available(&card.pan).await?, before - 2_500)?;
    let full = context.peer.reversal(&request, None);
    expect_action("2420/400", &context.peer.exchange(&full).await?, "2430", "4000")?;
    expect_available("all released", context.peer.available(&card.pan).await?, before)
}

async fn reversal_first(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let before = context.peer.available(&card.pan).await?;
    let request = context.peer.authorization(&card.pan, 1_000);
    let reversal = context.peer.reversal(&request, None);
    expect_action(
        "the early 2420",
        &context.peer.exchange(&reversal).await?,
        "2430",
        "9114",
    )?;
    let late = context.peer.exchange(&request).await?;
    ensure!(late.action() != "0000", "the original after its reversal was approved");
    expect_available("nothing held", context.peer.available(&card.pan).await?, before)
}

async fn completion(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let before = context.peer.available(&card.pan).await?;
    let request = context.peer.authorization(&card.pan, 4_000);
    expect_action("2100", &context.peer.exchange(&request).await?, "2110", "0000")?;
    let completion = context.peer.completion(&request, 4_200);
    expect_action("2220", &context.peer.exchange(&completion).await?, "2230", "0000")?;
    expect_available("posted 42.00", context.peer.available(&card.pan).await?, before - 4_200)
}

async fn advice(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let before = context.peer.available(&card.pan).await?;
    let short = before.max(0) as u64 + 1_500;
    let request = context.peer.spend("2120", &card.pan, "000000", short);
    expect_action("2120", &context.peer.exchange(&request).await?, "2130", "0000")?;
    expect_available(
        "held although short",
        context.peer.available(&card.pan).await?,
        before - short as i64,
    )?;
    let reversal = context.peer.reversal(&request, None);
    expect_action("its reversal", &context.peer.exchange(&reversal).await?, "2430", "4000")?;
    expect_available("released", context.peer.available(&card.pan).await?, before)
}

async fn financial(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let before = context.peer.available(&card.pan).await?;
    let purchase = context.peer.spend("2200", &card.pan, "000000", 3_000);
    let answer = context.peer.exchange(&purchase).await?;
    expect_action("2200 purchase", &answer, "2210", "0000")?;
    expect_available(
        "DE 54 of the 2210",
        answer.available().context("no DE 54")?,
        before - 3_000,
    )?;
    let refund = context.peer.spend("2200", &card.pan, "200000", 3_000);
    expect_action("2200 refund", &context.peer.exchange(&refund).await?, "2210", "0000")?;
    let inquiry = context.peer.spend("2200", &card.pan, "300000", 0);
    let answer = context.peer.exchange(&inquiry).await?;
    expect_action("2200 balance inquiry", &answer, "2210", "0000")?;
    expect_available("after the refund", answer.available().context("no DE 54")?, before)
}

async fn pin_tries(context: &mut Context) -> anyhow::Result<()> {
    let card = context.fresh_card(true).await?;
    let right = card.pin.clone().context("a card with a PIN")?;
    let wrong = if right == "0000" { "1111" } else { "0000" };
    let mut with_pin = |pin: &str| -> anyhow::Result<Request> {
        let block = context.key.pin_block_hex(pin, &card.pan)?;
        Ok(context.peer.authorization(&card.pan, 100).set(22, "051").set(52, block))
    };
    let steps = [
        (right.as_str(), "0000", "the right PIN"),
        (wrong, "1017", "a wrong PIN"),
        (wrong, "1017", "a second wrong PIN"),
        (wrong, "1006", "the third wrong PIN"),
        (right.as_str(), "1006", "the right PIN on the locked card"),
    ];
    let mut requests = Vec::new();
    for (pin, _, _) in &steps {
        requests.push(with_pin(pin)?);
    }
    for (request, (_, action, what)) in requests.iter().zip(steps) {
        decline_or_approve(context, request, action, what).await?;
    }
    Ok(())
}

async fn decline_or_approve(context: &mut Context, request: &Request, action: &str, what: &str) -> anyhow::Result<()> {
    let answer = context.peer.exchange(request).await?;
    expect_action(what, &answer, "2110", action)
}

async fn stop_list(context: &mut Context, reason: u8, code: &str) -> anyhow::Result<()> {
    let card = context.fresh_card(false).await?;
    let update = Request::new("2304")
        .set(2, card.pan.clone())
        .set(11, context.peer.next_stan())
        .set(12, context.peer.local.clone())
        .set(32, context.peer.acquirer.clone())
        .set(48, format!("9302{reason:02}"))
        .set(91, "1");
    expect_action("2304", &context.peer.exchange(&update).await?, "2314", "3000")?;
    let request = context.peer.authorization(&card.pan, 100);
    decline(context, request, code).await
}

async fn stop_list_unknown_reason(context: &mut Context) -> anyhow::Result<()> {
    let card = context.money_card().await?;
    let update = Request::new("2304")
        .set(2, card.pan.clone())
        .set(11, context.peer.next_stan())
        .set(12, context.peer.local.clone())
        .set(32, context.peer.acquirer.clone())
        .set(48, "930299")
        .set(91, "1");
    expect_action("2304 reason 99", &context.peer.exchange(&update).await?, "2314", "9100")?;
    // The card is still usable.
    context.peer.available(&card.pan).await.map(|_| ())
}

async fn http_lock(context: &mut Context) -> anyhow::Result<()> {
    let api = context.api()?;
    let (card, (customer, card_id, _)) = context.fresh_api_card().await?;
    let locked = api.lock(customer, card_id, 7).await?;
    ensure!(
        locked.status == "LOCKED" && locked.lock_reason == Some(7),
        "locked: status {} reason {:?}",
        locked.status,
        locked.lock_reason
    );
    let request = context.peer.authorization(&card.pan, 100);
    decline(context, request, "1002").await?;
    let unlocked = api.unlock(customer, card_id).await?;
    ensure!(unlocked.status == "ACTIVE", "unlocked: status {}", unlocked.status);
    let request = context.peer.authorization(&card.pan, 100);
    expect_action(
        "after the unlock",
        &context.peer.exchange(&request).await?,
        "2110",
        "0000",
    )?;
    clean_up(context, &request).await?;
    api.lock(customer, card_id, 1).await?;
    match api.unlock(customer, card_id).await {
        Ok(card) => bail!("a card lost (1) was unlocked: {}", card.status),
        Err(error) => ensure!(
            failure_code(&error) == Some("CARD_LOCK_IRREVERSIBLE"),
            "unlocking a lost card: {error:#}"
        ),
    }
    let request = context.peer.authorization(&card.pan, 100);
    decline(context, request, "2008").await
}

async fn http_lifecycle(context: &mut Context) -> anyhow::Result<()> {
    let api = context.api()?;
    let (card, (customer, _, balance_id)) = context.fresh_api_card().await?;
    let before = context.peer.available(&card.pan).await?;
    api.fund_partner_credit("EUR", 1_234).await?;
    let reloaded = api.reload(customer, balance_id, 1_234).await?;
    expect_available("the reload's answer", reloaded.available, before + 1_234)?;
    expect_available(
        "DE 54 after the reload",
        context.peer.available(&card.pan).await?,
        before + 1_234,
    )?;
    let user = api.verified_user(&format!("scenario-{}", wire::run_nonce())).await?;
    let balance = api.open_balance(user, "EUR", "dev-credit-eur").await?;
    let ordered = api.physical_card(user, balance, "4321").await?;
    ensure!(ordered.status == "ORDERED", "a new physical card is {}", ordered.status);
    crate::provision::wait_linked(&api, user, ordered.card_id).await?;
    let active = api.activate(user, ordered.card_id).await?;
    ensure!(active.status == "ACTIVE", "activated: {}", active.status);
    let locked = api.lock(user, ordered.card_id, 3).await?;
    ensure!(
        locked.status == "LOCKED" && locked.lock_reason == Some(3),
        "locked: {} {:?}",
        locked.status,
        locked.lock_reason
    );
    let unlocked = api.unlock(user, ordered.card_id).await?;
    ensure!(unlocked.status == "ACTIVE", "unlocked: {}", unlocked.status);
    let view = api.balance(user, balance).await?;
    ensure!(
        view.cards
            .iter()
            .any(|listed| listed.card_id == ordered.card_id && listed.status == "ACTIVE"),
        "the balance does not list the card as ACTIVE"
    );
    Ok(())
}
