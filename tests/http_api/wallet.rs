//! User balances and cards end to end: opening (KYC-verified users, the partner's currencies),
//! reading with cards, reloading under both funding models (a short partner credit balance changes
//! nothing), virtual cards, lock/unlock/remove, and the switch honouring an HTTP lock on the very
//! next authorization.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN, ADMIN_PASSWORD, Api};
use crate::support::{Client, Tx};

/// A dev-partner user the partner flagged KYC-verified.
async fn verified_user(api: &Api, external_id: &str) -> i64 {
    let user = api.user(external_id).await;
    let (status, body) = api
        .call(
            &api.partner,
            Method::PUT,
            &format!("/lifecycle/v1/users/{user}/kyc"),
            None,
            Some(json!({"kycStatus": "VERIFIED"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    user
}

fn available(api: &Api, balance_id: i64) -> i64 {
    api.state.balance(balance_id).unwrap().snapshot().available()
}

async fn open(api: &Api, user: i64) -> i64 {
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances"),
            json!({"currency": "EUR"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["balanceId"].as_i64().unwrap()
}

crate::support::on_every_store!(balances_open_read_and_reload_under_both_models, over_https);
async fn balances_open_read_and_reload_under_both_models(api: &Api) {
    // Only KYC-verified users, only the partner's program currencies.
    let unverified = api.user("crm-b0").await;
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{unverified}/balances"),
            json!({"currency": "EUR"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("KYC_NOT_VERIFIED"))
    );
    let user = verified_user(api, "crm-b1").await;
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances"),
            json!({"currency": "USD"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VALIDATION_FAILED")),
        "{body}"
    );

    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances"),
            json!({"currency": "EUR"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (
            &body["currency"],
            &body["ledger"],
            &body["available"],
            &body["status"],
            &body["cards"]
        ),
        (&json!("EUR"), &json!(0), &json!(0), &json!("ACTIVE"), &json!([]))
    );
    let credit_balance = body["balanceId"].as_i64().unwrap();
    let (status, read) = api
        .partner_get(&format!("/secure/customers/{user}/balances/{credit_balance}"))
        .await;
    assert_eq!((status, &read), (StatusCode::OK, &body));

    // The mobile app opens and reads the user's balances too.
    let (_, token) = api.pair(user, "phone-b1").await;
    let (status, mobile) = api
        .call(
            &api.anonymous,
            Method::POST,
            "/customers/me/balances",
            Some(&token),
            Some(json!({"currency": "EUR", "programId": "dev-deposit-eur"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{mobile}");
    assert_eq!(mobile["programId"], json!("dev-deposit-eur"));
    let deposit_balance = mobile["balanceId"].as_i64().unwrap();
    let (status, list) = api
        .call(
            &api.anonymous,
            Method::GET,
            "/customers/me/balances",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let (status, _) = api
        .call(
            &api.anonymous,
            Method::GET,
            &format!("/customers/me/balances/{deposit_balance}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // dev-partner runs two EUR programs: a balance without cards needs to be told which.
    let reload = format!("/secure/customers/{user}/balances/{credit_balance}/reload");
    let (status, body) = api.partner_post(&reload, json!({"amount": 10_000})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VALIDATION_FAILED")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().starts_with("programId"), "{body}");
    let (status, body) = api
        .partner_post(&reload, json!({"amount": 0, "programId": "dev-credit-eur"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Partner credit: short → refused, nothing changed.
    let credit = api.state.program("dev-credit-eur").unwrap().funding_balance;
    antaca::balances::load_external(&api.state, credit, 5_000)
        .await
        .unwrap();
    let (status, body) = api
        .partner_post(&reload, json!({"amount": 10_000, "programId": "dev-credit-eur"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("PARTNER_FUNDS_INSUFFICIENT")),
        "{body}"
    );
    assert_eq!((available(api, credit), available(api, credit_balance)), (5_000, 0));
    // The bank transfer arrives; the reload goes through and charges the partner.
    antaca::balances::load_external(&api.state, credit, 20_000)
        .await
        .unwrap();
    let (status, body) = api
        .partner_post(&reload, json!({"amount": 10_000, "programId": "dev-credit-eur"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((&body["ledger"], &body["available"]), (&json!(10_000), &json!(10_000)));
    assert_eq!(available(api, credit), 15_000);

    // Partner deposit: the partner's load is recorded on the user balance.
    let deposit = api.state.program("dev-deposit-eur").unwrap().funding_balance;
    let deposit_before = available(api, deposit);
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances/{deposit_balance}/reload"),
            json!({"amount": 2_500, "programId": "dev-credit-eur"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VALIDATION_FAILED")),
        "a balance bound to a program stays under it: {body}"
    );
    // Bound at opening: no need to name the program again.
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances/{deposit_balance}/reload"),
            json!({"amount": 2_500}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["available"], json!(2_500));
    assert_eq!(available(api, deposit), deposit_before);

    // Another user's balance under this user: not found.
    let other_user = verified_user(api, "crm-b2").await;
    let (status, body) = api
        .partner_get(&format!("/secure/customers/{other_user}/balances/{credit_balance}"))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("BALANCE_NOT_FOUND"))
    );
    state_invariants(api);
}

fn state_invariants(api: &Api) {
    api.state.check_invariants().expect("the state's invariants hold");
}

async fn authorize(switch: &mut Client, pan: &str, amount: u64) -> String {
    switch
        .exchange(&Tx::authorization(pan, amount))
        .await
        .action()
        .to_owned()
}

crate::support::on_every_store!(a_card_from_kyc_to_the_switch_with_lock_and_unlock_over_http, over_https);
async fn a_card_from_kyc_to_the_switch_with_lock_and_unlock_over_http(api: &Api) {
    let user = verified_user(api, "crm-e2e").await;
    let (_, token) = api.pair(user, "phone-e2e").await;
    let balance = open(api, user).await;
    let credit = api.state.program("dev-credit-eur").unwrap().funding_balance;
    antaca::balances::load_external(&api.state, credit, 50_000)
        .await
        .unwrap();
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances/{balance}/reload"),
            json!({"amount": 20_000, "programId": "dev-credit-eur"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The app issues a virtual card; the answer never carries the full PAN.
    let (status, card) = api
        .call(
            &api.anonymous,
            Method::POST,
            "/customers/me/cards/virtual",
            Some(&token),
            // dev-partner runs two EUR programs: the first card names one; later ones follow it.
            Some(json!({"balanceId": balance, "programId": "dev-credit-eur"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    assert_eq!((&card["status"], &card["kind"]), (&json!("ACTIVE"), &json!("VIRTUAL")));
    let card_id = card["cardId"].as_i64().unwrap();
    let cell = api.state.card(card_id).unwrap();
    let pan_encrypted = cell.lock().card.pan_encrypted.clone();
    let pan = String::from_utf8(api.state.keys().decrypt(&pan_encrypted).unwrap()).unwrap();
    assert!(pan.starts_with("53999900") && antaca::cards::luhn_valid(pan.as_bytes()));
    let masked = card["maskedPan"].as_str().unwrap();
    assert_eq!(masked, format!("{}******{}", &pan[..6], &pan[12..]));
    assert!(!card.to_string().contains(&pan));
    assert_eq!(card["expiry"].as_str().unwrap().len(), 4);

    // The balance lists its card; so do the user's card lists on both channels.
    let (_, read) = api
        .partner_get(&format!("/secure/customers/{user}/balances/{balance}"))
        .await;
    assert_eq!(read["cards"][0]["cardId"], json!(card_id), "{read}");
    let (_, listed) = api.partner_get(&format!("/secure/customers/{user}/cards")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (_, listed) = api
        .call(&api.anonymous, Method::GET, "/customers/me/cards", Some(&token), None)
        .await;
    assert_eq!(listed[0]["maskedPan"], json!(masked));

    let mut switch = api.connect().await;
    assert_eq!(authorize(&mut switch, &pan, 1_000).await, "0000");

    // Locked over HTTP (suspected fraud): the very next authorization is declined with 1002.
    let (status, locked) = api
        .partner_post(
            &format!("/secure/customers/{user}/cards/{card_id}/lock"),
            json!({"reason": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{locked}");
    assert_eq!(
        (&locked["status"], &locked["lockReason"]),
        (&json!("LOCKED"), &json!(7))
    );
    assert_eq!(authorize(&mut switch, &pan, 1_000).await, "1002");
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/cards/{card_id}/lock"),
            json!({"reason": 9}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Unlocked by the app: approved again.
    let (status, unlocked) = api
        .call(
            &api.anonymous,
            Method::POST,
            &format!("/customers/me/cards/{card_id}/unlock"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!((status, &unlocked["status"]), (StatusCode::OK, &json!("ACTIVE")));
    assert_eq!(authorize(&mut switch, &pan, 1_000).await, "0000");

    // Stolen is for good: unlock refused with a stable code, still declined (2009... as the switch says).
    let (status, _) = api
        .call(
            &api.anonymous,
            Method::POST,
            &format!("/customers/me/cards/{card_id}/lock"),
            Some(&token),
            Some(json!({"reason": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api
        .partner_post(&format!("/secure/customers/{user}/cards/{card_id}/unlock"), Value::Null)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("CARD_LOCK_IRREVERSIBLE")),
        "{body}"
    );
    assert_ne!(authorize(&mut switch, &pan, 1_000).await, "0000");

    // A second card on the same balance, issued by the partner's server, then removed for good.
    let (status, second) = api
        .partner_post(
            &format!("/secure/customers/{user}/cards/virtual"),
            json!({"balanceId": balance}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second_id = second["cardId"].as_i64().unwrap();
    let second_pan = String::from_utf8(
        api.state
            .keys()
            .decrypt(&api.state.card(second_id).unwrap().lock().card.pan_encrypted)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(authorize(&mut switch, &second_pan, 500).await, "0000");
    let (status, _) = api
        .call(
            &api.anonymous,
            Method::DELETE,
            &format!("/customers/me/cards/{second_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_ne!(authorize(&mut switch, &second_pan, 500).await, "0000");
    let (status, body) = api
        .call(
            &api.partner,
            Method::DELETE,
            &format!("/secure/customers/{user}/cards/{second_id}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("CARD_NOT_FOUND")),
        "removed cannot be restored or removed again"
    );
    let (_, read) = api
        .partner_get(&format!("/secure/customers/{user}/balances/{balance}"))
        .await;
    assert_eq!(read["cards"].as_array().unwrap().len(), 1, "{read}");
    assert_eq!(read["available"], json!(20_000 - 1_000 - 1_000 - 500), "{read}");
    state_invariants(api);
}

crate::support::on_every_store!(partner_balances_read_loaded_by_an_operator_and_summarised, over_https);
async fn partner_balances_read_loaded_by_an_operator_and_summarised(api: &Api) {
    // dev-partner runs a credit and a deposit program in EUR: one balance of each.
    let (status, mine) = api.partner_get("/secure/partner/balances").await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let kinds: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|balance| balance["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 2, "{mine}");
    assert!(kinds.contains(&"CREDIT") && kinds.contains(&"DEPOSIT"), "{mine}");
    assert!(mine.to_string().contains("\"partnerId\":\"dev-partner\""));
    let (_, theirs) = api
        .call(&api.other, Method::GET, "/secure/partner/balances", None, None)
        .await;
    assert_eq!(theirs.as_array().unwrap().len(), 1, "{theirs}");
    assert_eq!(theirs[0]["partnerId"], json!("other-partner"));

    // A bank transfer arrives: the operator records it.
    let credit = api.state.program("dev-credit-eur").unwrap().funding_balance;
    let operator = api.admin_with("ops.one", "OPERATOR", None).await;
    let load = format!("/admin/partners/dev-partner/balances/{credit}/load");
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::POST,
            &load,
            Some(&operator),
            Some(json!({"amount": 1_000_000})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["available"], &body["kind"]),
        (&json!(1_000_000), &json!("CREDIT"))
    );
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::POST,
            &load,
            Some(&operator),
            Some(json!({"amount": -5})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A user balance is not a partner balance.
    let user = verified_user(api, "crm-p1").await;
    let balance = open(api, user).await;
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::POST,
            &format!("/admin/partners/dev-partner/balances/{balance}/load"),
            Some(&operator),
            Some(json!({"amount": 100})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("BALANCE_NOT_FOUND"))
    );
    let (status, _) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances/{balance}/reload"),
            json!({"amount": 40_000, "programId": "dev-credit-eur"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The admin panel reads the partner's balances and the summary: Users, and Wallet = users + partners.
    let manager = api.admin_with("manager.p", "MANAGER", Some("dev-partner")).await;
    let (status, read) = api
        .call(
            &api.anonymous,
            Method::GET,
            "/admin/partners/dev-partner/balances",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    let credit_read = read
        .as_array()
        .unwrap()
        .iter()
        .find(|balance| balance["balanceId"] == json!(credit))
        .unwrap();
    assert_eq!(credit_read["available"], json!(960_000));
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::GET,
            "/admin/partners/other-partner/balances",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("PARTNER_NOT_FOUND"))
    );
    let (status, summary) = api
        .call(
            &api.anonymous,
            Method::GET,
            "/admin/balances/summary",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(
        summary,
        json!([{"currency": "EUR", "users": 40_000, "wallet": 1_000_000}])
    );
    // Platform-wide: the other partner's balances count too (nothing loaded there).
    let (_, summary) = api
        .call(
            &api.anonymous,
            Method::GET,
            "/admin/balances/summary",
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(
        summary,
        json!([{"currency": "EUR", "users": 40_000, "wallet": 1_000_000}])
    );
    state_invariants(api);
}

/// Balances, cards, locks and thresholds made over HTTP are in the database: a restart serves them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balances_cards_and_thresholds_survive_a_restart() {
    let sqlite = Some(crate::support::TestStore::sqlite().await);
    let postgres = crate::support::TestStore::postgres().await;
    for database in [sqlite, postgres].into_iter().flatten() {
        let api = Api::start(&database.url).await;
        let user = verified_user(&api, "crm-restart-w").await;
        let balance = open(&api, user).await;
        let credit = api.state.program("dev-credit-eur").unwrap().funding_balance;
        let operator = api.admin_with("ops.restart", "OPERATOR", None).await;
        let (status, _) = api
            .call(
                &api.anonymous,
                Method::POST,
                &format!("/admin/partners/dev-partner/balances/{credit}/load"),
                Some(&operator),
                Some(json!({"amount": 30_000})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = api
            .call(
                &api.anonymous,
                Method::PUT,
                &format!("/admin/partners/dev-partner/balances/{credit}/threshold"),
                Some(&operator),
                Some(json!({"lowBalanceThreshold": 25_000})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (&body["lowBalanceThreshold"], &body["belowThreshold"]),
            (&json!(25_000), &json!(false))
        );
        let (status, _) = api
            .partner_post(
                &format!("/secure/customers/{user}/balances/{balance}/reload"),
                json!({"amount": 10_000, "programId": "dev-credit-eur"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, card) = api
            .partner_post(
                &format!("/secure/customers/{user}/cards/virtual"),
                json!({"balanceId": balance, "programId": "dev-credit-eur"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{card}");
        let card_id = card["cardId"].as_i64().unwrap();
        let (status, _) = api
            .partner_post(
                &format!("/secure/customers/{user}/cards/{card_id}/lock"),
                json!({"reason": 3}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, before) = api
            .partner_get(&format!("/secure/customers/{user}/balances/{balance}"))
            .await;
        let (_, partner_before) = api.partner_get("/secure/partner/balances").await;
        let directory = api.stop().await;

        let api = Api::start_in(&database.url, directory, &[]).await;
        let (status, after) = api
            .partner_get(&format!("/secure/customers/{user}/balances/{balance}"))
            .await;
        assert_eq!((status, &after), (StatusCode::OK, &before));
        assert_eq!(after["cards"][0]["lockReason"], json!(3));
        let (_, partner_after) = api.partner_get("/secure/partner/balances").await;
        assert_eq!(partner_after, partner_before);
        assert!(
            partner_after.to_string().contains("\"belowThreshold\":true"),
            "20 000 left under a 25 000 threshold: {partner_after}"
        );
        let _ = api.login(ADMIN, ADMIN_PASSWORD).await;
        api.stop().await;
    }
}

crate::support::on_every_store!(a_corporate_balance_and_an_employee_card_after_kyb, over_https);
async fn a_corporate_balance_and_an_employee_card_after_kyb(api: &Api) {
    let corporation = api.corporation("Corporate Cards Ltd").await;
    let open_body = json!({"dcCorporationId": corporation, "currency": "EUR", "programId": "dev-credit-eur"});
    let (status, body) = api.partner_post("/secure/balances", open_body.clone()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("KYB_NOT_APPROVED")),
        "{body}"
    );
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

    // Another partner naming this corporation reads exactly like an unknown one.
    for (path, body) in [
        ("/secure/balances", open_body.clone()),
        (
            "/secure/cards/virtual",
            json!({"dcCorporationId": corporation, "balanceId": 1}),
        ),
    ] {
        let (status, crossing) = api.call(&api.other, Method::POST, path, None, Some(body.clone())).await;
        let mut unknown_body = body.clone();
        unknown_body["dcCorporationId"] = json!(999_999);
        let (unknown_status, missing) = api.call(&api.other, Method::POST, path, None, Some(unknown_body)).await;
        assert_eq!(
            (status, crossing["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("CORPORATION_NOT_FOUND"))
        );
        assert_eq!((unknown_status, missing), (status, crossing), "{path}");
    }

    let (status, body) = api.partner_post("/secure/balances", open_body).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let balance = body["balanceId"].as_i64().unwrap();
    let credit = api.state.program("dev-credit-eur").unwrap().funding_balance;
    antaca::balances::load_external(&api.state, credit, 100_000)
        .await
        .unwrap();
    let (status, body) = api
        .partner_post(&format!("/secure/balances/{balance}/reload"), json!({"amount": 50_000}))
        .await;
    assert_eq!((status, &body["available"]), (StatusCode::OK, &json!(50_000)), "{body}");
    let (status, card) = api
        .partner_post(
            "/secure/cards/virtual",
            json!({"dcCorporationId": corporation, "balanceId": balance}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let card_id = card["cardId"].as_i64().unwrap();
    let pan = String::from_utf8(
        api.state
            .keys()
            .decrypt(&api.state.card(card_id).unwrap().lock().card.pan_encrypted)
            .unwrap(),
    )
    .unwrap();
    let mut switch = api.connect().await;
    assert_eq!(authorize(&mut switch, &pan, 7_000).await, "0000");
    let (status, read) = api.partner_get(&format!("/secure/balances/{balance}")).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(
        (&read["available"], &read["cards"][0]["cardId"]),
        (&json!(43_000), &json!(card_id))
    );
    // A user balance is not a corporate balance; another partner sees neither.
    let (status, _) = api
        .call(
            &api.other,
            Method::GET,
            &format!("/secure/balances/{balance}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    state_invariants(api);
}

crate::support::on_every_store!(a_virtual_card_requested_asynchronously_is_polled_until_done, over_https);
async fn a_virtual_card_requested_asynchronously_is_polled_until_done(api: &Api) {
    let user = verified_user(api, "crm-async").await;
    let (_, token) = api.pair(user, "phone-async").await;
    let balance = open(api, user).await;
    let response = api
        .anonymous
        .post(api.url("/customers/me/cards/virtual/async"))
        .bearer_auth(&token)
        .json(&json!({"balanceId": balance, "programId": "dev-credit-eur"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["status"], json!("PENDING"));
    let request_id = accepted["requestId"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/customers/me/cards/virtual/async/{request_id}"));
    let mut polled = Value::Null;
    for _ in 0..200 {
        let (status, body) = api
            .call(&api.anonymous, Method::GET, &location, Some(&token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        polled = body;
        if polled["status"] != json!("PENDING") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(polled["status"], json!("DONE"), "{polled}");
    let card_id = polled["card"]["cardId"].as_i64().unwrap();
    let (_, cards) = api.partner_get(&format!("/secure/customers/{user}/cards")).await;
    assert_eq!(cards[0]["cardId"], json!(card_id));
    // The partner's server polls the same request; another user of the partner cannot.
    let (status, body) = api
        .partner_get(&format!("/secure/customers/{user}/cards/virtual/async/{request_id}"))
        .await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("DONE")));
    let someone = verified_user(api, "crm-async-2").await;
    let (_, their_token) = api.pair(someone, "phone-async-2").await;
    let (status, body) = api
        .call(&api.anonymous, Method::GET, &location, Some(&their_token), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("CARD_REQUEST_NOT_FOUND"))
    );
    // What the synchronous route would refuse is refused at once.
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::POST,
            "/customers/me/cards/virtual/async",
            Some(&their_token),
            Some(json!({"balanceId": balance})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("BALANCE_NOT_FOUND"))
    );
}

crate::support::on_every_store!(a_physical_card_is_ordered_personalised_linked_and_activated, over_https);
async fn a_physical_card_is_ordered_personalised_linked_and_activated(api: &Api) {
    let user = verified_user(api, "crm-physical").await;
    let (_, token) = api.pair(user, "phone-physical").await;
    let balance = open(api, user).await;
    let credit = api.state.program("dev-credit-eur").unwrap().funding_balance;
    antaca::balances::load_external(&api.state, credit, 10_000)
        .await
        .unwrap();
    let (status, _) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances/{balance}/reload"),
            json!({"amount": 10_000, "programId": "dev-credit-eur"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, card) = api
        .call(
            &api.anonymous,
            Method::POST,
            "/customers/me/cards/physical",
            Some(&token),
            Some(json!({"balanceId": balance, "programId": "dev-credit-eur", "pin": "4321"})),
        )
        .await;
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
    // Not personalised yet: invisible in the lists, cannot be activated, declined by the switch.
    let (_, cards) = api.partner_get(&format!("/secure/customers/{user}/cards")).await;
    assert_eq!(cards, json!([]));
    let activate = format!("/secure/customers/{user}/cards/{card_id}/activate");
    let (status, body) = api.partner_post(&activate, Value::Null).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("CARD_STATE_INVALID")),
        "{body}"
    );
    let mut switch = api.connect().await;
    assert_ne!(authorize(&mut switch, &pan, 1_000).await, "0000");

    // The simulated center reports it made (cards.personalization_delay_s): linked, visible.
    let mut listed = Value::Null;
    for _ in 0..100 {
        let (_, cards) = api.partner_get(&format!("/secure/customers/{user}/cards")).await;
        listed = cards;
        if listed.as_array().is_some_and(|cards| !cards.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(listed[0]["status"], json!("LINKED"), "{listed}");
    assert_ne!(authorize(&mut switch, &pan, 1_000).await, "0000");

    // Activated by the app: approved.
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::POST,
            &format!("/customers/me/cards/{card_id}/activate"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ACTIVE")), "{body}");
    assert_eq!(authorize(&mut switch, &pan, 1_000).await, "0000");
    let (status, body) = api.partner_post(&activate, Value::Null).await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("ACTIVE")),
        "activating twice is harmless"
    );
    state_invariants(api);
}
