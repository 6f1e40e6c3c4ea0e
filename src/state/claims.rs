//! Claims: a transaction identity claimed by the request deciding it (duplicates wait for its
//! answer), and keys reserved by a lifecycle operation in flight (uniqueness checks).

use super::*;

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

impl State {
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
}

impl Memory {
    /// Frees a claimed identity whose answer was not recorded; `unsaved`: because its decision
    /// could not be made durable (its waiters are answered the same, see [`PendingAnswer::unsaved`]),
    /// rather than abandoned before deciding (its waiters decide afresh).
    pub(super) fn free_answer(&self, transaction: &TransactionId, unsaved: bool) {
        if let Some((_, AnswerSlot::Pending(pending))) = self
            .answers
            .remove_if(transaction, |_, slot| matches!(slot, AnswerSlot::Pending(_)))
        {
            pending.unsaved.store(unsaved, Ordering::Release);
            pending.decided.notify_waiters();
        }
    }
}
