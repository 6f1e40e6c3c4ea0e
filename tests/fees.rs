//! Fees through the real paths: transaction fees and FX over TCP (held, posted as their own
//! entries, refunded in proportion), waivers, fees switched off, and the periodic-fee scheduler
//! across a restart — on SQLite and on PostgreSQL.

mod support;

use antaca::fees::periodic::{charge_due, period_containing};
use antaca::fees::schedule::Period;
use antaca::fees::{FeeEntry, FeeSchedule, FeeType, FxRate, ScheduleVersion};
use antaca::state::{Change, Submission};
use rust_decimal::Decimal;
use support::*;

fn schedule(json: &str) -> FeeSchedule {
    serde_json::from_str(json).expect("a valid schedule")
}

/// Makes `schedule` the program's schedule from a minute ago (a new version, through the journal).
async fn set_schedule(app: &TestApp, program: &str, schedule: FeeSchedule) {
    let now = app.state.now_ms();
    let version = app
        .state
        .fee_schedules(program)
        .last()
        .map_or(1, |last| last.version + 1);
    let mut submission = Submission::default();
    submission.push(Change::InsertFeeSchedule(ScheduleVersion {
        program_id: program.to_owned(),
        version,
        effective_from: now - 60_000,
        schedule,
        created_at: now,
        created_by: "test".to_owned(),
    }));
    app.state.submit(submission).await.unwrap();
}

fn revenue(app: &TestApp, program: &str) -> i64 {
    let id = app
        .state
        .program(program)
        .unwrap()
        .fee_balance
        .expect("a fee-revenue account");
    app.state.balance(id).unwrap().snapshot().ledger
}

fn ledger(app: &TestApp, balance_id: i64) -> i64 {
    app.state.balance(balance_id).unwrap().snapshot().ledger
}

async fn entries_of(database: &support::TestStore, balance_id: i64) -> Vec<FeeEntry> {
    let store = database.reconnect().await;
    let entries = store.fee_entries().await.unwrap();
    store.close().await;
    entries
        .into_iter()
        .filter(|entry| entry.balance_id == balance_id)
        .collect()
}

const TRANSACTION_FEES: &str = r#"{"enabled": true,
    "pos": {"fixed": "0.10", "percent": "1"},
    "ecommerce": {"fixed": "0", "percent": "2"},
    "atm": {"fixed": "2.00", "percent": "0"}}"#;

on_every_store!(pos_fee_is_held_posted_as_its_own_entry_and_refunded, with_store);
async fn pos_fee_is_held_posted_as_its_own_entry_and_refunded(app: &TestApp, database: &support::TestStore) {
    set_schedule(app, CREDIT_PROGRAM, schedule(TRANSACTION_FEES)).await;
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut client = app.connect().await;
    // 25.00 at a POS (DE 22 "011"): fee 0.10 + 1 % = 0.35; DE 54 after amount and fee.
    let authorization = Tx::authorization(card.pan(), 2_500);
    let response = client.exchange(&authorization).await;
    assert_eq!(response.action(), "0000");
    assert_eq!(response.available(), Some(10_000 - 2_535));
    let held = app.state.balance(card.balance_id).unwrap().snapshot();
    assert_eq!((held.ledger, held.held), (10_000, 2_535), "the hold includes the fee");
    assert_eq!(client.exchange(&authorization.completion(2_500)).await.action(), "0000");
    assert_eq!(ledger(app, card.balance_id), 10_000 - 2_535);
    assert_eq!(revenue(app, CREDIT_PROGRAM), 35);
    // A full reversal of the completed transaction returns amount and fee.
    assert_eq!(client.exchange(&authorization.reversal(None)).await.action(), "4000");
    assert_eq!(ledger(app, card.balance_id), 10_000);
    assert_eq!(revenue(app, CREDIT_PROGRAM), 0);
    let entries = entries_of(database, card.balance_id).await;
    let moved: Vec<(FeeType, i64)> = entries.iter().map(|entry| (entry.fee_type, entry.amount)).collect();
    assert_eq!(
        moved,
        [(FeeType::Pos, 35), (FeeType::Pos, -35)],
        "charged, then refunded"
    );
    assert!(
        entries
            .iter()
            .all(|entry| entry.transaction.is_some() && entry.hold_id.is_some())
    );
}

