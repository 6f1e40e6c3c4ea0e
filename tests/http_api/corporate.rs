//! Corporate cards end to end: KYB approval, a corporate balance reloaded, an employee's physical card
//! ordered (`POST /secure/cards/physical` with `dcCorporationId`), personalised, activated, approved
//! by the switch over TCP, locked (declined with the reason's code), unlocked (approved), removed
//! (declined); another partner reaches none of it, exactly as if it did not exist.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Api, TestStore, each_store};
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

/// What a corporate balance holds before its card is ordered.
const FUNDS: i64 = 50_000;
/// The first authorization once the card is active.
const FIRST_SPEND: i64 = 7_000;

/// An employee's physical card ordered on a funded corporation's balance, not yet active.
struct OrderedCard {
    balance: i64,
    card_id: i64,
    pan: String,
    /// The order's answer.
    answer: Value,
}

impl OrderedCard {
    fn path(&self, action: &str) -> String {
        format!("/secure/cards/{}/{action}", self.card_id)
    }
}

async fn ordered_card(api: &Api) -> OrderedCard {
    let (corporation, balance) = funded_corporation(api, "Fleet Sp. z o.o.", FUNDS).await;
    let order = json!({"dcCorporationId": corporation, "balanceId": balance});
    let (status, answer) = api.partner_post("/secure/cards/physical", order).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let card_id = answer["cardId"].as_i64().unwrap();
    OrderedCard {
        balance,
        card_id,
        pan: api.pan(card_id),
        answer,
    }
}

