//! Expiry: a hold past its time releases what it still holds.

use std::sync::Arc;

use crate::state::{Change, HoldCell, HoldStatus, Release, State, Submission, TimestampMs};

/// Expires an open hold past its time: releases what it still holds.
pub fn expire(state: &State, hold_cell: &Arc<HoldCell>, now: TimestampMs) -> Option<Submission> {
    let mut entry = hold_cell.lock();
    if entry.busy || entry.hold.status != HoldStatus::Open || entry.hold.expires_at > now {
        return None;
    }
    let hold = entry.hold.clone();
    entry.busy = true;
    drop(entry);
    let mut submission = Submission::default();
    submission.release(Release::Hold(hold_cell.clone()));
    submission.push(Change::UpdateHold {
        hold_id: hold.id,
        remaining: 0,
        status: HoldStatus::Expired,
    });
    // The user's side also held the fees that go with what remains.
    let fees = state
        .hold_fee(hold.id)
        .map_or(0, |fee| fee.total_share(hold.remaining, hold.amount));
    let released = [
        (Some(hold.user_balance_id), hold.remaining + fees),
        (hold.partner_balance_id, hold.remaining),
    ];
    for (balance_id, amount) in released {
        if let Some(balance_id) = balance_id
            && state.balance(balance_id).is_some()
        {
            submission.push(Change::BalanceDelta {
                balance_id,
                ledger: 0,
                held: -amount,
            });
        }
    }
    Some(submission)
}
