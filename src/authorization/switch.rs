//! The frame handler: decode → claim the transaction identity → decide →
//! make durable → encode the answer.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::ActionCode;
use super::operations::{self, Answer, OriginalState, Settings, Step};
use super::request::function_code::{ECHO_TEST, SIGN_OFF, SIGN_ON};
use super::request::{self, MessageClass, Request};
use crate::iso8583::{Message, OutMessage, Spec};
use crate::network::{FrameHandler, Reply};
use crate::state::{Claim, ClaimGuard, State};

/// Fields every answer echoes when the request carried them (network-interface.md, "Messages").
pub const ECHO_FIELDS: [usize; 15] = [2, 3, 4, 6, 7, 11, 12, 24, 32, 37, 41, 42, 49, 51, 56];

/// The authorization switch. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Switch {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    spec: Arc<Spec>,
    state: State,
    settings: Settings,
}

impl Switch {
    pub fn new(spec: Arc<Spec>, state: State, settings: Settings) -> Self {
        Self {
            inner: Arc::new(Inner { spec, state, settings }),
        }
    }

    pub fn state(&self) -> &State {
        &self.inner.state
    }

    /// Answers one message (the bytes after the length header).
    pub async fn answer(&self, frame: &[u8]) -> Reply {
        self.inner.answer(frame).await
    }

    /// Every `interval` until `shutdown`: expires holds past `authorization.hold_ttl_s`, read
    /// from the expiry order of the open holds (no scan). What memory and the database forget is
    /// [`crate::state::retention::run_retention`]'s.
    pub async fn run_hold_expiry(self, interval: Duration, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let expired = self.expire_holds().await;
            if expired > 0 {
                tracing::info!(expired, "expired authorization holds");
            }
        }
    }

    /// Expires every open hold past its time now; returns how many.
    pub async fn expire_holds(&self) -> usize {
        let state = &self.inner.state;
        let now = state.now_ms();
        let mut expired = 0;
        for hold in state.expired_holds(now) {
            if let Some(submission) = operations::expire(state, &hold, now) {
                match state.submit(submission).await {
                    Ok(()) => expired += 1,
                    Err(error) => tracing::warn!(%error, "hold expiry not saved; retried next round"),
                }
            }
        }
        expired
    }
}

impl FrameHandler for Switch {
    fn handle(&self, frame: Bytes) -> impl Future<Output = Reply> + Send + 'static {
        let inner = self.inner.clone();
        async move { inner.answer(&frame).await }
    }
}

/// The PAN for logs: first 6 and last 4 digits, without allocating.
struct MaskedPan<'a>(&'a str);

impl std::fmt::Display for MaskedPan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pan = self.0;
        if pan.len() < 13 {
            return f.write_str("***");
        }
        write!(f, "{}…{}", &pan[..6], &pan[pan.len() - 4..])
    }
}

