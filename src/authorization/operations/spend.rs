//! 2100, 2120, 2200: card checks, then funds; refunds and balance inquiries.

use super::funding::{Funding, post_credit, post_debit};
use super::{Answer, Posting, Settings, Step, approval_code, record, recorded_only, take};
use crate::authorization::ActionCode;
use crate::authorization::decision::{self, CardFacts, CardSecrets, CardVerdict, Charged};
use crate::authorization::request::{MessageClass, Processing, Request};
use crate::domain::fees::schedule::AuthorizationFee;
use crate::domain::fees::{FeeType, HoldFee};
use crate::state::cells::{CardEntry, lock_balances};
use crate::state::{
    BalanceCell, BalanceState, CardStatus, CardUpdate, Change, ClaimGuard, Hold, HoldStatus, IdKind, LockReason,
    Release, State, Submission, TimestampMs, TransactionId, TransferKind,
};

/// 2100, 2120, 2200: card checks, then funds.
pub fn spend(state: &State, settings: &Settings, request: &Request<'_>, guard: &mut Option<ClaimGuard>) -> Step {
    let now = state.now_ms();
    let mti = request.mti - u16::from(request.repeat);
    let pan = request.pan.unwrap_or_default();
    let Some(card_cell) = state.card_by_pan(pan.as_bytes()) else {
        return recorded_only(take(guard), mti, Answer::of(ActionCode::InvalidCardNumber), now);
    };
    let mut entry = card_cell.lock();
    let (card_id, balance_id, program_id) = (entry.card.id, entry.card.balance_id, entry.card.program_id.clone());
    let verdict = card_verdict(state, settings, request, &entry, now);
    // A verdict that changes the card waits for the card's update in flight.
    let card_update = card_update_for(verdict, &entry);
    if card_update.is_some() && entry.pending.is_some() {
        drop(entry);
        return Step::WaitCard(card_cell);
    }
    let mut submission = Submission::default();
    if let Some(update) = card_update {
        entry.pending = Some(update.clone());
        submission
            .push(Change::UpdateCard(update))
            .release(Release::Card(card_cell.clone()));
    }
    drop(entry);
    let answer = match verdict {
        CardVerdict::Decline(action) => Answer::of(action),
        CardVerdict::WrongPin { locks: true, .. } => Answer::of(ActionCode::PinTriesExceeded),
        CardVerdict::WrongPin { locks: false, .. } => Answer::of(ActionCode::IncorrectPin),
        CardVerdict::Pass { .. } => {
            let Some(funding) = Funding::of(state, card_id, balance_id, &program_id) else {
                tracing::error!(card_balance = balance_id, program = %program_id, "card's balance or program missing");
                return recorded_only(take(guard), mti, Answer::of(ActionCode::SystemMalfunction), now);
            };
            return fund(state, settings, request, take(guard), submission, &funding, now);
        }
    };
    record(&mut submission, take(guard), mti, answer, None, now);
    Step::Submit(submission, answer)
}

/// The card's checks (status, expiry, CVC2, PIN); an advice is not checked: the network decided.
fn card_verdict(
    state: &State,
    settings: &Settings,
    request: &Request<'_>,
    entry: &CardEntry,
    now: TimestampMs,
) -> CardVerdict {
    if request.class == MessageClass::AuthorizationAdvice {
        return CardVerdict::Pass { reset_pin_tries: false };
    }
    let facts = CardFacts {
        kind: entry.card.kind,
        status: entry.effective_status(),
        expiry: &entry.card.expiry,
        pin_tries: entry.effective_pin_tries(),
        cvc_encrypted: &entry.card.cvc_encrypted,
        pin_verification: entry.card.pin_verification.as_ref(),
    };
    let secrets = CardSecrets {
        keys: state.keys(),
        zone_pin_key: &settings.zone_pin_key,
        pin_tries_max: settings.pin_tries_max,
    };
    decision::check_card(request, &facts, now, &secrets)
}

