//! The switch over TCP: every message type and every row of the contract's
//! action-code table, duplicates and repeats, pipelining, reversals before
//! their original, disconnects, and locks racing authorizations — on SQLite
//! and on PostgreSQL.

mod support;

use antaca::cards;
use antaca::state::LockReason;
use support::*;

on_every_store!(network_management_answers_8000_and_echoes);
async fn network_management_answers_8000_and_echoes(app: &TestApp) {
    let mut client = app.connect().await;
    for code in ["801", "831", "802"] {
        let tx = Tx::new(2804).set(7, "1124120000").set(11, next_stan()).set(24, code);
        let response = client.exchange(&tx).await;
        assert_eq!((response.mti, response.action()), (2814, "8000"));
        assert_eq!(response.text(24), Some(code));
        assert_eq!(response.text(7), Some("1124120000"));
    }
    let unknown = client
        .exchange(&Tx::new(2804).set(11, next_stan()).set(24, "899"))
        .await;
    assert_eq!(unknown.action(), "1015");
}

on_every_store!(approval_holds_funds_and_reports_the_balance);
async fn approval_holds_funds_and_reports_the_balance(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut client = app.connect().await;
    let tx = Tx::authorization(card.pan(), 2_500);
    let response = client.exchange(&tx).await;
    assert_eq!((response.mti, response.action()), (2110, "0000"));
    assert_eq!(response.text(38).map(str::len), Some(6), "an approval code");
    assert_eq!(response.available(), Some(7_500));
    assert_eq!(
        &response.text(54).unwrap()[..8],
        "0002978C",
        "available, EUR, credit sign"
    );
    for echoed in [2, 3, 4, 7, 11, 12, 32, 37, 41, 42, 49] {
        assert_eq!(
            response.fields.get(&echoed).map(Vec::as_slice),
            tx.get(echoed),
            "DE {echoed} echoed"
        );
    }
    assert_eq!(app.available(card.balance_id), 7_500);
    let held = app.state.balance(card.balance_id).unwrap().snapshot();
    assert_eq!((held.ledger, held.held), (10_000, 2_500));
}

on_every_store!(declines_follow_the_action_code_table);
async fn declines_follow_the_action_code_table(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 1_000).await;
    let mut client = app.connect().await;
    let expect = |tx: Tx, code: &'static str| (tx, code);
    let cases = vec![
        expect(Tx::authorization("5399990000000000", 100), "1011"),
        expect(Tx::authorization(card.pan(), 5_000), "1016"),
        expect(Tx::authorization(card.pan(), 0), "1010"),
        expect(Tx::authorization(card.pan(), 100).set(14, "2001"), "1001"),
        expect(Tx::authorization(card.pan(), 100).set(3, "400000"), "1015"),
        expect(Tx::authorization(card.pan(), 100).set(49, "840"), "1015"),
        expect(
            Tx::authorization(card.pan(), 100).with_cvc2(if card.issued.cvc2 == "999" { "998" } else { "999" }),
            "1029",
        ),
        expect(Tx::authorization(card.pan(), 100).without(32), "9100"),
    ];
    // A letter in the numeric DE 4: the answer is 9100 and still echoes the STAN.
    let mut malformed = Tx::authorization(card.pan(), 100).encode(&support::spec());
    let amount_at = malformed
        .windows(12)
        .position(|window| window == b"000000000100")
        .unwrap();
    malformed[amount_at + 11] = b'A';
    client.send_raw(&malformed).await;
    let response = client.receive().await;
    assert_eq!(response.action(), "9100");
    assert!(response.text(11).is_some(), "the answer echoes what could be read");
    for (tx, code) in cases {
        let response = client.exchange(&tx).await;
        assert_eq!(response.action(), code, "for {tx:?}");
        assert!(response.text(38).is_none(), "no approval code on a decline");
    }
    assert_eq!(app.available(card.balance_id), 1_000, "declines change nothing");
    let right_cvc = Tx::authorization(card.pan(), 100).with_cvc2(&card.issued.cvc2);
    assert_eq!(client.exchange(&right_cvc).await.action(), "0000");
}

on_every_store!(every_lock_reason_declines_with_its_code);
async fn every_lock_reason_declines_with_its_code(app: &TestApp) {
    let mut client = app.connect().await;
    for (reason, code) in [
        (1, "2008"),
        (2, "2009"),
        (3, "1000"),
        (4, "1016"),
        (5, "1018"),
        (6, "1006"),
        (7, "1002"),
        (8, "1011"),
        (11, "1006"),
    ] {
        let card = app.funded_card(CREDIT_PROGRAM, 1_000).await;
        cards::lock(&app.state, card.issued.card_id, LockReason::from_code(reason).unwrap())
            .await
            .unwrap();
        let response = client.exchange(&Tx::authorization(card.pan(), 100)).await;
        assert_eq!(response.action(), code, "lock reason {reason}");
    }
}

