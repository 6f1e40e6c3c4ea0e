//! The in-memory working copy: committed state plus what is pending.
//!
//! Memory holds what the database holds (changes are applied here only after
//! their batch committed, in commit order) plus, for decisions, what is in
//! flight: funds reserved by requests not yet durable, and card or hold
//! updates waiting for their commit. Decisions read committed state minus
//! reservations, so they are conservative: an in-flight debit already counts,
//! an in-flight credit does not count yet.
//!
//! Locking: each balance, card and hold has its own mutex, held for
//! nanoseconds and never across an `.await`. Several balances are locked in
//! ascending id order (`lock_balances`), so two requests cannot deadlock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::domain::*;

/// A balance's money: committed amounts plus reservations in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceMoney {
    pub ledger: i64,
    pub held: i64,
    /// Decreases of available decided but not yet committed.
    pub reserved: i64,
    pub state: BalanceState,
}

impl BalanceMoney {
    /// What a decision may spend: committed available minus what is reserved.
    pub fn spendable(&self) -> i64 {
        self.ledger - self.held - self.reserved
    }
}

/// What [`BalanceCell`] stores for "no low-balance threshold" (thresholds are never negative).
const NO_THRESHOLD: i64 = i64::MIN;

/// A balance: fixed attributes and its locked money.
#[derive(Debug)]
pub struct BalanceCell {
    pub id: BalanceId,
    pub kind: BalanceKind,
    pub owner: Owner,
    pub partner_id: String,
    pub currency: String,
    pub currency_numeric: u16,
    /// The low-balance threshold; [`NO_THRESHOLD`] when none (see [`BalanceCell::low_balance_threshold`]).
    low_balance_threshold: AtomicI64,
    pub program_id: Option<String>,
    pub created_at: TimestampMs,
    money: Mutex<BalanceMoney>,
}

impl BalanceCell {
    pub fn new(balance: &Balance) -> Self {
        let currency_numeric = crate::domain::money::Currency::from_code(&balance.currency).map_or(0, |c| c.numeric);
        Self {
            id: balance.id,
            kind: balance.kind,
            owner: balance.owner.clone(),
            partner_id: balance.partner_id.clone(),
            currency: balance.currency.clone(),
            currency_numeric,
            low_balance_threshold: AtomicI64::new(balance.low_balance_threshold.unwrap_or(NO_THRESHOLD)),
            program_id: balance.program_id.clone(),
            created_at: balance.created_at,
            money: Mutex::new(BalanceMoney {
                ledger: balance.ledger,
                held: balance.held,
                reserved: 0,
                state: balance.state,
            }),
        }
    }

    pub fn low_balance_threshold(&self) -> Option<i64> {
        let threshold = self.low_balance_threshold.load(Ordering::Relaxed);
        (threshold != NO_THRESHOLD).then_some(threshold)
    }

    /// Applies a committed threshold change.
    pub fn set_low_balance_threshold(&self, threshold: Option<i64>) {
        self.low_balance_threshold
            .store(threshold.unwrap_or(NO_THRESHOLD), Ordering::Relaxed);
    }

    pub fn lock(&self) -> MutexGuard<'_, BalanceMoney> {
        // A panic while holding this lock is a bug already reported; the data stays usable.
        self.money.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The committed balance, as the database holds it.
    pub fn snapshot(&self) -> Balance {
        let money = self.lock();
        Balance {
            id: self.id,
            kind: self.kind,
            owner: self.owner.clone(),
            partner_id: self.partner_id.clone(),
            currency: self.currency.clone(),
            ledger: money.ledger,
            held: money.held,
            state: money.state,
            low_balance_threshold: self.low_balance_threshold(),
            program_id: self.program_id.clone(),
            created_at: self.created_at,
        }
    }
}

