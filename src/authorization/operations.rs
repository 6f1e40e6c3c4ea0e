//! Operations: a typed request applied to the state.
//!
//! Each operation locks what it touches (a card, balances in id order, a
//! hold), asks `decision` what to do, reserves funds, builds one
//! [`Submission`] — the changes, the recorded answer, what to release — and
//! returns it with the answer to give once it is durable. Nothing here
//! awaits while holding a lock; waiting for a busy card or hold happens
//! outside, then the operation decides again from scratch.

use std::sync::Arc;

use super::ActionCode;
use super::decision::{self, CardFacts, CardSecrets, CardVerdict};
use super::request::{MessageClass, Original, Processing, Request};
use crate::crypto::pin_block::ZonePinKey;
use crate::fees::schedule::{AuthorizationFee, authorization_fee, in_force, transaction_kind};
use crate::fees::{FeeEntry, FeeType, HoldFee};
use crate::state::cells::lock_balances;
use crate::state::{
    BalanceCell, BalanceState, CardCell, CardStatus, CardUpdate, Change, ClaimGuard, FundingModel, Hold, HoldCell,
    HoldStatus, IdKind, LockReason, ProgramEntry, RecordedAnswer, Release, State, Submission, TimestampMs,
    TransactionId, Transfer, TransferKind,
};

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

/// The balances a card's spend touches.
struct Funding {
    card_id: i64,
    program: Arc<ProgramEntry>,
    /// The program's fee schedule versions.
    state_schedules: Arc<Vec<crate::fees::ScheduleVersion>>,
    user: Arc<BalanceCell>,
    /// Deposit model: the partner deposit balance, charged first.
    deposit: Option<Arc<BalanceCell>>,
}

impl Funding {
    fn of(state: &State, card_id: i64, balance_id: i64, program_id: &str) -> Option<Funding> {
        let program = state.program(program_id)?;
        let user = state.balance(balance_id)?;
        let deposit = match program.program.funding {
            FundingModel::PartnerDeposit => Some(state.balance(program.funding_balance)?),
            FundingModel::PartnerCredit => None,
        };
        Some(Funding {
            card_id,
            state_schedules: state.fee_schedules(program_id),
            program,
            user,
            deposit,
        })
    }

    /// Where the user side of a card debit goes: settlement, or under the
    /// deposit model the partner clearing account (the deposit pays the network).
    fn user_counterparty(&self) -> i64 {
        self.program.clearing_balance.unwrap_or(self.program.settlement_balance)
    }

    /// The fees of an authorization of `amount` under the schedule in force (none without a
    /// schedule or a fee-revenue account to pay them to).
    fn authorization_fee(
        &self,
        request: &Request<'_>,
        amount: i64,
        converted: bool,
        now: TimestampMs,
    ) -> AuthorizationFee {
        let kind = transaction_kind(
            request.processing == Some(Processing::CashWithdrawal),
            request.merchant_category,
            request.entry_mode,
        );
        let none = AuthorizationFee {
            kind,
            fee: 0,
            waived: 0,
            conversion_fee: 0,
        };
        if self.program.fee_balance.is_none() {
            return none;
        }
        let versions = self.state_schedules.as_ref();
        let exponent = crate::money::Currency::from_numeric(self.user.currency_numeric).map_or(2, |c| c.exponent);
        match in_force(versions, now) {
            Some(version) => authorization_fee(&version.schedule, kind, amount, converted, exponent),
            None => none,
        }
    }

