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
pub mod periodic;

pub use crate::domain::fees::{
    DAY_MS, FeeEntry, FeeRecords, FeeSchedule, FeeTotals, FeeType, FxRate, HoldFee, ScheduleVersion, fx, rounding,
    schedule,
};
pub use crate::domain::revenue_purpose;

/// A new fee entry id (UUID v7: no shared sequence, ordered by time).
pub fn entry_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
