//! Cards: kind, status, the lock reasons with their codes and irreversibility, card updates, and
//! asynchronous card requests.

use super::*;

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

/// Where an asynchronous card request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardRequestStatus {
    Pending,
    Done,
    Failed,
}

/// An asynchronous virtual card request (`…/cards/virtual/async`), kept so a
/// poll after a restart still finds it and a pending one is finished then.
/// The card and the `Done` record commit together, so a request never makes two cards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRequestRecord {
    /// UUID v7.
    pub id: String,
    pub customer_id: CustomerId,
    pub balance_id: BalanceId,
    pub program_id: Option<String>,
    pub status: CardRequestStatus,
    pub card_id: Option<CardId>,
    /// When failed: the error as the synchronous route would have answered, as JSON `{code, message}`.
    pub error: Option<String>,
    pub created_at: TimestampMs,
}
