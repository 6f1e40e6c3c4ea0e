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
//!   card update or a busy hold (see [`memory`]).
//! - Duplicates: [`State::claim`] a transaction identity before deciding; a second
//!   request with the same identity gets the first one's answer (9109 too, when it waited for a
//!   decision that could not be saved). A completion or reversal claims its original with
//!   [`State::claim_original`], which refuses to wait in a cycle.
//! - Money is conserved: [`State::check_invariants`] verifies held amounts
//!   against open holds and, per currency, total ledger against external loads.

pub mod change;
pub mod journal;
pub mod memory;
pub mod model;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use dashmap::{DashMap, DashSet};
use tokio::sync::Notify;

pub use change::Change;
pub use journal::{Journal, JournalError, JournalLimits, Receipt, Release, Submission};
pub use memory::{AnswerSlot, BalanceCell, BalanceMoney, CardCell, HoldCell, PendingAnswer};
pub use model::*;

use crate::crypto::CardKeys;
use crate::fees::{FeeEntry, FeeRecords, FeeTotals, FeeType, FxRate, HoldFee, ScheduleVersion};
use journal::{Applier, CommitTarget};

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

/// See [`Memory::retention`]. Creation times are nearly in order (batches in flight together may
/// interleave by a few milliseconds): an entry behind a newer one waits for the next sweep.
#[derive(Debug, Default)]
struct RetentionOrder {
    answers: std::collections::VecDeque<(TimestampMs, TransactionId)>,
    holds: std::collections::VecDeque<(TimestampMs, HoldId)>,
    /// The open holds by expiry time: a hold enters when it opens and leaves when it closes, so
    /// finding the expired ones reads only them (a scan of every hold in memory stalled the soak's
    /// requests every sweep), and the set is only as large as the open holds.
    expiries: std::collections::BTreeSet<(TimestampMs, HoldId)>,
    /// Holds past the retention window that were still open (or busy) when a sweep reached them:
    /// they leave the queue instead of waiting at its front, where every sweep walked them all again
    /// (half-second stalls every sweep with 1.4 million such holds).
    lingering: std::collections::HashSet<HoldId>,
    /// Lingering holds closed since the last sweep: the next one forgets them.
    closed_lingering: Vec<HoldId>,
}

/// Fee schedules, FX rates, hold fees, charged periods and report totals.
#[derive(Debug, Default)]
struct FeeMemory {
    /// Per program, every version (sorted by version).
    schedules: DashMap<String, Arc<Vec<ScheduleVersion>>>,
    /// Per (from, to) ISO 4217 numeric pair.
    rates: DashMap<(u16, u16), Arc<Vec<FxRate>>>,
    hold_fees: DashMap<HoldId, HoldFee>,
    /// (card, period key) charged or being charged.
    charged_periods: DashSet<(CardId, String)>,
    /// (program, fee type, UTC day) → totals.
    totals: DashMap<(String, FeeType, i64), FeeTotals>,
    /// What a program without a schedule has (shared, so answering it allocates nothing).
    no_schedule: Arc<Vec<ScheduleVersion>>,
}

/// A (card, period) claimed for a periodic fee charge in flight; dropped without
/// [`FeePeriodClaim::keep`] (the charge failed), it frees the period again.
#[derive(Debug)]
pub struct FeePeriodClaim {
    memory: Arc<Memory>,
    key: Option<(CardId, String)>,
}

impl FeePeriodClaim {
    /// The charge is durable: the period stays charged.
    pub fn keep(mut self) {
        self.key = None;
    }
}

impl Drop for FeePeriodClaim {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.memory.fees.charged_periods.remove(&key);
        }
    }
}

/// The lifecycle API's records, with the indexes its look-ups need.
#[derive(Debug, Default)]
struct LifecycleMemory {
    customer_by_ref: DashMap<(String, String), CustomerId>,
    profiles: DashMap<CustomerId, CustomerProfile>,
    installations: DashMap<String, Installation>,
    /// The active installation of each (customer, device).
    installation_by_device: DashMap<(CustomerId, String), String>,
    sessions: DashMap<[u8; 32], Session>,
    admins: DashMap<String, AdminUser>,
    admin_by_username: DashMap<String, String>,
    kyc_submissions: DashMap<String, KycSubmission>,
    kyc_by_customer: DashMap<CustomerId, Vec<String>>,
    corporation_details: DashMap<CorporationId, CorporationDetails>,
    kyb_transitions: DashMap<CorporationId, Vec<KybTransition>>,
    notifications: DashMap<String, Notification>,
    card_requests: DashMap<String, CardRequestRecord>,
}

/// A key claimed by [`State::reserve`]; dropping it frees the key.
#[derive(Debug)]
pub struct Reservation {
    memory: Arc<Memory>,
    key: String,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.memory.reservations.remove(&self.key);
    }
}

/// The shared state. Cheap to clone.
#[derive(Debug, Clone)]
pub struct State {
    memory: Arc<Memory>,
    journal: Journal,
    keys: CardKeys,
    clock: Arc<dyn Clock>,
}

/// What `claim` found for a transaction identity.
#[derive(Debug)]
pub enum Claim {
    /// First time seen: decide, and include `Release::Answer` in the submission.
    /// Dropping the guard without submitting frees the identity again.
    New(ClaimGuard),
    /// Already answered: answer the same.
    Answered(RecordedAnswer),
    /// This duplicate waited for the first request with its identity, whose decision could not be
    /// saved: answer as it was answered (9109). The identity is free again for the next request.
    Unsaved,
}

/// Holds a claimed transaction identity until its answer is durable or abandoned.
#[derive(Debug)]
pub struct ClaimGuard {
    memory: Arc<Memory>,
    transaction: TransactionId,
    armed: bool,
}

impl ClaimGuard {
    /// Hands the identity to a submission: the journal frees or finalizes it.
    pub fn into_release(mut self) -> Release {
        self.armed = false;
        Release::Answer(self.transaction)
    }

    pub fn transaction(&self) -> TransactionId {
        self.transaction
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if self.armed {
            self.memory.free_answer(&self.transaction, false);
        }
    }
}

/// Everything loaded at start-up.
#[derive(Debug, Default)]
pub struct LoadedState {
    pub partners: Vec<Partner>,
    pub programs: Vec<Program>,
    pub customers: Vec<Customer>,
    pub corporations: Vec<Corporation>,
    pub balances: Vec<Balance>,
    pub cards: Vec<Card>,
    pub holds: Vec<Hold>,
    pub answers: Vec<RecordedAnswer>,
    /// Sum of external loads per currency (the conserved totals).
    pub external_loads: HashMap<String, i64>,
    pub max_ids: [i64; 6],
    pub lifecycle: LifecycleRecords,
    pub fees: FeeRecords,
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

    /// Open holds whose expiry time has passed, soonest expired first (read from the expiry order,
    /// never by scanning the holds).
    pub fn expired_holds(&self, now: TimestampMs) -> Vec<Arc<HoldCell>> {
        let due: Vec<HoldId> = lock(&self.memory.retention)
            .expiries
            .range(..=(now, HoldId::MAX))
            .map(|&(_, id)| id)
            .collect();
        due.into_iter()
            .filter_map(|id| self.hold(id))
            .filter(|cell| {
                let entry = cell.lock();
                entry.hold.status == HoldStatus::Open && entry.hold.expires_at <= now
            })
            .collect()
    }