on_every_store!(ecommerce_fee_follows_a_partial_reversal_in_proportion, with_store);
async fn ecommerce_fee_follows_a_partial_reversal_in_proportion(app: &TestApp, database: &support::TestStore) {
    set_schedule(app, CREDIT_PROGRAM, schedule(TRANSACTION_FEES)).await;
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut client = app.connect().await;
    // E-commerce (entry mode 81): 2 % of 10.50 = 0.21.
    let authorization = Tx::authorization(card.pan(), 1_050).set(22, "810");
    let response = client.exchange(&authorization).await;
    assert_eq!(
        (response.action(), response.available()),
        ("0000", Some(10_000 - 1_071))
    );
    // Partial reversal down to 4.00: the fee that stays is 0.21 × 400/1050 = 0.08.
    assert_eq!(
        client.exchange(&authorization.reversal(Some(400))).await.action(),
        "4000"
    );
    let held = app.state.balance(card.balance_id).unwrap().snapshot();
    assert_eq!(held.held, 400 + 8);
    assert_eq!(client.exchange(&authorization.completion(400)).await.action(), "0000");
    assert_eq!(ledger(app, card.balance_id), 10_000 - 408);
    let entries = entries_of(database, card.balance_id).await;
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].fee_type, entries[0].amount), (FeeType::Ecommerce, 8));
}

on_every_store!(atm_fee_is_part_of_the_funds_check, with_store);
async fn atm_fee_is_part_of_the_funds_check(app: &TestApp, _database: &support::TestStore) {
    set_schedule(app, CREDIT_PROGRAM, schedule(TRANSACTION_FEES)).await;
    let card = app.funded_card(CREDIT_PROGRAM, 5_100).await;
    let mut client = app.connect().await;
    // 50.00 cash + 2.00 fee > 51.00: declined although the amount alone fits.
    let cash = Tx::spend(2100, card.pan(), "010000", 5_000).set(26, "6011");
    assert_eq!(client.exchange(&cash).await.action(), "1016");
    let fitting = Tx::spend(2100, card.pan(), "010000", 3_000);
    let response = client.exchange(&fitting).await;
    assert_eq!((response.action(), response.available()), ("0000", Some(5_100 - 3_200)));
    // A financial request (2200) posts amount and fee at once; MCC 6011 makes it ATM too.
    let posted = Tx::spend(2200, card.pan(), "000000", 1_000).set(26, "6011");
    assert_eq!(client.exchange(&posted).await.action(), "0000");
    assert_eq!(ledger(app, card.balance_id), 5_100 - 1_200);
    assert_eq!(revenue(app, CREDIT_PROGRAM), 200);
}

