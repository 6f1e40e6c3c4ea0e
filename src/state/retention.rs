//! Retention: what memory forgets, and when. Expired holds are found from the expiry order of the
//! open holds; old answers and closed holds are forgotten from the oldest end of the order memory
//! received them in. Nothing here scans a whole map.

use super::*;

/// See [`Memory::retention`]. Creation times are nearly in order (batches in flight together may
/// interleave by a few milliseconds): an entry behind a newer one waits for the next sweep.
#[derive(Debug, Default)]
pub(super) struct RetentionOrder {
    pub(super) answers: std::collections::VecDeque<(TimestampMs, TransactionId)>,
    pub(super) holds: std::collections::VecDeque<(TimestampMs, HoldId)>,
    /// The open holds by expiry time: a hold enters when it opens and leaves when it closes, so
    /// finding the expired ones reads only them (a scan of every hold in memory stalled the soak's
    /// requests every sweep), and the set is only as large as the open holds.
    pub(super) expiries: std::collections::BTreeSet<(TimestampMs, HoldId)>,
    /// Holds past the retention window that were still open (or busy) when a sweep reached them:
    /// they leave the queue instead of waiting at its front, where every sweep walked them all again
    /// (half-second stalls every sweep with 1.4 million such holds).
    pub(super) lingering: std::collections::HashSet<HoldId>,
    /// Lingering holds closed since the last sweep: the next one forgets them.
    pub(super) closed_lingering: Vec<HoldId>,
}

impl State {
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
    /// Memory only: the database's copies go with [`AnswerArchive`].
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
}

/// The database's copies of old recorded answers (and any older rows memory never held, e.g. from
/// before a restart), deleted outside the journal a bounded slice at a time so requests never queue
/// behind it. The store implements it; the application wiring hands it to [`run_retention`].
pub trait AnswerArchive: Send + Sync {
    /// Deletes the answers recorded before `cutoff`; returns how many.
    fn forget_answers_before(
        &self,
        cutoff: TimestampMs,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, String>> + Send + '_>>;
}

/// Every `interval` until `shutdown`: forgets recorded answers and closed holds older than
/// `retention` (`authorization.duplicate_retention_s`), in memory (from the oldest end of the
/// retention order, no scan) and in the `archive`.
pub async fn run_retention(
    state: State,
    archive: Arc<dyn AnswerArchive>,
    interval: std::time::Duration,
    retention: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let cutoff = state.now_ms() - retention.as_millis() as i64;
        let forgotten = state.forget_answers_before(cutoff);
        let dropped = state.forget_closed_holds(cutoff);
        tracing::debug!(
            forgotten,
            dropped,
            "answers and closed holds past the retention window dropped from memory"
        );
        let deleted = tokio::select! {
            deleted = archive.forget_answers_before(cutoff) => deleted,
            () = shutdown.cancelled() => return,
        };
        match deleted {
            Ok(deleted) => tracing::debug!(deleted, "recorded answers past the retention window deleted"),
            Err(error) => tracing::warn!(%error, "deleting old recorded answers failed; retried next round"),
        }
    }
}
