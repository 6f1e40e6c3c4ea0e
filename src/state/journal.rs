//! The journal: every change goes through here, group-committed.
//!
//! One task owns the commits. It takes every submission queued since its last
//! batch started (at most `batch_max` changes; optionally lingering `batch_wait_us`
//! for more), writes them in one transaction, and only once it is committed
//! applies them to memory and wakes each submitter. Up to
//! `commits_in_flight_max` batches are in flight: the next one is written while
//! the previous one's COMMIT waits for its flush ([`Written`] says why that is
//! safe); they are applied in the order they were started. A failed commit applies nothing: every
//! submitter of that batch gets an error and its reservations are released.
//! The queue is bounded (`queue_max` submissions); past it, `submit` fails at
//! once (`Overloaded`) instead of queueing without bound.

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::sync::{mpsc, oneshot};

use super::cells::{BalanceCell, CardCell, HoldCell};
use super::change::Change;
use crate::domain::TransactionId;

/// Why a submission was not made durable. Nothing of it was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("the database is unavailable")]
    Unavailable,
    #[error("the database refused the batch")]
    Failed,
    #[error("the journal queue is full")]
    Overloaded,
    #[error("the journal has stopped")]
    Stopped,
    /// The connection was lost during COMMIT (or during a batch's only statement, committing on its
    /// own): the batch may or may not be stored. The journal asks
    /// [`CommitTarget::resolve`] before answering; submitters never see this.
    #[error("the database did not confirm the commit")]
    InDoubt,
}

/// A batch's identity, unique across restarts: the committer's start time in milliseconds shifted
/// left by [`BATCH_COUNT_BITS`], plus the batch's number since then (a restart starts from a later
/// millisecond, and no committer makes a million batches per millisecond of its life).
pub type BatchId = i64;

/// Bits of a [`BatchId`] that count batches; the rest is a time in milliseconds.
pub const BATCH_COUNT_BITS: u32 = 20;

/// Where batches are made durable (the store; a test may wrap it to inject faults).
pub trait CommitTarget: Send + Sync + 'static {
    /// Makes `changes` durable in one transaction. `written` is to be signalled once every
    /// statement of the batch has run and only the COMMIT is left (dropping it signals too, late
    /// but safely): the journal starts writing the next batch only then.
    ///
    /// The target records `batch` with the changes, so that after [`JournalError::InDoubt`]
    /// [`CommitTarget::resolve`] can tell whether they were stored.
    fn commit<'a>(
        &'a self,
        batch: BatchId,
        changes: &'a [Change],
        written: Written,
    ) -> Pin<Box<dyn Future<Output = Result<(), JournalError>> + Send + 'a>>;

    /// Whether batch `batch`, whose commit was in doubt, was stored: waits (retrying) until the
    /// database can say. Only called after `commit` answered `InDoubt`.
    fn resolve(&self, _batch: BatchId) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(std::future::ready(false))
    }
}

/// Tells the journal that a batch's statements are done and only its COMMIT is left.
///
/// Why the next batch waits for this and no longer: with `commits_in_flight_max` above 1, batch
/// k+1 writes while batch k's COMMIT (its WAL flush) is under way, on another connection. A row
/// both change is locked by k, so k+1's statement on it waits for k's COMMIT: the database applies
/// them in the journal's order, which is also the order memory applies them in. Only one batch is
/// ever writing, and the ones ahead of it wait for nothing but their flush, so no two batches can
/// wait on each other (no deadlock). Batches in flight together are independent: a change is
/// applied to memory only after its commit, so no submission can build on one not yet committed.
#[derive(Debug)]
pub struct Written(Option<oneshot::Sender<()>>);

impl Written {
    /// A signal nobody waits for (a target used outside the journal).
    pub fn unobserved() -> Written {
        Written(None)
    }

    pub fn signal(mut self) {
        if let Some(sender) = self.0.take() {
            let _ = sender.send(());
        }
    }
}

