//! KYC and KYB end to end: the verifier's three outcomes, the review queue,
//! the partner's own flag, and a corporation's way through compliance with
//! every transition recorded with who and when.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use antaca::state::Clock;

use crate::support::{Api, PARTNER, kyc_body};

async fn user_status(api: &Api, user: i64) -> String {
    let (status, body) = api.partner_get(&format!("/lifecycle/v1/users/{user}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["kycStatus"].as_str().unwrap().to_owned()
}

crate::support::on_every_store!(kyc_by_the_partners_server_verifies_or_rejects_at_once, over_https);
async fn kyc_by_the_partners_server_verifies_or_rejects_at_once(api: &Api) {
    let user = api.user("crm-k1").await;
    assert_eq!(user_status(api, user).await, "NOT_STARTED");
    let register = format!("/secure/customers/{user}/register");
    let (status, body) = api.partner_post(&register, kyc_body("1990-05-17", "ABA300000")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "VERIFIED");
    assert_eq!(body["decidedBy"], "verifier:builtin");
    assert!(body.get("person").is_none(), "the partner is not sent the data back");
    assert_eq!(user_status(api, user).await, "VERIFIED");
    let (status, body) = api.partner_post(&register, kyc_body("1990-05-17", "ABA300000")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("KYC_ALREADY_VERIFIED"))
    );

    let minor = api.user("crm-k2").await;
    let today = chrono::DateTime::from_timestamp_millis(api.clock.now_ms())
        .unwrap()
        .date_naive();
    let seventeen = today.checked_sub_months(chrono::Months::new(17 * 12)).unwrap();
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{minor}/register"),
            kyc_body(&seventeen.to_string(), "ABA300000"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (body["status"].as_str(), body["findings"].clone()),
        (Some("REJECTED"), json!(["UNDERAGE"]))
    );
    assert_eq!(user_status(api, minor).await, "REJECTED");

    let (status, history) = api.partner_get(&format!("/secure/customers/{minor}/kyc")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history.as_array().unwrap().len(), 1);
}

/// A user whose app sent a document number failing its checksum: (user, session token, submission).
async fn doubtful_registration(api: &Api) -> (i64, String, String) {
    let user = api.user("crm-k3").await;
    let (_, token) = api.pair(user, "phone-1").await;
    let (status, body) = api
        .in_app(
            Method::POST,
            "/customers/me/register",
            &token,
            Some(kyc_body("1990-05-17", "ABA400000")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["source"].as_str()),
        (Some("IN_REVIEW"), Some("MOBILE"))
    );
    assert_eq!(body["findings"], json!(["DOCUMENT_NUMBER_CHECKSUM"]));
    assert!(body["decidedBy"].is_null());
    let submission = body["submissionId"].as_str().unwrap().to_owned();
    (user, token, submission)
}

crate::support::on_every_store!(
    doubtful_kyc_is_pending_and_cannot_be_decided_by_the_user_or_partner,
    over_https
);
async fn doubtful_kyc_is_pending_and_cannot_be_decided_by_the_user_or_partner(api: &Api) {
    let (user, token, _) = doubtful_registration(api).await;
    let (status, me) = api.in_app(Method::GET, "/customers/me", &token, None).await;
    assert_eq!((status, me["kycStatus"].as_str()), (StatusCode::OK, Some("PENDING")));
    let (status, body) = api
        .in_app(
            Method::POST,
            "/customers/me/register",
            &token,
            Some(kyc_body("1990-05-17", "ABA300000")),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("KYC_IN_REVIEW"))
    );
    let (status, body) = api
        .call(
            &api.partner,
            Method::PUT,
            &format!("/lifecycle/v1/users/{user}/kyc"),
            None,
            Some(json!({"kycStatus": "VERIFIED"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("KYC_IN_REVIEW"))
    );
}

crate::support::on_every_store!(doubtful_kyc_is_queued_with_its_data_for_reviewers, over_https);
async fn doubtful_kyc_is_queued_with_its_data_for_reviewers(api: &Api) {
    let (_, _, submission) = doubtful_registration(api).await;
    let manager = api.admin_with("maria.manager", "MANAGER", Some(PARTNER)).await;
    let (status, queue) = api.as_admin(Method::GET, "/admin/kyc/reviews", &manager, None).await;
    assert_eq!(status, StatusCode::OK);
    let queued: Vec<&Value> = queue
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["submissionId"] == submission.as_str())
        .collect();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0]["person"]["document"]["number"], "ABA400000",
        "reviewers see the data"
    );
}

