//! Balances (user, corporate, partner credit and deposit, system accounts) and the money movements
//! between them (ledger transfers).

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BalanceKind {
    User,
    Corporate,
    PartnerCredit,
    PartnerDeposit,
    /// The platform's own accounts that are the other side of card spend
    /// (network settlement) and of user-fund debits under the deposit model.
    /// They make every movement double-entry.
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BalanceState {
    Active,
    Blocked,
    Closed,
}

/// Who owns a balance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    Customer(CustomerId),
    Corporation(CorporationId),
    Partner(String),
    /// A system account, by purpose (e.g. "settlement").
    System(String),
}

/// A balance (the seed's "account"). `held` is the sum of its open holds;
/// available = ledger − held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub id: BalanceId,
    pub kind: BalanceKind,
    pub owner: Owner,
    pub partner_id: String,
    /// ISO 4217 alphabetic code.
    pub currency: String,
    pub ledger: i64,
    pub held: i64,
    pub state: BalanceState,
    /// Partner balances: a notification is due when available falls below it.
    pub low_balance_threshold: Option<i64>,
    /// User and corporate balances: the card program they work under, once bound.
    pub program_id: Option<String>,
    pub created_at: TimestampMs,
}

impl Balance {
    pub fn available(&self) -> i64 {
        self.ledger - self.held
    }
}

/// Why money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferKind {
    /// Money entering the platform from outside (a partner's bank transfer).
    ExternalLoad,
    /// Partner credit balance → user balance.
    Reload,
    /// A completed authorization or a purchase/withdrawal.
    CardDebit,
    /// A refund to the card.
    CardCredit,
    /// A posted debit returned by a reversal.
    ReversalCredit,
}

/// A double-entry movement: `amount` leaves `debit_balance_id` and enters
/// `credit_balance_id`. An external load has no debit side inside the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub kind: TransferKind,
    pub debit_balance_id: Option<BalanceId>,
    pub credit_balance_id: BalanceId,
    pub amount: i64,
    pub transaction: Option<TransactionId>,
    pub hold_id: Option<HoldId>,
    pub created_at: TimestampMs,
}

/// The partner that owns the platform's own (system) accounts.
pub const PLATFORM_PARTNER: &str = "antaca";

/// System account purposes.
pub const SETTLEMENT: &str = "settlement";

/// The deposit-model clearing account of a partner.
pub fn clearing_purpose(partner_id: &str) -> String {
    format!("clearing:{partner_id}")
}

/// The fee-revenue system account purpose of a partner.
pub fn revenue_purpose(partner_id: &str) -> String {
    format!("fees:{partner_id}")
}
