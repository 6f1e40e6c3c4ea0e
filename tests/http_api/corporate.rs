//! Corporate cards end to end: KYB approval, a corporate balance reloaded, an employee's physical card
//! ordered (`POST /secure/cards/physical` with `dcCorporationId`), personalised, activated, approved
//! by the switch over TCP, locked (declined with the reason's code), unlocked (approved), removed
//! (declined); another partner reaches none of it, exactly as if it did not exist.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Api;
use crate::support::{Client, Tx};

async fn authorize(switch: &mut Client, pan: &str, amount: u64) -> String {
    switch
        .exchange(&Tx::authorization(pan, amount))
        .await
        .action()
        .to_owned()
}

/// An approved dev-partner corporation with a EUR balance holding `amount`: (corporation, balance).
async fn funded_corporation(api: &Api, name: &str, amount: i64) -> (i64, i64) {
    let corporation = api.corporation(name).await;
    let root = api.root().await;
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::POST,
            &format!("/admin/corporations/{corporation}/approve"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api
        .partner_post(
            "/secure/balances",
            json!({"dcCorporationId": corporation, "currency": "EUR", "programId": "dev-credit-eur"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let balance = body["balanceId"].as_i64().unwrap();
    let credit = api.state.program("dev-credit-eur").unwrap().funding_balance;
    antaca::balances::load_external(&api.state, credit, amount)
        .await
        .unwrap();
    let (status, body) = api
        .partner_post(&format!("/secure/balances/{balance}/reload"), json!({"amount": amount}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (corporation, balance)
}

crate::support::on_every_store!(
    a_corporate_physical_card_from_order_to_the_switch_with_lock_and_removal,
    over_https
);
async fn a_corporate_physical_card_from_order_to_the_switch_with_lock_and_removal(api: &Api) {
    let (corporation, balance) = funded_corporation(api, "Fleet Sp. z o.o.", 50_000).await;
    let order = json!({"dcCorporationId": corporation, "balanceId": balance});

    // Another partner naming the corporation reads exactly like an unknown corporation.
    let (status, crossing) = api
        .call(
            &api.other,
            Method::POST,
            "/secure/cards/physical",
            None,
            Some(order.clone()),
        )
        .await;
    let (unknown_status, missing) = api
        .call(
            &api.other,
            Method::POST,
            "/secure/cards/physical",
            None,
            Some(json!({"dcCorporationId": 999_999, "balanceId": balance})),
        )
        .await;
    assert_eq!(
        (status, crossing["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("CORPORATION_NOT_FOUND"))
    );
    assert_eq!((unknown_status, missing), (status, crossing));
    // A corporation not approved yet gets no card.
    let pending = api.corporation("Pending Ltd").await;
    let (status, body) = api
        .partner_post(
            "/secure/cards/physical",
            json!({"dcCorporationId": pending, "balanceId": balance}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("KYB_NOT_APPROVED"))
    );

    let (status, card) = api.partner_post("/secure/cards/physical", order).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    assert_eq!(
        (&card["status"], &card["kind"]),
        (&json!("ORDERED"), &json!("PHYSICAL"))
    );
    let card_id = card["cardId"].as_i64().unwrap();
    let pan = String::from_utf8(
        api.state
            .keys()
            .decrypt(&api.state.card(card_id).unwrap().lock().card.pan_encrypted)
            .unwrap(),
    )
    .unwrap();
    assert!(!card.to_string().contains(&pan));
    let mut switch = api.connect().await;
    assert_ne!(authorize(&mut switch, &pan, 1_000).await, "0000", "not active yet");

    // Personalised (the simulated center), then activated by the partner's server.
    let mut listed = Value::Null;
    for _ in 0..100 {
        let (_, read) = api.partner_get(&format!("/secure/balances/{balance}")).await;
        listed = read["cards"].clone();
        if listed.as_array().is_some_and(|cards| !cards.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(listed[0]["status"], json!("LINKED"), "{listed}");
    let path = |action: &str| format!("/secure/cards/{card_id}/{action}");
    let (status, body) = api.partner_post(&path("activate"), Value::Null).await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ACTIVE")), "{body}");
    assert_eq!(authorize(&mut switch, &pan, 7_000).await, "0000");

    // Every corporate card route, for another partner: the same 404 as an unknown card.
    for (method, action, body) in [
        (Method::POST, "lock", Some(json!({"reason": 7}))),
        (Method::POST, "unlock", None),
        (Method::POST, "activate", None),
        (Method::DELETE, "", None),
    ] {
        let theirs = format!("/secure/cards/{card_id}/{action}")
            .trim_end_matches('/')
            .to_owned();
        let unknown = format!("/secure/cards/999999/{action}")
            .trim_end_matches('/')
            .to_owned();
        let (status, crossing) = api.call(&api.other, method.clone(), &theirs, None, body.clone()).await;
        let (unknown_status, missing) = api.call(&api.other, method.clone(), &unknown, None, body).await;
        assert_eq!(
            (status, crossing["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("CARD_NOT_FOUND")),
            "{method} {action}"
        );
        assert_eq!((unknown_status, missing), (status, crossing), "{method} {action}");
    }
    assert_eq!(
        authorize(&mut switch, &pan, 1_000).await,
        "0000",
        "the other partner changed nothing"
    );

    // Locked (7, suspected fraud): the very next authorization is declined with 1002.
    let (status, body) = api.partner_post(&path("lock"), json!({"reason": 7})).await;
    assert_eq!((status, &body["lockReason"]), (StatusCode::OK, &json!(7)), "{body}");
    assert_eq!(authorize(&mut switch, &pan, 1_000).await, "1002");
    let (status, body) = api.partner_post(&path("unlock"), Value::Null).await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ACTIVE")), "{body}");
    assert_eq!(authorize(&mut switch, &pan, 1_000).await, "0000");
    // Lost (1) is for good.
    let (status, _) = api.partner_post(&path("lock"), json!({"reason": 1})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api.partner_post(&path("unlock"), Value::Null).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("CARD_LOCK_IRREVERSIBLE"))
    );
    assert_eq!(authorize(&mut switch, &pan, 1_000).await, "2008");

    // Removed: gone for the API, declined by the switch.
    let (status, _) = api
        .call(
            &api.partner,
            Method::DELETE,
            &format!("/secure/cards/{card_id}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api.partner_post(&path("unlock"), Value::Null).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("CARD_NOT_FOUND"))
    );
    assert_ne!(authorize(&mut switch, &pan, 1_000).await, "0000");
    let (_, read) = api.partner_get(&format!("/secure/balances/{balance}")).await;
    assert_eq!(
        (&read["available"], &read["cards"]),
        (&json!(41_000), &json!([])),
        "{read}"
    );

    // A user's card is not reachable through the corporate routes.
    let records = antaca::balances::open(
        &api.state,
        antaca::state::BalanceKind::User,
        antaca::state::Owner::Customer(api.user("crm-not-corporate").await),
        crate::support::PARTNER,
        "EUR",
    )
    .await
    .unwrap();
    let user_card = antaca::cards::issue(&api.state, records.id, "dev-credit-eur", Default::default())
        .await
        .unwrap();
    let (status, body) = api
        .partner_post(
            &format!("/secure/cards/{}/lock", user_card.card_id),
            json!({"reason": 7}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("CARD_NOT_FOUND"))
    );
    api.state.check_invariants().unwrap();
}

/// Work accepted before a stop is finished after the restart: a physical card order (linked once the
/// center made it) and an asynchronous card request still pending (issued once, pollable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_orders_and_card_requests_survive_a_restart() {
    let sqlite = Some(crate::support::TestStore::sqlite().await);
    let postgres = crate::support::TestStore::postgres().await;
    for database in [sqlite, postgres].into_iter().flatten() {
        // A center too slow to finish before the stop.
        let slow = [("ANTACA__CARDS__PERSONALIZATION_DELAY_S", "3600")];
        let api = Api::start_in(&database.url, tempfile::tempdir().unwrap(), &slow).await;
        let (corporation, balance) = funded_corporation(&api, "Restart Ltd", 10_000).await;
        let (status, card) = api
            .partner_post(
                "/secure/cards/physical",
                json!({"dcCorporationId": corporation, "balanceId": balance}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{card}");
        let physical = card["cardId"].as_i64().unwrap();

        // A user's asynchronous request: one done before the stop, one accepted but not yet finished
        // (recorded as the route records it, as if the process stopped right after answering 202).
        let user = api.user("crm-async-restart").await;
        let (status, _) = api
            .call(
                &api.partner,
                Method::PUT,
                &format!("/lifecycle/v1/users/{user}/kyc"),
                None,
                Some(json!({"kycStatus": "VERIFIED"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, opened) = api
            .partner_post(
                &format!("/secure/customers/{user}/balances"),
                json!({"currency": "EUR", "programId": "dev-credit-eur"}),
            )
            .await;
        let user_balance = opened["balanceId"].as_i64().unwrap();
        // The user's own physical card, ordered by the partner's server: also made after the restart.
        let (status, ordered) = api
            .partner_post(
                &format!("/secure/customers/{user}/cards/physical"),
                json!({"balanceId": user_balance}),
            )
            .await;
        assert_eq!(
            (status, &ordered["status"]),
            (StatusCode::CREATED, &json!("ORDERED")),
            "{ordered}"
        );
        let user_physical = ordered["cardId"].as_i64().unwrap();
        let (status, accepted) = api
            .partner_post(
                &format!("/secure/customers/{user}/cards/virtual/async"),
                json!({"balanceId": user_balance}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        let done_id = accepted["requestId"].as_str().unwrap().to_owned();
        let poll = |id: &str| format!("/secure/customers/{user}/cards/virtual/async/{id}");
        let mut done = Value::Null;
        for _ in 0..200 {
            let (_, polled) = api.partner_get(&poll(&done_id)).await;
            done = polled;
            if done["status"] != json!("PENDING") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(done["status"], json!("DONE"), "{done}");
        let pending = antaca::state::CardRequestRecord {
            id: uuid::Uuid::now_v7().to_string(),
            customer_id: user,
            balance_id: user_balance,
            program_id: None,
            status: antaca::state::CardRequestStatus::Pending,
            card_id: None,
            error: None,
            created_at: api.state.now_ms(),
        };
        let mut submission = antaca::state::Submission::default();
        submission.push(antaca::state::Change::UpsertCardRequest(pending.clone()));
        api.state.submit(submission).await.unwrap();
        let directory = api.stop().await;

        // Restarted with a quick center: the order is placed again and the card linked; the pending
        // request is finished with one card; the done one still answers the same.
        let quick = [("ANTACA__CARDS__PERSONALIZATION_DELAY_S", "1")];
        let api = Api::start_in(&database.url, directory, &quick).await;
        let (status, again) = api.partner_get(&poll(&done_id)).await;
        assert_eq!((status, &again), (StatusCode::OK, &done));
        let mut finished = Value::Null;
        for _ in 0..200 {
            let (_, polled) = api.partner_get(&poll(&pending.id)).await;
            finished = polled;
            if finished["status"] != json!("PENDING") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(finished["status"], json!("DONE"), "{finished}");
        let virtual_cards = |cards: &Value| {
            cards
                .as_array()
                .unwrap()
                .iter()
                .filter(|card| card["kind"] == json!("VIRTUAL"))
                .count()
        };
        let (_, cards) = api.partner_get(&format!("/secure/customers/{user}/cards")).await;
        assert_eq!(virtual_cards(&cards), 2, "one card per request: {cards}");
        for card_id in [physical, user_physical] {
            let mut status_now = String::new();
            for _ in 0..100 {
                status_now = format!("{:?}", api.state.card(card_id).unwrap().lock().card.status);
                if status_now == "Linked" {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert_eq!(status_now, "Linked", "card {card_id}");
        }
        let (status, body) = api
            .partner_post(
                &format!("/secure/customers/{user}/cards/{user_physical}/activate"),
                Value::Null,
            )
            .await;
        assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ACTIVE")), "{body}");
        let (status, body) = api
            .partner_post(&format!("/secure/cards/{physical}/activate"), Value::Null)
            .await;
        assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ACTIVE")), "{body}");
        api.stop().await;
    }
}
