//! The balances a card's spend touches, and the postings between them.

use std::sync::Arc;

use super::Posting;
use super::move_money;
use crate::authorization::request::{Processing, Request};
use crate::domain::fees::schedule::{AuthorizationFee, authorization_fee, in_force, transaction_kind};
use crate::domain::fees::{FeeEntry, FeeType};
use crate::state::{BalanceCell, Change, FundingModel, Hold, ProgramEntry, State, Submission, TimestampMs};

/// The balances a card's spend touches.
pub(super) struct Funding {
    pub(super) card_id: i64,
    pub(super) program: Arc<ProgramEntry>,
    /// The program's fee schedule versions.
    pub(super) state_schedules: Arc<Vec<crate::domain::fees::ScheduleVersion>>,
    pub(super) user: Arc<BalanceCell>,
    /// Deposit model: the partner deposit balance, charged first.
    pub(super) deposit: Option<Arc<BalanceCell>>,
}

impl Funding {
    pub(super) fn of(state: &State, card_id: i64, balance_id: i64, program_id: &str) -> Option<Funding> {
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
    pub(super) fn user_counterparty(&self) -> i64 {
        self.program.clearing_balance.unwrap_or(self.program.settlement_balance)
    }

    /// The fees of an authorization of `amount` under the schedule in force (none without a
    /// schedule or a fee-revenue account to pay them to).
    pub(super) fn authorization_fee(
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
        let exponent =
            crate::domain::money::Currency::from_numeric(self.user.currency_numeric).map_or(2, |c| c.exponent);
        match in_force(versions, now) {
            Some(version) => authorization_fee(&version.schedule, kind, amount, converted, exponent),
            None => none,
        }
    }

    /// Moves fees between the user and the fee-revenue account and records their entries:
    /// (type, amount moved — negative returns it —, amount waived), zeros skipped.
    pub(super) fn fee_entries(&self, submission: &mut Submission, posting: Posting, fees: &[(FeeType, i64, i64)]) {
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

/// Posts a card debit: the user's funds to settlement (or clearing), and under
/// the deposit model the deposit to settlement.
pub(super) fn post_debit(submission: &mut Submission, state: &State, funding: &Funding, amount: i64, posting: Posting) {
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
pub(super) fn post_credit(
    submission: &mut Submission,
    state: &State,
    funding: &Funding,
    amount: i64,
    posting: Posting,
) {
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

pub(super) fn funding_of_hold(state: &State, hold: &Hold) -> Option<Funding> {
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
