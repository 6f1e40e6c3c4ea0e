//! Fees over HTTP: a manager changes a program's schedule (versioned, never in the past), the
//! partner reads it (another partner cannot), the event fees (account creation, money transfer on
//! reload, card creation) are charged through the real routes, FX rates are maintained, and the
//! fee report adds it all up by type — also after a restart.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Api, PARTNER, each_store};

const SCHEDULE_PATH: &str = "/admin/programs/dev-credit-eur/fees";

fn by_type<'a>(report: &'a Value, fee_type: &str) -> &'a Value {
    report["byType"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["feeType"] == fee_type)
        .unwrap_or_else(|| panic!("{fee_type} in {report}"))
}

/// dev-credit-eur's schedule: 1.00 per account, 2.50 per card, 1 % per money transfer, 1.99 a
/// month waived from 1000 of card spend.
fn schedule() -> Value {
    json!({"enabled": true, "accountCreation": "1.00", "cardCreation": "2.50",
        "moneyTransfer": {"fixed": "0", "percent": "1"},
        "periodic": {"period": "monthly", "amount": "1.99"},
        "waivers": [{"fee": "periodic", "when": {"cardSpendInPeriodAtLeast": {"amount": "1000"}}}]})
}

/// A dev-partner manager's session token.
async fn manager(api: &Api) -> String {
    api.admin_with("fees.manager", "MANAGER", Some(PARTNER)).await
}

/// Puts `body` as dev-credit-eur's schedule, as `manager`.
async fn put_schedule(api: &Api, manager: &str, body: Value) -> (StatusCode, Value) {
    api.call(&api.anonymous, Method::PUT, SCHEDULE_PATH, Some(manager), Some(body))
        .await
}

