//! Fees and currency conversion (the seed's "Fee management").
//!
//! - [`schedule`]: what a program charges, versioned (effective-from, history kept), waivers as data,
//!   and the pure fee of an authorization.
//! - [`rounding`]: the ONE rounding rule (half to even, to the currency's minor unit).
//! - [`fx`]: the operator's rate table and conversion.
//! - [`periodic`]: periods and the background scheduler of per-card periodic fees.
//! - [`events`]: account creation, card creation and money transfer (reload) fees.
//!
//! # Money
//! A fee moves money from the user's balance to the partner's fee-revenue account (a system
//! balance `fees:<partner>` per currency), so money stays conserved. Every fee is recorded as a
//! [`FeeEntry`] — the fee's own ledger entry: what moved (`amount`, negative for a refund), what a
//! waiver forgave (`waived`) and what could not be collected (`unpaid`).
//!
//! # A balance too short for a fee
//! Event and periodic fees never take a balance below zero: the fee is charged up to what is
//! available and the rest is recorded as `unpaid` on its entry (the partner's debt report, in the
//! fee report). The card keeps working. Transaction fees are part of the funds check instead: an
//! authorization that cannot pay amount + fee is declined (1016).

pub mod events;
pub mod fx;
pub mod periodic;
pub mod rounding;
pub mod schedule;

use rust_decimal::Decimal;

pub use fx::FxRate;
pub use schedule::{FeeSchedule, FeeType, ScheduleVersion};

use crate::state::{BalanceId, CardId, HoldId, TimestampMs, TransactionId};

/// A fee's ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeEntry {
    /// UUID v7.
    pub id: String,
    pub fee_type: FeeType,
    pub program_id: String,
    pub partner_id: String,
    /// The user or corporate balance the fee is charged to.
    pub balance_id: BalanceId,
    /// The fee-revenue account the money went to (or came from, for a refund).
    pub revenue_balance_id: BalanceId,
    pub card_id: Option<CardId>,
    pub hold_id: Option<HoldId>,
    pub transaction: Option<TransactionId>,
    /// Periodic fees: the period charged (unique per card).
    pub period_key: Option<String>,
    /// ISO 4217 alphabetic code of the balance.
    pub currency: String,
    /// Minor units moved: positive charged, negative refunded.
    pub amount: i64,
    /// Minor units a waiver forgave.
    pub waived: i64,
    /// Minor units the balance could not pay.
    pub unpaid: i64,
    pub created_at: TimestampMs,
}

/// The fees of an authorization hold, and its currency conversion when there was one. The fees
/// still held or owed follow the hold's `remaining` in proportion ([`rounding::share`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldFee {
    pub hold_id: HoldId,
    pub kind: FeeType,
    /// Transaction fee at authorization, minor units of the balance currency.
    pub fee: i64,
    pub conversion_fee: i64,
    /// The billing amount and ISO 4217 numeric currency before conversion.
    pub original: Option<(i64, u16)>,
    /// The rate used (units of the balance currency per unit of the billing currency).
    pub rate: Option<Decimal>,
}

impl HoldFee {
    /// The fees that go with `remaining` of an authorization of `amount`: (transaction, conversion).
    pub fn shares(&self, remaining: i64, amount: i64) -> (i64, i64) {
        (
            rounding::share(self.fee, remaining, amount),
            rounding::share(self.conversion_fee, remaining, amount),
        )
    }

    pub fn total_share(&self, remaining: i64, amount: i64) -> i64 {
        let (fee, conversion) = self.shares(remaining, amount);
        fee + conversion
    }
}

/// Fee totals of one program, fee type and UTC day (what the report adds up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeeTotals {
    pub charged: i64,
    pub refunded: i64,
    pub waived: i64,
    pub unpaid: i64,
    pub entries: i64,
}

impl FeeTotals {
    pub fn of(entry: &FeeEntry) -> FeeTotals {
        FeeTotals {
            charged: entry.amount.max(0),
            refunded: (-entry.amount).max(0),
            waived: entry.waived,
            unpaid: entry.unpaid,
            entries: 1,
        }
    }

    pub fn add(&mut self, other: &FeeTotals) {
        self.charged += other.charged;
        self.refunded += other.refunded;
        self.waived += other.waived;
        self.unpaid += other.unpaid;
        self.entries += other.entries;
    }
}

pub const DAY_MS: i64 = 86_400_000;

/// The fee records loaded at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeeRecords {
    pub schedules: Vec<ScheduleVersion>,
    pub rates: Vec<FxRate>,
    /// Of the holds loaded.
    pub hold_fees: Vec<HoldFee>,
    /// (card, period key) of every periodic fee entry.
    pub charged_periods: Vec<(CardId, String)>,
    /// (program, fee type, UTC day number, totals).
    pub totals: Vec<(String, FeeType, i64, FeeTotals)>,
}

/// The fee-revenue system account purpose of a partner.
pub fn revenue_purpose(partner_id: &str) -> String {
    format!("fees:{partner_id}")
}

/// A new fee entry id (UUID v7: no shared sequence, ordered by time).
pub fn entry_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
