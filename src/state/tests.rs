//! Unit tests of the state: claims, retention, the low-balance watch.

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