on_every_store!(physical_card_must_be_activated);
async fn physical_card_must_be_activated(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 1_000).await;
    let entry = app.state.program(CREDIT_PROGRAM).unwrap();
    let physical = cards::issue(
        &app.state,
        card.balance_id,
        &entry.program.id,
        cards::CardRequest {
            kind: Some(antaca::state::CardKind::Physical),
            pin: None,
        },
    )
    .await
    .unwrap();
    let mut client = app.connect().await;
    assert_eq!(
        client.exchange(&Tx::authorization(&physical.pan, 100)).await.action(),
        "1018"
    );
    cards::link(&app.state, physical.card_id).await.unwrap();
    assert_eq!(
        client.exchange(&Tx::authorization(&physical.pan, 100)).await.action(),
        "1018"
    );
    cards::activate(&app.state, physical.card_id).await.unwrap();
    assert_eq!(
        client.exchange(&Tx::authorization(&physical.pan, 100)).await.action(),
        "0000"
    );
}

on_every_store!(pin_tries_lock_the_card_and_a_right_pin_resets_them);
async fn pin_tries_lock_the_card_and_a_right_pin_resets_them(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 1_000).await;
    cards::set_pin(&app.state, card.issued.card_id, "2468").await.unwrap();
    let key = app.zone_pin_key();
    let mut client = app.connect().await;
    let with_pin = |pin: &str| {
        Tx::authorization(card.pan(), 100)
            .set(22, "051")
            .with_pin(&key, card.pan(), pin)
    };
    assert_eq!(client.exchange(&with_pin("1111")).await.action(), "1017");
    assert_eq!(
        client.exchange(&with_pin("2468")).await.action(),
        "0000",
        "right PIN resets the count"
    );
    assert_eq!(client.exchange(&with_pin("1111")).await.action(), "1017");
    assert_eq!(client.exchange(&with_pin("1111")).await.action(), "1017");
    assert_eq!(
        client.exchange(&with_pin("1111")).await.action(),
        "1006",
        "the third wrong PIN in a row locks"
    );
    assert_eq!(
        client.exchange(&with_pin("2468")).await.action(),
        "1006",
        "locked with reason 6"
    );
    let status = app.state.card(card.issued.card_id).unwrap().lock().card.status;
    assert_eq!(status, antaca::state::CardStatus::Locked(LockReason::PinTriesExceeded));
}

on_every_store!(deposit_model_charges_the_deposit_then_the_user);
async fn deposit_model_charges_the_deposit_then_the_user(app: &TestApp) {
    let card = app.funded_card(DEPOSIT_PROGRAM, 5_000).await;
    let deposit = app.state.program(DEPOSIT_PROGRAM).unwrap().funding_balance;
    let mut client = app.connect().await;
    assert_eq!(
        client.exchange(&Tx::authorization(card.pan(), 1_000)).await.action(),
        "1000",
        "deposit empty"
    );
    assert_eq!(
        app.available(card.balance_id),
        5_000,
        "nothing locked when the deposit is short"
    );
    app.fund_deposit(DEPOSIT_PROGRAM, 3_000).await;
    assert_eq!(
        client.exchange(&Tx::authorization(card.pan(), 1_000)).await.action(),
        "0000"
    );
    assert_eq!((app.available(deposit), app.available(card.balance_id)), (2_000, 4_000));
    assert_eq!(
        client.exchange(&Tx::authorization(card.pan(), 4_500)).await.action(),
        "1000",
        "deposit short"
    );
    assert_eq!(
        client.exchange(&Tx::authorization(card.pan(), 2_000)).await.action(),
        "0000"
    );
    assert_eq!(
        client.exchange(&Tx::authorization(card.pan(), 1)).await.action(),
        "1000"
    );
    app.fund_deposit(DEPOSIT_PROGRAM, 10_000).await;
    assert_eq!(
        client.exchange(&Tx::authorization(card.pan(), 2_500)).await.action(),
        "1016",
        "user short"
    );
    assert_eq!(
        (app.available(deposit), app.available(card.balance_id)),
        (10_000, 2_000),
        "all or nothing"
    );
}