/// Sets [`schedule`] as dev-credit-eur's first version: the answer.
async fn set_schedule(api: &Api, manager: &str) -> Value {
    let (status, body) = put_schedule(api, manager, json!({"schedule": schedule()})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A verified user's balance opened on dev-credit-eur (account creation), reloaded with 100.00 (money
/// transfer) and given a virtual card (card creation): the balance.
async fn charge_event_fees(api: &Api) -> i64 {
    let user = api.verified_user("crm-fees").await;
    let (status, balance) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances"),
            json!({"currency": "EUR", "programId": "dev-credit-eur"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{balance}");
    let balance_id = balance["balanceId"].as_i64().unwrap();
    let credit = api.state.program("dev-credit-eur").unwrap().funding_balance;
    antaca::balances::load_external(&api.state, credit, 50_000)
        .await
        .unwrap();
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances/{balance_id}/reload"),
            json!({"amount": 10_000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ledger = api.state.balance(balance_id).unwrap().snapshot().ledger;
    assert_eq!(ledger, 10_000 - 100, "the money transfer fee is paid at once");
    let (status, card) = api
        .partner_post(
            &format!("/secure/customers/{user}/cards/virtual"),
            json!({"balanceId": balance_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    balance_id
}

/// Adds a USD→EUR rate as a platform-wide operator: the answer.
async fn add_rate(api: &Api) -> Value {
    let operator = api.admin_with("fees.operator", "OPERATOR", None).await;
    let (status, added) = api
        .call(
            &api.anonymous,
            Method::POST,
            "/admin/fx-rates",
            Some(&operator),
            Some(usd_rate()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    added
}

fn usd_rate() -> Value {
    json!({"from": "usd", "to": "EUR", "rate": "0.9215", "validFrom": "2026-01-01T00:00:00Z"})
}

crate::support::on_every_store!(a_fee_schedule_never_takes_effect_in_the_past, over_https);
async fn a_fee_schedule_never_takes_effect_in_the_past(api: &Api) {
    // What was charged stays explained by the history.
    let manager = manager(api).await;
    let body = json!({"effectiveFrom": "2020-01-01T00:00:00Z", "schedule": schedule()});
    let (status, body) = put_schedule(api, &manager, body).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VALIDATION_FAILED"))
    );
}

crate::support::on_every_store!(a_fee_schedule_with_a_negative_fee_is_refused_naming_the_fee, over_https);
async fn a_fee_schedule_with_a_negative_fee_is_refused_naming_the_fee(api: &Api) {
    let manager = manager(api).await;
    let body = json!({"schedule": {"enabled": true, "pos": {"fixed": "-1", "percent": "0"}}});
    let (status, body) = put_schedule(api, &manager, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("schedule.pos"), "{body}");
}

crate::support::on_every_store!(a_managers_schedule_becomes_version_1_in_their_name, over_https);
async fn a_managers_schedule_becomes_version_1_in_their_name(api: &Api) {
    let manager = manager(api).await;
    let body = set_schedule(api, &manager).await;
    assert_eq!(body["current"]["version"], 1);
    assert_eq!(body["current"]["createdBy"], "admin:fees.manager");
    assert_eq!(body["current"]["schedule"]["cardCreation"], "2.50");
}

crate::support::on_every_store!(
    the_partner_reads_its_programs_schedule_and_another_partner_gets_an_unknown_programs_answer,
    over_https
);
async fn the_partner_reads_its_programs_schedule_and_another_partner_gets_an_unknown_programs_answer(api: &Api) {
    let manager = manager(api).await;
    let body = set_schedule(api, &manager).await;
    let (status, read) = api.partner_get("/secure/programs/dev-credit-eur/fees").await;
    assert_eq!(
        (status, &read["current"]["schedule"]),
        (StatusCode::OK, &body["current"]["schedule"])
    );
    let theirs = api
        .call(
            &api.other,
            Method::GET,
            "/secure/programs/dev-credit-eur/fees",
            None,
            None,
        )
        .await;
    let unknown = api
        .call(
            &api.other,
            Method::GET,
            "/secure/programs/no-such-program/fees",
            None,
            None,
        )
        .await;
    assert_eq!(theirs.0, StatusCode::NOT_FOUND);
    assert_eq!(theirs.1["code"], "PROGRAM_NOT_FOUND");
    assert_eq!(theirs, unknown);
}

crate::support::on_every_store!(the_event_fees_are_charged_through_the_real_routes, over_https);
async fn the_event_fees_are_charged_through_the_real_routes(api: &Api) {
    let manager = manager(api).await;
    set_schedule(api, &manager).await;
    // Account creation: the new balance is empty, so the fee is recorded unpaid (see the report);
    // a reload of 100.00 pays the money transfer fee (1 %) at once; card creation: 2.50.
    let balance_id = charge_event_fees(api).await;
    let ledger = api.state.balance(balance_id).unwrap().snapshot().ledger;
    assert_eq!(ledger, 10_000 - 100 - 250);
    api.state.check_invariants().unwrap();
}

crate::support::on_every_store!(
    fx_rates_are_maintained_by_platform_staff_and_only_read_by_a_partners_manager,
    over_https
);
async fn fx_rates_are_maintained_by_platform_staff_and_only_read_by_a_partners_manager(api: &Api) {
    let manager = manager(api).await;
    let added = add_rate(api).await;
    assert_eq!(
        (added["from"].as_str(), added["rate"].as_str()),
        (Some("USD"), Some("0.9215"))
    );
    let (status, _) = api
        .call(
            &api.anonymous,
            Method::POST,
            "/admin/fx-rates",
            Some(&manager),
            Some(usd_rate()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, rates) = api
        .call(&api.anonymous, Method::GET, "/admin/fx-rates", Some(&manager), None)
        .await;
    assert_eq!((status, rates.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    assert!(api.state.fx_rate(840, 978, api.state.now_ms()).is_some());
}

fn check_report(report: &Value) {
    assert_eq!(by_type(report, "account_creation")["unpaid"], 100, "{report}");
    assert_eq!(by_type(report, "money_transfer")["charged"], 100, "{report}");
    assert_eq!(by_type(report, "card_creation")["charged"], 250, "{report}");
    assert_eq!(
        (report["netCharged"].as_i64(), report["unpaid"].as_i64()),
        (Some(350), Some(100))
    );
}

/// The fee report adds the event fees up by type; after a restart the schedule, the rates and the
/// report come back from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fee_report_adds_up_the_event_fees_by_type_also_after_a_restart() {
    each_store(|database| async move {
        let api = crate::support::Api::start(&database.url).await;
        let manager = manager(&api).await;
        set_schedule(&api, &manager).await;
        charge_event_fees(&api).await;
        add_rate(&api).await;
        let today = chrono::DateTime::from_timestamp_millis(api.state.now_ms())
            .unwrap()
            .format("%Y-%m-%d")
            .to_string();
        let report_path = format!("/admin/programs/dev-credit-eur/fee-report?from={today}&to={today}");
        let (status, report) = api
            .call(&api.anonymous, Method::GET, &report_path, Some(&manager), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        check_report(&report);
        api.state.check_invariants().unwrap();

        let directory = api.stop().await;
        let api = Api::start_in(&database.url, directory, &[]).await;
        let manager = api.login("fees.manager", "fees.manager-password-1").await;
        let (_, report) = api
            .call(&api.anonymous, Method::GET, &report_path, Some(&manager), None)
            .await;
        check_report(&report);
        let (_, read) = api.partner_get("/secure/programs/dev-credit-eur/fees").await;
        assert_eq!(read["versions"].as_array().map(Vec::len), Some(1));
        assert_eq!(api.state.fx_rates().len(), 1);
        api.state.check_invariants().unwrap();
        api.stop().await;
    })
    .await;
}