/// Locks several distinct balances in ascending id order (the deadlock-free
/// order). The guards come back in the order of `cells`.
pub fn lock_balances<'a>(cells: &[&'a BalanceCell]) -> Vec<MutexGuard<'a, BalanceMoney>> {
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by_key(|&index| cells[index].id);
    assert!(
        order.windows(2).all(|pair| cells[pair[0]].id != cells[pair[1]].id),
        "a balance may appear only once in a multi-balance lock"
    );
    let mut guards: Vec<Option<MutexGuard<'a, BalanceMoney>>> = (0..cells.len()).map(|_| None).collect();
    for index in order {
        guards[index] = Some(cells[index].lock());
    }
    guards
        .into_iter()
        .map(|guard| guard.expect("every balance was locked"))
        .collect()
}

/// A card: committed state plus the update in flight, if any.
#[derive(Debug)]
pub struct CardEntry {
    pub card: Card,
    /// The latest update submitted and not yet committed. Only one at a time:
    /// a second updater waits (`CardCell::changed`) so updates commit in order.
    pub pending: Option<CardUpdate>,
}

impl CardEntry {
    /// The status decisions use: a pending lock or removal already counts,
    /// a pending unlock does not yet.
    pub fn effective_status(&self) -> CardStatus {
        match &self.pending {
            Some(update) if !matches!(update.status, CardStatus::Active) => update.status,
            _ => self.card.status,
        }
    }

    /// Wrong PIN tries decisions use: the higher of committed and pending.
    pub fn effective_pin_tries(&self) -> u32 {
        self.pending
            .as_ref()
            .map_or(self.card.pin_tries, |update| update.pin_tries.max(self.card.pin_tries))
    }

    /// The card's mutable state as it will be once the pending update commits.
    pub fn latest_update(&self) -> CardUpdate {
        self.pending.clone().unwrap_or_else(|| CardUpdate {
            card_id: self.card.id,
            status: self.card.status,
            cvc_encrypted: self.card.cvc_encrypted.clone(),
            pin_verification: self.card.pin_verification,
            pin_tries: self.card.pin_tries,
        })
    }
}

#[derive(Debug)]
pub struct CardCell {
    entry: Mutex<CardEntry>,
    /// Woken when a pending update commits or fails.
    pub changed: Notify,
}

impl CardCell {
    pub fn new(card: Card) -> Self {
        Self {
            entry: Mutex::new(CardEntry { card, pending: None }),
            changed: Notify::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, CardEntry> {
        self.entry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A hold: committed state, and whether an operation on it is in flight.
#[derive(Debug)]
pub struct HoldEntry {
    pub hold: Hold,
    /// True while a completion, reversal or expiry of this hold is in flight;
    /// the next operation waits (`HoldCell::changed`) and then decides again.
    pub busy: bool,
}

#[derive(Debug)]
pub struct HoldCell {
    entry: Mutex<HoldEntry>,
    pub changed: Notify,
}

impl HoldCell {
    pub fn new(hold: Hold) -> Self {
        Self {
            entry: Mutex::new(HoldEntry { hold, busy: false }),
            changed: Notify::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, HoldEntry> {
        self.entry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The request being decided for a transaction identity, which its duplicates wait for.
#[derive(Debug, Default)]
pub struct PendingAnswer {
    pub decided: Notify,
    /// Set when the decision could not be made durable (it was answered 9109): the duplicates that
    /// waited for it get that answer too instead of deciding afresh. Otherwise a copy sent on a
    /// connection the network had given up on could be approved while the copy it still listened
    /// to was answered 9109 (the chaos run's seed 11).
    pub unsaved: std::sync::atomic::AtomicBool,
    /// The original this request (a completion or reversal) is waiting for, if any: two messages
    /// naming each other as their original must not wait for each other for ever
    /// ([`crate::state::State::claim_original`]).
    pub waiting_for: Mutex<Option<TransactionId>>,
}

/// A transaction identity's answer: final, or being decided right now.
#[derive(Debug, Clone)]
pub enum AnswerSlot {
    /// The first request with this identity is in flight; duplicates wait.
    Pending(Arc<PendingAnswer>),
    Final(RecordedAnswer),
}