on_every_store!(financial_requests_post_refund_and_report);
async fn financial_requests_post_refund_and_report(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut client = app.connect().await;
    let purchase = client.exchange(&Tx::spend(2200, card.pan(), "000000", 3_000)).await;
    assert_eq!(
        (purchase.mti, purchase.action(), purchase.available()),
        (2210, "0000", Some(7_000))
    );
    let balance = app.state.balance(card.balance_id).unwrap().snapshot();
    assert_eq!((balance.ledger, balance.held), (7_000, 0), "posted at once, no hold");
    let cash = client
        .exchange(&Tx::spend(2200, card.pan(), "010000", 2_000).set(26, "6011"))
        .await;
    assert_eq!(cash.action(), "0000");
    let refund = client.exchange(&Tx::spend(2200, card.pan(), "200000", 500)).await;
    assert_eq!(refund.action(), "0000");
    let inquiry = client.exchange(&Tx::spend(2200, card.pan(), "300000", 0)).await;
    assert_eq!((inquiry.action(), inquiry.available()), ("0000", Some(5_500)));
    assert_eq!(app.state.balance(card.balance_id).unwrap().snapshot().ledger, 5_500);
}

on_every_store!(advice_records_a_hold_even_when_short);
async fn advice_records_a_hold_even_when_short(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 1_000).await;
    cards::lock(&app.state, card.issued.card_id, LockReason::PendingQuery)
        .await
        .unwrap();
    let mut client = app.connect().await;
    let advice = Tx::spend(2120, card.pan(), "000000", 1_500);
    let response = client.exchange(&advice).await;
    assert_eq!((response.mti, response.action()), (2130, "0000"));
    assert_eq!(
        app.available(card.balance_id),
        -500,
        "the network approved on our behalf"
    );
    let reversal = client.exchange(&advice.reversal(None)).await;
    assert_eq!(reversal.action(), "4000");
    assert_eq!(app.available(card.balance_id), 1_000);
}

on_every_store!(completion_posts_the_final_amount);
async fn completion_posts_the_final_amount(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut client = app.connect().await;
    let authorization = Tx::authorization(card.pan(), 4_000);
    assert_eq!(client.exchange(&authorization).await.action(), "0000");
    let completion = client.exchange(&authorization.completion(4_200)).await;
    assert_eq!((completion.mti, completion.action()), (2230, "0000"));
    let balance = app.state.balance(card.balance_id).unwrap().snapshot();
    assert_eq!(
        (balance.ledger, balance.held),
        (5_800, 0),
        "posted 42.00, hold released"
    );
    // A partial reversal after completion refunds down to what remains.
    let reversal = client.exchange(&authorization.reversal(Some(3_000))).await;
    assert_eq!(reversal.action(), "4000");
    assert_eq!(app.state.balance(card.balance_id).unwrap().snapshot().ledger, 7_000);
}

on_every_store!(reversals_full_partial_and_idempotent);
async fn reversals_full_partial_and_idempotent(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut client = app.connect().await;
    let authorization = Tx::authorization(card.pan(), 6_000);
    assert_eq!(client.exchange(&authorization).await.action(), "0000");
    let partial = authorization.reversal(Some(2_500));
    assert_eq!(client.exchange(&partial).await.action(), "4000");
    assert_eq!(app.available(card.balance_id), 7_500, "DE 4 is what remains held");
    assert_eq!(client.exchange(&partial.repeat()).await.action(), "4000");
    assert_eq!(app.available(card.balance_id), 7_500, "a repeat releases nothing more");
    let larger = authorization.reversal(Some(5_000));
    assert_eq!(client.exchange(&larger).await.action(), "4000");
    assert_eq!(
        app.available(card.balance_id),
        7_500,
        "never releases to more than was held"
    );
    let full = authorization.reversal(None);
    assert_eq!(client.exchange(&full).await.action(), "4000");
    assert_eq!(app.available(card.balance_id), 10_000);
    assert_eq!(client.exchange(&authorization.reversal(None)).await.action(), "4000");
    assert_eq!(app.available(card.balance_id), 10_000);
}

on_every_store!(reversal_before_its_original_declines_the_original);
async fn reversal_before_its_original_declines_the_original(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut client = app.connect().await;
    let authorization = Tx::authorization(card.pan(), 1_000);
    let reversal = client.exchange(&authorization.reversal(None)).await;
    assert_eq!((reversal.mti, reversal.action()), (2430, "9114"));
    let late = client.exchange(&authorization).await;
    assert_ne!(late.action(), "0000", "an original after its reversal is declined");
    assert_eq!(app.available(card.balance_id), 10_000);
}

