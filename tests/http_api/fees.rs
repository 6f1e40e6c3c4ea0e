//! Fees over HTTP: a manager changes a program's schedule (versioned, never in the past), the
//! partner reads it (another partner cannot), the event fees (account creation, money transfer on
//! reload, card creation) are charged through the real routes, FX rates are maintained, and the
//! fee report adds it all up by type — also after a restart.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Api, PARTNER};

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

fn by_type<'a>(report: &'a Value, fee_type: &str) -> &'a Value {
    report["byType"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["feeType"] == fee_type)
        .unwrap_or_else(|| panic!("{fee_type} in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_event_fees_fx_rates_and_the_report_over_http() {
    let sqlite = Some(crate::support::TestStore::sqlite().await);
    let postgres = crate::support::TestStore::postgres().await;
    for database in [sqlite, postgres].into_iter().flatten() {
        let api = Api::start(&database.url).await;
        let manager = api.admin_with("fees.manager", "MANAGER", Some(PARTNER)).await;
        let schedule_path = "/admin/programs/dev-credit-eur/fees";
        let schedule = json!({"enabled": true, "accountCreation": "1.00", "cardCreation": "2.50",
            "moneyTransfer": {"fixed": "0", "percent": "1"},
            "periodic": {"period": "monthly", "amount": "1.99"},
            "waivers": [{"fee": "periodic", "when": {"cardSpendInPeriodAtLeast": {"amount": "1000"}}}]});
        // Never in the past: what was charged stays explained by the history.
        let (status, body) = api
            .call(
                &api.anonymous,
                Method::PUT,
                schedule_path,
                Some(&manager),
                Some(json!({"effectiveFrom": "2020-01-01T00:00:00Z", "schedule": schedule})),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("VALIDATION_FAILED"))
        );
        let (status, body) = api
            .call(
                &api.anonymous,
                Method::PUT,
                schedule_path,
                Some(&manager),
                Some(json!({"schedule": {"enabled": true, "pos": {"fixed": "-1", "percent": "0"}}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["message"].as_str().unwrap().starts_with("schedule.pos"), "{body}");
        let (status, body) = api
            .call(
                &api.anonymous,
                Method::PUT,
                schedule_path,
                Some(&manager),
                Some(json!({"schedule": schedule})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["current"]["version"], 1);
        assert_eq!(body["current"]["createdBy"], "admin:fees.manager");
        assert_eq!(body["current"]["schedule"]["cardCreation"], "2.50");

        // The partner reads its program's schedule; another partner's looks like an unknown one.
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

        // Account creation: the new balance is empty, so the fee is recorded unpaid.
        let user = verified_user(&api, "crm-fees").await;
        let (status, balance) = api
            .partner_post(
                &format!("/secure/customers/{user}/balances"),
                json!({"currency": "EUR", "programId": "dev-credit-eur"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{balance}");
        let balance_id = balance["balanceId"].as_i64().unwrap();
        // A reload of 100.00 pays the money transfer fee (1 %) at once.
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
        let ledger = |api: &Api| api.state.balance(balance_id).unwrap().snapshot().ledger;
        assert_eq!(ledger(&api), 10_000 - 100);
        // Card creation: 2.50.
        let (status, card) = api
            .partner_post(
                &format!("/secure/customers/{user}/cards/virtual"),
                json!({"balanceId": balance_id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{card}");
        assert_eq!(ledger(&api), 10_000 - 100 - 250);

        // FX rates: platform-wide staff maintain them; a partner's manager may only read.
        let operator = api.admin_with("fees.operator", "OPERATOR", None).await;
        let rate = json!({"from": "usd", "to": "EUR", "rate": "0.9215", "validFrom": "2026-01-01T00:00:00Z"});
        let (status, added) = api
            .call(
                &api.anonymous,
                Method::POST,
                "/admin/fx-rates",
                Some(&operator),
                Some(rate.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{added}");
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
                Some(rate),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, rates) = api
            .call(&api.anonymous, Method::GET, "/admin/fx-rates", Some(&manager), None)
            .await;
        assert_eq!((status, rates.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
        assert!(api.state.fx_rate(840, 978, api.state.now_ms()).is_some());

        let today = chrono::DateTime::from_timestamp_millis(api.state.now_ms())
            .unwrap()
            .format("%Y-%m-%d")
            .to_string();
        let report_path = format!("/admin/programs/dev-credit-eur/fee-report?from={today}&to={today}");
        let check_report = |report: &Value| {
            assert_eq!(by_type(report, "account_creation")["unpaid"], 100, "{report}");
            assert_eq!(by_type(report, "money_transfer")["charged"], 100, "{report}");
            assert_eq!(by_type(report, "card_creation")["charged"], 250, "{report}");
            assert_eq!(
                (report["netCharged"].as_i64(), report["unpaid"].as_i64()),
                (Some(350), Some(100))
            );
        };
        let (status, report) = api
            .call(&api.anonymous, Method::GET, &report_path, Some(&manager), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        check_report(&report);
        api.state.check_invariants().unwrap();

        // After a restart the schedule, the rates and the report come back from the database.
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
    }
}