/// Waits until the simulated center personalised the card (listed on its balance), then activates
/// it: the card's listing before activation.
async fn personalise_and_activate(api: &Api, card: &OrderedCard) -> Value {
    let mut listed = Value::Null;
    for _ in 0..100 {
        let (_, read) = api.partner_get(&format!("/secure/balances/{}", card.balance)).await;
        listed = read["cards"].clone();
        if listed.as_array().is_some_and(|cards| !cards.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, body) = api.partner_post(&card.path("activate"), Value::Null).await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ACTIVE")), "{body}");
    listed
}

/// An employee's card, personalised, activated and approved once for [`FIRST_SPEND`], with a switch
/// connection.
async fn active_card(api: &Api) -> (OrderedCard, Client) {
    let card = ordered_card(api).await;
    personalise_and_activate(api, &card).await;
    let mut switch = api.connect().await;
    assert_eq!(authorize(&mut switch, &card.pan, FIRST_SPEND as u64).await, "0000");
    (card, switch)
}

crate::support::on_every_store!(
    another_partner_ordering_for_a_corporation_reads_as_an_unknown_corporation,
    over_https
);
async fn another_partner_ordering_for_a_corporation_reads_as_an_unknown_corporation(api: &Api) {
    let (corporation, balance) = funded_corporation(api, "Fleet Sp. z o.o.", FUNDS).await;
    let order = json!({"dcCorporationId": corporation, "balanceId": balance});
    let (status, crossing) = api
        .call(&api.other, Method::POST, "/secure/cards/physical", None, Some(order))
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
    api.state.check_invariants().unwrap();
}

crate::support::on_every_store!(a_corporation_not_approved_yet_gets_no_card, over_https);
async fn a_corporation_not_approved_yet_gets_no_card(api: &Api) {
    let (_, balance) = funded_corporation(api, "Fleet Sp. z o.o.", FUNDS).await;
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
    api.state.check_invariants().unwrap();
}

crate::support::on_every_store!(
    an_ordered_physical_card_shows_no_pan_and_is_declined_until_active,
    over_https
);
async fn an_ordered_physical_card_shows_no_pan_and_is_declined_until_active(api: &Api) {
    let card = ordered_card(api).await;
    assert_eq!(
        (&card.answer["status"], &card.answer["kind"]),
        (&json!("ORDERED"), &json!("PHYSICAL"))
    );
    assert!(!card.answer.to_string().contains(&card.pan));
    let mut switch = api.connect().await;
    assert_ne!(authorize(&mut switch, &card.pan, 1_000).await, "0000", "not active yet");
    api.state.check_invariants().unwrap();
}

crate::support::on_every_store!(a_personalised_card_is_linked_then_approved_once_activated, over_https);
async fn a_personalised_card_is_linked_then_approved_once_activated(api: &Api) {
    let card = ordered_card(api).await;
    let listed = personalise_and_activate(api, &card).await;
    assert_eq!(listed[0]["status"], json!("LINKED"), "{listed}");
    let mut switch = api.connect().await;
    assert_eq!(authorize(&mut switch, &card.pan, 7_000).await, "0000");
    api.state.check_invariants().unwrap();
}

crate::support::on_every_store!(
    every_corporate_card_route_answers_another_partner_as_for_an_unknown_card,
    over_https
);
async fn every_corporate_card_route_answers_another_partner_as_for_an_unknown_card(api: &Api) {
    let (card, mut switch) = active_card(api).await;
    for (method, action, body) in [
        (Method::POST, "lock", Some(json!({"reason": 7}))),
        (Method::POST, "unlock", None),
        (Method::POST, "activate", None),
        (Method::DELETE, "", None),
    ] {
        let theirs = card.path(action).trim_end_matches('/').to_owned();
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
        authorize(&mut switch, &card.pan, 1_000).await,
        "0000",
        "the other partner changed nothing"
    );
    api.state.check_invariants().unwrap();
}

crate::support::on_every_store!(
    a_card_locked_for_suspected_fraud_is_declined_1002_until_unlocked,
    over_https
);
async fn a_card_locked_for_suspected_fraud_is_declined_1002_until_unlocked(api: &Api) {
    let (card, mut switch) = active_card(api).await;
    let (status, body) = api.partner_post(&card.path("lock"), json!({"reason": 7})).await;
    assert_eq!((status, &body["lockReason"]), (StatusCode::OK, &json!(7)), "{body}");
    assert_eq!(authorize(&mut switch, &card.pan, 1_000).await, "1002");
    let (status, body) = api.partner_post(&card.path("unlock"), Value::Null).await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ACTIVE")), "{body}");
    assert_eq!(authorize(&mut switch, &card.pan, 1_000).await, "0000");
    api.state.check_invariants().unwrap();
}

crate::support::on_every_store!(
    a_card_locked_as_lost_cannot_be_unlocked_and_is_declined_2008,
    over_https
);
async fn a_card_locked_as_lost_cannot_be_unlocked_and_is_declined_2008(api: &Api) {
    let (card, mut switch) = active_card(api).await;
    let (status, _) = api.partner_post(&card.path("lock"), json!({"reason": 1})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api.partner_post(&card.path("unlock"), Value::Null).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("CARD_LOCK_IRREVERSIBLE"))
    );
    assert_eq!(authorize(&mut switch, &card.pan, 1_000).await, "2008");
    api.state.check_invariants().unwrap();
}

crate::support::on_every_store!(
    a_removed_card_is_gone_for_the_api_and_declined_by_the_switch,
    over_https
);
async fn a_removed_card_is_gone_for_the_api_and_declined_by_the_switch(api: &Api) {
    let (card, mut switch) = active_card(api).await;
    let (status, _) = api
        .call(
            &api.partner,
            Method::DELETE,
            &format!("/secure/cards/{}", card.card_id),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api.partner_post(&card.path("unlock"), Value::Null).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("CARD_NOT_FOUND"))
    );
    assert_ne!(authorize(&mut switch, &card.pan, 1_000).await, "0000");
    let (_, read) = api.partner_get(&format!("/secure/balances/{}", card.balance)).await;
    assert_eq!(
        (&read["available"], &read["cards"]),
        (&json!(FUNDS - FIRST_SPEND), &json!([])),
        "{read}"
    );
    api.state.check_invariants().unwrap();
}