/// What to undo or finish in memory once a submission's batch is decided.
#[derive(Debug)]
pub enum Release {
    /// Funds reserved on a balance by the decision.
    Funds { balance: Arc<BalanceCell>, amount: i64 },
    /// The card's pending update.
    Card(Arc<CardCell>),
    /// The hold's in-flight operation.
    Hold(Arc<HoldCell>),
    /// The transaction identity claimed by the request.
    Answer(TransactionId),
}

/// Changes that commit together, all or nothing, and what to release after.
#[derive(Debug, Default)]
pub struct Submission {
    pub changes: Vec<Change>,
    pub releases: Vec<Release>,
}

impl Submission {
    pub fn push(&mut self, change: Change) -> &mut Self {
        self.changes.push(change);
        self
    }

    pub fn release(&mut self, release: Release) -> &mut Self {
        self.releases.push(release);
        self
    }
}

/// Applies committed changes to memory and performs releases (the state implements it).
pub trait Applier: Send + Sync + 'static {
    /// Changes a batch implies, seen against the committed state (e.g. a low-balance
    /// notification), committed in the same transaction and applied before its submitters are
    /// woken. `settled` says no batch is in flight ahead of this one; when it is false and the
    /// answer depends on batches still in flight (not yet in memory), return `None`: the journal
    /// then waits until they are applied and asks again with `settled` true.
    fn consequences(&self, _changes: &[Change], _settled: bool) -> Option<Vec<Change>> {
        Some(Vec::new())
    }
    fn apply(&self, changes: &[Change]);
    fn release(&self, releases: Vec<Release>, committed: bool);
}

struct Entry {
    submission: Submission,
    done: oneshot::Sender<Result<(), JournalError>>,
}

/// The submitting side of the journal.
#[derive(Clone)]
pub struct Journal {
    sender: mpsc::Sender<Entry>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("queued", &(self.sender.max_capacity() - self.sender.capacity()))
            .finish()
    }
}

/// Bounds of the committer, from `[journal]` in the config.
#[derive(Debug, Clone, Copy)]
pub struct JournalLimits {
    pub batch_max: usize,
    pub batch_wait: Duration,
    pub queue_max: usize,
    /// Batches committing at once (1: one after another). See [`Written`] for why more is safe.
    pub commits_in_flight_max: usize,
}

/// A future resolving when the submission is durable (or failed).
pub type Receipt = Pin<Box<dyn Future<Output = Result<(), JournalError>> + Send>>;

impl Journal {
    /// Starts the committer task; it ends when every `Journal` clone is dropped
    /// and the queue is drained.
    pub fn start(
        target: Arc<dyn CommitTarget>,
        applier: Arc<dyn Applier>,
        limits: JournalLimits,
    ) -> (Journal, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(limits.queue_max);
        let task = tokio::spawn(run_committer(receiver, target, applier, limits));
        (Journal { sender }, task)
    }

    /// Queues a submission. Never waits: when the queue is full the
    /// submission is refused (its reservations released) and the receipt fails.
    pub fn submit(&self, submission: Submission, applier: &dyn Applier) -> Receipt {
        let (done, receipt) = oneshot::channel();
        match self.sender.try_send(Entry { submission, done }) {
            Ok(()) => Box::pin(async move { receipt.await.unwrap_or(Err(JournalError::Stopped)) }),
            Err(error) => {
                let (entry, failure) = match error {
                    mpsc::error::TrySendError::Full(entry) => (entry, JournalError::Overloaded),
                    mpsc::error::TrySendError::Closed(entry) => (entry, JournalError::Stopped),
                };
                applier.release(entry.submission.releases, false);
                metrics::counter!("antaca_journal_refused_total").increment(1);
                Box::pin(std::future::ready(Err(failure)))
            }
        }
    }
}

/// The resolution of tokio's timer: lingers shorter than this yield instead of sleeping.
const TIMER_TICK: Duration = Duration::from_millis(1);