on_every_store!(fx_converts_at_the_rate_table_and_records_the_rate, with_store);
async fn fx_converts_at_the_rate_table_and_records_the_rate(app: &TestApp, database: &support::TestStore) {
    set_schedule(
        app,
        CREDIT_PROGRAM,
        schedule(r#"{"enabled": true, "currencyConversionPercent": "2"}"#),
    )
    .await;
    let now = app.state.now_ms();
    let mut submission = Submission::default();
    submission.push(Change::InsertFxRate(FxRate {
        id: uuid::Uuid::now_v7().to_string(),
        from: "USD".into(),
        to: "EUR".into(),
        rate: Decimal::new(9215, 4),
        valid_from: now - 1_000,
        valid_to: None,
        created_at: now,
        created_by: "test".into(),
    }));
    app.state.submit(submission).await.unwrap();
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut client = app.connect().await;
    // 10.00 USD × 0.9215 = 921.5 cents → 922 (half to even); conversion fee 2 % = 18.44 → 18.
    let authorization = Tx::authorization(card.pan(), 1_000).set(49, "840");
    let response = client.exchange(&authorization).await;
    assert_eq!((response.action(), response.available()), ("0000", Some(10_000 - 940)));
    let hold = app
        .state
        .hold_by_transaction(&authorization_id(&authorization))
        .expect("the hold");
    let hold_id = hold.lock().hold.id;
    let recorded = app.state.hold_fee(hold_id).expect("the conversion is recorded");
    assert_eq!(recorded.original, Some((1_000, 840)));
    assert_eq!(recorded.rate, Some(Decimal::new(9215, 4)));
    assert_eq!(recorded.conversion_fee, 18);
    // The completion in USD posts at the hold's rate.
    let completion = authorization.completion(1_000).set(49, "840");
    assert_eq!(client.exchange(&completion).await.action(), "0000");
    assert_eq!(ledger(app, card.balance_id), 10_000 - 940);
    let entries = entries_of(database, card.balance_id).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].fee_type, entries[0].amount),
        (FeeType::CurrencyConversion, 18)
    );
    // No rate for GBP: still 1015.
    let pounds = Tx::authorization(card.pan(), 1_000).set(49, "826");
    assert_eq!(client.exchange(&pounds).await.action(), "1015");
    // The restarted switch reloads the hold's conversion (rate and fees) with the hold.
    let store = database.reconnect().await;
    let snapshot = store.load(0).await.unwrap();
    store.close().await;
    assert!(
        snapshot
            .fees
            .hold_fees
            .iter()
            .any(|fee| fee.hold_id == hold_id && fee.rate == recorded.rate)
    );
}

fn authorization_id(tx: &Tx) -> antaca::state::TransactionId {
    let text = |position| String::from_utf8(tx.get(position).unwrap().to_vec()).unwrap();
    antaca::state::TransactionId::parse(&format!("{}/{}/{}", text(32), text(11), text(12))).unwrap()
}

on_every_store!(
    waivers_forgive_and_are_recorded_and_switched_off_fees_charge_nothing,
    with_store
);
async fn waivers_forgive_and_are_recorded_and_switched_off_fees_charge_nothing(
    app: &TestApp,
    database: &support::TestStore,
) {
    let waived = r#"{"enabled": true, "pos": {"fixed": "0.10", "percent": "1"}, "cardCreation": "1.00",
        "waivers": [{"fee": "pos", "when": {"amountAtLeast": {"amount": "50"}}}]}"#;
    set_schedule(app, CREDIT_PROGRAM, schedule(waived)).await;
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    // The card creation fee was charged when the card was issued.
    assert_eq!(ledger(app, card.balance_id), 9_900);
    let mut client = app.connect().await;
    let big = Tx::spend(2200, card.pan(), "000000", 6_000);
    assert_eq!(client.exchange(&big).await.action(), "0000");
    assert_eq!(ledger(app, card.balance_id), 9_900 - 6_000, "no fee: waived");
    let entries = entries_of(database, card.balance_id).await;
    let pos = entries.iter().find(|entry| entry.fee_type == FeeType::Pos).unwrap();
    assert_eq!(
        (pos.amount, pos.waived),
        (0, 70),
        "recorded as waived: 0.10 + 60.00 × 1 %"
    );
    // Switched off: the same schedule with enabled = false charges nothing at all.
    set_schedule(
        app,
        CREDIT_PROGRAM,
        schedule(&waived.replace("\"enabled\": true", "\"enabled\": false")),
    )
    .await;
    let second = app.funded_card(CREDIT_PROGRAM, 1_000).await;
    assert_eq!(ledger(app, second.balance_id), 1_000, "no card creation fee");
    let small = Tx::spend(2200, second.pan(), "000000", 100);
    assert_eq!(client.exchange(&small).await.action(), "0000");
    assert_eq!(ledger(app, second.balance_id), 900, "no POS fee");
    assert!(entries_of(database, second.balance_id).await.is_empty());
}

