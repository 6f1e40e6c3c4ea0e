//! Operations: a typed request applied to the state.
//!
//! Each operation locks what it touches (a card, balances in id order, a
//! hold), asks `decision` what to do, reserves funds, builds one
//! [`Submission`] — the changes, the recorded answer, what to release — and
//! returns it with the answer to give once it is durable. Nothing here
//! awaits while holding a lock; waiting for a busy card or hold happens
//! outside, then the operation decides again from scratch.
//!
//! One file per message class: [`spend`] (2100, 2120, 2200: card checks, then funds), [`complete`]
//! (2220), [`reverse`] (2420 full and partial), [`stop_list`] (2304), [`expire`] (a hold past its
//! time); `funding` holds the balances a card's spend touches and the postings between them.

mod complete;
mod expire;
mod funding;
mod reverse;
mod spend;
mod stop_list;

use std::sync::Arc;

use super::ActionCode;
use super::decision;
use crate::crypto::pin_block::ZonePinKey;
use crate::domain::fees::HoldFee;
use crate::state::{
    CardCell, Change, ClaimGuard, Hold, HoldCell, IdKind, RecordedAnswer, Release, State, Submission, TimestampMs,
    TransactionId, Transfer, TransferKind,
};

pub use complete::complete;
pub use expire::expire;
pub use reverse::reverse;
pub use spend::spend;
pub use stop_list::stop_list;

use funding::{Funding, funding_of_hold};

/// Switch settings the operations need.
#[derive(Debug)]
pub struct Settings {
    pub zone_pin_key: ZonePinKey,
    pub pin_tries_max: u32,
    pub hold_ttl_ms: i64,
}

/// What to answer: the parts of a response that are not echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub action: ActionCode,
    pub approval_code: Option<[u8; 6]>,
    /// Available balance for DE 54: minor units and ISO 4217 numeric currency.
    pub available: Option<(i64, u16)>,
}

impl Answer {
    pub fn of(action: ActionCode) -> Answer {
        Answer {
            action,
            approval_code: None,
            available: None,
        }
    }

    pub fn from_recorded(recorded: &RecordedAnswer) -> Answer {
        Answer {
            action: ActionCode::from_code(&recorded.action_code).unwrap_or(ActionCode::SystemMalfunction),
            approval_code: recorded.approval_code,
            available: recorded.available,
        }
    }
}

/// The result of deciding: submit this and answer that, or wait and decide again.
#[derive(Debug)]
pub enum Step {
    Submit(Submission, Answer),
    /// A card or hold has an update in flight; wait for it, then decide again.
    WaitCard(Arc<CardCell>),
    WaitHold(Arc<HoldCell>),
}

/// Records `answer` for the claimed transaction in `submission`.
fn record(
    submission: &mut Submission,
    guard: ClaimGuard,
    mti: u16,
    answer: Answer,
    hold_id: Option<i64>,
    now: TimestampMs,
) {
    submission.push(Change::RecordAnswer(RecordedAnswer {
        transaction: guard.transaction(),
        mti,
        action_code: *answer.action.code(),
        approval_code: answer.approval_code,
        available: answer.available,
        hold_id,
        created_at: now,
    }));
    submission.release(guard.into_release());
}

/// The claim of a request, taken when its answer is recorded.
fn take(claim: &mut Option<ClaimGuard>) -> ClaimGuard {
    claim.take().expect("the transaction was claimed before deciding")
}

/// A decline (or an answer with no effect) that is still recorded for duplicates.
pub fn recorded_only(guard: ClaimGuard, mti: u16, answer: Answer, now: TimestampMs) -> Step {
    let mut submission = Submission::default();
    record(&mut submission, guard, mti, answer, None, now);
    Step::Submit(submission, answer)
}

fn approval_code(state: &State) -> [u8; 6] {
    let number = state.next_id(IdKind::Transfer).rem_euclid(1_000_000);
    let mut code = [b'0'; 6];
    let mut rest = number;
    for slot in code.iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    code
}

/// What every ledger movement of one operation shares.
#[derive(Debug, Clone, Copy)]
struct Posting {
    kind: TransferKind,
    transaction: TransactionId,
    hold_id: Option<i64>,
    now: TimestampMs,
}

/// Moves `amount` from one balance to another: the transfer and both ledger deltas.
fn move_money(submission: &mut Submission, state: &State, posting: Posting, from: i64, to: i64, amount: i64) {
    if amount == 0 {
        return;
    }
    submission
        .push(Change::InsertTransfer(Transfer {
            id: state.next_id(IdKind::Transfer),
            kind: posting.kind,
            debit_balance_id: Some(from),
            credit_balance_id: to,
            amount,
            transaction: Some(posting.transaction),
            hold_id: posting.hold_id,
            created_at: posting.now,
        }))
        .push(Change::BalanceDelta {
            balance_id: from,
            ledger: -amount,
            held: 0,
        })
        .push(Change::BalanceDelta {
            balance_id: to,
            ledger: amount,
            held: 0,
        });
}

/// An amount of a completion or reversal in the balance's currency: converted at the rate the
/// hold recorded when the network sends the billing currency of the authorization.
fn in_balance_currency(amount: i64, currency: Option<u16>, balance_currency: u16, hold_fee: Option<&HoldFee>) -> i64 {
    match (currency, hold_fee.and_then(|fee| fee.rate.zip(fee.original))) {
        (Some(currency), Some((rate, (_, original_currency))))
            if currency != balance_currency && currency == original_currency =>
        {
            decision::convert_at(amount, currency, balance_currency, rate).unwrap_or(amount)
        }
        _ => amount,
    }
}

/// What a claim on the original transaction of a completion or reversal found.
#[derive(Debug)]
pub enum OriginalState {
    /// The original was never seen: this guard now holds its identity.
    Unknown(ClaimGuard),
    /// The original was answered.
    Answered(RecordedAnswer),
}

/// What [`take_hold`] found on the hold a completion or reversal acts on.
enum TakenHold {
    /// Another operation on it is in flight: wait for it, then decide again.
    Busy,
    /// The operation leaves it as it is (already closed, or nothing to give back).
    Untouched(Hold),
    /// Its card, balance or program is missing (logged).
    Broken,
    /// Taken for this operation: busy until the submission is decided (released by it), with the
    /// balances the hold touched.
    Taken(Hold, Funding),
}

/// The preamble every operation on an existing hold shares: the hold is taken only if no other
/// operation has it in flight and `acts_on` says this one changes it.
fn take_hold(
    state: &State,
    cell: &Arc<HoldCell>,
    submission: &mut Submission,
    acts_on: impl FnOnce(&Hold) -> bool,
) -> TakenHold {
    let mut entry = cell.lock();
    if entry.busy {
        return TakenHold::Busy;
    }
    let hold = entry.hold.clone();
    if !acts_on(&hold) {
        return TakenHold::Untouched(hold);
    }
    let Some(funding) = funding_of_hold(state, &hold) else {
        tracing::error!(hold = hold.id, "hold's card, balance or program missing");
        return TakenHold::Broken;
    };
    entry.busy = true;
    drop(entry);
    submission.release(Release::Hold(cell.clone()));
    TakenHold::Taken(hold, funding)
}

/// The answer recorded for `hold` when the operation leaves it as it is.
fn untouched(guard: &mut Option<ClaimGuard>, mti: u16, answer: Answer, hold: &Hold, now: TimestampMs) -> Step {
    let mut submission = Submission::default();
    record(&mut submission, take(guard), mti, answer, Some(hold.id), now);
    Step::Submit(submission, answer)
}