/// The card update a verdict implies: a wrong PIN counts (and may lock the card), a right one
/// resets the count.
fn card_update_for(verdict: CardVerdict, entry: &CardEntry) -> Option<CardUpdate> {
    match verdict {
        CardVerdict::WrongPin { tries, locks } => {
            let mut update = entry.latest_update();
            update.pin_tries = tries;
            if locks {
                update.status = CardStatus::Locked(LockReason::PinTriesExceeded);
            }
            Some(update)
        }
        CardVerdict::Pass { reset_pin_tries: true } => Some(CardUpdate {
            pin_tries: 0,
            ..entry.latest_update()
        }),
        _ => None,
    }
}

/// Funding of a spend whose card passed its checks.
fn fund(
    state: &State,
    settings: &Settings,
    request: &Request<'_>,
    guard: ClaimGuard,
    mut submission: Submission,
    funding: &Funding,
    now: TimestampMs,
) -> Step {
    let mti = request.mti - u16::from(request.repeat);
    let currency = funding.user.currency_numeric;
    let decline = |mut submission: Submission, guard, action| {
        let answer = Answer::of(action);
        record(&mut submission, guard, mti, answer, None, now);
        Step::Submit(submission, answer)
    };
    let charged = decision::charged_amount(request, currency, |from| {
        state.fx_rate(from, currency, now).map(|rate| rate.rate)
    });
    let charged = match charged {
        Ok(charged) => charged,
        Err(action) => return decline(submission, guard, action),
    };
    match request.processing.unwrap_or(Processing::Unsupported) {
        Processing::Unsupported => return decline(submission, guard, ActionCode::FunctionNotSupported),
        Processing::BalanceInquiry => {
            let available = funding.user.lock().spendable();
            let answer = approved(state, available, currency);
            record(&mut submission, guard, mti, answer, None, now);
            return Step::Submit(submission, answer);
        }
        Processing::Refund => return refund(state, request, guard, submission, funding, charged.amount, now),
        Processing::Purchase | Processing::CashWithdrawal => {}
    }
    let fee = funding.authorization_fee(request, charged.amount, charged.conversion.is_some(), now);
    let advice = request.class == MessageClass::AuthorizationAdvice;
    let available = match reserve(&mut submission, funding, charged.amount, fee.total(), advice) {
        Ok(available) => available,
        Err(action) => return decline(submission, guard, action),
    };
    let hold = Placed {
        transaction: guard.transaction(),
        hold_id: state.next_id(IdKind::Hold),
        posted: request.class == MessageClass::Financial,
        ttl_ms: settings.hold_ttl_ms,
        now,
    };
    place_hold(state, &mut submission, funding, &charged, &fee, &hold);
    let answer = approved(state, available, currency);
    record(&mut submission, guard, mti, answer, Some(hold.hold_id), now);
    Step::Submit(submission, answer)
}

/// An approval with its code and the available balance for DE 54.
fn approved(state: &State, available: i64, currency: u16) -> Answer {
    Answer {
        action: ActionCode::Approved,
        approval_code: Some(approval_code(state)),
        available: Some((available, currency)),
    }
}

/// Reserves `amount` on the deposit (under the deposit model) and `amount + fees` on the user's
/// balance, all or nothing: deposit first (short: 1000), then the user's funds (short: 1016); an
/// advice is held even when short. Returns what the user has available after it.
fn reserve(
    submission: &mut Submission,
    funding: &Funding,
    amount: i64,
    fees: i64,
    advice: bool,
) -> Result<i64, ActionCode> {
    // The user pays amount + fees; the deposit secures the amount the network settles.
    let user_total = amount + fees;
    let mut cells: Vec<&BalanceCell> = Vec::with_capacity(2);
    if let Some(deposit) = &funding.deposit {
        cells.push(deposit);
    }
    cells.push(&funding.user);
    let mut guards = lock_balances(&cells);
    for (index, money) in guards.iter().enumerate() {
        let is_deposit = funding.deposit.is_some() && index == 0;
        if money.state != BalanceState::Active && !advice {
            return Err(ActionCode::DoNotHonour);
        }
        let needed = if is_deposit { amount } else { user_total };
        if money.spendable() < needed && !advice {
            return Err(if is_deposit {
                ActionCode::DoNotHonour
            } else {
                ActionCode::NotSufficientFunds
            });
        }
    }
    let last = guards.len() - 1;
    for (index, money) in guards.iter_mut().enumerate() {
        money.reserved += if index == last { user_total } else { amount };
    }
    let available = guards.last().map_or(0, |money| money.spendable());
    drop(guards);
    if let Some(deposit) = &funding.deposit {
        submission.release(Release::Funds {
            balance: deposit.clone(),
            amount,
        });
    }
    submission.release(Release::Funds {
        balance: funding.user.clone(),
        amount: user_total,
    });
    Ok(available)
}