/// A monthly fee from before the cards existed, a spend waiver at 20.00.
const MONTHLY: &str = r#"{"enabled": true, "periodic": {"period": "monthly", "amount": "1.99"},
    "waivers": [{"fee": "periodic", "when": {"cardSpendInPeriodAtLeast": {"amount": "20"}}}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_fees_are_charged_once_per_card_and_period_across_a_restart() {
    let databases = [
        Some(support::TestStore::sqlite().await),
        support::TestStore::postgres().await,
    ];
    for database in databases.into_iter().flatten() {
        let app = TestApp::start(&database.url).await;
        set_schedule(&app, CREDIT_PROGRAM, schedule(MONTHLY)).await;
        let paying = app.funded_card(CREDIT_PROGRAM, 10_000).await;
        let short = app.funded_card(CREDIT_PROGRAM, 100).await;
        let spender = app.funded_card(CREDIT_PROGRAM, 10_000).await;
        let mut client = app.connect().await;
        let spend = Tx::spend(2200, spender.pan(), "000000", 2_500);
        assert_eq!(client.exchange(&spend).await.action(), "0000");
        drop(client);
        let month = period_containing(Period::Monthly, app.state.now_ms());
        let after_month = month.end + 3_600_000;
        app.clock.set(after_month);
        let store = database.reconnect().await;
        // Two passes at once (a retry racing the timer): each period is charged once.
        let (first, second) = tokio::join!(
            charge_due(&app.state, &store, after_month),
            charge_due(&app.state, &store, after_month)
        );
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(first.charged + second.charged, 2, "the paying and the short card");
        assert_eq!(
            first.waived + second.waived,
            1,
            "the spender reached 20.00 in the month"
        );
        assert_eq!(ledger(&app, paying.balance_id), 10_000 - 199);
        // Too short: what is there is charged, the rest recorded unpaid; never below zero.
        assert_eq!(ledger(&app, short.balance_id), 0);
        assert_eq!(ledger(&app, spender.balance_id), 10_000 - 2_500, "waived");
        app.state.check_invariants().unwrap();
        app.stop().await;

        // Restart: a new process on the same database, the clock again past the month.
        let restarted = TestApp::start(&database.url).await;
        restarted.clock.set(after_month);
        let again = charge_due(&restarted.state, &store, after_month).await.unwrap();
        assert_eq!((again.charged, again.waived, again.already_charged), (0, 0, 3));
        assert_eq!(ledger(&restarted, paying.balance_id), 10_000 - 199);
        let entries = store.fee_entries().await.unwrap();
        let periodic: Vec<&FeeEntry> = entries.iter().filter(|e| e.fee_type == FeeType::Periodic).collect();
        assert_eq!(periodic.len(), 3, "one entry per card and period");
        let of = |card_balance| periodic.iter().find(|e| e.balance_id == card_balance).unwrap();
        assert_eq!((of(paying.balance_id).amount, of(paying.balance_id).unpaid), (199, 0));
        assert_eq!((of(short.balance_id).amount, of(short.balance_id).unpaid), (100, 99));
        assert_eq!((of(spender.balance_id).amount, of(spender.balance_id).waived), (0, 199));
        // The database itself refuses a second charge of a period (another instance, a lost memory).
        let mut duplicate = (*of(paying.balance_id)).clone();
        duplicate.id = antaca::fees::entry_id();
        assert!(store.commit(&[Change::InsertFeeEntry(duplicate)]).await.is_err());
        // The next month is charged when it ends, once.
        let next_month_end = period_containing(Period::Monthly, after_month).end + 1;
        restarted.clock.set(next_month_end);
        let next = charge_due(&restarted.state, &store, next_month_end).await.unwrap();
        assert_eq!((next.charged, next.waived), (3, 0), "no spend this month: no waiver");
        let periodic = store.fee_entries().await.unwrap();
        assert_eq!(periodic.iter().filter(|e| e.fee_type == FeeType::Periodic).count(), 6);
        restarted.state.check_invariants().unwrap();
        store.close().await;
        restarted.stop().await;
    }
}
