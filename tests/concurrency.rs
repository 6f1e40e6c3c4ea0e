//! Concurrent authorizations that touch two balances (the deposit model:
//! partner deposit, then the user's funds) are all or nothing and cannot
//! deadlock: a property test over random workloads run from many tasks at
//! once against the in-process switch, on SQLite and on PostgreSQL. On
//! PostgreSQL the journal keeps up to 3 batches in flight with no linger, so
//! batches that change the same balance rows and cards commit overlapped; after
//! the run the switch is restarted on the same database and what it loads must
//! equal what memory held (the database applied the batches in memory's order).

mod support;

use std::time::Duration;

use proptest::prelude::*;
use support::*;

/// One request of a generated workload.
#[derive(Debug, Clone)]
enum Operation {
    Authorize { card: usize, amount: u64 },
    Reverse { card: usize, amount: u64 },
    Lock { card: usize },
}

fn operation(cards: usize) -> impl Strategy<Value = Operation> {
    prop_oneof![
        6 => (0..cards, 1..3_000u64).prop_map(|(card, amount)| Operation::Authorize { card, amount }),
        2 => (0..cards, 1..3_000u64).prop_map(|(card, amount)| Operation::Reverse { card, amount }),
        1 => (0..cards).prop_map(|card| Operation::Lock { card }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn two_balance_holds_are_all_or_nothing(
        workloads in prop::collection::vec(prop::collection::vec(operation(4), 1..40), 8),
        deposit in 5_000i64..40_000,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(support::each_store(|database| run(database, workloads.clone(), deposit)));
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "not yet split into named steps (issue 24); the lint holds everywhere else"
)]
async fn run(database: support::TestStore, workloads: Vec<Vec<Operation>>, deposit: i64) {
    let pipelined = [
        ("ANTACA__JOURNAL__COMMITS_IN_FLIGHT_MAX", "3"),
        ("ANTACA__JOURNAL__BATCH_WAIT_US", "0"),
    ];
    let app = TestApp::start_with(&database.url, &pipelined).await;
    app.fund_deposit(DEPOSIT_PROGRAM, deposit).await;
    let deposit_balance = app.state.program(DEPOSIT_PROGRAM).unwrap().funding_balance;
    let mut cards = Vec::new();
    for _ in 0..4 {
        cards.push(app.funded_card(DEPOSIT_PROGRAM, 10_000).await);
    }
    let pans: Vec<String> = cards.iter().map(|card| card.pan().to_owned()).collect();
    let card_ids: Vec<i64> = cards.iter().map(|card| card.issued.card_id).collect();
    let mut tasks = Vec::new();
    for workload in workloads {
        let (address, pans, card_ids, state) = (app.address, pans.clone(), card_ids.clone(), app.state.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(address).await;
            let mut approved: Vec<Tx> = Vec::new();
            for operation in workload {
                match operation {
                    Operation::Authorize { card, amount } => {
                        let tx = Tx::authorization(&pans[card], amount);
                        let response = client.exchange(&tx).await;
                        assert!(
                            ["0000", "1000", "1016", "1002"].contains(&response.action()),
                            "{}",
                            response.action()
                        );
                        if response.action() == "0000" {
                            approved.push(tx);
                        }
                    }
                    Operation::Reverse { card, amount } => {
                        let Some(position) = approved.iter().position(|tx| tx.get(2) == Some(pans[card].as_bytes()))
                        else {
                            continue;
                        };
                        let original = approved.remove(position);
                        let remaining = amount.min(1_000);
                        let response = client.exchange(&original.reversal(Some(remaining))).await;
                        assert_eq!(response.action(), "4000");
                    }
                    Operation::Lock { card } => {
                        let _ = antaca::cards::lock(&state, card_ids[card], antaca::state::LockReason::SuspectedFraud)
                            .await;
                    }
                }
            }
        }));
    }
    // A deadlock would hang here: bound the wait.
    let finished = tokio::time::timeout(Duration::from_secs(60), futures_util::future::join_all(tasks)).await;
    let results = finished.expect("no deadlock: every task finished");
    for result in results {
        result.expect("a worker task panicked");
    }
    app.state
        .check_invariants()
        .expect("held amounts match open holds and money is conserved");
    let deposit_now = app.state.balance(deposit_balance).unwrap().snapshot();
    assert!(
        deposit_now.available() >= 0,
        "the deposit never goes below zero: {deposit_now:?}"
    );
    let mut users_held = 0;
    for card in &cards {
        let user = app.state.balance(card.balance_id).unwrap().snapshot();
        assert!(user.available() >= 0, "a user balance never goes below zero: {user:?}");
        users_held += user.held;
    }
    // Every hold charged the deposit and the user alike: all or nothing.
    assert_eq!(deposit_now.held, users_held, "deposit and user holds move together");
    let mut watched: Vec<i64> = cards.iter().map(|card| card.balance_id).collect();
    watched.push(deposit_balance);
    let in_memory: Vec<_> = watched
        .iter()
        .map(|id| app.state.balance(*id).unwrap().snapshot())
        .collect();
    let cards_in_memory: Vec<_> = card_ids
        .iter()
        .map(|id| app.state.card(*id).unwrap().lock().card.clone())
        .collect();
    app.stop().await;
    let restarted = TestApp::start_with(&database.url, &pipelined).await;
    let reloaded: Vec<_> = watched
        .iter()
        .map(|id| restarted.state.balance(*id).unwrap().snapshot())
        .collect();
    let cards_reloaded: Vec<_> = card_ids
        .iter()
        .map(|id| restarted.state.card(*id).unwrap().lock().card.clone())
        .collect();
    assert_eq!(reloaded, in_memory, "the database holds what memory held");
    assert_eq!(
        cards_reloaded, cards_in_memory,
        "every card's last state is the one stored"
    );
    restarted.stop().await;
}