crate::support::on_every_store!(
    a_reviewer_approves_doubtful_kyc_once_and_it_leaves_the_queue,
    over_https
);
async fn a_reviewer_approves_doubtful_kyc_once_and_it_leaves_the_queue(api: &Api) {
    let (user, _, submission) = doubtful_registration(api).await;
    let manager = api.admin_with("maria.manager", "MANAGER", Some(PARTNER)).await;
    let approve = format!("/admin/kyc/submissions/{submission}/approve");
    let (status, body) = api
        .as_admin(
            Method::POST,
            &approve,
            &manager,
            Some(json!({"reason": "checked the scan"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["status"].as_str(),
            body["decidedBy"].as_str(),
            body["reason"].as_str()
        ),
        (Some("VERIFIED"), Some("admin:maria.manager"), Some("checked the scan"))
    );
    assert!(body["decidedAt"].is_string());
    assert_eq!(user_status(api, user).await, "VERIFIED");
    let (status, body) = api.as_admin(Method::POST, &approve, &manager, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("KYC_ALREADY_DECIDED"))
    );
    let (_, queue) = api.as_admin(Method::GET, "/admin/kyc/reviews", &manager, None).await;
    assert!(!queue.to_string().contains(&submission));
}

crate::support::on_every_store!(rejected_after_review_then_verified_by_the_partners_own_kyc, over_https);
async fn rejected_after_review_then_verified_by_the_partners_own_kyc(api: &Api) {
    // Rejected after review, then the partner's own KYC sets the flag (recorded as the partner's).
    let manager = api.admin_with("maria.manager", "MANAGER", Some(PARTNER)).await;
    let other = api.user("crm-k4").await;
    let (_, body) = api
        .partner_post(
            &format!("/secure/customers/{other}/register"),
            kyc_body("1900-01-01", "ABA300000"),
        )
        .await;
    assert_eq!(
        (body["status"].as_str(), body["findings"].clone()),
        (Some("IN_REVIEW"), json!(["AGE_IMPLAUSIBLE"]))
    );
    let submission = body["submissionId"].as_str().unwrap();
    let reject = format!("/admin/kyc/submissions/{submission}/reject");
    let (status, body) = api.as_admin(Method::POST, &reject, &manager, None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("REJECTED")));
    assert_eq!(user_status(api, other).await, "REJECTED");
    let (status, body) = api
        .call(
            &api.partner,
            Method::PUT,
            &format!("/lifecycle/v1/users/{other}/kyc"),
            None,
            Some(json!({"kycStatus": "VERIFIED"})),
        )
        .await;
    assert_eq!(
        (status, body["kycStatus"].as_str()),
        (StatusCode::OK, Some("VERIFIED")),
        "{body}"
    );
    let (_, history) = api.partner_get(&format!("/secure/customers/{other}/kyc")).await;
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["source"].as_str(), last["decidedBy"].as_str()),
        (Some("PARTNER"), Some("partner:dev-partner"))
    );
}

