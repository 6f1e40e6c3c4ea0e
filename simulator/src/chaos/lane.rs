//! A lane: one network connection (reopened whenever it breaks) and the cards
//! it alone uses, sending one request at a time and checking each answer
//! against the auditor's model. A request left without an answer (a broken
//! connection, a killed switch) is sent again, as is, until it is answered:
//! the switch answers a duplicate with the first answer, so the request takes
//! effect exactly once whichever way it went, and the answer that finally
//! comes is the one the model applies.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::auditor::{CardModel, Findings, HoldModel, Recorded};
use super::workload::{Disconnect, LaneWorkload, Op};
use crate::api::{Api, failure_code};
use crate::scenarios::Request;
use crate::wire::{self, Answer, Link};

/// How long one attempt waits for its answer (a frozen database may hold it for seconds).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// A request still unanswered after this long is a violation (the switch should be back by then).
const REQUEST_DEADLINE: Duration = Duration::from_secs(240);

/// Where the switch is now (its ports change at every restart) and the API client for it.
#[derive(Debug)]
pub struct Target {
    pub iso: RwLock<SocketAddr>,
    pub api: RwLock<Api>,
}

impl Target {
    fn iso(&self) -> SocketAddr {
        *self.iso.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn api(&self) -> Api {
        self.api.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

/// An answered request that duplicates may be compared with.
#[derive(Debug, Clone)]
struct Answered {
    request: Request,
    first: Recorded,
}

#[derive(Debug)]
pub struct Lane {
    pub index: usize,
    pub cards: Vec<CardModel>,
    pub findings: Findings,
    workload: LaneWorkload,
    target: Arc<Target>,
    link: Option<Link>,
    acquirer: String,
    stan: u32,
    local: String,
    transmitted: String,
    answered: Vec<Answered>,
}

fn recorded(answer: &Answer) -> Recorded {
    Recorded {
        action: answer.action().to_owned(),
        approval: answer.get(38).map(str::to_owned),
        balance: answer.get(54).map(str::to_owned),
    }
}

impl Lane {
    pub fn new(index: usize, seed: u64, cards: Vec<CardModel>, target: Arc<Target>) -> Lane {
        let now = wire::unix_seconds();
        Lane {
            index,
            workload: LaneWorkload::new(seed, index, cards.len()),
            cards,
            findings: Findings::default(),
            target,
            link: None,
            acquirer: format!("3{index:05}"),
            stan: 0,
            local: wire::local_date_time(now),
            transmitted: wire::transmission_date_time(now),
            answered: Vec::new(),
        }
    }

    fn next_stan(&mut self) -> String {
        self.stan += 1;
        format!("{:06}", self.stan % 1_000_000)
    }

    fn spend(&mut self, mti: &str, card: usize, processing: &str, amount: i64) -> Request {
        let stan = self.next_stan();
        Request::new(mti)
            .set(2, self.cards[card].pan.clone())
            .set(3, processing)
            .set(4, format!("{amount:012}"))
            .set(7, self.transmitted.clone())
            .set(11, stan.clone())
            .set(12, self.local.clone())
            .set(22, "012")
            .set(24, "100")
            .set(26, "5411")
            .set(32, self.acquirer.clone())
            .set(37, format!("CH{:04}{stan}", self.index))
            .set(41, "CHAOS001")
            .set(42, "CHAOSMERCHANT01")
            .set(49, "978")
    }

    fn follow_up(&mut self, mti: &str, function: &str, original: &Request, amount: i64) -> Request {
        Request::new(mti)
            .set(2, original.get(2))
            .set(3, original.get(3))
            .set(4, format!("{amount:012}"))
            .set(7, self.transmitted.clone())
            .set(11, self.next_stan())
            .set(12, self.local.clone())
            .set(24, function)
            .set(32, self.acquirer.clone())
            .set(49, "978")
            .set(56, original.original_data())
    }

    /// Runs `steps` steps of the lane's workload.
    pub async fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            let step = self.workload.next_step();
            if let Err(error) = self.step(step.op, step.disconnect).await {
                self.findings.violation(format!("lane {}: {error:#}", self.index));
            }
        }
    }

    /// One operation of the workload: each kind is sent and checked by its own function.
    async fn step(&mut self, op: Op, disconnect: Option<Disconnect>) -> anyhow::Result<()> {
        match op {
            Op::Authorize {
                card,
                amount,
                oversized,
            } => self.authorize(card, amount, oversized, disconnect).await,
            Op::Advice { card, amount } => self.advice(card, amount, disconnect).await,
            Op::Purchase { card, amount } => self.purchase(card, amount, disconnect).await,
            Op::Refund { card, amount } => self.refund(card, amount, disconnect).await,
            Op::Complete { pick, percent } => self.complete(pick, percent, disconnect).await,
            Op::Reverse {
                pick,
                remaining_percent,
            } => self.reverse(pick, remaining_percent, disconnect).await,
            Op::ReverseFirst { card, amount } => self.reverse_first(card, amount, disconnect).await,
            Op::Resend { pick, repeat } => self.resend(pick, repeat, disconnect).await,
            Op::ToggleLock { card, reason } => self.toggle_lock(card, reason).await,
            Op::Reload { card, amount } => self.reload(card, amount).await,
            Op::Inquiry { card } => self.inquiry(card, disconnect).await,
        }
    }

    /// A 2100 authorization; `oversized` asks for one more than the model says is available.
    async fn authorize(
        &mut self,
        card: usize,
        amount: i64,
        oversized: bool,
        disconnect: Option<Disconnect>,
    ) -> anyhow::Result<()> {
        let amount = if oversized {
            self.cards[card].available().max(0) + 1
        } else {
            amount
        };
        let request = self.spend("2100", card, "000000", amount);
        let answer = self.exchange(&request, disconnect).await?;
        self.authorization_answered(card, request, amount, &answer);
        Ok(())
    }

    /// A 2120 advice: the network approved on the issuer's behalf, so it is held even when
    /// short; only a locked card (or an outage) may refuse it.
    async fn advice(&mut self, card: usize, amount: i64, disconnect: Option<Disconnect>) -> anyhow::Result<()> {
        let request = self.spend("2120", card, "000000", amount);
        let answer = self.exchange(&request, disconnect).await?;
        self.findings.count(format!("2120 -> {}", answer.action()));
        match answer.action() {
            "0000" => self.hold(card, request, amount),
            "9109" => {}
            code if Some(code) == self.cards[card].lock_code() => {}
            code => self.findings.violation(format!("advice answered {code}")),
        }
        Ok(())
    }

    /// A 2200 purchase, posted at once: approved only on an unlocked card with the funds.
    async fn purchase(&mut self, card: usize, amount: i64, disconnect: Option<Disconnect>) -> anyhow::Result<()> {
        let request = self.spend("2200", card, "000000", amount);
        let answer = self.exchange(&request, disconnect).await?;
        self.findings.count(format!("2200 -> {}", answer.action()));
        let model = &self.cards[card];
        match answer.action() {
            "0000" => {
                if let Some(code) = model.lock_code() {
                    self.findings
                        .violation(format!("2200 approved on a card locked ({code})"));
                }
                if model.available() < amount {
                    self.findings.violation(format!(
                        "2200 of {amount} approved with {} available",
                        model.available()
                    ));
                }
                self.cards[card].ledger -= amount;
                self.expect_balance(card, &answer, "the 2210 approval");
                self.remember(request, &answer);
            }
            "9109" => {}
            code => {
                self.expect_decline(card, amount, code, "2200");
                self.remember(request, &answer);
            }
        }
        Ok(())
    }

    /// A 2200 refund (processing code 20), credited to the ledger.
    async fn refund(&mut self, card: usize, amount: i64, disconnect: Option<Disconnect>) -> anyhow::Result<()> {
        let request = self.spend("2200", card, "200000", amount);
        let answer = self.exchange(&request, disconnect).await?;
        self.findings.count(format!("2200 refund -> {}", answer.action()));
        match answer.action() {
            "0000" => {
                // The switch reports what is spendable when it decides: a credit counts
                // only once committed, so DE 54 is the amount before the refund.
                self.expect_balance(card, &answer, "the refund (before its credit)");
                self.cards[card].ledger += amount;
                self.remember(request, &answer);
            }
            "9109" => {}
            code if Some(code) == self.cards[card].lock_code() => {}
            code => self.findings.violation(format!("refund answered {code}")),
        }
        Ok(())
    }

    /// A 2220 completing the `pick`-th open hold at `percent` of its amount (a balance inquiry
    /// when no hold is open).
    async fn complete(&mut self, pick: usize, percent: i64, disconnect: Option<Disconnect>) -> anyhow::Result<()> {
        let Some((card, index)) = self.pick_hold(pick) else {
            return self.inquiry(pick % self.cards.len(), disconnect).await;
        };
        let hold = self.cards[card].holds[index].clone();
        let amount = (hold.amount * percent / 100).max(1);
        let request = self.follow_up("2220", "201", &hold.request, amount);
        let answer = self.exchange(&request, disconnect).await?;
        self.findings.count(format!("2220 -> {}", answer.action()));
        match answer.action() {
            "0000" => {
                let model = &mut self.cards[card];
                model.held -= hold.remaining;
                model.ledger -= amount;
                model.holds.remove(index);
            }
            "9109" => {}
            code => self.findings.violation(format!("completion answered {code}")),
        }
        Ok(())
    }

    /// A 2420 of the `pick`-th open hold: full (function code 400), or partial (401) leaving
    /// `remaining_percent` of its amount (a balance inquiry when no hold is open).
    async fn reverse(
        &mut self,
        pick: usize,
        remaining_percent: Option<i64>,
        disconnect: Option<Disconnect>,
    ) -> anyhow::Result<()> {
        let Some((card, index)) = self.pick_hold(pick) else {
            return self.inquiry(pick % self.cards.len(), disconnect).await;
        };
        let hold = self.cards[card].holds[index].clone();
        let (request, remaining) = match remaining_percent {
            None => (self.follow_up("2420", "400", &hold.request, hold.amount), 0),
            Some(percent) => {
                let remaining = (hold.amount * percent / 100).max(1);
                (self.follow_up("2420", "401", &hold.request, remaining), remaining)
            }
        };
        let answer = self.exchange(&request, disconnect).await?;
        self.findings.count(format!(
            "2420/{} -> {}",
            if remaining_percent.is_some() { 401 } else { 400 },
            answer.action()
        ));
        match answer.action() {
            "4000" => {
                let model = &mut self.cards[card];
                if remaining == 0 {
                    model.held -= hold.remaining;
                    model.holds.remove(index);
                } else if remaining < hold.remaining {
                    model.held -= hold.remaining - remaining;
                    model.holds[index].remaining = remaining;
                }
                self.remember(request, &answer);
            }
            "9109" => {}
            code => self.findings.violation(format!("reversal answered {code}")),
        }
        Ok(())
    }

    /// A 2420 for an authorization not sent yet, then that authorization: when the reversal is
    /// answered 9114, the late original must not be approved; when it met an outage (9109), the
    /// original is checked as any authorization.
    async fn reverse_first(&mut self, card: usize, amount: i64, disconnect: Option<Disconnect>) -> anyhow::Result<()> {
        let original = self.spend("2100", card, "000000", amount);
        let reversal = self.follow_up("2420", "400", &original, amount);
        let answer = self.exchange(&reversal, disconnect).await?;
        self.findings
            .count(format!("2420 before its original -> {}", answer.action()));
        match answer.action() {
            "9114" => {
                let late = self.exchange(&original, None).await?;
                self.findings
                    .count(format!("2100 after its reversal -> {}", late.action()));
                if late.action() == "0000" {
                    self.findings
                        .violation("an original approved after its reversal was answered 9114");
                    self.hold(card, original, amount);
                }
            }
            "9109" => {
                let late = self.exchange(&original, None).await?;
                self.authorization_answered(card, original, amount, &late);
            }
            code => self
                .findings
                .violation(format!("a reversal of nothing answered {code}")),
        }
        Ok(())
    }

    /// The `pick`-th answered request sent again, as is (a duplicate) or as a repeat (last MTI
    /// digit 1): it must be answered as the first time (a balance inquiry when none is answered).
    async fn resend(&mut self, pick: usize, repeat: bool, disconnect: Option<Disconnect>) -> anyhow::Result<()> {
        if self.answered.is_empty() {
            return self.inquiry(pick % self.cards.len(), disconnect).await;
        }
        let answered = self.answered[pick % self.answered.len()].clone();
        let request = if repeat {
            answered.request.repeat()
        } else {
            answered.request.clone()
        };
        let answer = self.exchange(&request, disconnect).await?;
        let again = recorded(&answer);
        self.findings.count(if repeat {
            "repeats (last MTI digit 1)"
        } else {
            "duplicates"
        });
        if again.action == "9109" {
            self.findings.count("duplicates answered 9109");
        } else if again != answered.first {
            self.findings.violation(format!(
                "{} STAN {} sent again answered {again:?}; the first answer was {:?}",
                request.mti,
                request.get(11),
                answered.first
            ));
        }
        Ok(())
    }

    /// An approved hold on `card` (2100 or 2120).
    fn hold(&mut self, card: usize, request: Request, amount: i64) {
        let model = &mut self.cards[card];
        model.held += amount;
        model.holds.push(HoldModel {
            request,
            amount,
            remaining: amount,
        });
    }

    fn authorization_answered(&mut self, card: usize, request: Request, amount: i64, answer: &Answer) {
        self.findings.count(format!("2100 -> {}", answer.action()));
        match answer.action() {
            "0000" => {
                let model = &self.cards[card];
                if let Some(code) = model.lock_code() {
                    self.findings
                        .violation(format!("2100 approved on a card locked ({code})"));
                }
                if model.available() < amount {
                    self.findings.violation(format!(
                        "2100 of {amount} approved with {} available",
                        model.available()
                    ));
                }
                self.hold(card, request.clone(), amount);
                self.expect_balance(card, answer, "the 2110 approval");
                self.remember(request, answer);
            }
            "9109" => {}
            code => {
                self.expect_decline(card, amount, code, "2100");
                self.remember(request, answer);
            }
        }
    }

    fn expect_decline(&mut self, card: usize, amount: i64, code: &str, what: &str) {
        let model = &self.cards[card];
        let expected = match model.lock_code() {
            Some(lock) => lock,
            None if model.available() < amount => "1016",
            None => "0000",
        };
        if code != expected {
            self.findings.violation(format!(
                "{what} of {amount} on balance {} ({} available, lock {:?}) answered {code}, expected {expected}",
                model.balance_id,
                model.available(),
                model.lock
            ));
        }
    }

    fn expect_balance(&mut self, card: usize, answer: &Answer, what: &str) {
        let model = &self.cards[card];
        if answer.available() != Some(model.available()) {
            self.findings.violation(format!(
                "{what} on balance {}: DE 54 says {:?}, the model {} (ledger {}, held {})",
                model.balance_id,
                answer.available(),
                model.available(),
                model.ledger,
                model.held
            ));
        }
    }

    fn remember(&mut self, request: Request, answer: &Answer) {
        if self.answered.len() < 10_000 {
            self.answered.push(Answered {
                request,
                first: recorded(answer),
            });
        }
    }

    /// The `pick`-th open hold over the lane's cards.
    fn pick_hold(&self, pick: usize) -> Option<(usize, usize)> {
        let total: usize = self.cards.iter().map(|card| card.holds.len()).sum();
        if total == 0 {
            return None;
        }
        let mut index = pick % total;
        for (card, model) in self.cards.iter().enumerate() {
            if index < model.holds.len() {
                return Some((card, index));
            }
            index -= model.holds.len();
        }
        None
    }

    pub async fn inquiry(&mut self, card: usize, disconnect: Option<Disconnect>) -> anyhow::Result<()> {
        let request = self.spend("2100", card, "300000", 0);
        let answer = self.exchange(&request, disconnect).await?;
        self.findings.count(format!("balance inquiry -> {}", answer.action()));
        match answer.action() {
            "0000" => self.expect_balance(card, &answer, "the balance inquiry"),
            "9109" => {}
            code if Some(code) == self.cards[card].lock_code() => {}
            code => self.findings.violation(format!("a balance inquiry answered {code}")),
        }
        Ok(())
    }

    /// Sends `request` until it is answered (see the module's note); with `disconnect`, the first
    /// attempt breaks its connection on purpose.
    async fn exchange(&mut self, request: &Request, disconnect: Option<Disconnect>) -> anyhow::Result<Answer> {
        let bytes = request.bytes()?;
        if let Some(how) = disconnect {
            self.findings.count(format!("client disconnects ({how:?})"));
            self.link = None;
            let _ = break_connection(self.target.iso(), &bytes, how).await;
        }
        let started = tokio::time::Instant::now();
        let mut attempts = 0u32;
        loop {
            if started.elapsed() > REQUEST_DEADLINE {
                anyhow::bail!(
                    "{} STAN {}: no answer within {} s",
                    request.mti,
                    request.get(11),
                    REQUEST_DEADLINE.as_secs()
                );
            }
            if attempts > 0 {
                self.findings.count("requests sent again after no answer");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            attempts += 1;
            let mut link = match self.link.take() {
                Some(link) => link,
                None => match Link::connect(self.target.iso()).await {
                    Ok(link) => link,
                    Err(_) => continue,
                },
            };
            if link.send(bytes.clone()).await.is_err() {
                continue;
            }
            let Ok(Ok(received)) = tokio::time::timeout(ATTEMPT_TIMEOUT, link.receive()).await else {
                continue;
            };
            let answer = Answer::from_bytes(&received)?;
            if answer.get(11) != Some(request.get(11)) {
                // An answer to an earlier attempt on this connection cannot come (one at a time).
                anyhow::bail!(
                    "{} STAN {}: answered with DE 11 {:?}",
                    request.mti,
                    request.get(11),
                    answer.get(11)
                );
            }
            self.link = Some(link);
            return Ok(answer);
        }
    }

    async fn toggle_lock(&mut self, card: usize, reason: u8) -> anyhow::Result<()> {
        let model = &self.cards[card];
        let (customer, card_id) = (model.customer_id, model.card_id);
        let locking = model.lock.is_none();
        let outcome = if locking {
            self.target.api().lock(customer, card_id, reason).await
        } else {
            self.target.api().unlock(customer, card_id).await
        };
        self.findings.count(format!(
            "HTTP {} -> {}",
            if locking { "lock" } else { "unlock" },
            match &outcome {
                Ok(_) => "200",
                Err(error) => failure_code(error).unwrap_or("no answer"),
            }
        ));
        match outcome {
            Ok(view) => {
                self.cards[card].lock = locking.then_some(reason);
                let expected = if locking { "LOCKED" } else { "ACTIVE" };
                if view.status != expected {
                    self.findings
                        .violation(format!("card {card_id}: the lock answered {}", view.status));
                }
            }
            Err(_) => {
                // Unknown whether it took effect: ask, once the API answers again.
                let status = self.settled(|api| async move { api.cards(customer).await }).await?;
                let listed = status.iter().find(|listed| listed.card_id == card_id);
                self.cards[card].lock = match listed {
                    Some(listed) if listed.status == "LOCKED" => listed.lock_reason,
                    Some(_) => None,
                    None => anyhow::bail!("card {card_id} not listed"),
                };
            }
        }
        Ok(())
    }

    async fn reload(&mut self, card: usize, amount: i64) -> anyhow::Result<()> {
        let model = &self.cards[card];
        let (customer, balance) = (model.customer_id, model.balance_id);
        let outcome = self.target.api().reload(customer, balance, amount).await;
        self.findings.count(format!(
            "HTTP reload -> {}",
            match &outcome {
                Ok(_) => "200",
                Err(error) => failure_code(error).unwrap_or("no answer"),
            }
        ));
        match outcome {
            Ok(view) => {
                self.cards[card].ledger += amount;
                if view.available != self.cards[card].available() {
                    self.findings.violation(format!(
                        "balance {balance}: the reload answered available {}, the model {}",
                        view.available,
                        self.cards[card].available()
                    ));
                }
            }
            Err(_) => {
                // Unknown whether it took effect: read the ledger once the API answers again.
                let view = self
                    .settled(|api| async move { api.balance(customer, balance).await })
                    .await?;
                let before = self.cards[card].ledger;
                if view.ledger == before + amount {
                    self.cards[card].ledger += amount;
                    self.findings.count("HTTP reloads applied without an answer");
                } else if view.ledger != before {
                    self.findings.violation(format!(
                        "balance {balance}: ledger {} after a reload of {amount} that failed, the model {before}",
                        view.ledger
                    ));
                    self.cards[card].ledger = view.ledger;
                }
            }
        }
        Ok(())
    }

    /// Reads over the API until it answers twice in a row the same, a second apart (a request
    /// the API dropped may still be finishing).
    async fn settled<T, F, Fut>(&self, read: F) -> anyhow::Result<T>
    where
        T: std::fmt::Debug,
        F: Fn(Api) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<T>>,
    {
        let started = tokio::time::Instant::now();
        let mut previous: Option<String> = None;
        loop {
            anyhow::ensure!(started.elapsed() < REQUEST_DEADLINE, "the API did not answer for 240 s");
            match read(self.target.api()).await {
                Ok(value) => {
                    let shown = format!("{value:?}");
                    if previous.as_deref() == Some(shown.as_str()) {
                        return Ok(value);
                    }
                    previous = Some(shown);
                }
                Err(_) => previous = None,
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The end of the run: unlock what is locked, then every card's DE 54 against the model.
    pub async fn finish(&mut self) {
        for card in 0..self.cards.len() {
            if let Some(reason) = self.cards[card].lock
                && let Err(error) = self.toggle_lock(card, reason).await
            {
                self.findings
                    .violation(format!("lane {}: unlocking at the end: {error:#}", self.index));
            }
            self.final_inquiry(card).await;
        }
    }

    /// A balance inquiry that must be answered 0000 with the modelled amount.
    pub async fn final_inquiry(&mut self, card: usize) {
        let request = self.spend("2100", card, "300000", 0);
        match self.exchange(&request, None).await {
            Ok(answer) if answer.action() == "0000" => {
                self.expect_balance(card, &answer, "the final balance inquiry");
                self.findings.count("final balance inquiries");
            }
            Ok(answer) => self.findings.violation(format!(
                "the final balance inquiry on balance {} answered {}",
                self.cards[card].balance_id,
                answer.action()
            )),
            Err(error) => self
                .findings
                .violation(format!("lane {}: final inquiry: {error:#}", self.index)),
        }
    }
}

/// Breaks a connection mid-request: the whole frame sent and the connection closed before the
/// answer, or half of the frame sent.
async fn break_connection(address: SocketAddr, message: &[u8], how: Disconnect) -> anyhow::Result<()> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let length = u16::try_from(message.len())?;
    let mut frame = length.to_be_bytes().to_vec();
    frame.extend_from_slice(message);
    let sent = match how {
        Disconnect::AfterSend => &frame[..],
        Disconnect::HalfFrame => &frame[..frame.len() / 2],
    };
    stream.write_all(sent).await?;
    stream.flush().await?;
    drop(stream);
    Ok(())
}