on_every_store!(duplicates_and_repeats_get_the_first_answer);
async fn duplicates_and_repeats_get_the_first_answer(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut client = app.connect().await;
    let authorization = Tx::authorization(card.pan(), 1_000);
    let first = client.exchange(&authorization).await;
    let duplicate = client.exchange(&authorization).await;
    let repeat = client.exchange(&authorization.repeat()).await;
    assert_eq!(repeat.mti, 2110, "a repeat is answered as its original");
    for again in [&duplicate, &repeat] {
        assert_eq!(
            (again.action(), again.text(38), again.available()),
            (first.action(), first.text(38), first.available())
        );
    }
    assert_eq!(app.available(card.balance_id), 9_000, "held once");
    let declined = Tx::authorization(card.pan(), 1_000_000);
    assert_eq!(client.exchange(&declined).await.action(), "1016");
    assert_eq!(
        client.exchange(&declined.repeat()).await.action(),
        "1016",
        "declines are recorded too"
    );
}

on_every_store!(a_thousand_requests_in_flight_on_one_connection);
async fn a_thousand_requests_in_flight_on_one_connection(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 1_000_000).await;
    let mut client = app.connect().await;
    let requests: Vec<Tx> = (0..1_000).map(|_| Tx::authorization(card.pan(), 100)).collect();
    for tx in &requests {
        client.send(tx).await;
    }
    let mut stans = std::collections::HashSet::new();
    for _ in 0..requests.len() {
        let response = client.receive().await;
        assert_eq!(response.action(), "0000");
        stans.insert(response.text(11).unwrap().to_owned());
    }
    assert_eq!(stans.len(), 1_000, "every request answered once");
    assert_eq!(app.available(card.balance_id), 1_000_000 - 100_000);
}

on_every_store!(a_disconnect_mid_request_leaves_holds_correct);
async fn a_disconnect_mid_request_leaves_holds_correct(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 100_000).await;
    let requests: Vec<Tx> = (0..200).map(|_| Tx::authorization(card.pan(), 100)).collect();
    {
        let mut client = app.connect().await;
        for tx in &requests {
            client.send(tx).await;
        }
    } // dropped before reading anything
    // Each request is either decided and durable or never happened; asking again tells which.
    let mut client = app.connect().await;
    let mut approved = 0;
    for tx in &requests {
        if client.exchange(&tx.repeat()).await.action() == "0000" {
            approved += 1;
        }
    }
    assert_eq!(app.available(card.balance_id), 100_000 - 100 * approved);
}

on_every_store!(a_lock_then_an_authorization_in_the_same_millisecond_declines);
async fn a_lock_then_an_authorization_in_the_same_millisecond_declines(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut client = app.connect().await;
    cards::lock(&app.state, card.issued.card_id, LockReason::Stolen)
        .await
        .unwrap();
    assert_eq!(
        client.exchange(&Tx::authorization(card.pan(), 100)).await.action(),
        "2009"
    );
    assert!(
        cards::unlock(&app.state, card.issued.card_id).await.is_err(),
        "stolen is irreversible"
    );
}

on_every_store!(stop_list_file_update_locks_the_card);
async fn stop_list_file_update_locks_the_card(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut client = app.connect().await;
    let update = Tx::new(2304)
        .set(2, card.pan())
        .set(11, next_stan())
        .set(12, "261124120000")
        .set(32, ACQUIRER)
        .set(48, "930207")
        .set(91, "1");
    let response = client.exchange(&update).await;
    assert_eq!((response.mti, response.action()), (2314, "3000"));
    assert_eq!(
        client.exchange(&Tx::authorization(card.pan(), 100)).await.action(),
        "1002"
    );
    cards::unlock(&app.state, card.issued.card_id).await.unwrap();
    assert_eq!(
        client.exchange(&Tx::authorization(card.pan(), 100)).await.action(),
        "0000"
    );
    let bad_reason = update.clone().set(11, next_stan()).set(48, "930299");
    assert_eq!(client.exchange(&bad_reason).await.action(), "9100");
}

on_every_store!(expired_holds_are_released);
async fn expired_holds_are_released(app: &TestApp) {
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut client = app.connect().await;
    assert_eq!(
        client.exchange(&Tx::authorization(card.pan(), 3_000)).await.action(),
        "0000"
    );
    app.clock.advance(app.config.authorization.hold_ttl_s as i64 * 1000 + 1);
    // The expiry task runs every `hold_expiry_interval_s`; run one round now.
    assert_eq!(app.switch.expire_holds().await, 1);
    assert_eq!(app.switch.expire_holds().await, 0, "expired once");
    assert_eq!(app.available(card.balance_id), 10_000);
}

