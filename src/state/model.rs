//! The domain: partners and their card programs, customers, corporations,
//! balances, cards, holds, ledger transfers and recorded answers.
//!
//! Amounts are integer minor units (`i64`) of the owning balance's currency:
//! exact, cheap on the hot path, and what both databases and the wire carry.
//! `rust_decimal` appears where fractions can arise (fees, conversion, the API).

use std::fmt;

pub type BalanceId = i64;
pub type CardId = i64;
pub type HoldId = i64;
pub type CustomerId = i64;
pub type CorporationId = i64;
pub type TransferId = i64;
/// Milliseconds since the Unix epoch, UTC.
pub type TimestampMs = i64;

/// How a card program's spend is secured (the seed's "Partner Balances").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundingModel {
    /// The user balance is held by the platform; reloads charge the partner credit balance.
    PartnerCredit,
    /// Each authorization charges the partner deposit balance and locks the user's funds.
    PartnerDeposit,
}

/// A partner (tenant): the institution using the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub created_at: TimestampMs,
}

/// A card program: BIN, currency, funding model, card validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub id: String,
    pub partner_id: String,
    pub bin: String,
    /// ISO 4217 alphabetic code.
    pub currency: String,
    pub funding: FundingModel,
    pub validity_months: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KycStatus {
    NotStarted,
    Pending,
    Verified,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: CustomerId,
    pub partner_id: String,
    /// The partner's own reference for the user (unique per partner), if given.
    pub external_ref: Option<String>,
    pub kyc_status: KycStatus,
    pub created_at: TimestampMs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KybStatus {
    Submitted,
    Approved,
    Rejected,
    OnHold,
}

/// A corporation; its id is the `dcCorporationId` returned to partners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corporation {
    pub id: CorporationId,
    pub partner_id: String,
    pub name: String,
    pub kyb_status: KybStatus,
    pub created_at: TimestampMs,
}

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
    pub created_at: TimestampMs,
}

impl Balance {
    pub fn available(&self) -> i64 {
        self.ledger - self.held
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardKind {
    Virtual,
    Physical,
}

/// The card lock reasons of the contract (network-interface.md, "Card lock reasons").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockReason {
    Lost = 1,
    Stolen = 2,
    PendingQuery = 3,
    Consolidation = 4,
    Inactive = 5,
    PinTriesExceeded = 6,
    SuspectedFraud = 7,
    Replaced = 8,
    OfflinePinTriesExceeded = 11,
}

impl LockReason {
    pub fn from_code(code: u8) -> Option<LockReason> {
        Some(match code {
            1 => LockReason::Lost,
            2 => LockReason::Stolen,
            3 => LockReason::PendingQuery,
            4 => LockReason::Consolidation,
            5 => LockReason::Inactive,
            6 => LockReason::PinTriesExceeded,
            7 => LockReason::SuspectedFraud,
            8 => LockReason::Replaced,
            11 => LockReason::OfflinePinTriesExceeded,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    /// Lost, stolen, inactive and replaced cards can never be unlocked.
    pub fn is_irreversible(self) -> bool {
        matches!(
            self,
            LockReason::Lost | LockReason::Stolen | LockReason::Inactive | LockReason::Replaced
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardStatus {
    /// Physical card ordered, not yet personalised.
    Ordered,
    /// Physical card linked to the user, waiting for activation.
    Linked,
    Active,
    Locked(LockReason),
    Removed,
}

/// A card. Its PAN is kept only encrypted (`pan_encrypted`) and as a keyed
/// hash (`pan_hash`) for look-up; `pan_first6`/`pan_last4` are what may be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub id: CardId,
    pub balance_id: BalanceId,
    pub program_id: String,
    pub kind: CardKind,
    pub status: CardStatus,
    pub pan_hash: [u8; 32],
    pub pan_encrypted: Vec<u8>,
    pub pan_first6: String,
    pub pan_last4: String,
    /// YYMM.
    pub expiry: String,
    pub cvc_encrypted: Vec<u8>,
    /// Keyed verification value of the PIN, when one is set.
    pub pin_verification: Option<[u8; 32]>,
    /// Wrong PINs in a row.
    pub pin_tries: u32,
    pub created_at: TimestampMs,
}

/// The mutable part of a card, written whole on every card update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardUpdate {
    pub card_id: CardId,
    pub status: CardStatus,
    pub cvc_encrypted: Vec<u8>,
    pub pin_verification: Option<[u8; 32]>,
    pub pin_tries: u32,
}

/// A transaction's identity on the network: DE 32 + DE 11 + DE 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId {
    /// DE 32 digits as a number, with its digit count (leading zeros matter).
    pub acquirer: u64,
    pub acquirer_digits: u8,
    /// DE 11.
    pub stan: u32,
    /// DE 12, YYMMDDhhmmss as a number.
    pub local_time: u64,
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:0width$}/{:06}/{:012}",
            self.acquirer,
            self.stan,
            self.local_time,
            width = self.acquirer_digits as usize
        )
    }
}

impl TransactionId {
    /// Parses the `Display` form (as stored in the databases).
    pub fn parse(text: &str) -> Option<TransactionId> {
        let mut parts = text.split('/');
        let acquirer = parts.next()?;
        let stan = parts.next()?;
        let local_time = parts.next()?;
        if parts.next().is_some() || acquirer.len() > 11 || stan.len() != 6 || local_time.len() != 12 {
            return None;
        }
        Some(TransactionId {
            acquirer: acquirer.parse().ok()?,
            acquirer_digits: acquirer.len() as u8,
            stan: stan.parse().ok()?,
            local_time: local_time.parse().ok()?,
        })
    }
}

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
