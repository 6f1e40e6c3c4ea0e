//! User balances and cards end to end: opening (KYC-verified users, the partner's currencies),
//! reading with cards, reloading under both funding models (a short partner credit balance changes
//! nothing), virtual cards, lock/unlock/remove, and the switch honouring an HTTP lock on the very
//! next authorization.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN, ADMIN_PASSWORD, Api};
use crate::support::{Client, Tx};

fn available(api: &Api, balance_id: i64) -> i64 {
    api.state.balance(balance_id).unwrap().snapshot().available()
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

/// The app opens a EUR balance under `program` for its user.
async fn open_in_app(api: &Api, token: &str, program: &str) -> i64 {
    let (status, mobile) = api
        .in_app(
            Method::POST,
            "/customers/me/balances",
            token,
            Some(json!({"currency": "EUR", "programId": program})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{mobile}");
    assert_eq!(mobile["programId"], json!(program));
    mobile["balanceId"].as_i64().unwrap()
}

crate::support::on_every_store!(
    a_balance_needs_a_verified_user_and_a_currency_of_the_partner,
    over_https
);
async fn a_balance_needs_a_verified_user_and_a_currency_of_the_partner(api: &Api) {
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
    let user = api.verified_user("crm-b1").await;
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
    state_invariants(api);
}

crate::support::on_every_store!(a_balance_opened_by_the_partner_starts_empty_and_reads_back, over_https);
async fn a_balance_opened_by_the_partner_starts_empty_and_reads_back(api: &Api) {
    let user = api.verified_user("crm-b1").await;
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
    state_invariants(api);
}

crate::support::on_every_store!(the_app_opens_lists_and_reads_its_users_balances, over_https);
async fn the_app_opens_lists_and_reads_its_users_balances(api: &Api) {
    let user = api.verified_user("crm-b1").await;
    api.open_balance(user).await;
    let (_, token) = api.pair(user, "phone-b1").await;
    let deposit_balance = open_in_app(api, &token, "dev-deposit-eur").await;
    let (status, list) = api.in_app(Method::GET, "/customers/me/balances", &token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let (status, _) = api
        .in_app(
            Method::GET,
            &format!("/customers/me/balances/{deposit_balance}"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    state_invariants(api);
}

crate::support::on_every_store!(a_reload_of_a_balance_without_cards_names_its_program, over_https);
async fn a_reload_of_a_balance_without_cards_names_its_program(api: &Api) {
    // dev-partner runs two EUR programs: a balance without cards needs to be told which.
    let user = api.verified_user("crm-b1").await;
    let credit_balance = api.open_balance(user).await;
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
    state_invariants(api);
}

crate::support::on_every_store!(
    a_reload_short_of_partner_credit_changes_nothing_until_funded,
    over_https
);
async fn a_reload_short_of_partner_credit_changes_nothing_until_funded(api: &Api) {
    let user = api.verified_user("crm-b1").await;
    let credit_balance = api.open_balance(user).await;
    let reload = format!("/secure/customers/{user}/balances/{credit_balance}/reload");
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
    state_invariants(api);
}

crate::support::on_every_store!(a_deposit_reload_is_recorded_under_the_balances_own_program, over_https);
async fn a_deposit_reload_is_recorded_under_the_balances_own_program(api: &Api) {
    let user = api.verified_user("crm-b1").await;
    let (_, token) = api.pair(user, "phone-b1").await;
    let deposit_balance = open_in_app(api, &token, "dev-deposit-eur").await;
    // Partner deposit: the partner's load is recorded on the user balance.
    let deposit = api.state.program("dev-deposit-eur").unwrap().funding_balance;
    let deposit_before = available(api, deposit);
    let reload = format!("/secure/customers/{user}/balances/{deposit_balance}/reload");
    let (status, body) = api
        .partner_post(&reload, json!({"amount": 2_500, "programId": "dev-credit-eur"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VALIDATION_FAILED")),
        "a balance bound to a program stays under it: {body}"
    );
    // Bound at opening: no need to name the program again.
    let (status, body) = api.partner_post(&reload, json!({"amount": 2_500})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["available"], json!(2_500));
    assert_eq!(available(api, deposit), deposit_before);
    state_invariants(api);
}

crate::support::on_every_store!(another_users_balance_is_not_found_under_this_user, over_https);
async fn another_users_balance_is_not_found_under_this_user(api: &Api) {
    let user = api.verified_user("crm-b1").await;
    let credit_balance = api.open_balance(user).await;
    let other_user = api.verified_user("crm-b2").await;
    let (status, body) = api
        .partner_get(&format!("/secure/customers/{other_user}/balances/{credit_balance}"))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("BALANCE_NOT_FOUND"))
    );
    state_invariants(api);
}

/// A verified user with a paired app, a balance funded with 20 000 and a virtual card the app issued.
struct CardInApp {
    user: i64,
    token: String,
    balance: i64,
    card: Value,
    card_id: i64,
    pan: String,
}

async fn card_in_app(api: &Api) -> CardInApp {
    let user = api.verified_user("crm-e2e").await;
    let (_, token) = api.pair(user, "phone-e2e").await;
    let balance = api.open_balance(user).await;
    api.reload_from_credit(user, balance, 50_000, 20_000).await;
    let (status, card) = api
        .in_app(
            Method::POST,
            "/customers/me/cards/virtual",
            &token,
            // dev-partner runs two EUR programs: the first card names one; later ones follow it.
            Some(json!({"balanceId": balance, "programId": "dev-credit-eur"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let card_id = card["cardId"].as_i64().unwrap();
    let pan = api.pan(card_id);
    CardInApp {
        user,
        token,
        balance,
        card,
        card_id,
        pan,
    }
}

crate::support::on_every_store!(
    a_virtual_card_from_the_app_is_active_and_never_shows_its_pan,
    over_https
);
async fn a_virtual_card_from_the_app_is_active_and_never_shows_its_pan(api: &Api) {
    let CardInApp { card, pan, .. } = card_in_app(api).await;
    assert_eq!((&card["status"], &card["kind"]), (&json!("ACTIVE"), &json!("VIRTUAL")));
    assert!(pan.starts_with("53999900") && antaca::cards::luhn_valid(pan.as_bytes()));
    let masked = card["maskedPan"].as_str().unwrap();
    assert_eq!(masked, format!("{}******{}", &pan[..6], &pan[12..]));
    assert!(!card.to_string().contains(&pan));
    assert_eq!(card["expiry"].as_str().unwrap().len(), 4);
    let mut switch = api.connect().await;
    assert_eq!(authorize(&mut switch, &pan, 1_000).await, "0000");
    state_invariants(api);
}

crate::support::on_every_store!(the_balance_and_both_channels_list_a_new_card, over_https);
async fn the_balance_and_both_channels_list_a_new_card(api: &Api) {
    let CardInApp {
        user,
        token,
        balance,
        card,
        card_id,
        ..
    } = card_in_app(api).await;
    let (_, read) = api
        .partner_get(&format!("/secure/customers/{user}/balances/{balance}"))
        .await;
    assert_eq!(read["cards"][0]["cardId"], json!(card_id), "{read}");
    let (_, listed) = api.partner_get(&format!("/secure/customers/{user}/cards")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (_, listed) = api.in_app(Method::GET, "/customers/me/cards", &token, None).await;
    assert_eq!(listed[0]["maskedPan"], card["maskedPan"]);
    state_invariants(api);
}

/// Locks the card over the partner channel with `reason`: the answer.
async fn lock_by_partner(api: &Api, user: i64, card_id: i64, reason: u8) -> (StatusCode, Value) {
    api.partner_post(
        &format!("/secure/customers/{user}/cards/{card_id}/lock"),
        json!({"reason": reason}),
    )
    .await
}

crate::support::on_every_store!(a_card_locked_over_http_declines_the_very_next_authorization, over_https);
async fn a_card_locked_over_http_declines_the_very_next_authorization(api: &Api) {
    let CardInApp { user, card_id, pan, .. } = card_in_app(api).await;
    let mut switch = api.connect().await;
    assert_eq!(authorize(&mut switch, &pan, 1_000).await, "0000");
    // Locked over HTTP (suspected fraud): the very next authorization is declined with 1002.
    let (status, locked) = lock_by_partner(api, user, card_id, 7).await;
    assert_eq!(status, StatusCode::OK, "{locked}");
    assert_eq!(
        (&locked["status"], &locked["lockReason"]),
        (&json!("LOCKED"), &json!(7))
    );
    assert_eq!(authorize(&mut switch, &pan, 1_000).await, "1002");
    let (status, body) = lock_by_partner(api, user, card_id, 9).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    state_invariants(api);
}

crate::support::on_every_store!(a_card_unlocked_by_the_app_is_approved_again, over_https);
async fn a_card_unlocked_by_the_app_is_approved_again(api: &Api) {
    let CardInApp {
        user,
        token,
        card_id,
        pan,
        ..
    } = card_in_app(api).await;
    let mut switch = api.connect().await;
    let (status, _) = lock_by_partner(api, user, card_id, 7).await;
    assert_eq!(status, StatusCode::OK);
    let (status, unlocked) = api
        .in_app(
            Method::POST,
            &format!("/customers/me/cards/{card_id}/unlock"),
            &token,
            None,
        )
        .await;
    assert_eq!((status, &unlocked["status"]), (StatusCode::OK, &json!("ACTIVE")));
    assert_eq!(authorize(&mut switch, &pan, 1_000).await, "0000");
    state_invariants(api);
}

crate::support::on_every_store!(a_card_locked_as_stolen_cannot_be_unlocked, over_https);
async fn a_card_locked_as_stolen_cannot_be_unlocked(api: &Api) {
    let CardInApp {
        user,
        token,
        card_id,
        pan,
        ..
    } = card_in_app(api).await;
    let mut switch = api.connect().await;
    // Stolen is for good: unlock refused with a stable code, still declined (2009... as the switch says).
    let (status, _) = api
        .in_app(
            Method::POST,
            &format!("/customers/me/cards/{card_id}/lock"),
            &token,
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
    state_invariants(api);
}

crate::support::on_every_store!(a_second_card_removed_by_the_app_is_gone_for_good, over_https);
async fn a_second_card_removed_by_the_app_is_gone_for_good(api: &Api) {
    let CardInApp {
        user, token, balance, ..
    } = card_in_app(api).await;
    let mut switch = api.connect().await;
    // A second card on the same balance, issued by the partner's server, then removed for good.
    let (status, second) = api
        .partner_post(
            &format!("/secure/customers/{user}/cards/virtual"),
            json!({"balanceId": balance}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second_id = second["cardId"].as_i64().unwrap();
    let second_pan = api.pan(second_id);
    assert_eq!(authorize(&mut switch, &second_pan, 500).await, "0000");
    let (status, _) = api
        .in_app(
            Method::DELETE,
            &format!("/customers/me/cards/{second_id}"),
            &token,
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
    // Only the second card's approval stays held: the removal declined the one after.
    assert_eq!(read["available"], json!(20_000 - 500), "{read}");
    state_invariants(api);
}

crate::support::on_every_store!(each_partner_reads_the_balances_of_its_own_programs, over_https);
async fn each_partner_reads_the_balances_of_its_own_programs(api: &Api) {
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
    state_invariants(api);
}

/// An operator records a bank transfer of 1 000 000 onto dev-credit-eur's partner credit balance:
/// (the operator's token, the credit balance).
async fn operator_loads_the_credit(api: &Api) -> (String, i64) {
    let credit = api.state.program("dev-credit-eur").unwrap().funding_balance;
    let operator = api.admin_with("ops.one", "OPERATOR", None).await;
    let load = format!("/admin/partners/dev-partner/balances/{credit}/load");
    let (status, body) = api
        .as_admin(Method::POST, &load, &operator, Some(json!({"amount": 1_000_000})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["available"], &body["kind"]),
        (&json!(1_000_000), &json!("CREDIT"))
    );
    (operator, credit)
}

crate::support::on_every_store!(an_operator_loads_a_partner_balance_but_not_a_user_balance, over_https);
async fn an_operator_loads_a_partner_balance_but_not_a_user_balance(api: &Api) {
    let (operator, credit) = operator_loads_the_credit(api).await;
    let load = format!("/admin/partners/dev-partner/balances/{credit}/load");
    let (status, body) = api
        .as_admin(Method::POST, &load, &operator, Some(json!({"amount": -5})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A user balance is not a partner balance.
    let user = api.verified_user("crm-p1").await;
    let balance = api.open_balance(user).await;
    let (status, body) = api
        .as_admin(
            Method::POST,
            &format!("/admin/partners/dev-partner/balances/{balance}/load"),
            &operator,
            Some(json!({"amount": 100})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("BALANCE_NOT_FOUND"))
    );
    state_invariants(api);
}

crate::support::on_every_store!(the_panel_reads_a_partners_balances_and_the_summary, over_https);
async fn the_panel_reads_a_partners_balances_and_the_summary(api: &Api) {
    let (operator, credit) = operator_loads_the_credit(api).await;
    let user = api.verified_user("crm-p1").await;
    let balance = api.open_balance(user).await;
    let (status, _) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances/{balance}/reload"),
            json!({"amount": 40_000, "programId": "dev-credit-eur"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The admin panel reads the partner's balances and the summary: Users, and Wallet = users + partners.
    let manager = api.admin_with("manager.p", "MANAGER", Some("dev-partner")).await;
    let path = "/admin/partners/dev-partner/balances";
    let (status, read) = api.as_admin(Method::GET, path, &manager, None).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    let credit_read = read
        .as_array()
        .unwrap()
        .iter()
        .find(|balance| balance["balanceId"] == json!(credit))
        .unwrap();
    assert_eq!(credit_read["available"], json!(960_000));
    let path = "/admin/partners/other-partner/balances";
    let (status, body) = api.as_admin(Method::GET, path, &manager, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("PARTNER_NOT_FOUND"))
    );
    let expected = json!([{"currency": "EUR", "users": 40_000, "wallet": 1_000_000}]);
    let (status, summary) = api
        .as_admin(Method::GET, "/admin/balances/summary", &manager, None)
        .await;
    assert_eq!((status, &summary), (StatusCode::OK, &expected), "{summary}");
    // Platform-wide: the other partner's balances count too (nothing loaded there).
    let (_, summary) = api
        .as_admin(Method::GET, "/admin/balances/summary", &operator, None)
        .await;
    assert_eq!(summary, expected);
    state_invariants(api);
}

/// A balance reloaded with 10 000 and a card on it locked (reason 3), and dev-partner's credit balance
/// loaded with 30 000 under a 25 000 threshold: (user, balance).
async fn balance_card_and_threshold(api: &Api) -> (i64, i64) {
    let user = api.verified_user("crm-restart-w").await;
    let balance = api.open_balance(user).await;
    let credit = api.state.program("dev-credit-eur").unwrap().funding_balance;
    let operator = api.admin_with("ops.restart", "OPERATOR", None).await;
    let partner_balance = format!("/admin/partners/dev-partner/balances/{credit}");
    let (status, _) = api
        .as_admin(
            Method::POST,
            &format!("{partner_balance}/load"),
            &operator,
            Some(json!({"amount": 30_000})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api
        .as_admin(
            Method::PUT,
            &format!("{partner_balance}/threshold"),
            &operator,
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
    let (status, _) = lock_by_partner(api, user, card_id, 3).await;
    assert_eq!(status, StatusCode::OK);
    (user, balance)
}

/// Balances, cards, locks and thresholds made over HTTP are in the database: a restart serves them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balances_cards_and_thresholds_survive_a_restart() {
    for database in crate::support::TestStore::every().await {
        let api = Api::start(&database.url).await;
        let (user, balance) = balance_card_and_threshold(&api).await;
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

fn corporate_balance_body(corporation: i64) -> Value {
    json!({"dcCorporationId": corporation, "currency": "EUR", "programId": "dev-credit-eur"})
}

async fn approve(api: &Api, corporation: i64) {
    let root = api.root().await;
    let path = format!("/admin/corporations/{corporation}/approve");
    let (status, body) = api.as_admin(Method::POST, &path, &root, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

crate::support::on_every_store!(a_corporate_balance_waits_for_kyb_approval, over_https);
async fn a_corporate_balance_waits_for_kyb_approval(api: &Api) {
    let corporation = api.corporation("Corporate Cards Ltd").await;
    let open_body = corporate_balance_body(corporation);
    let (status, body) = api.partner_post("/secure/balances", open_body.clone()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("KYB_NOT_APPROVED")),
        "{body}"
    );
    approve(api, corporation).await;
    let (status, body) = api.partner_post("/secure/balances", open_body).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    state_invariants(api);
}

crate::support::on_every_store!(another_partner_naming_a_corporation_reads_as_an_unknown_one, over_https);
async fn another_partner_naming_a_corporation_reads_as_an_unknown_one(api: &Api) {
    let corporation = api.corporation("Corporate Cards Ltd").await;
    approve(api, corporation).await;
    for (path, body) in [
        ("/secure/balances", corporate_balance_body(corporation)),
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
    state_invariants(api);
}

crate::support::on_every_store!(an_employee_card_spends_from_the_corporate_balance, over_https);
async fn an_employee_card_spends_from_the_corporate_balance(api: &Api) {
    let corporation = api.corporation("Corporate Cards Ltd").await;
    approve(api, corporation).await;
    let (status, body) = api
        .partner_post("/secure/balances", corporate_balance_body(corporation))
        .await;
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
    let mut switch = api.connect().await;
    assert_eq!(authorize(&mut switch, &api.pan(card_id), 7_000).await, "0000");
    let (status, read) = api.partner_get(&format!("/secure/balances/{balance}")).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(
        (&read["available"], &read["cards"][0]["cardId"]),
        (&json!(43_000), &json!(card_id))
    );
    // A user balance is not a corporate balance; another partner sees neither.
    let path = format!("/secure/balances/{balance}");
    let (status, _) = api.call(&api.other, Method::GET, &path, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    state_invariants(api);
}

crate::support::on_every_store!(a_virtual_card_requested_asynchronously_is_polled_until_done, over_https);
async fn a_virtual_card_requested_asynchronously_is_polled_until_done(api: &Api) {
    let user = api.verified_user("crm-async").await;
    let (_, token) = api.pair(user, "phone-async").await;
    let balance = api.open_balance(user).await;
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
    let someone = api.verified_user("crm-async-2").await;
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

/// A physical card the app ordered with its PIN on a balance funded with 10 000: (user, token, card, PAN).
async fn ordered_physical_card(api: &Api) -> (i64, String, i64, String) {
    let user = api.verified_user("crm-physical").await;
    let (_, token) = api.pair(user, "phone-physical").await;
    let balance = api.open_balance(user).await;
    api.reload_from_credit(user, balance, 10_000, 10_000).await;
    let (status, card) = api
        .in_app(
            Method::POST,
            "/customers/me/cards/physical",
            &token,
            Some(json!({"balanceId": balance, "programId": "dev-credit-eur", "pin": "4321"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    assert_eq!(
        (&card["status"], &card["kind"]),
        (&json!("ORDERED"), &json!("PHYSICAL"))
    );
    let card_id = card["cardId"].as_i64().unwrap();
    (user, token, card_id, api.pan(card_id))
}

crate::support::on_every_store!(an_ordered_physical_card_is_unlisted_inactive_and_declined, over_https);
async fn an_ordered_physical_card_is_unlisted_inactive_and_declined(api: &Api) {
    let (user, _, card_id, pan) = ordered_physical_card(api).await;
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
    state_invariants(api);
}

crate::support::on_every_store!(
    a_personalised_physical_card_is_linked_then_activated_by_the_app,
    over_https
);
async fn a_personalised_physical_card_is_linked_then_activated_by_the_app(api: &Api) {
    let (user, token, card_id, pan) = ordered_physical_card(api).await;
    let mut switch = api.connect().await;
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
        .in_app(
            Method::POST,
            &format!("/customers/me/cards/{card_id}/activate"),
            &token,
            None,
        )
        .await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ACTIVE")), "{body}");
    assert_eq!(authorize(&mut switch, &pan, 1_000).await, "0000");
    let activate = format!("/secure/customers/{user}/cards/{card_id}/activate");
    let (status, body) = api.partner_post(&activate, Value::Null).await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("ACTIVE")),
        "activating twice is harmless"
    );
    state_invariants(api);
}
