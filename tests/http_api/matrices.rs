//! The tenant matrix (another partner's ids answer exactly like unknown ids,
//! and change nothing) and the role matrix (every role against every admin
//! route). Both check that they cover every route of the OpenAPI document.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Api, OTHER_PARTNER, PARTNER, corporation_body, kyc_body};

/// `(method, path template)` of every documented operation whose path starts with one of `prefixes`.
fn documented(prefixes: &[&str]) -> BTreeSet<(String, String)> {
    let document = serde_json::to_value(antaca::http::openapi()).unwrap();
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        if prefixes.iter().any(|prefix| path.starts_with(prefix)) {
            for method in item.as_object().unwrap().keys() {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

fn fill(template: &str, ids: &[(&str, String)]) -> String {
    ids.iter().fold(template.to_owned(), |path, (name, value)| {
        path.replace(&format!("{{{name}}}"), value)
    })
}

/// A dev-partner user with a KYC submission in review, a paired device, a balance with an active
/// virtual card, and a corporation.
struct Records {
    user: i64,
    installation: String,
    submission: String,
    corporation: i64,
    balance: i64,
    card: i64,
    /// dev-partner's EUR credit balance.
    partner_balance: i64,
}

async fn records(api: &Api, tag: &str) -> Records {
    let user = api.user(&format!("crm-{tag}")).await;
    let (installation, _) = api.pair(user, "phone-1").await;
    // A wrong check digit is doubtful: the submission waits for review.
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/register"),
            kyc_body("1990-05-17", "ABA400000"),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::CREATED, Some("IN_REVIEW")),
        "{body}"
    );
    // Made through the domain directly: the user's KYC is still in review.
    let balance = antaca::balances::open(
        &api.state,
        antaca::state::BalanceKind::User,
        antaca::state::Owner::Customer(user),
        PARTNER,
        "EUR",
    )
    .await
    .unwrap();
    let card = antaca::cards::issue(&api.state, balance.id, "dev-credit-eur", Default::default())
        .await
        .unwrap();
    Records {
        user,
        installation,
        submission: body["submissionId"].as_str().unwrap().to_owned(),
        corporation: api.corporation(&format!("Corp {tag}")).await,
        balance: balance.id,
        card: card.card_id,
        partner_balance: api.state.program("dev-credit-eur").unwrap().funding_balance,
    }
}

fn ids(records: &Records) -> Vec<(&'static str, String)> {
    vec![
        ("userId", records.user.to_string()),
        ("customerId", records.user.to_string()),
        ("installationId", records.installation.clone()),
        ("submissionId", records.submission.clone()),
        ("dcCorporationId", records.corporation.to_string()),
        ("balanceId", records.balance.to_string()),
        ("cardId", records.card.to_string()),
        ("partnerId", PARTNER.to_owned()),
        ("partnerBalanceId", records.partner_balance.to_string()),
        ("requestId", "0190c0de-0000-7000-8000-0000000000aa".into()),
        ("programId", "dev-credit-eur".into()),
    ]
}

fn unknown_ids() -> Vec<(&'static str, String)> {
    vec![
        ("userId", "999999".into()),
        ("customerId", "999999".into()),
        ("installationId", "0190c0de-0000-7000-8000-000000000000".into()),
        ("submissionId", "0190c0de-0000-7000-8000-000000000001".into()),
        ("dcCorporationId", "999999".into()),
        ("balanceId", "999999".into()),
        ("cardId", "999999".into()),
        ("partnerId", "no-such-partner".into()),
        ("partnerBalanceId", "999999".into()),
        ("requestId", "0190c0de-0000-7000-8000-0000000000ab".into()),
        ("programId", "no-such-program".into()),
    ]
}

/// A valid body for each route that takes one.
fn body_for(method: &str, template: &str) -> Option<Value> {
    if method == "GET" || method == "DELETE" {
        return None;
    }
    Some(match template {
        t if t.ends_with("/kyc") => json!({"kycStatus": "VERIFIED"}),
        t if t.ends_with("/register") => kyc_body("1990-05-17", "ABA300000"),
        t if t.ends_with("/devices") => json!({"deviceId": "phone-2"}),
        "/lifecycle/v1/users" => json!({}),
        "/lifecycle/v1/corporations" => corporation_body("Other Corp"),
        "/admin/users" => json!({"username": "new.user", "password": "a-long-password", "role": "EMPLOYEE"}),
        t if t.ends_with("/reject") || t.ends_with("/hold") => json!({"reason": "documents unclear"}),
        "/admin/partners/{partnerId}/balances" => json!({"kind": "DEPOSIT", "currency": "PLN"}),
        t if t.ends_with("/balances") => json!({"currency": "EUR"}),
        t if t.ends_with("/reload") => json!({"amount": 100, "programId": "dev-credit-eur"}),
        t if t.ends_with("/cards/virtual") || t.ends_with("/virtual/async") || t.ends_with("/cards/physical") => {
            json!({"balanceId": 999999})
        }
        t if t.ends_with("/lock") => json!({"reason": 7}),
        t if t.ends_with("/load") => json!({"amount": 100}),
        t if t.ends_with("/threshold") => json!({"lowBalanceThreshold": 100}),
        t if t.ends_with("/fees") => json!({"schedule": {"enabled": true, "cardCreation": "0.50"}}),
        "/admin/fx-rates" => json!({"from": "USD", "to": "EUR", "rate": "0.92"}),
        _ => json!({}),
    })
}

async fn snapshot(api: &Api, records: &Records, token: &str) -> Value {
    let (_, customer) = api
        .call(
            &api.anonymous,
            Method::GET,
            &format!("/admin/customers/{}", records.user),
            Some(token),
            None,
        )
        .await;
    let (_, corporation) = api
        .call(
            &api.anonymous,
            Method::GET,
            &format!("/admin/corporations/{}", records.corporation),
            Some(token),
            None,
        )
        .await;
    let balance = api.state.balance(records.balance).unwrap().snapshot();
    let cards: Vec<String> = api
        .state
        .cards_of_balance(records.balance)
        .iter()
        .map(|card| format!("{}:{:?}", card.id, card.status))
        .collect();
    json!({"customer": customer, "corporation": corporation, "balance": [balance.ledger, balance.held],
        "cards": cards})
}

crate::support::on_every_store!(no_partner_reaches_another_partners_records, over_https);
async fn no_partner_reaches_another_partners_records(api: &Api) {
    let records = records(api, "tenant").await;
    let root = api.root().await;
    let before = snapshot(api, &records, &root).await;
    let (_, session_before) = api.pair(records.user, "phone-3").await;

    let partner_routes = documented(&["/secure/", "/lifecycle/v1/"]);
    let mut checked = BTreeSet::new();
    for (method, template) in &partner_routes {
        if !template.contains('{') {
            // Creating routes act on the caller's own tenant only; nothing of another to name.
            continue;
        }
        let method_value = Method::from_bytes(method.as_bytes()).unwrap();
        let body = body_for(method, template);
        let theirs = fill(template, &ids(&records));
        let unknown = fill(template, &unknown_ids());
        let (status, crossing) = api
            .call(&api.other, method_value.clone(), &theirs, None, body.clone())
            .await;
        let (unknown_status, missing) = api.call(&api.other, method_value, &unknown, None, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {template}: {crossing}");
        assert_eq!(
            (unknown_status, &missing),
            (status, &crossing),
            "{method} {template}: another partner's id reads exactly like an unknown one"
        );
        checked.insert((method.clone(), template.clone()));
    }
    assert!(checked.len() >= 14, "the matrix covered {checked:?}");

    // Another partner's user, signed in on its app, reaches none of dev-partner's balances and cards.
    let (status, body) = api
        .call(
            &api.other,
            Method::POST,
            "/lifecycle/v1/users",
            None,
            Some(json!({"externalId": "crm-tenant-app"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let their_app_user = body["userId"].as_i64().unwrap();
    let (status, body) = api
        .call(
            &api.other,
            Method::POST,
            &format!("/secure/customers/{their_app_user}/devices"),
            None,
            Some(json!({"deviceId": "their-phone"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let their_session = body["sessionToken"].as_str().unwrap().to_owned();
    let mut mobile_checked = 0;
    for (method, template) in documented(&["/customers/me/"]) {
        if !template.contains('{') {
            continue;
        }
        let method_value = Method::from_bytes(method.as_bytes()).unwrap();
        let body = body_for(&method, &template);
        let theirs = fill(&template, &ids(&records));
        let unknown = fill(&template, &unknown_ids());
        let (status, crossing) = api
            .call(
                &api.anonymous,
                method_value.clone(),
                &theirs,
                Some(&their_session),
                body.clone(),
            )
            .await;
        let (unknown_status, missing) = api
            .call(&api.anonymous, method_value, &unknown, Some(&their_session), body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {template}: {crossing}");
        assert_eq!((unknown_status, &missing), (status, &crossing), "{method} {template}");
        mobile_checked += 1;
    }
    assert!(mobile_checked >= 4, "the mobile matrix covered {mobile_checked} routes");

    // The partner-scoped administrators of the other partner see nothing of dev-partner either.
    let theirs_admin = api.admin_with("other.admin", "ADMIN", Some(OTHER_PARTNER)).await;
    for (method, template) in documented(&["/admin/"]) {
        if !template.contains('{') {
            continue;
        }
        let method_value = Method::from_bytes(method.as_bytes()).unwrap();
        let body = body_for(&method, &template);
        let path = fill(&template, &ids(&records));
        if !allowed(&method, &template).contains(&"ADMIN") {
            // Operator-only routes: operators are platform-wide, a partner's administrator is refused.
            let (status, _) = api
                .call(&api.anonymous, method_value, &path, Some(&theirs_admin), body)
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {template}");
            continue;
        }
        let (status, crossing) = api
            .call(
                &api.anonymous,
                method_value.clone(),
                &path,
                Some(&theirs_admin),
                body.clone(),
            )
            .await;
        let unknown = fill(&template, &unknown_ids());
        let (_, missing) = api
            .call(&api.anonymous, method_value, &unknown, Some(&theirs_admin), body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {template}: {crossing}");
        assert_eq!(missing, crossing, "{method} {template}");
    }
    for list in ["/admin/kyc/reviews", "/admin/corporations", "/admin/users"] {
        let (status, body) = api
            .call(&api.anonymous, Method::GET, list, Some(&theirs_admin), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let text = body.to_string();
        assert!(
            !text.contains(&records.submission) && !text.contains("Corp tenant"),
            "{list}: {text}"
        );
        assert!(!text.contains(&format!("\"{PARTNER}\"")), "{list}: {text}");
    }

    // Nothing changed: KYC still in review, KYB still submitted, the devices still paired.
    assert_eq!(snapshot(api, &records, &root).await, before);
    let (status, _) = api
        .call(
            &api.anonymous,
            Method::GET,
            "/customers/me",
            Some(&session_before),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The other partner's own records work for it, and are as hidden from dev-partner.
    let (status, body) = api
        .call(
            &api.other,
            Method::POST,
            "/lifecycle/v1/users",
            None,
            Some(json!({"externalId": "crm-tenant"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the same external id is free in another tenant: {body}"
    );
    let their_user = body["userId"].as_i64().unwrap();
    let (status, _) = api
        .call(
            &api.other,
            Method::GET,
            &format!("/lifecycle/v1/users/{their_user}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api.partner_get(&format!("/lifecycle/v1/users/{their_user}")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("USER_NOT_FOUND"))
    );
}

/// A dev-partner user the partner flagged KYC-verified, with a EUR balance: (user, balance).
async fn verified_with_balance(api: &Api, tag: &str) -> (i64, i64) {
    let user = api.user(&format!("crm-verified-{tag}")).await;
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
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances"),
            json!({"currency": "EUR"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (user, body["balanceId"].as_i64().unwrap())
}

/// Who may call what: the role table, written here independently of the code's.
fn allowed(method: &str, template: &str) -> &'static [&'static str] {
    const ALL: &[&str] = &["ADMIN", "MANAGER", "EMPLOYEE", "OPERATOR"];
    const REVIEWERS: &[&str] = &["ADMIN", "MANAGER", "OPERATOR"];
    match (method, template) {
        (_, "/admin/me" | "/admin/session/renew" | "/admin/session") => ALL,
        (_, "/admin/users") => &["ADMIN"],
        ("GET", "/admin/customers/{customerId}" | "/admin/corporations" | "/admin/corporations/{dcCorporationId}") => {
            ALL
        }
        ("GET", "/admin/kyc/reviews") => REVIEWERS,
        ("POST", "/admin/customers/{customerId}/cards/virtual") => &["ADMIN", "MANAGER"],
        (
            "POST",
            "/admin/customers/{customerId}/cards/physical"
            | "/admin/customers/{customerId}/cards/{cardId}/activate"
            | "/admin/customers/{customerId}/cards/{cardId}/lock"
            | "/admin/customers/{customerId}/cards/{cardId}/unlock",
        ) => &["ADMIN", "MANAGER", "EMPLOYEE"],
        ("DELETE", "/admin/customers/{customerId}/cards/{cardId}") => &["ADMIN", "MANAGER", "EMPLOYEE"],
        ("GET", "/admin/partners/{partnerId}/balances" | "/admin/balances/summary" | "/admin/notifications") => ALL,
        ("POST", "/admin/partners/{partnerId}/balances") => &["OPERATOR"],
        ("POST", "/admin/cards/{cardId}/cvv") => &["ADMIN", "MANAGER", "EMPLOYEE"],
        ("POST", "/admin/partners/{partnerId}/balances/{partnerBalanceId}/load") => &["OPERATOR"],
        ("PUT", "/admin/partners/{partnerId}/balances/{partnerBalanceId}/threshold") => REVIEWERS,
        (_, "/admin/programs/{programId}/fees" | "/admin/programs/{programId}/fee-report") => &["ADMIN", "MANAGER"],
        ("GET", "/admin/fx-rates") => REVIEWERS,
        // Rates serve every partner: platform-wide users only (the matrix's manager is a partner's).
        ("POST", "/admin/fx-rates") => &["ADMIN", "OPERATOR"],
        ("POST", t) if t.starts_with("/admin/kyc/submissions/") || t.starts_with("/admin/corporations/") => REVIEWERS,
        _ => panic!("no expectation for {method} {template}: add it to the role table"),
    }
}

/// What an allowed call answers.
fn success(method: &str, template: &str) -> StatusCode {
    match (method, template) {
        (
            "POST",
            "/admin/users"
            | "/admin/customers/{customerId}/cards/virtual"
            | "/admin/customers/{customerId}/cards/physical"
            | "/admin/partners/{partnerId}/balances"
            | "/admin/fx-rates",
        ) => StatusCode::CREATED,
        ("DELETE", _) => StatusCode::NO_CONTENT,
        // Allowed, then refused for want of JWE: the matrix calls in plaintext (card_secrets.rs encrypts).
        ("POST", "/admin/cards/{cardId}/cvv") => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

crate::support::on_every_store!(every_role_against_every_admin_route, over_https);
async fn every_role_against_every_admin_route(api: &Api) {
    let roles = [
        ("ADMIN", None),
        ("MANAGER", Some(PARTNER)),
        ("EMPLOYEE", Some(PARTNER)),
        ("OPERATOR", None),
    ];
    let mut passwords = Vec::new();
    let root = api.root().await;
    for (role, partner) in roles {
        let username = format!("{}.matrix", role.to_lowercase());
        let password = format!("{username}-password-1");
        let (status, body) = api
            .call(
                &api.anonymous,
                Method::POST,
                "/admin/users",
                Some(&root),
                Some(json!({"username": username, "password": password, "role": role, "partnerId": partner})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        passwords.push((role, username, password));
    }
    let routes = documented(&["/admin/"]);
    let mut created_users = 0;
    let mut calls = 0;
    for (method, template) in &routes {
        if template == "/admin/login" {
            continue;
        }
        let method_value = Method::from_bytes(method.as_bytes()).unwrap();
        for (role, username, password) in &passwords {
            // A fresh session and fresh records per call: an allowed call must find something to act on.
            let token = api.login(username, password).await;
            calls += 1;
            let records = records(api, &format!("{role}-{calls}")).await;
            let mut path = fill(template, &ids(&records));
            let mut body = body_for(method, template);
            if template.ends_with("/activate") {
                // A physical card the personalisation center made (linked), on the user's balance.
                let card = antaca::cards::issue(
                    &api.state,
                    records.balance,
                    "dev-credit-eur",
                    antaca::cards::CardRequest {
                        kind: Some(antaca::state::CardKind::Physical),
                        pin: None,
                    },
                )
                .await
                .unwrap();
                antaca::cards::link(&api.state, card.card_id).await.unwrap();
                path = template
                    .replace("{customerId}", &records.user.to_string())
                    .replace("{cardId}", &card.card_id.to_string());
            }
            if template.ends_with("/cards/virtual") || template.ends_with("/cards/physical") {
                // Cards go to KYC-verified users, on their balance.
                let (user, balance) = verified_with_balance(api, &format!("{role}-card-{calls}")).await;
                path = template.replace("{customerId}", &user.to_string());
                body = Some(json!({"balanceId": balance, "programId": "dev-credit-eur"}));
            }
            if template == "/admin/users" && method == "POST" {
                created_users += 1;
                body = Some(
                    json!({"username": format!("made.{created_users}"), "password": "a-long-password",
                    "role": "EMPLOYEE", "partnerId": PARTNER}),
                );
            }
            let (status, answer) = api
                .call(&api.anonymous, method_value.clone(), &path, Some(&token), body)
                .await;
            if allowed(method, template).contains(role) {
                assert_eq!(
                    status,
                    success(method, template),
                    "{role} {method} {template}: {answer}"
                );
            } else {
                assert_eq!(
                    (status, answer["code"].as_str()),
                    (StatusCode::FORBIDDEN, Some("FORBIDDEN")),
                    "{role} {method} {template}"
                );
            }
        }
        // And without a session, nobody.
        let path = fill(template, &unknown_ids());
        let (status, answer) = api
            .call(&api.anonymous, method_value, &path, None, body_for(method, template))
            .await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("SESSION_REQUIRED")),
            "{method} {template}"
        );
    }
    assert!(routes.len() >= 14, "the matrix covered {routes:?}");
}
