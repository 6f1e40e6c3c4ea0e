//! 2304: the network's stop list locks a card with the DE 48 tag 93 reason.

use super::{Answer, Step, record};
use crate::authorization::ActionCode;
use crate::authorization::request::Request;
use crate::state::{CardStatus, CardUpdate, Change, ClaimGuard, LockReason, Release, State, Submission};

/// 2304: lock the card with the DE 48 tag 93 reason.
pub fn stop_list(state: &State, request: &Request<'_>, guard: &mut Option<ClaimGuard>) -> Step {
    let now = state.now_ms();
    let mti = request.mti - u16::from(request.repeat);
    let finish = |mut submission: Submission, guard: &mut Option<ClaimGuard>, answer: Answer| {
        if let Some(guard) = guard.take() {
            record(&mut submission, guard, mti, answer, None, now);
        }
        Step::Submit(submission, answer)
    };
    let reason = request.lock_reason.and_then(LockReason::from_code);
    let (Some(reason), Some(b'1')) = (reason, request.file_update_code) else {
        let action = if reason.is_none() {
            ActionCode::MessageError
        } else {
            ActionCode::FunctionNotSupported
        };
        return finish(Submission::default(), guard, Answer::of(action));
    };
    let Some(card_cell) = state.card_by_pan(request.pan.unwrap_or_default().as_bytes()) else {
        return finish(Submission::default(), guard, Answer::of(ActionCode::InvalidCardNumber));
    };
    let mut entry = card_cell.lock();
    if entry.pending.is_some() {
        drop(entry);
        return Step::WaitCard(card_cell);
    }
    let mut submission = Submission::default();
    let current = entry.latest_update();
    let keeps_current = matches!(current.status, CardStatus::Locked(existing) if existing.is_irreversible())
        || current.status == CardStatus::Removed;
    if !keeps_current {
        let update = CardUpdate {
            status: CardStatus::Locked(reason),
            ..current
        };
        entry.pending = Some(update.clone());
        submission
            .push(Change::UpdateCard(update))
            .release(Release::Card(card_cell.clone()));
    }
    drop(entry);
    finish(submission, guard, Answer::of(ActionCode::FileActionSuccessful))
}
