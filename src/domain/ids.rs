//! Identities: the numeric ids of the records the switch decides on (one sequence each, continued
//! from the store), times in milliseconds since the epoch, and a transaction's identity on the
//! network.

use std::fmt;

pub type BalanceId = i64;

pub type CardId = i64;

pub type HoldId = i64;

pub type CustomerId = i64;

pub type CorporationId = i64;

pub type TransferId = i64;

/// Milliseconds since the Unix epoch, UTC.
pub type TimestampMs = i64;

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
