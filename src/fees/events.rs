//! Event fees (account creation, card creation, money transfer) and the one
//! way every non-authorization fee is charged: [`charge_balance`].

use std::sync::Arc;

use rust_decimal::Decimal;

use super::{FeeEntry, FeeType, rounding};
use crate::state::{Balance, BalanceCell, CardId, Change, ProgramEntry, Release, State, Submission, TimestampMs};

/// What a fee charge is about.
#[derive(Debug, Clone, Default)]
pub struct ChargeContext {
    pub card_id: Option<CardId>,
    pub period_key: Option<String>,
    /// A credit to the balance in the same submission, already counted as available.
    pub incoming: i64,
}

/// Adds to `submission` the charge of `fee` (minor units) to `balance`: up to what is available
/// (plus `incoming`), the rest recorded as unpaid; `waived` is recorded as forgiven. The charged
/// part is reserved until the submission is durable. Returns the entry.
#[allow(clippy::too_many_arguments)]
pub fn charge_balance(
    submission: &mut Submission,
    program: &ProgramEntry,
    balance: &Arc<BalanceCell>,
    fee_type: FeeType,
    fee: i64,
    waived: i64,
    context: ChargeContext,
    now: TimestampMs,
) -> Option<FeeEntry> {
    let revenue = program.fee_balance?;
    if fee <= 0 && waived <= 0 {
        return None;
    }
    let charged = {
        let mut money = balance.lock();
        let charged = fee.min((money.spendable() + context.incoming).max(0));
        money.reserved += charged;
        charged
    };
    if charged > 0 {
        submission
            .push(Change::BalanceDelta {
                balance_id: balance.id,
                ledger: -charged,
                held: 0,
            })
            .push(Change::BalanceDelta {
                balance_id: revenue,
                ledger: charged,
                held: 0,
            })
            .release(Release::Funds {
                balance: balance.clone(),
                amount: charged,
            });
    }
    let entry = FeeEntry {
        id: super::entry_id(),
        fee_type,
        program_id: program.program.id.clone(),
        partner_id: program.program.partner_id.clone(),
        balance_id: balance.id,
        revenue_balance_id: revenue,
        card_id: context.card_id,
        hold_id: None,
        transaction: None,
        period_key: context.period_key,
        currency: balance.currency.clone(),
        amount: charged,
        waived,
        unpaid: fee - charged,
        created_at: now,
    };
    submission.push(Change::InsertFeeEntry(entry.clone()));
    Some(entry)
}

/// The exponent of a balance's currency (2 when unknown, which `Currency` never is for a balance).
pub fn exponent_of(balance: &BalanceCell) -> u32 {
    crate::domain::money::Currency::from_code(&balance.currency).map_or(2, |currency| currency.exponent)
}

/// A flat event fee (account or card creation) of the program's schedule in force, charged to
/// `balance` in `submission`.
pub fn charge_event(
    state: &State,
    submission: &mut Submission,
    program: &ProgramEntry,
    balance: &Arc<BalanceCell>,
    fee_type: FeeType,
    card_id: Option<CardId>,
) -> Option<FeeEntry> {
    let now = state.now_ms();
    let version = state.fee_schedule_at(&program.program.id, now)?;
    if !version.schedule.enabled {
        return None;
    }
    let amount: Decimal = match fee_type {
        FeeType::AccountCreation => version.schedule.account_creation,
        FeeType::CardCreation => version.schedule.card_creation,
        _ => return None,
    };
    let fee = rounding::to_minor_units(amount, exponent_of(balance))?;
    let context = ChargeContext {
        card_id,
        ..ChargeContext::default()
    };
    charge_balance(submission, program, balance, fee_type, fee, 0, context, now)
}

/// The account creation fee of a balance being opened under `program` (nothing moves: a new
/// balance is empty, so the fee is recorded unpaid).
pub fn opening_fee(state: &State, program: &ProgramEntry, balance: &Balance) -> Option<FeeEntry> {
    let revenue = program.fee_balance?;
    let version = state.fee_schedule_at(&program.program.id, balance.created_at)?;
    if !version.schedule.enabled {
        return None;
    }
    let exponent = crate::domain::money::Currency::from_code(&balance.currency).map_or(2, |currency| currency.exponent);
    let fee = rounding::to_minor_units(version.schedule.account_creation, exponent)?;
    (fee > 0).then(|| FeeEntry {
        id: super::entry_id(),
        fee_type: FeeType::AccountCreation,
        program_id: program.program.id.clone(),
        partner_id: program.program.partner_id.clone(),
        balance_id: balance.id,
        revenue_balance_id: revenue,
        card_id: None,
        hold_id: None,
        transaction: None,
        period_key: None,
        currency: balance.currency.clone(),
        amount: 0,
        waived: 0,
        unpaid: fee,
        created_at: balance.created_at,
    })
}

/// The money transfer fee of a reload of `amount` (credited to `balance` in the same submission).
pub fn charge_reload(
    state: &State,
    submission: &mut Submission,
    program: &ProgramEntry,
    balance: &Arc<BalanceCell>,
    amount: i64,
) -> Option<FeeEntry> {
    let now = state.now_ms();
    let version = state.fee_schedule_at(&program.program.id, now)?;
    let schedule = &version.schedule;
    if !schedule.enabled {
        return None;
    }
    let exponent = exponent_of(balance);
    let rule = schedule.money_transfer;
    let fee = rounding::fixed_plus_percent(rule.fixed, rule.percent, amount, exponent)?;
    let (fee, waived) = if schedule
        .amount_waiver(FeeType::MoneyTransfer, amount, exponent)
        .is_some()
    {
        (0, fee)
    } else {
        (fee, 0)
    };
    let context = ChargeContext {
        incoming: amount,
        ..ChargeContext::default()
    };
    charge_balance(
        submission,
        program,
        balance,
        FeeType::MoneyTransfer,
        fee,
        waived,
        context,
        now,
    )
}