/// One batch: the entries it answers, their changes moved into one vector, and each entry's range.
#[derive(Default)]
struct Batch {
    entries: Vec<Entry>,
    changes: Vec<Change>,
    ranges: Vec<Range<usize>>,
    /// Where the changes the batch implies ([`Applier::consequences`]) begin.
    implied_from: usize,
    id: BatchId,
}

impl Batch {
    fn push(&mut self, mut entry: Entry) {
        let start = self.changes.len();
        // Move (not clone) the submission's changes into the batch.
        self.changes.append(&mut entry.submission.changes);
        self.ranges.push(start..self.changes.len());
        self.entries.push(entry);
    }
}

/// A batch whose commit is under way; resolves to the batch and its outcome.
type InFlight = Pin<Box<dyn Future<Output = (Batch, Result<(), JournalError>)> + Send>>;

async fn run_committer(
    mut receiver: mpsc::Receiver<Entry>,
    target: Arc<dyn CommitTarget>,
    applier: Arc<dyn Applier>,
    limits: JournalLimits,
) {
    let depth = limits.commits_in_flight_max.max(1);
    // Finished in the order started, so memory applies batches in the order the database wrote them.
    let mut in_flight: FuturesOrdered<InFlight> = FuturesOrdered::new();
    // The newest batch's signal that its writes are done (only its COMMIT is left).
    let mut writing: Option<oneshot::Receiver<()>> = None;
    // Emptied batches, reused so that their vectors keep their capacity.
    let mut spare: Vec<Batch> = Vec::with_capacity(depth);
    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64);
    let mut next_batch: BatchId = started_ms << BATCH_COUNT_BITS;
    #[cfg(debug_assertions)]
    let injected_panic = injected_panic_at().map(|count| next_batch + count - 1);
    let mut open = true;
    while open || !in_flight.is_empty() {
        let may_start = open && in_flight.len() < depth && writing.is_none();
        tokio::select! {
            biased;
            Some((batch, result)) = in_flight.next(), if !in_flight.is_empty() => {
                decided(&target, &applier, batch, result, &mut spare);
            }
            _ = async {
                if let Some(signal) = writing.as_mut() {
                    let _ = signal.await;
                }
            }, if writing.is_some() => {
                // Written (or failed, which dropped the signal): the next batch may start writing.
                writing = None;
            }
            first = receiver.recv(), if may_start => {
                let Some(first) = first else {
                    open = false;
                    continue;
                };
                let mut batch = spare.pop().unwrap_or_default();
                gather(&mut receiver, first, &mut batch, &limits).await;
                batch.implied_from = batch.changes.len();
                let implied = match applier.consequences(&batch.changes, in_flight.is_empty()) {
                    Some(implied) => implied,
                    None => {
                        // Decidable only on the state with every batch ahead applied: let them finish.
                        while let Some((ahead, result)) = in_flight.next().await {
                            decided(&target, &applier, ahead, result, &mut spare);
                        }
                        applier.consequences(&batch.changes, true).unwrap_or_default()
                    }
                };
                batch.changes.extend(implied);
                batch.id = next_batch;
                next_batch += 1;
                #[cfg(debug_assertions)]
                if injected_panic == Some(batch.id) {
                    panic!("injected by {INJECTED_PANIC_VARIABLE}");
                }
                let (written, signal) = oneshot::channel();
                writing = Some(signal);
                in_flight.push_back(start_commit(target.clone(), batch, Written(Some(written))));
            }
        }
    }
}

/// A test's fault, in debug builds only (a release build has no such path): the committer panics
/// on its Nth batch, N read from this variable when it starts, so that tests/vital.rs can see what a
/// panic in it does to the process.
#[cfg(debug_assertions)]
pub const INJECTED_PANIC_VARIABLE: &str = "ANTACA_TEST_COMMITTER_PANIC_AT_BATCH";

#[cfg(debug_assertions)]
fn injected_panic_at() -> Option<BatchId> {
    std::env::var(INJECTED_PANIC_VARIABLE)
        .ok()?
        .parse()
        .ok()
        .filter(|count| *count > 0)
}