on_every_store!(an_unreadable_frame_closes_only_its_connection);
async fn an_unreadable_frame_closes_only_its_connection(app: &TestApp) {
    let mut bad = app.connect().await;
    let mut good = app.connect().await;
    bad.send_raw(b"21").await;
    assert!(bad.receive_raw().await.is_none(), "no MTI: the connection is closed");
    let mut oversized = app.connect().await;
    oversized.send_raw(&vec![b'0'; 9000]).await;
    assert!(oversized.receive_raw().await.is_none(), "over 8192 bytes: closed");
    let echo = good.exchange(&Tx::new(2804).set(11, next_stan()).set(24, "831")).await;
    assert_eq!(echo.action(), "8000", "other connections are served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_transaction_can_be_reversed_after_a_restart() {
    let databases = [
        Some(support::TestStore::sqlite().await),
        support::TestStore::postgres().await,
    ];
    for database in databases.into_iter().flatten() {
        let app = TestApp::start(&database.url).await;
        let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
        let mut client = app.connect().await;
        let authorization = Tx::authorization(card.pan(), 4_000);
        assert_eq!(client.exchange(&authorization).await.action(), "0000");
        assert_eq!(client.exchange(&authorization.completion(4_000)).await.action(), "0000");
        assert_eq!(app.state.balance(card.balance_id).unwrap().snapshot().ledger, 6_000);
        drop(client);
        app.stop().await;
        // The restarted switch loads the completed hold (inside the retention window).
        let restarted = TestApp::start(&database.url).await;
        let mut client = restarted.connect().await;
        assert_eq!(client.exchange(&authorization.reversal(None)).await.action(), "4000");
        let balance = restarted.state.balance(card.balance_id).unwrap().snapshot();
        assert_eq!(balance.ledger, 10_000, "the posted debit is refunded");
        restarted.state.check_invariants().unwrap();
        restarted.stop().await;
    }
}

/// 9109: the database cannot take the batch (here another process holds
/// SQLite's write lock past the busy timeout). Nothing is held, and once the
/// database is free again the switch recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_that_cannot_be_saved_answers_9109_and_holds_nothing() {
    use sqlx::Connection;
    let database = support::TestStore::sqlite().await;
    let app = TestApp::start(&database.url).await;
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut blocker = sqlx::SqliteConnection::connect(&database.url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut blocker).await.unwrap();
    let mut client = app.connect().await;
    let authorization = Tx::authorization(card.pan(), 1_000);
    assert_eq!(client.exchange(&authorization).await.action(), "9109");
    assert_eq!(app.available(card.balance_id), 10_000, "nothing held");
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    drop(blocker);
    // Not recorded: the same transaction, asked again, is decided afresh.
    assert_eq!(client.exchange(&authorization.repeat()).await.action(), "0000");
    assert_eq!(app.available(card.balance_id), 9_000);
    app.state.check_invariants().unwrap();
    app.stop().await;
}

/// Card numbers stay unique when cards are issued at once: a number chosen by an issue still under
/// way is not chosen by another (a duplicate used to reach the database and fail the whole group
/// commit, everyone's changes with it: `antaca provision --cards 10000` hit it). The longest BIN
/// (12 digits) leaves three free digits, 1,000 numbers: 100 issues at once would draw one twice
/// with a probability of 99 %.
#[tokio::test]
async fn concurrent_issues_never_choose_the_same_card_number() {
    let database = support::TestStore::sqlite().await;
    let app = TestApp::start(&database.url).await;
    let card = app.funded_card(CREDIT_PROGRAM, 0).await;
    let mut narrow = app.state.program(CREDIT_PROGRAM).unwrap().program.clone();
    narrow.id = "narrow-bin".to_owned();
    narrow.bin = "539999001234".to_owned();
    let mut submission = antaca::state::Submission::default();
    submission.push(antaca::state::Change::UpsertProgram(narrow));
    app.state.submit(submission).await.unwrap();
    let issues =
        (0..100).map(|_| cards::issue(&app.state, card.balance_id, "narrow-bin", cards::CardRequest::default()));
    let issued: Vec<_> = futures_util::future::join_all(issues)
        .await
        .into_iter()
        .map(|issued| issued.expect("every issue succeeds"))
        .collect();
    let numbers: std::collections::HashSet<&str> = issued.iter().map(|card| card.pan.as_str()).collect();
    assert_eq!(numbers.len(), 100, "a hundred different numbers");
    assert_eq!(app.state.cards_of_balance(card.balance_id).len(), 101);
    app.stop().await;
}
