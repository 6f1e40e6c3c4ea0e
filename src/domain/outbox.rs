//! The notification outbox: what is delivered to partners as webhooks, across restarts.

use super::*;

/// A notification to a partner in the durable outbox, delivered as a webhook
/// POST until the partner's server acknowledges it (2xx). Written in the same
/// commit as the change that caused it; `payload` is the exact JSON body sent
/// on every attempt, so the signature and the idempotency id never change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// UUID v7; also the body's `id`, for the receiver's idempotency.
    pub id: String,
    pub partner_id: String,
    /// The balance it is about.
    pub balance_id: BalanceId,
    /// What happened, e.g. `PARTNER_BALANCE_LOW`.
    pub event: String,
    pub payload: String,
    pub created_at: TimestampMs,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (informational after a restart: undelivered ones are retried at once).
    pub next_attempt_at: TimestampMs,
    /// Why the last attempt failed (an HTTP status or a transport error, never the body).
    pub last_error: Option<String>,
    pub delivered_at: Option<TimestampMs>,
}

/// The event of a partner balance falling below its low-balance threshold.
pub const EVENT_PARTNER_BALANCE_LOW: &str = "PARTNER_BALANCE_LOW";