/// The hold an approved spend places.
struct Placed {
    transaction: TransactionId,
    hold_id: i64,
    /// A 2200: posted at once (the hold is born completed).
    posted: bool,
    ttl_ms: i64,
    now: TimestampMs,
}

/// The hold, its fees, and the money: held, or posted at once for a 2200.
fn place_hold(
    state: &State,
    submission: &mut Submission,
    funding: &Funding,
    charged: &Charged,
    fee: &AuthorizationFee,
    placed: &Placed,
) {
    let (amount, hold_id, now) = (charged.amount, placed.hold_id, placed.now);
    submission.push(Change::InsertHold(Hold {
        id: hold_id,
        transaction: placed.transaction,
        card_id: funding.card_id,
        user_balance_id: funding.user.id,
        partner_balance_id: funding.deposit.as_ref().map(|cell| cell.id),
        amount,
        remaining: amount,
        status: if placed.posted {
            HoldStatus::Completed
        } else {
            HoldStatus::Open
        },
        created_at: now,
        expires_at: now + placed.ttl_ms,
    }));
    if fee.total() > 0 || charged.conversion.is_some() {
        submission.push(Change::InsertHoldFee(HoldFee {
            hold_id,
            kind: fee.kind,
            fee: fee.fee,
            conversion_fee: fee.conversion_fee,
            original: charged.conversion.map(|conversion| conversion.original),
            rate: charged.conversion.map(|conversion| conversion.rate),
        }));
    }
    let posting = Posting {
        kind: TransferKind::CardDebit,
        transaction: placed.transaction,
        hold_id: Some(hold_id),
        now,
    };
    if fee.waived > 0 {
        funding.fee_entries(submission, posting, &[(fee.kind, 0, fee.waived)]);
    }
    if placed.posted {
        post_debit(submission, state, funding, amount, posting);
        let fees = [
            (fee.kind, fee.fee, 0),
            (FeeType::CurrencyConversion, fee.conversion_fee, 0),
        ];
        funding.fee_entries(submission, posting, &fees);
        return;
    }
    if let Some(deposit) = &funding.deposit {
        submission.push(Change::BalanceDelta {
            balance_id: deposit.id,
            ledger: 0,
            held: amount,
        });
    }
    submission.push(Change::BalanceDelta {
        balance_id: funding.user.id,
        ledger: 0,
        held: amount + fee.total(),
    });
}

/// A refund: 2200 credits at once; a 2100 refund is approved without a hold
/// (crediting needs no funds), its completion posts the credit.
fn refund(
    state: &State,
    request: &Request<'_>,
    guard: ClaimGuard,
    mut submission: Submission,
    funding: &Funding,
    amount: i64,
    now: TimestampMs,
) -> Step {
    let mti = request.mti - u16::from(request.repeat);
    let transaction = guard.transaction();
    if request.class == MessageClass::Financial {
        post_credit(
            &mut submission,
            state,
            funding,
            amount,
            Posting {
                kind: TransferKind::CardCredit,
                transaction,
                hold_id: None,
                now,
            },
        );
    }
    // Funds that arrive count only once committed: report what is spendable now.
    let available = funding.user.lock().spendable();
    let answer = Answer {
        action: ActionCode::Approved,
        approval_code: Some(approval_code(state)),
        available: Some((available, funding.user.currency_numeric)),
    };
    record(&mut submission, guard, mti, answer, None, now);
    Step::Submit(submission, answer)
}
