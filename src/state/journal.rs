//! The journal: every change goes through here, group-committed.
//!
//! One task owns the commits. It takes every submission queued since its last
//! commit (at most `batch_max` changes; optionally lingering `batch_wait_us`
//! for more), writes them in one transaction, and only then applies them to
//! memory and wakes each submitter. A failed commit applies nothing: every
//! submitter of that batch gets an error and its reservations are released.
//! The queue is bounded (`queue_max` submissions); past it, `submit` fails at
//! once (`Overloaded`) instead of queueing without bound.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::change::Change;
use super::memory::{BalanceCell, CardCell, HoldCell};
use super::model::TransactionId;

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
}

/// Where batches are made durable (the store; a test may wrap it to inject faults).
pub trait CommitTarget: Send + Sync + 'static {
    fn commit<'a>(
        &'a self,
        changes: &'a [Change],
    ) -> Pin<Box<dyn Future<Output = Result<(), JournalError>> + Send + 'a>>;
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
    /// Changes a batch implies (seen against the state before it), committed in the same
    /// transaction and applied before its submitters are woken: e.g. a low-balance notification.
    fn consequences(&self, _changes: &[Change]) -> Vec<Change> {
        Vec::new()
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

async fn run_committer(
    mut receiver: mpsc::Receiver<Entry>,
    target: Arc<dyn CommitTarget>,
    applier: Arc<dyn Applier>,
    limits: JournalLimits,
) {
    let mut batch: Vec<Entry> = Vec::new();
    let mut changes: Vec<Change> = Vec::new();
    while let Some(first) = receiver.recv().await {
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
        // Move (not clone) every submission's changes into one batch; each
        // entry remembers its range to apply after the commit.
        changes.clear();
        let mut ranges = Vec::with_capacity(batch.len());
        for entry in &mut batch {
            let start = changes.len();
            changes.append(&mut entry.submission.changes);
            ranges.push(start..changes.len());
        }
        let implied_from = changes.len();
        let implied = applier.consequences(&changes);
        changes.extend(implied);
        let started = Instant::now();
        let result = if changes.is_empty() {
            Ok(())
        } else {
            target.commit(&changes).await
        };
        metrics::histogram!("antaca_journal_commit_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("antaca_journal_batch_changes").record(changes.len() as f64);
        if let Err(error) = result {
            tracing::error!(%error, submissions = batch.len(), changes = changes.len(), "journal commit failed");
            metrics::counter!("antaca_journal_failed_batches_total").increment(1);
        }
        if result.is_ok() {
            applier.apply(&changes[implied_from..]);
        }
        for (entry, range) in batch.drain(..).zip(ranges) {
            if result.is_ok() {
                applier.apply(&changes[range]);
            }
            applier.release(entry.submission.releases, result.is_ok());
            let _ = entry.done.send(result);
        }
    }
}