    /// Forgets the recorded answers created before `cutoff` (past the retention window), from the
    /// oldest end of the retention order; returns how many. A duplicate of one is decided afresh.
    /// Memory only: the database's copies go with [`crate::store::Store::forget_answers_before`].
    pub fn forget_answers_before(&self, cutoff: TimestampMs) -> usize {
        // Only the queue is read under the retention lock, which every committed answer and hold
        // takes: the map's removals happen after it is let go.
        let due: Vec<TransactionId> = {
            let mut retention = lock(&self.memory.retention);
            let count = retention
                .answers
                .iter()
                .take_while(|(created_at, _)| *created_at < cutoff)
                .count();
            retention
                .answers
                .drain(..count)
                .map(|(_, transaction)| transaction)
                .collect()
        };
        // An answer recorded again since (a newer one for the same transaction) is kept.
        due.iter()
            .filter(|transaction| {
                self.memory
                    .answers
                    .remove_if(
                        transaction,
                        |_, slot| matches!(slot, AnswerSlot::Final(answer) if answer.created_at < cutoff),
                    )
                    .is_some()
            })
            .count()
    }

    /// Drops from memory the holds closed before `before` (completed, reversed,
    /// expired): they stay in the database; memory keeps what decisions need.
    /// Returns how many were dropped.
    pub fn forget_closed_holds(&self, before: TimestampMs) -> usize {
        let mut closed: Vec<(HoldId, TransactionId)> = Vec::new();
        let mut guard = lock(&self.memory.retention);
        let retention = &mut *guard;
        // Lingering holds closed since the last sweep, then the queue's holds older than `before`.
        let mut candidates = std::mem::take(&mut retention.closed_lingering);
        while let Some(&(created_at, id)) = retention.holds.front() {
            if created_at >= before {
                break;
            }
            retention.holds.pop_front();
            candidates.push(id);
        }
        for id in candidates {
            let Some(cell) = self.memory.holds.get(&id).map(|cell| cell.clone()) else {
                continue;
            };
            let entry = cell.lock();
            if entry.hold.status == HoldStatus::Open {
                // Its closing (`Change::UpdateHold`) moves it to `closed_lingering`.
                retention.lingering.insert(id);
            } else if entry.busy {
                retention.closed_lingering.push(id);
            } else {
                retention.lingering.remove(&id);
                closed.push((id, entry.hold.transaction));
            }
        }
        drop(guard);
        for (id, transaction) in &closed {
            self.memory.holds.remove(id);
            self.memory.fees.hold_fees.remove(id);
            self.memory.hold_by_transaction.remove(transaction);
        }
        closed.len()
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

    /// Claims a transaction identity: the first request gets `New`; a
    /// duplicate waits while the first is in flight, then gets its answer.
    pub async fn claim(&self, transaction: TransactionId) -> Claim {
        self.claim_waiting(transaction, None)
            .await
            .expect("only a claim made on behalf of another request can close a cycle")
    }

    /// Claims the original of a completion or reversal whose own identity `by` it has claimed, as
    /// [`State::claim`] does; `None` instead of waiting when the request deciding the original is
    /// itself waiting, directly or through others, for `by`: two messages naming each other as their
    /// original would otherwise each hold its own identity and wait for the other's for ever.
    pub async fn claim_original(&self, original: TransactionId, by: TransactionId) -> Option<Claim> {
        let claimant = match self.memory.answers.get(&by).as_deref() {
            Some(AnswerSlot::Pending(pending)) => Some(pending.clone()),
            _ => None,
        };
        if let Some(claimant) = &claimant {
            *lock(&claimant.waiting_for) = Some(original);
        }
        let claim = self.claim_waiting(original, claimant.as_ref().map(|_| by)).await;
        if let Some(claimant) = &claimant {
            *lock(&claimant.waiting_for) = None;
        }
        claim
    }

    async fn claim_waiting(&self, transaction: TransactionId, by: Option<TransactionId>) -> Option<Claim> {
        loop {
            let waiting = match self.memory.answers.entry(transaction) {
                dashmap::Entry::Vacant(vacant) => {
                    vacant.insert(AnswerSlot::Pending(Arc::new(PendingAnswer::default())));
                    return Some(Claim::New(ClaimGuard {
                        memory: self.memory.clone(),
                        transaction,
                        armed: true,
                    }));
                }
                dashmap::Entry::Occupied(occupied) => match occupied.get() {
                    AnswerSlot::Final(answer) => return Some(Claim::Answered(answer.clone())),
                    AnswerSlot::Pending(notify) => notify.clone(),
                },
            };
            // Our own `waiting_for` was written before this look; the other side writes its own
            // before looking at ours. The fence keeps both from missing each other's write.
            std::sync::atomic::fence(Ordering::SeqCst);
            if by.is_some_and(|by| self.waits_for(&waiting, by)) {
                return None;
            }
            let notified = waiting.decided.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // The first request may have finished before we enabled: look again.
            let still_pending = matches!(
                self.memory.answers.get(&transaction).as_deref(),
                Some(AnswerSlot::Pending(pending)) if Arc::ptr_eq(pending, &waiting)
            );
            if still_pending {
                notified.await;
            }
            if waiting.unsaved.load(Ordering::Acquire) {
                return Some(Claim::Unsaved);
            }
        }
    }

    /// Whether the request behind `pending` waits, through a chain of originals, for `target`.
    fn waits_for(&self, pending: &Arc<PendingAnswer>, target: TransactionId) -> bool {
        /// Legitimate chains are one or two long (a reversal of a completion of an authorization).
        const CHAIN_MAX: usize = 8;
        let mut pending = pending.clone();
        for _ in 0..CHAIN_MAX {
            let Some(next) = *lock(&pending.waiting_for) else {
                return false;
            };
            if next == target {
                return true;
            }
            pending = match self.memory.answers.get(&next).as_deref() {
                Some(AnswerSlot::Pending(next)) => next.clone(),
                _ => return false,
            };
        }
        false
    }

    /// Claims `key` for one lifecycle operation at a time: `None` while another
    /// holds it. Hold the reservation until the submission's receipt resolves
    /// (memory is applied by then), so a uniqueness check made under it sees
    /// every earlier commit and no other writer can slip in between. This keeps
    /// a duplicate from reaching the database, where a unique-constraint
    /// failure would fail the whole group commit, other people's changes too.
    pub fn reserve(&self, key: String) -> Option<Reservation> {
        self.memory.reservations.insert(key.clone()).then(|| Reservation {
            memory: self.memory.clone(),
            key,
        })
    }

    pub fn customer_by_external_ref(&self, partner_id: &str, external_ref: &str) -> Option<CustomerId> {
        let key = (partner_id.to_owned(), external_ref.to_owned());
        self.memory.lifecycle.customer_by_ref.get(&key).map(|id| *id)
    }

    pub fn customer_profile(&self, id: CustomerId) -> Option<CustomerProfile> {
        self.memory.lifecycle.profiles.get(&id).map(|entry| entry.clone())
    }

    /// Every corporation, in id order.
    pub fn corporations(&self) -> Vec<Corporation> {
        let mut corporations: Vec<Corporation> = self.memory.corporations.iter().map(|entry| entry.clone()).collect();
        corporations.sort_by_key(|corporation| corporation.id);
        corporations
    }

    pub fn installation(&self, id: &str) -> Option<Installation> {
        self.memory.lifecycle.installations.get(id).map(|entry| entry.clone())
    }

    /// The active installation of a customer on a device.
    pub fn active_installation(&self, customer_id: CustomerId, device_id: &str) -> Option<Installation> {
        let key = (customer_id, device_id.to_owned());
        let id = self.memory.lifecycle.installation_by_device.get(&key)?.clone();
        self.installation(&id)
    }

    pub fn session(&self, token_hash: &[u8; 32]) -> Option<Session> {
        self.memory
            .lifecycle
            .sessions
            .get(token_hash)
            .map(|entry| entry.clone())
    }

    /// The live (unrevoked) sessions of a subject.
    pub fn sessions_of(&self, subject: &SessionSubject) -> Vec<Session> {
        self.memory
            .lifecycle
            .sessions
            .iter()
            .filter(|session| !session.revoked && &session.subject == subject)
            .map(|session| session.clone())
            .collect()
    }

    pub fn admin(&self, id: &str) -> Option<AdminUser> {
        self.memory.lifecycle.admins.get(id).map(|entry| entry.clone())
    }

    pub fn admin_by_username(&self, username: &str) -> Option<AdminUser> {
        let id = self.memory.lifecycle.admin_by_username.get(username)?.clone();
        self.admin(&id)
    }

    /// Every admin user, in creation order.
    pub fn admins(&self) -> Vec<AdminUser> {
        let mut admins: Vec<AdminUser> = self.memory.lifecycle.admins.iter().map(|entry| entry.clone()).collect();
        admins.sort_by(|left, right| left.id.cmp(&right.id));
        admins
    }

    pub fn kyc_submission(&self, id: &str) -> Option<KycSubmission> {
        self.memory.lifecycle.kyc_submissions.get(id).map(|entry| entry.clone())
    }

    /// A customer's KYC submissions, oldest first.
    pub fn kyc_submissions_of(&self, customer_id: CustomerId) -> Vec<KycSubmission> {
        let ids = self
            .memory
            .lifecycle
            .kyc_by_customer
            .get(&customer_id)
            .map(|ids| ids.clone())
            .unwrap_or_default();
        ids.iter().filter_map(|id| self.kyc_submission(id)).collect()
    }

    /// Every KYC submission waiting for an administrator, oldest first.
    pub fn kyc_in_review(&self) -> Vec<KycSubmission> {
        let mut waiting: Vec<KycSubmission> = self
            .memory
            .lifecycle
            .kyc_submissions
            .iter()
            .filter(|submission| submission.status == KycSubmissionStatus::InReview)
            .map(|submission| submission.clone())
            .collect();
        waiting.sort_by(|left, right| left.id.cmp(&right.id));
        waiting
    }

    pub fn corporation_details(&self, id: CorporationId) -> Option<CorporationDetails> {
        self.memory
            .lifecycle
            .corporation_details
            .get(&id)
            .map(|entry| entry.clone())
    }

    /// A corporation's KYB transitions, oldest first.
    pub fn kyb_transitions(&self, id: CorporationId) -> Vec<KybTransition> {
        self.memory
            .lifecycle
            .kyb_transitions
            .get(&id)
            .map(|entry| entry.clone())
            .unwrap_or_default()
    }

    pub fn notification(&self, id: &str) -> Option<Notification> {
        self.memory.lifecycle.notifications.get(id).map(|entry| entry.clone())
    }

    /// Every notification in the outbox, oldest first.
    pub fn notifications(&self) -> Vec<Notification> {
        let mut notifications: Vec<Notification> = self
            .memory
            .lifecycle
            .notifications
            .iter()
            .map(|entry| entry.clone())
            .collect();
        notifications.sort_by(|left, right| left.id.cmp(&right.id));
        notifications
    }

    /// Resolves when a new notification to deliver was committed since the last call (or now, if
    /// one was committed while nobody waited).
    pub async fn notification_added(&self) {
        self.memory.notification_added.notified().await
    }

    pub fn card_request(&self, id: &str) -> Option<CardRequestRecord> {
        self.memory.lifecycle.card_requests.get(id).map(|entry| entry.clone())
    }

    /// Every asynchronous card request, oldest first.
    pub fn card_requests(&self) -> Vec<CardRequestRecord> {
        let mut requests: Vec<CardRequestRecord> = self
            .memory
            .lifecycle
            .card_requests
            .iter()
            .map(|entry| entry.clone())
            .collect();
        requests.sort_by(|left, right| left.id.cmp(&right.id));
        requests
    }

    /// Every card as committed (a scan: for the periodic-fee scheduler, never the hot path).
    pub fn cards(&self) -> Vec<Card> {
        let mut cards: Vec<Card> = self.memory.cards.iter().map(|cell| cell.lock().card.clone()).collect();
        cards.sort_by_key(|card| card.id);
        cards
    }

    /// Every version of a program's fee schedule, oldest first (empty when none). On the
    /// authorization path: a map look-up and a reference count, no allocation.
    pub fn fee_schedules(&self, program_id: &str) -> Arc<Vec<ScheduleVersion>> {
        match self.memory.fees.schedules.get(program_id) {
            Some(entry) => entry.clone(),
            None => self.memory.fees.no_schedule.clone(),
        }
    }

    /// The version of a program's fee schedule in force at `now`.
    pub fn fee_schedule_at(&self, program_id: &str, now: TimestampMs) -> Option<ScheduleVersion> {
        let versions = self.memory.fees.schedules.get(program_id)?.clone();
        crate::fees::schedule::in_force(&versions, now).cloned()
    }

    /// The rate converting `from` into `to` (ISO 4217 numeric) at `now`.
    pub fn fx_rate(&self, from: u16, to: u16, now: TimestampMs) -> Option<FxRate> {
        let rates = self.memory.fees.rates.get(&(from, to))?.clone();
        crate::fees::fx::rate_at(&rates, now).cloned()
    }

    /// Every FX rate, oldest first.
    pub fn fx_rates(&self) -> Vec<FxRate> {
        let mut rates: Vec<FxRate> = self
            .memory
            .fees
            .rates
            .iter()
            .flat_map(|entry| entry.value().as_ref().clone())
            .collect();
        rates.sort_by(|left, right| left.id.cmp(&right.id));
        rates
    }

    /// The fees and conversion of a hold, when it has any.
    pub fn hold_fee(&self, hold_id: HoldId) -> Option<HoldFee> {
        self.memory.fees.hold_fees.get(&hold_id).map(|entry| entry.clone())
    }

    /// Claims (card, period) for a periodic fee charge: `None` when it is charged already or
    /// being charged.
    pub fn claim_fee_period(&self, card_id: CardId, period_key: &str) -> Option<FeePeriodClaim> {
        let key = (card_id, period_key.to_owned());
        self.memory
            .fees
            .charged_periods
            .insert(key.clone())
            .then(|| FeePeriodClaim {
                memory: self.memory.clone(),
                key: Some(key),
            })
    }

    /// Fee totals of a program per fee type over the UTC days `[from_day, to_day)`.
    pub fn fee_totals(&self, program_id: &str, from_day: i64, to_day: i64) -> Vec<(FeeType, FeeTotals)> {
        let mut totals: std::collections::BTreeMap<FeeType, FeeTotals> = std::collections::BTreeMap::new();
        for entry in self.memory.fees.totals.iter() {
            let (program, fee_type, day) = entry.key();
            if program == program_id && (from_day..to_day).contains(day) {
                totals.entry(*fee_type).or_default().add(entry.value());
            }
        }
        totals.into_iter().collect()
    }

    /// Verifies the money invariants over all of memory; returns what is wrong.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut held_by_balance: HashMap<BalanceId, i64> = HashMap::new();
        let mut open_holds: Vec<(TimestampMs, HoldId)> = Vec::new();
        for cell in self.memory.holds.iter() {
            let entry = cell.lock();
            if entry.hold.status == HoldStatus::Open {
                open_holds.push((entry.hold.expires_at, entry.hold.id));
                // The user's side holds the fees that go with what remains; the deposit does not.
                let fees = self
                    .memory
                    .fees
                    .hold_fees
                    .get(&entry.hold.id)
                    .map_or(0, |fee| fee.total_share(entry.hold.remaining, entry.hold.amount));
                *held_by_balance.entry(entry.hold.user_balance_id).or_default() += entry.hold.remaining + fees;
                if let Some(partner) = entry.hold.partner_balance_id {
                    *held_by_balance.entry(partner).or_default() += entry.hold.remaining;
                }
            }
        }
        open_holds.sort_unstable();
        if !lock(&self.memory.retention).expiries.iter().eq(open_holds.iter()) {
            return Err(format!(
                "the expiry order does not list exactly the {} open holds",
                open_holds.len()
            ));
        }
        let mut ledger_by_currency: HashMap<String, i64> = HashMap::new();
        for cell in self.memory.balances.iter() {
            let money = cell.lock();
            let expected = held_by_balance.get(&cell.id).copied().unwrap_or(0);
            if money.held != expected {
                return Err(format!(
                    "balance {}: held {} but open holds sum to {}",
                    cell.id, money.held, expected
                ));
            }
            *ledger_by_currency.entry(cell.currency.clone()).or_default() += money.ledger;
        }
        for (currency, total) in ledger_by_currency {
            let loaded = self.memory.external_loads.get(&currency).map_or(0, |value| *value);
            if total != loaded {
                return Err(format!(
                    "{currency}: balances total {total} but external loads total {loaded}"
                ));
            }
        }
        Ok(())
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

/// Within one submission, ledger deltas per currency must equal the external
/// loads it records: money moves between balances, it is not made or lost.
fn assert_conserved(changes: &[Change]) {
    let ledger: i64 = changes
        .iter()
        .map(|change| match change {
            Change::BalanceDelta { ledger, .. } => *ledger,
            _ => 0,
        })
        .sum();
    let loads: i64 = changes
        .iter()
        .map(|change| match change {
            Change::InsertTransfer(transfer) if transfer.kind == TransferKind::ExternalLoad => transfer.amount,
            _ => 0,
        })
        .sum();
    // Amounts of different currencies never meet in one submission's deltas
    // except through loads, which this sum accounts for.
    assert_eq!(ledger, loads, "a submission creates or destroys money");
}

impl Memory {
    fn load(&self, loaded: LoadedState) {
        for partner in loaded.partners {
            self.partners.insert(partner.id.clone(), partner);
        }
        for customer in loaded.customers {
            self.index_customer(&customer);
            self.customers.insert(customer.id, customer);
        }
        for corporation in loaded.corporations {
            self.corporations.insert(corporation.id, corporation);
        }
        for balance in &loaded.balances {
            self.balances.insert(balance.id, Arc::new(BalanceCell::new(balance)));
        }
        for program in loaded.programs {
            self.index_program(program);
        }
        for card in loaded.cards {
            self.card_by_pan.insert(card.pan_hash, card.id);
            self.cards.insert(card.id, Arc::new(CardCell::new(card)));
        }
        let mut holds = loaded.holds;
        holds.sort_unstable_by_key(|hold| (hold.created_at, hold.id));
        let mut answers = loaded.answers;
        answers.sort_unstable_by_key(|answer| answer.created_at);
        let mut retention = lock(&self.retention);
        for hold in holds {
            retention.holds.push_back((hold.created_at, hold.id));
            if hold.status == HoldStatus::Open {
                retention.expiries.insert((hold.expires_at, hold.id));
            }
            self.hold_by_transaction.insert(hold.transaction, hold.id);
            self.holds.insert(hold.id, Arc::new(HoldCell::new(hold)));
        }
        for answer in answers {
            retention.answers.push_back((answer.created_at, answer.transaction));
            self.answers.insert(answer.transaction, AnswerSlot::Final(answer));
        }
        drop(retention);
        for (currency, total) in loaded.external_loads {
            self.external_loads.insert(currency, total);
        }
        let [balance, card, hold, customer, corporation, transfer] = loaded.max_ids;
        self.ids.balance.store(balance, Ordering::Relaxed);
        self.ids.card.store(card, Ordering::Relaxed);
        self.ids.hold.store(hold, Ordering::Relaxed);
        self.ids.customer.store(customer, Ordering::Relaxed);
        self.ids.corporation.store(corporation, Ordering::Relaxed);
        self.ids.transfer.store(transfer, Ordering::Relaxed);
        self.load_lifecycle(loaded.lifecycle);
        self.load_fees(loaded.fees);
    }

    fn load_fees(&self, records: FeeRecords) {
        let FeeRecords {
            schedules,
            rates,
            hold_fees,
            charged_periods,
            totals,
        } = records;
        for version in schedules {
            self.apply_one(&Change::InsertFeeSchedule(version));
        }
        for rate in rates {
            self.apply_one(&Change::InsertFxRate(rate));
        }
        for fee in hold_fees {
            self.fees.hold_fees.insert(fee.hold_id, fee);
        }
        for key in charged_periods {
            self.fees.charged_periods.insert(key);
        }
        for (program, fee_type, day, total) in totals {
            self.fees
                .totals
                .entry((program, fee_type, day))
                .or_default()
                .add(&total);
        }
    }

    fn apply_fee_entry(&self, entry: &FeeEntry) {
        if let (Some(card_id), Some(period_key)) = (entry.card_id, &entry.period_key) {
            self.fees.charged_periods.insert((card_id, period_key.clone()));
        }
        let day = entry.created_at.div_euclid(crate::fees::DAY_MS);
        self.fees
            .totals
            .entry((entry.program_id.clone(), entry.fee_type, day))
            .or_default()
            .add(&FeeTotals::of(entry));
    }

    fn load_lifecycle(&self, records: LifecycleRecords) {
        // Applied as changes so loading and committing index the same way.
        let LifecycleRecords {
            customer_profiles,
            installations,
            sessions,
            admins,
            mut kyc_submissions,
            corporation_details,
            mut kyb_transitions,
            notifications,
            card_requests,
        } = records;
        kyc_submissions.sort_by(|left, right| left.id.cmp(&right.id));
        kyb_transitions.sort_by(|left, right| left.id.cmp(&right.id));
        let changes = customer_profiles
            .into_iter()
            .map(Change::UpsertCustomerProfile)
            .chain(installations.into_iter().map(Change::UpsertInstallation))
            .chain(sessions.into_iter().map(Change::UpsertSession))
            .chain(admins.into_iter().map(Change::UpsertAdmin))
            .chain(kyc_submissions.into_iter().map(Change::UpsertKycSubmission))
            .chain(corporation_details.into_iter().map(Change::InsertCorporationDetails))
            .chain(kyb_transitions.into_iter().map(Change::InsertKybTransition))
            .chain(notifications.into_iter().map(Change::UpsertNotification))
            .chain(card_requests.into_iter().map(Change::UpsertCardRequest));
        for change in changes {
            self.apply_one(&change);
        }
    }

    fn index_customer(&self, customer: &Customer) {
        if let Some(external_ref) = &customer.external_ref {
            self.lifecycle
                .customer_by_ref
                .insert((customer.partner_id.clone(), external_ref.clone()), customer.id);
        }
    }

    /// Indexes a program with its funding and system balances, when they exist.
    fn index_program(&self, program: Program) {
        let find = |predicate: &dyn Fn(&BalanceCell) -> bool| {
            self.balances.iter().find(|cell| predicate(cell)).map(|cell| cell.id)
        };
        let funding_kind = match program.funding {
            FundingModel::PartnerCredit => BalanceKind::PartnerCredit,
            FundingModel::PartnerDeposit => BalanceKind::PartnerDeposit,
        };
        let funding = find(&|cell| {
            cell.kind == funding_kind && cell.partner_id == program.partner_id && cell.currency == program.currency
        });
        let settlement =
            find(&|cell| cell.currency == program.currency && cell.owner == Owner::System(SETTLEMENT.to_owned()));
        let clearing_owner = Owner::System(clearing_purpose(&program.partner_id));
        let clearing = find(&|cell| cell.currency == program.currency && cell.owner == clearing_owner);
        let revenue_owner = Owner::System(crate::fees::revenue_purpose(&program.partner_id));
        let fee_balance = find(&|cell| cell.currency == program.currency && cell.owner == revenue_owner);
        let currency_numeric = crate::money::Currency::from_code(&program.currency).map_or(0, |c| c.numeric);
        if let (Some(funding_balance), Some(settlement_balance)) = (funding, settlement) {
            let entry = ProgramEntry {
                clearing_balance: if program.funding == FundingModel::PartnerDeposit {
                    clearing
                } else {
                    None
                },
                fee_balance,
                program: program.clone(),
                currency_numeric,
                funding_balance,
                settlement_balance,
            };
            self.programs.insert(program.id.clone(), Arc::new(entry));
        } else {
            tracing::warn!(program = %program.id, "program has no funding or settlement balance yet; not indexed");
        }
    }

    /// Frees a claimed identity whose answer was not recorded; `unsaved`: because its decision
    /// could not be made durable (its waiters are answered the same, see [`PendingAnswer::unsaved`]),
    /// rather than abandoned before deciding (its waiters decide afresh).
    fn free_answer(&self, transaction: &TransactionId, unsaved: bool) {
        if let Some((_, AnswerSlot::Pending(pending))) = self
            .answers
            .remove_if(transaction, |_, slot| matches!(slot, AnswerSlot::Pending(_)))
        {
            pending.unsaved.store(unsaved, Ordering::Release);
            pending.decided.notify_waiters();
        }
    }

    fn apply_one(&self, change: &Change) {
        match change {
            Change::UpsertPartner(partner) => {
                self.partners.insert(partner.id.clone(), partner.clone());
            }
            Change::UpsertProgram(program) => self.index_program(program.clone()),
            Change::InsertCustomer(customer) => {
                self.index_customer(customer);
                self.customers.insert(customer.id, customer.clone());
            }
            Change::UpdateCustomerKyc {
                customer_id,
                kyc_status,
            } => {
                if let Some(mut customer) = self.customers.get_mut(customer_id) {
                    customer.kyc_status = *kyc_status;
                }
            }
            Change::InsertCorporation(corporation) => {
                self.corporations.insert(corporation.id, corporation.clone());
            }
            Change::UpdateCorporationKyb {
                corporation_id,
                kyb_status,
            } => {
                if let Some(mut corporation) = self.corporations.get_mut(corporation_id) {
                    corporation.kyb_status = *kyb_status;
                }
            }
            Change::InsertBalance(balance) => {
                if balance.low_balance_threshold.is_some() {
                    self.watched_balances.insert(balance.id);
                }
                self.balances.insert(balance.id, Arc::new(BalanceCell::new(balance)));
            }
            Change::BalanceDelta {
                balance_id,
                ledger,
                held,
            } => {
                let cell = self.balances.get(balance_id).map(|cell| cell.clone());
                let cell = cell.expect("a committed delta names a balance in memory");
                let mut money = cell.lock();
                money.ledger += ledger;
                money.held += held;
                assert!(money.held >= 0, "balance {balance_id}: held went negative");
            }
            Change::UpdateBalanceState { balance_id, state } => {
                if let Some(cell) = self.balances.get(balance_id) {
                    cell.lock().state = *state;
                }
            }
            Change::UpdateBalanceThreshold { balance_id, threshold } => {
                if let Some(cell) = self.balances.get(balance_id) {
                    cell.set_low_balance_threshold(*threshold);
                }
                if threshold.is_some() {
                    self.watched_balances.insert(*balance_id);
                } else {
                    self.watched_balances.remove(balance_id);
                }
            }
            Change::InsertCard(card) => {
                self.card_by_pan.insert(card.pan_hash, card.id);
                self.cards.insert(card.id, Arc::new(CardCell::new(card.clone())));
            }
            Change::UpdateCard(update) => {
                if let Some(cell) = self.cards.get(&update.card_id) {
                    let mut entry = cell.lock();
                    entry.card.status = update.status;
                    entry.card.cvc_encrypted = update.cvc_encrypted.clone();
                    entry.card.pin_verification = update.pin_verification;
                    entry.card.pin_tries = update.pin_tries;
                }
            }
            Change::InsertHold(hold) => {
                let mut retention = lock(&self.retention);
                retention.holds.push_back((hold.created_at, hold.id));
                if hold.status == HoldStatus::Open {
                    retention.expiries.insert((hold.expires_at, hold.id));
                }
                drop(retention);
                self.hold_by_transaction.insert(hold.transaction, hold.id);
                self.holds.insert(hold.id, Arc::new(HoldCell::new(hold.clone())));
            }
            Change::UpdateHold {
                hold_id,
                remaining,
                status,
            } => {
                // The map's guard and the hold's lock are let go before the retention lock is
                // taken: the sweep takes the retention lock first, then these.
                let cell = self.holds.get(hold_id).map(|cell| cell.clone());
                if let Some(cell) = cell {
                    let mut entry = cell.lock();
                    entry.hold.remaining = *remaining;
                    entry.hold.status = *status;
                    let expires_at = entry.hold.expires_at;
                    drop(entry);
                    if *status != HoldStatus::Open {
                        let mut retention = lock(&self.retention);
                        retention.expiries.remove(&(expires_at, *hold_id));
                        if retention.lingering.remove(hold_id) {
                            retention.closed_lingering.push(*hold_id);
                        }
                    }
                }
            }
            Change::InsertTransfer(transfer) => {
                if transfer.kind == TransferKind::ExternalLoad {
                    let currency = self
                        .balances
                        .get(&transfer.credit_balance_id)
                        .map(|cell| cell.currency.clone());
                    if let Some(currency) = currency {
                        *self.external_loads.entry(currency).or_default() += transfer.amount;
                    }
                }
            }
            Change::RecordAnswer(answer) => {
                lock(&self.retention)
                    .answers
                    .push_back((answer.created_at, answer.transaction));
                let previous = self
                    .answers
                    .insert(answer.transaction, AnswerSlot::Final(answer.clone()));
                if let Some(AnswerSlot::Pending(pending)) = previous {
                    pending.decided.notify_waiters();
                }
            }
            Change::UpsertCustomerProfile(profile) => {
                self.lifecycle.profiles.insert(profile.customer_id, profile.clone());
            }
            Change::UpsertInstallation(installation) => {
                let key = (installation.customer_id, installation.device_id.clone());
                if installation.active {
                    self.lifecycle
                        .installation_by_device
                        .insert(key, installation.id.clone());
                } else {
                    self.lifecycle
                        .installation_by_device
                        .remove_if(&key, |_, id| *id == installation.id);
                }
                self.lifecycle
                    .installations
                    .insert(installation.id.clone(), installation.clone());
            }
            Change::UpsertSession(session) => {
                self.lifecycle.sessions.insert(session.token_hash, session.clone());
            }
            Change::ForgetSessionsBefore(cutoff) => {
                self.lifecycle
                    .sessions
                    .retain(|_, session| session.expires_at >= *cutoff);
            }
            Change::UpsertAdmin(admin) => {
                self.lifecycle
                    .admin_by_username
                    .insert(admin.username.clone(), admin.id.clone());
                self.lifecycle.admins.insert(admin.id.clone(), admin.clone());
            }
            Change::UpsertKycSubmission(submission) => {
                let previous = self
                    .lifecycle
                    .kyc_submissions
                    .insert(submission.id.clone(), submission.clone());
                if previous.is_none() {
                    self.lifecycle
                        .kyc_by_customer
                        .entry(submission.customer_id)
                        .or_default()
                        .push(submission.id.clone());
                }
            }
            Change::InsertCorporationDetails(details) => {
                self.lifecycle
                    .corporation_details
                    .insert(details.corporation_id, details.clone());
            }
            Change::InsertFeeSchedule(version) => {
                let mut versions = self
                    .fees
                    .schedules
                    .get(&version.program_id)
                    .map(|entry| entry.as_ref().clone())
                    .unwrap_or_default();
                versions.retain(|existing| existing.version != version.version);
                versions.push(version.clone());
                versions.sort_by_key(|existing| existing.version);
                self.fees
                    .schedules
                    .insert(version.program_id.clone(), Arc::new(versions));
            }
            Change::InsertFxRate(rate) => {
                let code = |alpha: &str| crate::money::Currency::from_code(alpha).map_or(0, |c| c.numeric);
                let key = (code(&rate.from), code(&rate.to));
                let mut rates = self
                    .fees
                    .rates
                    .get(&key)
                    .map(|entry| entry.as_ref().clone())
                    .unwrap_or_default();
                rates.retain(|existing| existing.id != rate.id);
                rates.push(rate.clone());
                self.fees.rates.insert(key, Arc::new(rates));
            }
            Change::InsertFeeEntry(entry) => self.apply_fee_entry(entry),
            Change::InsertHoldFee(fee) => {
                self.fees.hold_fees.insert(fee.hold_id, fee.clone());
            }
            Change::InsertKybTransition(transition) => {
                self.lifecycle
                    .kyb_transitions
                    .entry(transition.corporation_id)
                    .or_default()
                    .push(transition.clone());
            }
            Change::UpsertNotification(notification) => {
                let undelivered = notification.delivered_at.is_none();
                let previous = self
                    .lifecycle
                    .notifications
                    .insert(notification.id.clone(), notification.clone());
                if undelivered && previous.is_none() {
                    // A permit is stored if the deliverer is busy, so no wake-up is lost.
                    self.notification_added.notify_one();
                }
            }
            Change::UpsertCardRequest(request) => {
                self.lifecycle.card_requests.insert(request.id.clone(), request.clone());
            }
        }
    }

    /// The low-balance notifications a batch implies: a watched balance whose committed available
    /// amount goes from at or above its threshold to below it, change by change in commit order,
    /// notifies once; it notifies again only after rising back to the threshold and falling again.
    /// Whether the batch moves a watched balance or changes a threshold (a newly watched balance
    /// starts from its committed amount too).
    fn moves_watched_balance(&self, changes: &[Change]) -> bool {
        changes.iter().any(|change| match change {
            Change::BalanceDelta { balance_id, .. } => self.watched_balances.contains(balance_id),
            Change::UpdateBalanceThreshold { .. } => true,
            _ => false,
        })
    }

    fn low_balance_notifications(&self, changes: &[Change]) -> Vec<Change> {
        let sets_thresholds = || {
            changes
                .iter()
                .any(|change| matches!(change, Change::UpdateBalanceThreshold { .. }))
        };
        if self.watched_balances.is_empty() && !sets_thresholds() {
            return Vec::new();
        }
        // (available, threshold) as the batch moves them, from the committed values.
        let mut tracked: HashMap<BalanceId, (Arc<BalanceCell>, i64, Option<i64>)> = HashMap::new();
        let mut notifications = Vec::new();
        for change in changes {
            match change {
                Change::BalanceDelta {
                    balance_id,
                    ledger,
                    held,
                } if self.watched_balances.contains(balance_id) || tracked.contains_key(balance_id) => {
                    let Some(entry) = self.tracked_balance(&mut tracked, *balance_id) else {
                        continue;
                    };
                    let before = entry.1;
                    entry.1 = before + ledger - held;
                    if let Some(threshold) = entry.2
                        && before >= threshold
                        && entry.1 < threshold
                    {
                        notifications.push(Change::UpsertNotification(
                            self.low_balance_notification(&entry.0, entry.1, threshold),
                        ));
                    }
                }
                Change::UpdateBalanceThreshold { balance_id, threshold } => {
                    if let Some(entry) = self.tracked_balance(&mut tracked, *balance_id) {
                        entry.2 = *threshold;
                    }
                }
                _ => {}
            }
        }
        notifications
    }

    fn tracked_balance<'a>(
        &self,
        tracked: &'a mut HashMap<BalanceId, (Arc<BalanceCell>, i64, Option<i64>)>,
        balance_id: BalanceId,
    ) -> Option<&'a mut (Arc<BalanceCell>, i64, Option<i64>)> {
        match tracked.entry(balance_id) {
            std::collections::hash_map::Entry::Occupied(occupied) => Some(occupied.into_mut()),
            std::collections::hash_map::Entry::Vacant(vacant) => {
                let cell = self.balances.get(&balance_id)?.clone();
                let available = {
                    let money = cell.lock();
                    money.ledger - money.held
                };
                let threshold = cell.low_balance_threshold();
                Some(vacant.insert((cell, available, threshold)))
            }
        }
    }

