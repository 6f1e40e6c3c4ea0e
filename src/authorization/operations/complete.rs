//! 2220: a completion turns its hold into a posted debit of DE 4.

use super::funding::{Funding, post_credit, post_debit};
use super::{
    Answer, OriginalState, Posting, Step, TakenHold, in_balance_currency, record, recorded_only, take, take_hold,
    untouched,
};
use crate::authorization::ActionCode;
use crate::authorization::request::{Original, Processing, Request};
use crate::domain::fees::{FeeType, HoldFee};
use crate::state::{
    Change, ClaimGuard, Hold, HoldStatus, Release, State, Submission, TimestampMs, TransactionId, TransferKind,
};

/// 2220: the hold becomes a posted debit of DE 4.
pub fn complete(
    state: &State,
    request: &Request<'_>,
    guard: &mut Option<ClaimGuard>,
    original: &Original,
    original_state: &mut Option<OriginalState>,
) -> Step {
    let now = state.now_ms();
    let mti = request.mti - u16::from(request.repeat);
    let accepted = Answer::of(ActionCode::Approved);
    let amount = request.charged().map_or(0, |(amount, _)| amount as i64);
    let hold_cell = match original_state.as_ref() {
        Some(OriginalState::Answered(answer)) => answer.hold_id.and_then(|id| state.hold(id)),
        _ => None,
    };
    let Some(hold_cell) = hold_cell else {
        return complete_without_hold(state, request, guard, original, original_state, amount);
    };
    let mut submission = Submission::default();
    let is_open = |hold: &Hold| hold.status == HoldStatus::Open;
    let (hold, funding) = match take_hold(state, &hold_cell, &mut submission, is_open) {
        TakenHold::Busy => return Step::WaitHold(hold_cell),
        // Already completed, reversed or expired: nothing held to convert.
        TakenHold::Untouched(hold) => return untouched(guard, mti, accepted, &hold, now),
        TakenHold::Broken => return recorded_only(take(guard), mti, Answer::of(ActionCode::SystemMalfunction), now),
        TakenHold::Taken(hold, funding) => (hold, funding),
    };
    let currency = request.charged().map(|(_, currency)| currency);
    let hold_fee = state.hold_fee(hold.id);
    let amount = in_balance_currency(amount, currency, funding.user.currency_numeric, hold_fee.as_ref());
    post_completion(state, &mut submission, &hold, &funding, amount, hold_fee.as_ref(), now);
    record(&mut submission, take(guard), mti, accepted, Some(hold.id), now);
    Step::Submit(submission, accepted)
}

/// No hold to convert: the network completed anyway, so the debit is posted (and the original
/// remembered, so that arriving late it holds nothing).
fn complete_without_hold(
    state: &State,
    request: &Request<'_>,
    guard: &mut Option<ClaimGuard>,
    original: &Original,
    original_state: &mut Option<OriginalState>,
    amount: i64,
) -> Step {
    let now = state.now_ms();
    let mti = request.mti - u16::from(request.repeat);
    let accepted = Answer::of(ActionCode::Approved);
    let mut submission = Submission::default();
    if let Some(OriginalState::Unknown(original_guard)) = original_state.take() {
        let declined = Answer::of(ActionCode::DoNotHonour);
        record(&mut submission, original_guard, original.mti, declined, None, now);
    }
    let transaction = guard.as_ref().map(ClaimGuard::transaction);
    if let Some(transaction) = transaction {
        force_post(state, request, &mut submission, amount, transaction, now);
    }
    record(&mut submission, take(guard), mti, accepted, None, now);
    Step::Submit(submission, accepted)
}

/// The money of a completion of `amount` (in the balance's currency) on a taken open hold: what
/// was held is let go, the amount is posted, and the hold's fees follow it in proportion.
fn post_completion(
    state: &State,
    submission: &mut Submission,
    hold: &Hold,
    funding: &Funding,
    amount: i64,
    hold_fee: Option<&HoldFee>,
    now: TimestampMs,
) {
    // The fees follow the posted amount in proportion (rounded once, see fees::rounding).
    let (fee_held, fee_posted) = match hold_fee {
        Some(fee) => (fee.shares(hold.remaining, hold.amount), fee.shares(amount, hold.amount)),
        None => ((0, 0), (0, 0)),
    };
    let user_held = hold.remaining + fee_held.0 + fee_held.1;
    let user_posted = amount + fee_posted.0 + fee_posted.1;
    // Posting more than was held lowers available further: reserve the difference.
    let extras = [
        (&funding.deposit, (amount - hold.remaining).max(0)),
        (&Some(funding.user.clone()), (user_posted - user_held).max(0)),
    ];
    for (cell, extra) in extras {
        if let Some(cell) = cell
            && extra > 0
        {
            cell.lock().reserved += extra;
            submission.release(Release::Funds {
                balance: cell.clone(),
                amount: extra,
            });
        }
    }
    submission.push(Change::UpdateHold {
        hold_id: hold.id,
        remaining: amount,
        status: HoldStatus::Completed,
    });
    if let Some(deposit) = &funding.deposit {
        submission.push(Change::BalanceDelta {
            balance_id: deposit.id,
            ledger: 0,
            held: -hold.remaining,
        });
    }
    submission.push(Change::BalanceDelta {
        balance_id: funding.user.id,
        ledger: 0,
        held: -user_held,
    });
    let posting = Posting {
        kind: TransferKind::CardDebit,
        transaction: hold.transaction,
        hold_id: Some(hold.id),
        now,
    };
    post_debit(submission, state, funding, amount, posting);
    if let Some(fee) = hold_fee {
        let fees = [
            (fee.kind, fee_posted.0, 0),
            (FeeType::CurrencyConversion, fee_posted.1, 0),
        ];
        funding.fee_entries(submission, posting, &fees);
    }
}

/// A debit the network settled without a hold here (advice semantics: no funds check).
fn force_post(
    state: &State,
    request: &Request<'_>,
    submission: &mut Submission,
    amount: i64,
    transaction: TransactionId,
    now: TimestampMs,
) {
    let Some(card) = state.card_by_pan(request.pan.unwrap_or_default().as_bytes()) else {
        return;
    };
    let (card_id, balance_id, program_id) = {
        let entry = card.lock();
        (entry.card.id, entry.card.balance_id, entry.card.program_id.clone())
    };
    let Some(funding) = Funding::of(state, card_id, balance_id, &program_id) else {
        return;
    };
    if amount <= 0 {
        return;
    }
    for cell in [&funding.deposit, &Some(funding.user.clone())].into_iter().flatten() {
        cell.lock().reserved += amount;
        submission.release(Release::Funds {
            balance: cell.clone(),
            amount,
        });
    }
    if request.processing == Some(Processing::Refund) {
        post_credit(
            submission,
            state,
            &funding,
            amount,
            Posting {
                kind: TransferKind::CardCredit,
                transaction,
                hold_id: None,
                now,
            },
        );
    } else {
        post_debit(
            submission,
            state,
            &funding,
            amount,
            Posting {
                kind: TransferKind::CardDebit,
                transaction,
                hold_id: None,
                now,
            },
        );
    }
}