impl Inner {
    async fn answer(&self, frame: &[u8]) -> Reply {
        let started = Instant::now();
        let (message, decode_error) = match Message::decode_lenient(&self.spec, frame) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::warn!(%error, "unreadable message; closing the connection");
                return Reply::Close;
            }
        };
        let mti = message.mti();
        let Some((class, repeat)) = MessageClass::from_mti(mti) else {
            tracing::warn!(mti, "a response or unknown message type received; ignored");
            return Reply::Nothing;
        };
        let answer = match decode_error.map(|error| error.field) {
            Some(field) => Err(field),
            None => request::parse(&message, class, repeat),
        };
        let answer = match answer {
            Err(field) => {
                tracing::info!(mti, %field, "malformed message");
                Answer::of(ActionCode::MessageError)
            }
            Ok(request) => {
                let span = tracing::debug_span!("message", mti, pan = %MaskedPan(request.pan.unwrap_or_default()));
                self.decide(&request).instrument(span).await
            }
        };
        metrics::counter!("antaca_requests_total", "mti" => mti_label(mti), "action" => answer.action.as_str())
            .increment(1);
        let reply = self.encode(&message, &answer);
        metrics::histogram!("antaca_decision_seconds").record(started.elapsed().as_secs_f64());
        reply
    }

    async fn decide(&self, request: &Request<'_>) -> Answer {
        if request.class == MessageClass::NetworkManagement {
            return Answer::of(match request.function_code {
                Some(SIGN_ON | SIGN_OFF | ECHO_TEST) => ActionCode::Accepted,
                _ => ActionCode::FunctionNotSupported,
            });
        }
        let guard = match request.transaction {
            Some(transaction) => match self.state.claim(transaction).await {
                Claim::Answered(recorded) => return Answer::from_recorded(&recorded),
                Claim::Unsaved => return Answer::of(ActionCode::SystemMalfunction),
                Claim::New(guard) => Some(guard),
            },
            None => None,
        };
        self.decide_claimed(request, guard).await
    }

    async fn decide_claimed(&self, request: &Request<'_>, mut guard: Option<ClaimGuard>) -> Answer {
        // Completions and reversals first learn what became of their original
        // (waiting, like a duplicate, while the original is in flight).
        let mut original_state = match (request.class, request.original) {
            (MessageClass::FinancialAdvice | MessageClass::Reversal, Some(original)) => {
                let own = guard.as_ref().map(ClaimGuard::transaction);
                Some(loop {
                    let claim = match own {
                        Some(own) => self.state.claim_original(original.transaction, own).await,
                        None => Some(self.state.claim(original.transaction).await),
                    };
                    match claim {
                        Some(Claim::New(original_guard)) => break OriginalState::Unknown(original_guard),
                        Some(Claim::Answered(answer)) => break OriginalState::Answered(answer),
                        // The original's decision was not saved: as if never sent. Claim it anew.
                        Some(Claim::Unsaved) => continue,
                        // Its original is waiting for this very message: the pair names each other.
                        // Answered unrecorded; the other one goes on with this one as unknown.
                        None => return Answer::of(ActionCode::MessageError),
                    }
                })
            }
            _ => None,
        };
        loop {
            let step = match (request.class, request.original) {
                (MessageClass::FileUpdate, _) => operations::stop_list(&self.state, request, &mut guard),
                _ if guard.is_none() => return Answer::of(ActionCode::MessageError),
                (MessageClass::Authorization | MessageClass::AuthorizationAdvice | MessageClass::Financial, _) => {
                    operations::spend(&self.state, &self.settings, request, &mut guard)
                }
                (MessageClass::FinancialAdvice, Some(original)) => {
                    operations::complete(&self.state, request, &mut guard, &original, &mut original_state)
                }
                (MessageClass::Reversal, Some(original)) => {
                    operations::reverse(&self.state, request, &mut guard, &original, &mut original_state)
                }
                _ => return Answer::of(ActionCode::MessageError),
            };
            match step {
                Step::Submit(submission, answer) => {
                    return match self.state.submit(submission).await {
                        Ok(()) => answer,
                        Err(error) => {
                            tracing::warn!(%error, "decision not made durable; answering 9109");
                            Answer::of(ActionCode::SystemMalfunction)
                        }
                    };
                }
                // What this request must change is being changed: wait, then decide again.
                Step::WaitCard(card) => {
                    let changed = card.changed.notified();
                    tokio::pin!(changed);
                    changed.as_mut().enable();
                    if card.lock().pending.is_some() {
                        changed.await;
                    }
                }
                Step::WaitHold(hold) => {
                    let changed = hold.changed.notified();
                    tokio::pin!(changed);
                    changed.as_mut().enable();
                    if hold.lock().busy {
                        changed.await;
                    }
                }
            }
        }
    }

    fn encode(&self, request: &Message<'_>, answer: &Answer) -> Reply {
        let mut response = OutMessage::new(response_mti(request.mti()));
        response.echo(request, &ECHO_FIELDS).set_text(39, answer.action.code());
        if let Some(code) = &answer.approval_code {
            response.set_text(38, code);
        }
        let mut additional_amounts = [0u8; 20];
        let reports_balance = matches!(request.mti() - request.mti() % 2, 2100 | 2200);
        if let (Some((available, currency)), true) = (answer.available, reports_balance) {
            write_available_balance(available, currency, &mut additional_amounts);
            response.set_text(54, &additional_amounts);
        }
        let mut out = Vec::with_capacity(request.bytes().len() + 48);
        match response.encode_into(&self.spec, &mut out) {
            Ok(()) => Reply::Send(Bytes::from(out)),
            Err(error) => {
                tracing::error!(%error, mti = request.mti(), "cannot encode the answer");
                Reply::Close
            }
        }
    }
}

/// DE 54: account type `00`, amount type `02` (available), currency n3, sign, amount n12.
fn write_available_balance(available: i64, currency: u16, out: &mut [u8; 20]) {
    out[..4].copy_from_slice(b"0002");
    let mut rest = currency;
    for slot in out[4..7].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out[7] = if available < 0 { b'D' } else { b'C' };
    let mut magnitude = available.unsigned_abs();
    for slot in out[8..20].iter_mut().rev() {
        *slot = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
    }
}

/// The answer's MTI: request + 10, a repeat (last digit 1) answered as its original.
pub fn response_mti(mti: u16) -> u16 {
    mti - u16::from(mti % 10 == 1) + 10
}

/// A static label per MTI, so metrics do not allocate per request.
pub fn mti_label(mti: u16) -> &'static str {
    match mti {
        2100 => "2100",
        2101 => "2101",
        2120 => "2120",
        2121 => "2121",
        2200 => "2200",
        2201 => "2201",
        2220 => "2220",
        2221 => "2221",
        2304 => "2304",
        2420 => "2420",
        2421 => "2421",
        2804 => "2804",
        _ => "other",
    }
}