crate::support::on_every_store!(a_corporation_needs_a_registry_extract_and_valid_hashes, over_https);
async fn a_corporation_needs_a_registry_extract_and_valid_hashes(api: &Api) {
    let (status, body) = api
        .partner_post(
            "/lifecycle/v1/corporations",
            crate::support::corporation_body("Acme Sp. z o.o."),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "SUBMITTED");
    assert_eq!(body["history"][0]["actor"], "partner:dev-partner");

    let mut incomplete = crate::support::corporation_body("No extract Ltd");
    incomplete["documents"][0]["type"] = json!("PROOF_OF_ADDRESS");
    let (status, body) = api.partner_post("/lifecycle/v1/corporations", incomplete).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().starts_with("documents:"), "{body}");
    let mut bad_hash = crate::support::corporation_body("Bad hash Ltd");
    bad_hash["documents"][0]["sha256"] = json!("xyz");
    let (_, body) = api.partner_post("/lifecycle/v1/corporations", bad_hash).await;
    assert!(
        body["message"].as_str().unwrap().starts_with("documents[0].sha256:"),
        "{body}"
    );
}

/// A corporation put on hold by an operator (with a reason), a minute later approved by a manager,
/// then refused a rejection: (corporation, the operator's token).
async fn corporation_held_then_approved(api: &Api) -> (i64, String) {
    let id = api.corporation("Acme Sp. z o.o.").await;
    let operator = api.admin_with("olaf.operator", "OPERATOR", None).await;
    let manager = api.admin_with("max.manager", "MANAGER", Some(PARTNER)).await;
    let decide = |action: &str, token: &str, body: Option<Value>| {
        let path = format!("/admin/corporations/{id}/{action}");
        let token = token.to_owned();
        async move { api.as_admin(Method::POST, &path, &token, body).await }
    };
    let (status, body) = decide("hold", &operator, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().starts_with("reason:"), "{body}");
    let reason = json!({"reason": "registry extract older than 3 months"});
    let (status, body) = decide("hold", &operator, Some(reason)).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ON_HOLD")),
        "{body}"
    );
    api.clock.advance(60_000);
    let (status, body) = decide("approve", &manager, None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("APPROVED")));
    let (status, body) = decide("reject", &manager, Some(json!({"reason": "too late"}))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("KYB_TRANSITION_NOT_ALLOWED"))
    );
    (id, operator)
}

crate::support::on_every_store!(a_corporation_through_kyb_with_every_transition_recorded, over_https);
async fn a_corporation_through_kyb_with_every_transition_recorded(api: &Api) {
    let (id, _) = corporation_held_then_approved(api).await;
    let (status, corporation) = api.partner_get(&format!("/lifecycle/v1/corporations/{id}")).await;
    assert_eq!(
        (status, corporation["status"].as_str()),
        (StatusCode::OK, Some("APPROVED"))
    );
    let history = corporation["history"].as_array().unwrap();
    let step = |from: Value, to: &str, actor: &str, reason: Value| (from, json!(to), json!(actor), reason);
    let steps: Vec<(Value, Value, Value, Value)> = history
        .iter()
        .map(|s| {
            (
                s["from"].clone(),
                s["to"].clone(),
                s["actor"].clone(),
                s["reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            step(Value::Null, "SUBMITTED", "partner:dev-partner", Value::Null),
            step(
                json!("SUBMITTED"),
                "ON_HOLD",
                "admin:olaf.operator",
                json!("registry extract older than 3 months")
            ),
            step(json!("ON_HOLD"), "APPROVED", "admin:max.manager", Value::Null),
        ]
    );
    assert!(
        history[1]["at"].as_str().unwrap() < history[2]["at"].as_str().unwrap(),
        "when, on the injected clock"
    );
}

crate::support::on_every_store!(the_panel_lists_corporations_by_a_known_status, over_https);
async fn the_panel_lists_corporations_by_a_known_status(api: &Api) {
    let (id, operator) = corporation_held_then_approved(api).await;
    let (_, approved) = api
        .as_admin(Method::GET, "/admin/corporations?status=APPROVED", &operator, None)
        .await;
    assert!(
        approved
            .as_array()
            .unwrap()
            .iter()
            .any(|entry| entry["dcCorporationId"] == id)
    );
    let (status, body) = api
        .as_admin(Method::GET, "/admin/corporations?status=SOMETIMES", &operator, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VALIDATION_FAILED"))
    );
}
