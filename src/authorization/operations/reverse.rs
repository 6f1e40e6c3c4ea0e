//! 2420: a reversal releases its hold, or refunds the posted debit, down to what remains.

use super::funding::{Funding, post_credit};
use super::{
    Answer, OriginalState, Posting, Step, TakenHold, in_balance_currency, record, recorded_only, take, take_hold,
    untouched,
};
use crate::authorization::ActionCode;
use crate::authorization::request::{Original, Processing, Request, function_code};
use crate::domain::fees::FeeType;
use crate::state::{Change, ClaimGuard, Hold, HoldStatus, State, Submission, TimestampMs, TransferKind};

/// 2420: release the hold (or refund the posted debit) down to what remains.
pub fn reverse(
    state: &State,
    request: &Request<'_>,
    guard: &mut Option<ClaimGuard>,
    original: &Original,
    original_state: &mut Option<OriginalState>,
) -> Step {
    let now = state.now_ms();
    let mti = request.mti - u16::from(request.repeat);
    let accepted = Answer::of(ActionCode::ReversalAccepted);
    let answered = match original_state.as_ref() {
        Some(OriginalState::Answered(answered)) => answered.clone(),
        _ => return reverse_unknown_original(state, request, guard, original, original_state),
    };
    let Some(hold_cell) = answered.hold_id.and_then(|id| state.hold(id)) else {
        if answered.action_code == *ActionCode::Approved.code() && request.processing == Some(Processing::Refund) {
            // Taking back a refund needs a debit decision this switch does not make yet.
            return recorded_only(take(guard), mti, Answer::of(ActionCode::FunctionNotSupported), now);
        }
        // The original was declined: nothing was held.
        return recorded_only(take(guard), mti, accepted, now);
    };
    let mut submission = Submission::default();
    let gives_back = |hold: &Hold| {
        give_back(state, request, hold) > 0 && matches!(hold.status, HoldStatus::Open | HoldStatus::Completed)
    };
    let (hold, funding) = match take_hold(state, &hold_cell, &mut submission, gives_back) {
        TakenHold::Busy => return Step::WaitHold(hold_cell),
        TakenHold::Untouched(hold) => return untouched(guard, mti, accepted, &hold, now),
        TakenHold::Broken => return recorded_only(take(guard), mti, Answer::of(ActionCode::SystemMalfunction), now),
        TakenHold::Taken(hold, funding) => (hold, funding),
    };
    let amount = give_back(state, request, &hold);
    post_reversal(state, &mut submission, &hold, &funding, amount, now);
    record(&mut submission, take(guard), mti, accepted, Some(hold.id), now);
    Step::Submit(submission, accepted)
}

/// The original was never answered: the reversal finds nothing (9114), and the original is
/// remembered so that, arriving after its reversal, it is declined.
fn reverse_unknown_original(
    state: &State,
    request: &Request<'_>,
    guard: &mut Option<ClaimGuard>,
    original: &Original,
    original_state: &mut Option<OriginalState>,
) -> Step {
    let now = state.now_ms();
    let mti = request.mti - u16::from(request.repeat);
    let mut submission = Submission::default();
    if let Some(OriginalState::Unknown(original_guard)) = original_state.take() {
        let declined = Answer::of(ActionCode::DoNotHonour);
        record(&mut submission, original_guard, original.mti, declined, None, now);
    }
    let not_found = Answer::of(ActionCode::OriginalNotFound);
    record(&mut submission, take(guard), mti, not_found, None, now);
    Step::Submit(submission, not_found)
}

/// What the reversal gives back of `hold`: everything for a full reversal, down to DE 4 (in the
/// balance's currency) for a partial one.
fn give_back(state: &State, request: &Request<'_>, hold: &Hold) -> i64 {
    let target = match request.function_code {
        Some(function_code::PARTIAL_REVERSAL) => request.amount.map_or(0, |amount| {
            let hold_fee = state.hold_fee(hold.id);
            let balance_currency = state
                .balance(hold.user_balance_id)
                .map_or(0, |cell| cell.currency_numeric);
            in_balance_currency(amount as i64, request.currency, balance_currency, hold_fee.as_ref())
        }),
        _ => 0,
    };
    (hold.remaining - target).max(0)
}

/// The money of giving `amount` back on a taken hold: released while it is open, credited back
/// once completed; the hold's fees go back in proportion.
fn post_reversal(
    state: &State,
    submission: &mut Submission,
    hold: &Hold,
    funding: &Funding,
    amount: i64,
    now: TimestampMs,
) {
    let hold_fee = state.hold_fee(hold.id);
    let remaining = hold.remaining - amount;
    let status = if remaining == 0 {
        HoldStatus::Reversed
    } else {
        hold.status
    };
    submission.push(Change::UpdateHold {
        hold_id: hold.id,
        remaining,
        status,
    });
    // The fees go back in proportion: what went with the old remaining less what goes with the new.
    let fee_back = match &hold_fee {
        Some(fee) => {
            let (before, after) = (
                fee.shares(hold.remaining, hold.amount),
                fee.shares(remaining, hold.amount),
            );
            (before.0 - after.0, before.1 - after.1)
        }
        None => (0, 0),
    };
    if hold.status == HoldStatus::Open {
        if let Some(deposit) = &funding.deposit {
            submission.push(Change::BalanceDelta {
                balance_id: deposit.id,
                ledger: 0,
                held: -amount,
            });
        }
        submission.push(Change::BalanceDelta {
            balance_id: funding.user.id,
            ledger: 0,
            held: -(amount + fee_back.0 + fee_back.1),
        });
        return;
    }
    let posting = Posting {
        kind: TransferKind::ReversalCredit,
        transaction: hold.transaction,
        hold_id: Some(hold.id),
        now,
    };
    post_credit(submission, state, funding, amount, posting);
    if let Some(fee) = &hold_fee {
        let refunds = [
            (fee.kind, -fee_back.0, 0),
            (FeeType::CurrencyConversion, -fee_back.1, 0),
        ];
        funding.fee_entries(submission, posting, &refunds);
    }
}