    fn low_balance_notification(&self, cell: &BalanceCell, available: i64, threshold: i64) -> Notification {
        let now = self
            .clock
            .as_ref()
            .map_or_else(|| SystemClock.now_ms(), |clock| clock.now_ms());
        let id = uuid::Uuid::now_v7().to_string();
        let kind = match cell.kind {
            BalanceKind::PartnerCredit => "CREDIT",
            BalanceKind::PartnerDeposit => "DEPOSIT",
            _ => "OTHER",
        };
        let created_at = chrono::DateTime::from_timestamp_millis(now)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let payload = serde_json::json!({
            "id": id,
            "event": EVENT_PARTNER_BALANCE_LOW,
            "partnerId": cell.partner_id,
            "balanceId": cell.id,
            "balanceKind": kind,
            "currency": cell.currency,
            "available": available,
            "lowBalanceThreshold": threshold,
            "createdAt": created_at,
        });
        Notification {
            id,
            partner_id: cell.partner_id.clone(),
            balance_id: cell.id,
            event: EVENT_PARTNER_BALANCE_LOW.to_owned(),
            payload: payload.to_string(),
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            delivered_at: None,
        }
    }
}

impl Applier for Memory {
    fn consequences(&self, changes: &[Change], settled: bool) -> Option<Vec<Change>> {
        // A crossing is judged from the committed amounts, which lack the batches still in flight:
        // a batch moving a watched balance waits for them (the watched ones are the partners'
        // balances with a threshold, so only those partners' traffic loses the overlap).
        if !settled && self.moves_watched_balance(changes) {
            return None;
        }
        Some(self.low_balance_notifications(changes))
    }