crate::support::on_every_store!(a_users_card_is_not_reachable_through_the_corporate_routes, over_https);
async fn a_users_card_is_not_reachable_through_the_corporate_routes(api: &Api) {
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

/// A center too slow to finish before the stop.
const SLOW_CENTER: [(&str, &str); 1] = [("ANTACA__CARDS__PERSONALIZATION_DELAY_S", "3600")];
/// A center quick to finish after the restart.
const QUICK_CENTER: [(&str, &str); 1] = [("ANTACA__CARDS__PERSONALIZATION_DELAY_S", "1")];

/// Stops `api` and starts it again on the same database and certificates, with a quick center.
async fn restart_with_a_quick_center(api: Api, database: &TestStore) -> Api {
    let directory = api.stop().await;
    Api::start_in(&database.url, directory, &QUICK_CENTER).await
}

/// A KYC-verified user with a dev-credit-eur balance: (user, balance).
async fn user_with_a_balance(api: &Api) -> (i64, i64) {
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
    (user, opened["balanceId"].as_i64().unwrap())
}

/// Polls an asynchronous card request until it is no longer pending: its last answer.
async fn poll_until_settled(api: &Api, path: &str) -> Value {
    let mut polled = Value::Null;
    for _ in 0..200 {
        (_, polled) = api.partner_get(path).await;
        if polled["status"] != json!("PENDING") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    polled
}

/// Waits until the center linked `card_id`; asserts it did.
async fn assert_linked(api: &Api, card_id: i64) {
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

/// Physical card orders accepted before a stop (a corporation's and a user's, ordered by the
/// partner's server) are placed again after the restart: linked once the center made them, then
/// activated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn physical_card_orders_are_linked_after_a_restart() {
    each_store(|database| async move {
        let api = Api::start_in(&database.url, tempfile::tempdir().unwrap(), &SLOW_CENTER).await;
        let (corporation, balance) = funded_corporation(&api, "Restart Ltd", 10_000).await;
        let (status, card) = api
            .partner_post(
                "/secure/cards/physical",
                json!({"dcCorporationId": corporation, "balanceId": balance}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{card}");
        let physical = card["cardId"].as_i64().unwrap();
        let (user, user_balance) = user_with_a_balance(&api).await;
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

        let api = restart_with_a_quick_center(api, &database).await;
        for card_id in [physical, user_physical] {
            assert_linked(&api, card_id).await;
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
    })
    .await;
}

/// Asynchronous card requests across a restart: one done before the stop still answers the same; one
/// accepted but not finished (recorded as the route records it, as if the process stopped right after
/// answering 202) is finished after the restart with one card.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_requests_pending_at_a_stop_are_finished_once_after_the_restart() {
    each_store(|database| async move {
        let api = Api::start_in(&database.url, tempfile::tempdir().unwrap(), &SLOW_CENTER).await;
        let (user, user_balance) = user_with_a_balance(&api).await;
        let (status, accepted) = api
            .partner_post(
                &format!("/secure/customers/{user}/cards/virtual/async"),
                json!({"balanceId": user_balance}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        let done_id = accepted["requestId"].as_str().unwrap().to_owned();
        let poll = |id: &str| format!("/secure/customers/{user}/cards/virtual/async/{id}");
        let done = poll_until_settled(&api, &poll(&done_id)).await;
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

        let api = restart_with_a_quick_center(api, &database).await;
        let (status, again) = api.partner_get(&poll(&done_id)).await;
        assert_eq!((status, &again), (StatusCode::OK, &done));
        let finished = poll_until_settled(&api, &poll(&pending.id)).await;
        assert_eq!(finished["status"], json!("DONE"), "{finished}");
        let (_, cards) = api.partner_get(&format!("/secure/customers/{user}/cards")).await;
        let virtual_cards = cards
            .as_array()
            .unwrap()
            .iter()
            .filter(|card| card["kind"] == json!("VIRTUAL"))
            .count();
        assert_eq!(virtual_cards, 2, "one card per request: {cards}");
        api.stop().await;
    })
    .await;
}
