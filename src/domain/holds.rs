//! Holds (funds an authorization set aside) and the answers recorded for transactions.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoldStatus {
    Open,
    Completed,
    Reversed,
    Expired,
}

/// An authorization hold: funds reserved on the user balance and, under the
/// deposit model, on the partner deposit balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: HoldId,
    pub transaction: TransactionId,
    pub card_id: CardId,
    pub user_balance_id: BalanceId,
    pub partner_balance_id: Option<BalanceId>,
    /// Amount first held, in the balance currency's minor units.
    pub amount: i64,
    /// Open: the amount still held (lowered by partial reversals). Completed:
    /// the posted amount not reversed (a completion may post more or less than
    /// was held). Reversed or expired: zero.
    pub remaining: i64,
    pub status: HoldStatus,
    pub created_at: TimestampMs,
    pub expires_at: TimestampMs,
}

/// The answer given to a transaction, kept for duplicate detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedAnswer {
    pub transaction: TransactionId,
    /// The request MTI (the original's, for a repeat).
    pub mti: u16,
    /// DE 39, four digits.
    pub action_code: [u8; 4],
    /// DE 38, on approvals.
    pub approval_code: Option<[u8; 6]>,
    /// Available balance reported in DE 54 (minor units, balance currency numeric code).
    pub available: Option<(i64, u16)>,
    pub hold_id: Option<HoldId>,
    pub created_at: TimestampMs,
}