    fn apply(&self, changes: &[Change]) {
        for change in changes {
            self.apply_one(change);
        }
    }

    fn release(&self, releases: Vec<Release>, committed: bool) {
        for release in releases {
            match release {
                Release::Funds { balance, amount } => {
                    let mut money = balance.lock();
                    money.reserved -= amount;
                    assert!(
                        money.reserved >= 0,
                        "balance {}: reservations went negative",
                        balance.id
                    );
                }
                Release::Card(cell) => {
                    cell.lock().pending = None;
                    cell.changed.notify_waiters();
                }
                Release::Hold(cell) => {
                    cell.lock().busy = false;
                    cell.changed.notify_waiters();
                }
                // Committed: `RecordAnswer` made the slot final. Failed: free the identity.
                Release::Answer(transaction) => self.free_answer(&transaction, !committed),
            }
        }
    }
}

/// Locks a mutex, going on past a panic of another holder (the value is a plain field).
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The partner that owns the platform's own (system) accounts.
pub const PLATFORM_PARTNER: &str = "antaca";

/// System account purposes.
pub const SETTLEMENT: &str = "settlement";

/// The deposit-model clearing account of a partner.
pub fn clearing_purpose(partner_id: &str) -> String {
    format!("clearing:{partner_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner_balance(id: BalanceId, ledger: i64, threshold: Option<i64>) -> Balance {
        Balance {
            id,
            kind: BalanceKind::PartnerDeposit,
            owner: Owner::Partner("p".into()),
            partner_id: "p".into(),
            currency: "EUR".into(),
            ledger,
            held: 0,
            state: BalanceState::Active,
            low_balance_threshold: threshold,
            program_id: None,
            created_at: 0,
        }
    }

    fn delta(balance_id: BalanceId, ledger: i64, held: i64) -> Change {
        Change::BalanceDelta {
            balance_id,
            ledger,
            held,
        }
    }

    fn available_in(notification: &Change) -> i64 {
        let Change::UpsertNotification(notification) = notification else {
            panic!("not a notification: {notification:?}");
        };
        let payload: serde_json::Value = serde_json::from_str(&notification.payload).unwrap();
        payload["available"].as_i64().unwrap()
    }

    /// A commit target whose database is always away.
    struct Unreachable;

    impl CommitTarget for Unreachable {
        fn commit<'a>(
            &'a self,
            _batch: journal::BatchId,
            _changes: &'a [Change],
            _written: journal::Written,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), JournalError>> + Send + 'a>> {
            Box::pin(std::future::ready(Err(JournalError::Unavailable)))
        }
    }

    fn unreachable_state() -> State {
        let limits = JournalLimits {
            batch_max: 16,
            batch_wait: std::time::Duration::ZERO,
            queue_max: 16,
            commits_in_flight_max: 1,
        };
        let keys = CardKeys::new(&[7; 32], &[9; 32]).unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(1_000));
        State::open(LoadedState::default(), Arc::new(Unreachable), limits, keys, clock).0
    }

    const TRANSACTION: TransactionId = TransactionId {
        acquirer: 123_456,
        acquirer_digits: 6,
        stan: 42,
        local_time: 261_204_120_000,
    };

    /// The first request's decision, recorded (and refused by the database).
    fn recorded(guard: ClaimGuard) -> Submission {
        let mut submission = Submission::default();
        submission.push(Change::RecordAnswer(RecordedAnswer {
            transaction: TRANSACTION,
            mti: 2100,
            action_code: *b"0000",
            approval_code: None,
            available: None,
            hold_id: None,
            created_at: 1_000,
        }));
        submission.release(guard.into_release());
        submission
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_duplicate_waiting_for_an_unsaved_decision_is_answered_the_same() {
        let state = unreachable_state();
        let Claim::New(guard) = state.claim(TRANSACTION).await else {
            panic!("the first request claims its identity");
        };
        let waiter = tokio::spawn({
            let state = state.clone();
            async move { state.claim(TRANSACTION).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "the duplicate waits for the first request");
        assert_eq!(state.submit(recorded(guard)).await, Err(JournalError::Unavailable));
        assert!(
            matches!(waiter.await.unwrap(), Claim::Unsaved),
            "the duplicate gets the first request's outcome, not a decision of its own"
        );
        // The identity is free again: the next request with it is decided afresh.
        assert!(matches!(state.claim(TRANSACTION).await, Claim::New(_)));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_duplicate_waiting_for_an_abandoned_claim_decides_afresh() {
        let state = unreachable_state();
        let Claim::New(guard) = state.claim(TRANSACTION).await else {
            panic!("the first request claims its identity");
        };
        let waiter = tokio::spawn({
            let state = state.clone();
            async move { state.claim(TRANSACTION).await }
        });
        tokio::task::yield_now().await;
        drop(guard);
        assert!(matches!(waiter.await.unwrap(), Claim::New(_)));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn two_messages_naming_each_other_as_their_original_do_not_wait_for_each_other() {
        let state = unreachable_state();
        let other = TransactionId {
            stan: 43,
            ..TRANSACTION
        };
        let (Claim::New(first), Claim::New(second)) = (state.claim(TRANSACTION).await, state.claim(other).await) else {
            panic!("both identities are new");
        };
        // The first (a reversal of `other`) waits for `other` to be decided...
        let first_waits = tokio::spawn({
            let state = state.clone();
            async move { state.claim_original(other, TRANSACTION).await }
        });
        tokio::task::yield_now().await;
        assert!(!first_waits.is_finished());
        // ...so `other`, naming the first as its original, must not wait for it.
        assert!(
            state.claim_original(TRANSACTION, other).await.is_none(),
            "the cycle is seen"
        );
        // It is answered without a record; the first then finds `other` unknown and goes on.
        drop(second);
        assert!(matches!(first_waits.await.unwrap(), Some(Claim::New(_))));
        drop(first);
        // An ordinary wait for an original is no cycle.
        let Claim::New(pending) = state.claim(other).await else {
            panic!("free again");
        };
        let Claim::New(_mine) = state.claim(TRANSACTION).await else {
            panic!("free again");
        };
        let waits = tokio::spawn({
            let state = state.clone();
            async move { state.claim_original(other, TRANSACTION).await }
        });
        tokio::task::yield_now().await;
        assert!(!waits.is_finished(), "it waits for the original's decision");
        drop(pending);
        assert!(matches!(waits.await.unwrap(), Some(Claim::New(_))));
    }

    fn answer_at(stan: u32, created_at: TimestampMs) -> RecordedAnswer {
        RecordedAnswer {
            transaction: TransactionId { stan, ..TRANSACTION },
            mti: 2100,
            action_code: *b"0000",
            approval_code: None,
            available: None,
            hold_id: None,
            created_at,
        }
    }

    fn hold_at(id: HoldId, created_at: TimestampMs, status: HoldStatus) -> Hold {
        Hold {
            id,
            transaction: TransactionId {
                stan: id as u32,
                ..TRANSACTION
            },
            card_id: 1,
            user_balance_id: 1,
            partner_balance_id: None,
            amount: 100,
            remaining: if status == HoldStatus::Open { 100 } else { 0 },
            status,
            created_at,
            expires_at: created_at + 1_000_000,
        }
    }

    /// Expired holds come from the expiry order, which lists exactly the open holds: a hold leaves
    /// it when it closes, and one due later is not returned early.
    #[tokio::test(flavor = "current_thread")]
    async fn expired_holds_are_read_from_the_expiry_order_of_the_open_holds() {
        let state = unreachable_state();
        let memory = &state.memory;
        // Expiring at 1_000_100, 1_000_200, 1_000_300 and 1_000_400; hold 4 closed from the start.
        for (id, status) in [(1, HoldStatus::Open), (2, HoldStatus::Open), (3, HoldStatus::Open)] {
            memory.apply_one(&Change::InsertHold(hold_at(id, id * 100, status)));
        }
        memory.apply_one(&Change::InsertHold(hold_at(4, 400, HoldStatus::Completed)));
        memory.apply_one(&Change::UpdateHold {
            hold_id: 1,
            remaining: 0,
            status: HoldStatus::Reversed,
        });
        let due = |now| -> Vec<HoldId> {
            state
                .expired_holds(now)
                .iter()
                .map(|cell| cell.lock().hold.id)
                .collect()
        };
        assert_eq!(due(1_000_099), Vec::<HoldId>::new());
        assert_eq!(due(1_000_250), vec![2], "hold 1 was reversed, 3 is not due yet");
        assert_eq!(
            due(2_000_000),
            vec![2, 3],
            "soonest expired first; the closed hold 4 never"
        );
        assert_eq!(lock(&memory.retention).expiries.len(), 2);
        memory.apply_one(&Change::UpdateHold {
            hold_id: 2,
            remaining: 0,
            status: HoldStatus::Expired,
        });
        assert_eq!(due(2_000_000), vec![3]);
        assert_eq!(state.check_invariants(), Ok(()));
        lock(&memory.retention).expiries.insert((5, 1));
        assert!(state.check_invariants().unwrap_err().contains("expiry order"));
    }

    /// Housekeeping forgets from the oldest end of the retention order, never by scanning: only
    /// what is older than the cutoff goes, answers being decided stay, and an old hold still open
    /// lingers outside the queue until it closes, then goes at the next sweep.
    #[tokio::test(flavor = "current_thread")]
    async fn old_answers_and_closed_holds_are_forgotten_from_the_oldest_end() {
        let state = unreachable_state();
        let memory = &state.memory;
        for (stan, created_at) in [(1, 100), (2, 200), (4, 400), (3, 300)] {
            memory.apply_one(&Change::RecordAnswer(answer_at(stan, created_at)));
        }
        let Claim::New(_deciding) = state.claim(TransactionId { stan: 9, ..TRANSACTION }).await else {
            panic!("new");
        };
        assert_eq!(state.forget_answers_before(250), 2);
        let kept = |stan: u32| memory.answers.contains_key(&TransactionId { stan, ..TRANSACTION });
        assert_eq!(
            (kept(1), kept(2), kept(3), kept(4), kept(9)),
            (false, false, true, true, true)
        );
        // 3 (300) queued behind 4 (400) waits for a sweep whose cutoff passes 400.
        assert_eq!(state.forget_answers_before(350), 0);
        assert!(kept(3));
        assert_eq!(state.forget_answers_before(500), 2);
        assert_eq!((kept(3), kept(4), kept(9)), (false, false, true));

        memory.apply_one(&Change::InsertHold(hold_at(1, 100, HoldStatus::Open)));
        memory.apply_one(&Change::InsertHold(hold_at(2, 200, HoldStatus::Completed)));
        memory.apply_one(&Change::InsertHold(hold_at(3, 300, HoldStatus::Reversed)));
        assert_eq!(state.forget_closed_holds(250), 1, "hold 2 only: 1 is open, 3 is newer");
        {
            // Hold 1 lingers outside the queue, so later sweeps do not walk it while it stays open.
            let retention = lock(&memory.retention);
            assert!(retention.lingering.contains(&1));
            assert_eq!(retention.holds.iter().map(|&(_, id)| id).collect::<Vec<_>>(), vec![3]);
        }
        assert_eq!(state.forget_closed_holds(250), 0, "still open");
        assert!(state.hold(1).is_some() && state.hold(2).is_none() && state.hold(3).is_some());
        assert!(
            state
                .hold_by_transaction(&hold_at(2, 0, HoldStatus::Open).transaction)
                .is_none()
        );
        memory.apply_one(&Change::UpdateHold {
            hold_id: 1,
            remaining: 0,
            status: HoldStatus::Expired,
        });
        assert_eq!(state.forget_closed_holds(400), 2, "hold 1, closed since, and hold 3");
        assert_eq!(memory.holds.len(), 0);
    }

    #[test]
    fn a_watched_balance_notifies_once_per_crossing_change_by_change() {
        let memory = Memory::default();
        memory.apply_one(&Change::InsertBalance(partner_balance(1, 1_000, Some(500))));
        memory.apply_one(&Change::InsertBalance(partner_balance(2, 1_000, None)));
        // Above → below (a hold), further below, back up to the threshold, below again: two crossings.
        let batch = [
            delta(1, 0, 400),
            delta(1, 0, 300),
            delta(2, -900, 0),
            delta(1, 0, -200),
            delta(1, -1, 0),
        ];
        let notifications = memory.low_balance_notifications(&batch);
        let available: Vec<i64> = notifications.iter().map(available_in).collect();
        assert_eq!(available, vec![300, 499], "balance 2 has no threshold");
        // The next batch starts from the committed values: still below, nothing new.
        memory.apply(&batch);
        assert!(memory.low_balance_notifications(&[delta(1, -10, 0)]).is_empty());
    }

    #[test]
    fn a_threshold_set_in_the_batch_counts_from_its_place() {
        let memory = Memory::default();
        memory.apply_one(&Change::InsertBalance(partner_balance(1, 1_000, None)));
        assert!(memory.low_balance_notifications(&[delta(1, -900, 0)]).is_empty());
        let batch = [
            Change::UpdateBalanceThreshold {
                balance_id: 1,
                threshold: Some(800),
            },
            delta(1, -300, 0),
        ];
        let notifications = memory.low_balance_notifications(&batch);
        assert_eq!(notifications.iter().map(available_in).collect::<Vec<_>>(), vec![700]);
        // Cleared: no longer watched.
        memory.apply(&batch);
        memory.apply_one(&Change::UpdateBalanceThreshold {
            balance_id: 1,
            threshold: None,
        });
        memory.apply_one(&delta(1, 500, 0));
        assert!(memory.low_balance_notifications(&[delta(1, -1_000, 0)]).is_empty());
    }
}