    /// Moves fees between the user and the fee-revenue account and records their entries:
    /// (type, amount moved — negative returns it —, amount waived), zeros skipped.
    fn fee_entries(&self, submission: &mut Submission, posting: Posting, fees: &[(FeeType, i64, i64)]) {
        let Some(revenue) = self.program.fee_balance else {
            return;
        };
        for &(fee_type, amount, waived) in fees {
            if amount == 0 && waived == 0 {
                continue;
            }
            if amount != 0 {
                submission
                    .push(Change::BalanceDelta {
                        balance_id: self.user.id,
                        ledger: -amount,
                        held: 0,
                    })
                    .push(Change::BalanceDelta {
                        balance_id: revenue,
                        ledger: amount,
                        held: 0,
                    });
            }
            submission.push(Change::InsertFeeEntry(FeeEntry {
                id: crate::fees::entry_id(),
                fee_type,
                program_id: self.program.program.id.clone(),
                partner_id: self.program.program.partner_id.clone(),
                balance_id: self.user.id,
                revenue_balance_id: revenue,
                card_id: Some(self.card_id),
                hold_id: posting.hold_id,
                transaction: Some(posting.transaction),
                period_key: None,
                currency: self.user.currency.clone(),
                amount,
                waived,
                unpaid: 0,
                created_at: posting.now,
            }));
        }
    }
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

/// 2100, 2120, 2200: card checks, then funds.
pub fn spend(state: &State, settings: &Settings, request: &Request<'_>, guard: &mut Option<ClaimGuard>) -> Step {
    let now = state.now_ms();
    let mti = request.mti - u16::from(request.repeat);
    let pan = request.pan.unwrap_or_default();
    let Some(card_cell) = state.card_by_pan(pan.as_bytes()) else {
        return recorded_only(take(guard), mti, Answer::of(ActionCode::InvalidCardNumber), now);
    };
    let advice = request.class == MessageClass::AuthorizationAdvice;
    let mut entry = card_cell.lock();
    let (card_id, balance_id, program_id) = (entry.card.id, entry.card.balance_id, entry.card.program_id.clone());
    let verdict = if advice {
        CardVerdict::Pass { reset_pin_tries: false }
    } else {
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
    };
    // A verdict that changes the card waits for the card's update in flight.
    let card_update = match verdict {
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
    };
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
    let amount = charged.amount;
    let processing = request.processing.unwrap_or(Processing::Unsupported);
    let advice = request.class == MessageClass::AuthorizationAdvice;
    match processing {
        Processing::Unsupported => return decline(submission, guard, ActionCode::FunctionNotSupported),
        Processing::BalanceInquiry => {
            let available = funding.user.lock().spendable();
            let answer = Answer {
                action: ActionCode::Approved,
                approval_code: Some(approval_code(state)),
                available: Some((available, currency)),
            };
            record(&mut submission, guard, mti, answer, None, now);
            return Step::Submit(submission, answer);
        }
        Processing::Refund => return refund(state, request, guard, submission, funding, amount, now),
        Processing::Purchase | Processing::CashWithdrawal => {}
    }
    let fee = funding.authorization_fee(request, amount, charged.conversion.is_some(), now);
    // The user pays amount + fees; the deposit secures the amount the network settles.
    let user_total = amount + fee.total();
    // Reserve all or nothing: deposit first (short → 1000), then the user's funds (short → 1016).
    let mut cells: Vec<&BalanceCell> = Vec::with_capacity(2);
    if let Some(deposit) = &funding.deposit {
        cells.push(deposit);
    }
    cells.push(&funding.user);
    let mut guards = lock_balances(&cells);
    for (index, money) in guards.iter().enumerate() {
        let is_deposit = funding.deposit.is_some() && index == 0;
        let short = if is_deposit {
            ActionCode::DoNotHonour
        } else {
            ActionCode::NotSufficientFunds
        };
        if money.state != BalanceState::Active && !advice {
            drop(guards);
            return decline(submission, guard, ActionCode::DoNotHonour);
        }
        let needed = if is_deposit { amount } else { user_total };
        if money.spendable() < needed && !advice {
            drop(guards);
            return decline(submission, guard, short);
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
    let transaction = guard.transaction();
    let hold_id = state.next_id(IdKind::Hold);
    let posted = request.class == MessageClass::Financial;
    submission.push(Change::InsertHold(Hold {
        id: hold_id,
        transaction,
        card_id: funding.card_id,
        user_balance_id: funding.user.id,
        partner_balance_id: funding.deposit.as_ref().map(|cell| cell.id),
        amount,
        remaining: amount,
        status: if posted {
            HoldStatus::Completed
        } else {
            HoldStatus::Open
        },
        created_at: now,
        expires_at: now + settings.hold_ttl_ms,
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
        transaction,
        hold_id: Some(hold_id),
        now,
    };
    if fee.waived > 0 {
        funding.fee_entries(&mut submission, posting, &[(fee.kind, 0, fee.waived)]);
    }
    if posted {
        post_debit(&mut submission, state, funding, amount, posting);
        let fees = [
            (fee.kind, fee.fee, 0),
            (FeeType::CurrencyConversion, fee.conversion_fee, 0),
        ];
        funding.fee_entries(&mut submission, posting, &fees);
    } else {
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
            held: user_total,
        });
    }
    let answer = Answer {
        action: ActionCode::Approved,
        approval_code: Some(approval_code(state)),
        available: Some((available, currency)),
    };
    record(&mut submission, guard, mti, answer, Some(hold_id), now);
    Step::Submit(submission, answer)
}

/// Posts a card debit: the user's funds to settlement (or clearing), and under
/// the deposit model the deposit to settlement.
fn post_debit(submission: &mut Submission, state: &State, funding: &Funding, amount: i64, posting: Posting) {
    let settlement = funding.program.settlement_balance;
    if let Some(deposit) = &funding.deposit {
        move_money(submission, state, posting, deposit.id, settlement, amount);
    }
    move_money(
        submission,
        state,
        posting,
        funding.user.id,
        funding.user_counterparty(),
        amount,
    );
}

/// Returns a posted amount: the reverse of `post_debit`.
fn post_credit(submission: &mut Submission, state: &State, funding: &Funding, amount: i64, posting: Posting) {
    let settlement = funding.program.settlement_balance;
    if let Some(deposit) = &funding.deposit {
        move_money(submission, state, posting, settlement, deposit.id, amount);
    }
    move_money(
        submission,
        state,
        posting,
        funding.user_counterparty(),
        funding.user.id,
        amount,
    );
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

/// What a claim on the original transaction of a completion or reversal found.
#[derive(Debug)]
pub enum OriginalState {
    /// The original was never seen: this guard now holds its identity.
    Unknown(ClaimGuard),
    /// The original was answered.
    Answered(RecordedAnswer),
}

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
    let mut submission = Submission::default();
    let hold_cell = match original_state.as_ref() {
        Some(OriginalState::Answered(answer)) => answer.hold_id.and_then(|id| state.hold(id)),
        _ => None,
    };
    let Some(hold_cell) = hold_cell else {
        // No hold to convert: the network completed anyway, so post the debit
        // (and remember the original so that, arriving late, it holds nothing).
        if let Some(OriginalState::Unknown(original_guard)) = original_state.take() {
            let declined = Answer::of(ActionCode::DoNotHonour);
            record(&mut submission, original_guard, original.mti, declined, None, now);
        }
        let transaction = guard.as_ref().map(ClaimGuard::transaction);
        if let Some(transaction) = transaction {
            force_post(state, request, &mut submission, amount, transaction, now);
        }
        record(&mut submission, take(guard), mti, accepted, None, now);
        return Step::Submit(submission, accepted);
    };
    let mut entry = hold_cell.lock();
    if entry.busy {
        drop(entry);
        return Step::WaitHold(hold_cell);
    }
    let hold = entry.hold.clone();
    if hold.status != HoldStatus::Open {
        // Already completed, reversed or expired: nothing held to convert.
        drop(entry);
        record(&mut submission, take(guard), mti, accepted, Some(hold.id), now);
        return Step::Submit(submission, accepted);
    }
    let Some(funding) = funding_of_hold(state, &hold) else {
        drop(entry);
        tracing::error!(hold = hold.id, "hold's card, balance or program missing");
        return recorded_only(take(guard), mti, Answer::of(ActionCode::SystemMalfunction), now);
    };
    entry.busy = true;
    drop(entry);
    submission.release(Release::Hold(hold_cell.clone()));
    let hold_fee = state.hold_fee(hold.id);
    let currency = request.charged().map(|(_, currency)| currency);
    let amount = in_balance_currency(amount, currency, funding.user.currency_numeric, hold_fee.as_ref());
    // The fees follow the posted amount in proportion (rounded once, see fees::rounding).
    let (fee_held, fee_posted) = match &hold_fee {
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
    post_debit(&mut submission, state, &funding, amount, posting);
    if let Some(fee) = &hold_fee {
        let fees = [
            (fee.kind, fee_posted.0, 0),
            (FeeType::CurrencyConversion, fee_posted.1, 0),
        ];
        funding.fee_entries(&mut submission, posting, &fees);
    }
    record(&mut submission, take(guard), mti, accepted, Some(hold.id), now);
    Step::Submit(submission, accepted)
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

fn funding_of_hold(state: &State, hold: &Hold) -> Option<Funding> {
    let card = state.card(hold.card_id)?;
    let program_id = card.lock().card.program_id.clone();
    let mut funding = Funding::of(state, hold.card_id, hold.user_balance_id, &program_id)?;
    // The hold names the balances it touched; they are the ones to release.
    funding.deposit = match hold.partner_balance_id {
        Some(id) => Some(state.balance(id)?),
        None => None,
    };
    Some(funding)
}

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
    let mut submission = Submission::default();
    let answered = match original_state.as_ref() {
        Some(OriginalState::Answered(answered)) => answered.clone(),
        _ => {
            // Remember the original: arriving after its reversal, it is declined.
            if let Some(OriginalState::Unknown(original_guard)) = original_state.take() {
                let declined = Answer::of(ActionCode::DoNotHonour);
                record(&mut submission, original_guard, original.mti, declined, None, now);
            }
            let not_found = Answer::of(ActionCode::OriginalNotFound);
            record(&mut submission, take(guard), mti, not_found, None, now);
            return Step::Submit(submission, not_found);
        }
    };
    let Some(hold_cell) = answered.hold_id.and_then(|id| state.hold(id)) else {
        if answered.action_code == *ActionCode::Approved.code() && request.processing == Some(Processing::Refund) {
            // Taking back a refund needs a debit decision this switch does not make yet.
            return recorded_only(take(guard), mti, Answer::of(ActionCode::FunctionNotSupported), now);
        }
        // The original was declined: nothing was held.
        return recorded_only(take(guard), mti, accepted, now);
    };
    let mut entry = hold_cell.lock();
    if entry.busy {
        drop(entry);
        return Step::WaitHold(hold_cell);
    }
    let hold = entry.hold.clone();
    let hold_fee = state.hold_fee(hold.id);
    let balance_currency = state
        .balance(hold.user_balance_id)
        .map_or(0, |cell| cell.currency_numeric);
    let target = match request.function_code {
        Some(401) => request.amount.map_or(0, |amount| {
            in_balance_currency(amount as i64, request.currency, balance_currency, hold_fee.as_ref())
        }),
        _ => 0,
    };
    let give_back = (hold.remaining - target).max(0);
    if give_back == 0 || !matches!(hold.status, HoldStatus::Open | HoldStatus::Completed) {
        drop(entry);
        record(&mut submission, take(guard), mti, accepted, Some(hold.id), now);
        return Step::Submit(submission, accepted);
    }
    let Some(funding) = funding_of_hold(state, &hold) else {
        drop(entry);
        tracing::error!(hold = hold.id, "hold's card, balance or program missing");
        return recorded_only(take(guard), mti, Answer::of(ActionCode::SystemMalfunction), now);
    };
    entry.busy = true;
    drop(entry);
    submission.release(Release::Hold(hold_cell.clone()));
    let remaining = hold.remaining - give_back;
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
                held: -give_back,
            });
        }
        submission.push(Change::BalanceDelta {
            balance_id: funding.user.id,
            ledger: 0,
            held: -(give_back + fee_back.0 + fee_back.1),
        });
    } else {
        let posting = Posting {
            kind: TransferKind::ReversalCredit,
            transaction: hold.transaction,
            hold_id: Some(hold.id),
            now,
        };
        post_credit(&mut submission, state, &funding, give_back, posting);
        if let Some(fee) = &hold_fee {
            let refunds = [
                (fee.kind, -fee_back.0, 0),
                (FeeType::CurrencyConversion, -fee_back.1, 0),
            ];
            funding.fee_entries(&mut submission, posting, &refunds);
        }
    }
    record(&mut submission, take(guard), mti, accepted, Some(hold.id), now);
    Step::Submit(submission, accepted)
}

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
