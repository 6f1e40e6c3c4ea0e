//! The state both faces of Antaca share: cards, balances, holds and recorded
//! answers in memory, every change made durable through one journal.
//!
//! # The interface
//! - [`State::open`] loads everything from the store and starts the journal;
//!   nothing is served before it returns.
//! - Reads: [`State::card_by_pan`], [`State::balance`], [`State::hold_by_transaction`],
//!   [`State::program`], … return cells; lock a cell for nanoseconds, never across `.await`.
//! - Changes: build a [`Submission`] (changes + what to release), [`State::submit`] it,
//!   await the [`Receipt`]. Memory changes only once the batch committed; until then a
//!   decision's effect is visible to other decisions only as reserved funds, a pending
//!   card update or a busy hold (see [`cells`]).
//! - Duplicates: [`State::claim`] a transaction identity before deciding; a second
//!   request with the same identity gets the first one's answer (9109 too, when it waited for a
//!   decision that could not be saved). A completion or reversal claims its original with
//!   [`State::claim_original`], which refuses to wait in a cycle.
//! - Money is conserved: [`State::check_invariants`] verifies held amounts
//!   against open holds and, per currency, total ledger against external loads.
//!
//! # Files
//! - this file: [`State`], the memory it wraps, opening and the reads of cards, balances, holds;
//! - [`change`]: what a batch changes (the records are [`crate::domain`]'s);
//! - [`cells`]: the per-record cells with their locks and what is pending on them;
//! - [`journal`]: the group committer; `apply`: committed changes into memory, one
//!   named function per change, and what a decided batch releases;
//! - `claims`: transaction identities and reserved keys; `clock`: where time comes from;
//! - `load`: the start-up load; `retention`: what memory forgets and when;
//! - `lifecycle`: the lifecycle API's records; `fee_memory`: schedules, FX rates, fee totals;
//! - `low_balance`: the notifications a batch implies; `invariants`: the money checks.

mod apply;
pub mod cells;
pub mod change;
mod claims;
mod clock;
mod fee_memory;
mod invariants;
pub mod journal;
mod lifecycle;
mod load;
mod low_balance;
pub mod retention;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use dashmap::{DashMap, DashSet};
use tokio::sync::Notify;

/// The domain's records, which the state holds (a path kept for the layers above).
pub use crate::domain::*;
pub use cells::{AnswerSlot, BalanceCell, BalanceMoney, CardCell, HoldCell, PendingAnswer};
pub use change::Change;
pub use claims::{Claim, ClaimGuard, Reservation};
pub use clock::{Clock, ManualClock, SystemClock};
use fee_memory::FeeMemory;
pub use fee_memory::FeePeriodClaim;
use invariants::assert_conserved;
pub use journal::{Journal, JournalError, JournalLimits, Receipt, Release, Submission};
use lifecycle::LifecycleMemory;
pub use load::LoadedState;
use retention::RetentionOrder;

use crate::crypto::CardKeys;
use crate::domain::fees::{FeeEntry, FeeRecords, FeeTotals, FeeType, FxRate, HoldFee, ScheduleVersion};
use journal::{Applier, CommitTarget};

/// A program with the balances its transactions touch besides the user's.
#[derive(Debug, Clone)]
pub struct ProgramEntry {
    pub program: Program,
    pub currency_numeric: u16,
    /// The partner's credit or deposit balance in the program's currency.
    pub funding_balance: BalanceId,
    /// The network settlement account (the other side of card spend).
    pub settlement_balance: BalanceId,
    /// Deposit model: the partner clearing account (the other side of user-fund debits).
    pub clearing_balance: Option<BalanceId>,
    /// The partner's fee-revenue account in the program's currency (where fees go).
    pub fee_balance: Option<BalanceId>,
}

/// Id sequences, continued from the highest id in the store.
#[derive(Debug, Default)]
struct Ids {
    balance: AtomicI64,
    card: AtomicI64,
    hold: AtomicI64,
    customer: AtomicI64,
    corporation: AtomicI64,
    transfer: AtomicI64,
}

/// Which id sequence.
#[derive(Debug, Clone, Copy)]
pub enum IdKind {
    Balance,
    Card,
    Hold,
    Customer,
    Corporation,
    Transfer,
}

#[derive(Debug, Default)]
struct Memory {
    partners: DashMap<String, Partner>,
    programs: DashMap<String, Arc<ProgramEntry>>,
    customers: DashMap<CustomerId, Customer>,
    corporations: DashMap<CorporationId, Corporation>,
    balances: DashMap<BalanceId, Arc<BalanceCell>>,
    cards: DashMap<CardId, Arc<CardCell>>,
    card_by_pan: DashMap<[u8; 32], CardId>,
    holds: DashMap<HoldId, Arc<HoldCell>>,
    hold_by_transaction: DashMap<TransactionId, HoldId>,
    answers: DashMap<TransactionId, AnswerSlot>,
    /// Recorded answers and holds in the order memory received them, with their creation times:
    /// housekeeping forgets the old ones from the front instead of scanning the maps (a scan of a
    /// retention window's worth stalled every request for hundreds of milliseconds in the soak).
    retention: std::sync::Mutex<RetentionOrder>,
    /// Money brought in from outside, per currency: the conserved total.
    external_loads: DashMap<String, i64>,
    ids: Ids,
    lifecycle: LifecycleMemory,
    /// Keys claimed by a lifecycle operation in flight (see [`State::reserve`]).
    reservations: DashSet<String>,
    /// Balances with a low-balance threshold: the ones whose commits are watched for a crossing.
    watched_balances: DashSet<BalanceId>,
    /// Stamps notifications made by the committer (the state's clock).
    clock: Option<Arc<dyn Clock>>,
    /// Woken when a notification to deliver is committed.
    notification_added: Notify,
    fees: FeeMemory,
}

