//! Fee records and rules: what a program charges (versioned schedules, waivers as data, the pure
//! fee of an authorization), the one rounding rule, FX rates and conversion, and the ledger entry
//! of every fee charged.

pub mod fx;
pub mod rounding;
pub mod schedule;

use rust_decimal::Decimal;

pub use fx::FxRate;
pub use schedule::{FeeSchedule, FeeType, ScheduleVersion};

use super::{BalanceId, CardId, HoldId, TimestampMs, TransactionId};

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
