//! Where time comes from: decisions receive `now` from a [`Clock`]; tests move a [`ManualClock`].

use std::sync::atomic::{AtomicI64, Ordering};

use crate::domain::TimestampMs;

/// Where time comes from; decisions receive `now` from it (tests inject their own).
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now_ms(&self) -> TimestampMs;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> TimestampMs {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that moves only when told (tests, simulation).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(now_ms: TimestampMs) -> Self {
        Self(AtomicI64::new(now_ms))
    }
    pub fn set(&self, now_ms: TimestampMs) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
    pub fn advance(&self, by_ms: i64) {
        self.0.fetch_add(by_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> TimestampMs {
        self.0.load(Ordering::SeqCst)
    }
}