/// The shared state. Cheap to clone.
#[derive(Debug, Clone)]
pub struct State {
    memory: Arc<Memory>,
    journal: Journal,
    keys: CardKeys,
    clock: Arc<dyn Clock>,
}

impl State {
    /// Builds memory from what the store holds and starts the journal.
    pub fn open(
        loaded: LoadedState,
        target: Arc<dyn CommitTarget>,
        limits: JournalLimits,
        keys: CardKeys,
        clock: Arc<dyn Clock>,
    ) -> (State, tokio::task::JoinHandle<()>) {
        let memory = Arc::new(Memory {
            clock: Some(clock.clone()),
            ..Memory::default()
        });
        memory.load(loaded);
        let (journal, task) = Journal::start(target, memory.clone(), limits);
        (
            State {
                memory,
                journal,
                keys,
                clock,
            },
            task,
        )
    }

    pub fn now_ms(&self) -> TimestampMs {
        self.clock.now_ms()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn keys(&self) -> &CardKeys {
        &self.keys
    }

    pub fn next_id(&self, kind: IdKind) -> i64 {
        let ids = &self.memory.ids;
        let counter = match kind {
            IdKind::Balance => &ids.balance,
            IdKind::Card => &ids.card,
            IdKind::Hold => &ids.hold,
            IdKind::Customer => &ids.customer,
            IdKind::Corporation => &ids.corporation,
            IdKind::Transfer => &ids.transfer,
        };
        counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Queues a submission; the receipt resolves once it is durable and applied.
    pub fn submit(&self, submission: Submission) -> Receipt {
        assert_conserved(&submission.changes);
        self.journal.submit(submission, self.memory.as_ref())
    }

    /// A card by its PAN (ASCII digits), found through the keyed hash.
    pub fn card_by_pan(&self, pan: &[u8]) -> Option<Arc<CardCell>> {
        let hash = self.keys.pan_hash(pan);
        let id = *self.memory.card_by_pan.get(&hash)?;
        self.card(id)
    }

    pub fn card(&self, id: CardId) -> Option<Arc<CardCell>> {
        self.memory.cards.get(&id).map(|cell| cell.clone())
    }

    pub fn balance(&self, id: BalanceId) -> Option<Arc<BalanceCell>> {
        self.memory.balances.get(&id).map(|cell| cell.clone())
    }

    pub fn program(&self, id: &str) -> Option<Arc<ProgramEntry>> {
        self.memory.programs.get(id).map(|entry| entry.clone())
    }

    pub fn programs(&self) -> Vec<Arc<ProgramEntry>> {
        self.memory.programs.iter().map(|entry| entry.clone()).collect()
    }

    pub fn partner(&self, id: &str) -> Option<Partner> {
        self.memory.partners.get(id).map(|entry| entry.clone())
    }

    pub fn customer(&self, id: CustomerId) -> Option<Customer> {
        self.memory.customers.get(&id).map(|entry| entry.clone())
    }

    pub fn corporation(&self, id: CorporationId) -> Option<Corporation> {
        self.memory.corporations.get(&id).map(|entry| entry.clone())
    }

    pub fn hold(&self, id: HoldId) -> Option<Arc<HoldCell>> {
        self.memory.holds.get(&id).map(|cell| cell.clone())
    }

    pub fn hold_by_transaction(&self, transaction: &TransactionId) -> Option<Arc<HoldCell>> {
        let id = *self.memory.hold_by_transaction.get(transaction)?;
        self.hold(id)
    }

    /// Every balance as committed (for the API, the auditor and tests).
    pub fn balances(&self) -> Vec<Balance> {
        let mut balances: Vec<Balance> = self.memory.balances.iter().map(|cell| cell.snapshot()).collect();
        balances.sort_by_key(|balance| balance.id);
        balances
    }

    /// The cards of a balance as committed, oldest first (a scan: for the API, never the hot path).
    pub fn cards_of_balance(&self, balance_id: BalanceId) -> Vec<Card> {
        let mut cards: Vec<Card> = self
            .memory
            .cards
            .iter()
            .filter_map(|cell| {
                let entry = cell.lock();
                (entry.card.balance_id == balance_id).then(|| entry.card.clone())
            })
            .collect();
        cards.sort_by_key(|card| card.id);
        cards
    }

    /// The ids of the cards in a status, in id order (a scan: for start-up and the API, never the hot path).
    pub fn cards_with_status(&self, status: CardStatus) -> Vec<CardId> {
        let mut ids: Vec<CardId> = self
            .memory
            .cards
            .iter()
            .filter_map(|cell| {
                let entry = cell.lock();
                (entry.card.status == status).then_some(entry.card.id)
            })
            .collect();
        ids.sort_unstable();
        ids
    }

    /// A balance by its purpose for system accounts, e.g. ("settlement", "EUR").
    pub fn system_balance(&self, purpose: &str, currency: &str) -> Option<BalanceId> {
        self.memory
            .balances
            .iter()
            .find(|cell| cell.currency == currency && cell.owner == Owner::System(purpose.to_owned()))
            .map(|cell| cell.id)
    }

    /// Every card as committed (a scan: for the periodic-fee scheduler, never the hot path).
    pub fn cards(&self) -> Vec<Card> {
        let mut cards: Vec<Card> = self.memory.cards.iter().map(|cell| cell.lock().card.clone()).collect();
        cards.sort_by_key(|card| card.id);
        cards
    }

    /// Number of cards, balances and open holds in memory (for start-up logs).
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.memory.cards.len(),
            self.memory.balances.len(),
            self.memory.holds.len(),
        )
    }
}

/// Locks a mutex, going on past a panic of another holder (the value is a plain field).
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