/// Adds `first` and whatever else is queued (up to `batch_max` changes, lingering `batch_wait`) to `batch`.
async fn gather(receiver: &mut mpsc::Receiver<Entry>, first: Entry, batch: &mut Batch, limits: &JournalLimits) {
    let mut count = first.submission.changes.len();
    batch.push(first);
    let linger_until = Instant::now() + limits.batch_wait;
    while count < limits.batch_max {
        match receiver.try_recv() {
            Ok(entry) => {
                count += entry.submission.changes.len();
                batch.push(entry);
            }
            Err(_) => {
                let left = linger_until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                if left <= TIMER_TICK {
                    // Tokio's timer ticks in milliseconds: sleeping would linger a whole
                    // tick. Yield instead, so that the submitters just woken by the last
                    // commit (often on this very worker) can queue theirs, then look again.
                    tokio::task::yield_now().await;
                    continue;
                }
                match tokio::time::timeout(left - TIMER_TICK, receiver.recv()).await {
                    Ok(Some(entry)) => {
                        count += entry.submission.changes.len();
                        batch.push(entry);
                    }
                    Ok(None) => break,
                    // Linger the last tick's worth by yielding, as above.
                    Err(_) => {}
                }
            }
        }
    }
}

fn start_commit(target: Arc<dyn CommitTarget>, batch: Batch, written: Written) -> InFlight {
    Box::pin(async move {
        let started = Instant::now();
        let result = if batch.changes.is_empty() {
            Ok(())
        } else {
            target.commit(batch.id, &batch.changes, written).await
        };
        metrics::histogram!("antaca_journal_commit_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("antaca_journal_batch_changes").record(batch.changes.len() as f64);
        (batch, result)
    })
}

/// Finishes a batch whose commit returned, or, if its outcome is in doubt, hands it to a task that
/// asks the database and finishes it then. The committer goes on meanwhile (later batches fail fast
/// while the database is away): batches in flight together are independent (see [`Written`]), so
/// this one may be applied after later ones. Its reservations, pending card updates and claimed
/// transactions stay as they are until then, so nothing builds on it, and repeats wait for it.
fn decided(
    target: &Arc<dyn CommitTarget>,
    applier: &Arc<dyn Applier>,
    batch: Batch,
    result: Result<(), JournalError>,
    spare: &mut Vec<Batch>,
) {
    if result != Err(JournalError::InDoubt) {
        finish(&**applier, batch, result, spare);
        return;
    }
    tracing::warn!(
        batch = batch.id,
        submissions = batch.entries.len(),
        "commit in doubt: asking the database whether the batch was stored"
    );
    metrics::counter!("antaca_journal_in_doubt_batches_total").increment(1);
    let (target, applier) = (target.clone(), applier.clone());
    tokio::spawn(async move {
        let stored = target.resolve(batch.id).await;
        tracing::warn!(batch = batch.id, stored, "commit in doubt resolved");
        let result = if stored { Ok(()) } else { Err(JournalError::Unavailable) };
        finish(&*applier, batch, result, &mut Vec::new());
    });
}

/// Applies a decided batch to memory (if committed), releases its reservations and answers its submitters.
fn finish(applier: &dyn Applier, mut batch: Batch, result: Result<(), JournalError>, spare: &mut Vec<Batch>) {
    if let Err(error) = result {
        tracing::error!(%error, submissions = batch.entries.len(), changes = batch.changes.len(), "journal commit failed");
        metrics::counter!("antaca_journal_failed_batches_total").increment(1);
    }
    if result.is_ok() {
        applier.apply(&batch.changes[batch.implied_from..]);
    }
    for (entry, range) in batch.entries.drain(..).zip(batch.ranges.drain(..)) {
        if result.is_ok() {
            applier.apply(&batch.changes[range]);
        }
        applier.release(entry.submission.releases, result.is_ok());
        let _ = entry.done.send(result);
    }
    batch.changes.clear();
    spare.push(batch);
}
