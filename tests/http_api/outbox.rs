//! Low-balance notifications end to end: a partner balance crossing below its threshold (by a reload
//! over HTTP, or by an authorization over TCP under the deposit model) records one notification in
//! the same commit; it is POSTed to a real HTTP receiver on port 0 with a valid HMAC-SHA256
//! signature, retried while the receiver fails, and picked up again after a restart. The admin and
//! partner views, with tenant isolation. Also the partner balance creation routes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::support::Tx;
use crate::support::{Api, OTHER_PARTNER, PARTNER};

const SECRET: &str = "webhook-secret-of-dev-partner";

/// One POST the receiver got.
#[derive(Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

/// A partner's webhook endpoint: a real HTTP server on port 0 that answers 500 to its first
/// `failures` requests and 200 after, reporting every request it gets.
struct Receiver {
    url: String,
    requests: mpsc::UnboundedReceiver<Received>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(failures: usize) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/antaca/notifications", listener.local_addr().unwrap());
        let (sender, requests) = mpsc::unbounded_channel();
        let seen = Arc::new(AtomicUsize::new(0));
        let router = axum::Router::new().route(
            "/antaca/notifications",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let sender = sender.clone();
                let seen = seen.clone();
                async move {
                    let _ = sender.send(Received { headers, body });
                    if seen.fetch_add(1, Ordering::SeqCst) < failures {
                        AxumStatus::INTERNAL_SERVER_ERROR
                    } else {
                        AxumStatus::OK
                    }
                }
            }),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Receiver { url, requests, task }
    }

    /// The next request (the guard only keeps a broken build from hanging the suite).
    async fn next(&mut self) -> Received {
        tokio::time::timeout(std::time::Duration::from_secs(60), self.requests.recv())
            .await
            .expect("the webhook is called")
            .expect("the receiver runs")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn expected_signature(body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The application with dev-partner's webhook at `url` and quick retries (10 to 50 ms).
async fn start(database_url: &str, directory: tempfile::TempDir, url: &str) -> Api {
    let url = url.to_owned();
    Api::start_configured(database_url, directory, &[], move |config| {
        config.notifications.retry_base_ms = 10;
        config.notifications.retry_max_ms = 50;
        config.webhooks = vec![antaca::config::WebhookConfig {
            partner: PARTNER.to_owned(),
            url,
            secret: SECRET.to_owned().into(),
        }];
    })
    .await
}

async fn wait_delivered(api: &Api, id: &str) -> antaca::state::Notification {
    for _ in 0..3_000 {
        if let Some(notification) = api.state.notification(id).filter(|n| n.delivered_at.is_some()) {
            return notification;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("notification {id} was not delivered");
}

async fn verified_user_with_balance(api: &Api, tag: &str, program: &str) -> (i64, i64) {
    let user = api.user(&format!("crm-{tag}")).await;
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
            json!({"currency": "EUR", "programId": program}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (user, body["balanceId"].as_i64().unwrap())
}

async fn admin_get(api: &Api, token: &str, path: &str) -> (StatusCode, Value) {
    api.call(&api.anonymous, Method::GET, path, Some(token), None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crossing_is_notified_once_signed_and_retried_until_acknowledged() {
    let sqlite = Some(crate::support::TestStore::sqlite().await);
    let postgres = crate::support::TestStore::postgres().await;
    for database in [sqlite, postgres].into_iter().flatten() {
        let mut receiver = Receiver::start(2).await;
        let api = start(&database.url, tempfile::tempdir().unwrap(), &receiver.url).await;
        let operator = api.admin_with("ops.outbox", "OPERATOR", None).await;
        let credit = api.state.program("dev-credit-eur").unwrap().funding_balance;
        for (method, path, body) in [
            (Method::POST, "load", json!({"amount": 100_000})),
            (Method::PUT, "threshold", json!({"lowBalanceThreshold": 50_000})),
        ] {
            let path = format!("/admin/partners/{PARTNER}/balances/{credit}/{path}");
            let (status, answer) = api
                .call(&api.anonymous, method, &path, Some(&operator), Some(body))
                .await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
        let (user, balance) = verified_user_with_balance(&api, "outbox", "dev-credit-eur").await;
        let reload = format!("/secure/customers/{user}/balances/{balance}/reload");
        // 70 000 left: above the threshold, nothing to say.
        let (status, _) = api.partner_post(&reload, json!({"amount": 30_000})).await;
        assert_eq!(status, StatusCode::OK);
        assert!(api.state.notifications().is_empty());
        // 40 000: the crossing. Recorded with the reload that caused it, before it was answered.
        let (status, _) = api.partner_post(&reload, json!({"amount": 30_000})).await;
        assert_eq!(status, StatusCode::OK);
        let recorded = api.state.notifications();
        assert_eq!(recorded.len(), 1, "{recorded:?}");
        // 35 000: still below; the same crossing, no second notification.
        let (status, _) = api.partner_post(&reload, json!({"amount": 5_000})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(api.state.notifications().len(), 1);

        // Three POSTs: two answered 500, the third 200; the same body, id and valid signature each time.
        let id = recorded[0].id.clone();
        let mut bodies = Vec::new();
        for _ in 0..3 {
            let request = receiver.next().await;
            assert_eq!(request.headers["content-type"], "application/json");
            assert_eq!(request.headers["antaca-notification-id"], id.as_str());
            assert_eq!(
                request.headers["antaca-signature"].to_str().unwrap(),
                expected_signature(&request.body)
            );
            bodies.push(request.body);
        }
        assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]));
        let payload: Value = serde_json::from_slice(&bodies[0]).unwrap();
        assert_eq!(
            (
                &payload["id"],
                &payload["event"],
                &payload["partnerId"],
                &payload["balanceId"]
            ),
            (
                &json!(id),
                &json!("PARTNER_BALANCE_LOW"),
                &json!(PARTNER),
                &json!(credit)
            )
        );
        assert_eq!(
            (
                &payload["balanceKind"],
                &payload["currency"],
                &payload["available"],
                &payload["lowBalanceThreshold"]
            ),
            (&json!("CREDIT"), &json!("EUR"), &json!(40_000), &json!(50_000))
        );
        let delivered = wait_delivered(&api, &id).await;
        assert_eq!(
            (delivered.attempts, delivered.last_error.as_deref()),
            (3, Some("HTTP 500"))
        );

        // The views: nothing undelivered; the delivered one with its attempts and last error.
        let (status, undelivered) = admin_get(&api, &operator, "/admin/notifications?status=undelivered").await;
        assert_eq!((status, undelivered), (StatusCode::OK, json!([])));
        let (_, listed) = admin_get(&api, &operator, "/admin/notifications?status=delivered").await;
        assert_eq!(
            (
                &listed[0]["id"],
                &listed[0]["status"],
                &listed[0]["attempts"],
                &listed[0]["lastError"]
            ),
            (&json!(id), &json!("DELIVERED"), &json!(3), &json!("HTTP 500"))
        );
        assert_eq!(listed[0]["payload"], payload);
        let (status, body) = admin_get(&api, &operator, "/admin/notifications?status=lost").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("VALIDATION_FAILED"))
        );
        let (_, own) = api.partner_get("/secure/partner/notifications").await;
        assert_eq!(own[0]["id"], json!(id));
        // Another partner, and another partner's administrator, see none of it.
        let (_, theirs) = api
            .call(&api.other, Method::GET, "/secure/partner/notifications", None, None)
            .await;
        assert_eq!(theirs, json!([]));
        let their_admin = api.admin_with("other.outbox", "ADMIN", Some(OTHER_PARTNER)).await;
        let (status, theirs) = admin_get(&api, &their_admin, "/admin/notifications").await;
        assert_eq!((status, theirs), (StatusCode::OK, json!([])));
        let our_employee = api.admin_with("employee.outbox", "EMPLOYEE", Some(PARTNER)).await;
        let (_, ours) = admin_get(&api, &our_employee, "/admin/notifications").await;
        assert_eq!(ours[0]["id"], json!(id));

        // Back above the threshold, then below again: a new crossing, a new notification.
        let load = format!("/admin/partners/{PARTNER}/balances/{credit}/load");
        let (status, _) = api
            .call(
                &api.anonymous,
                Method::POST,
                &load,
                Some(&operator),
                Some(json!({"amount": 100_000})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = api.partner_post(&reload, json!({"amount": 100_000})).await;
        assert_eq!(status, StatusCode::OK);
        let notifications = api.state.notifications();
        assert_eq!(notifications.len(), 2);
        let second = receiver.next().await;
        let second: Value = serde_json::from_slice(&second.body).unwrap();
        assert_eq!(
            (&second["id"], &second["available"]),
            (&json!(notifications[1].id), &json!(35_000))
        );
        wait_delivered(&api, &notifications[1].id).await;
        api.state.check_invariants().unwrap();
        api.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_crossing_is_recorded_and_delivered_after_a_restart() {
    let sqlite = Some(crate::support::TestStore::sqlite().await);
    let postgres = crate::support::TestStore::postgres().await;
    for database in [sqlite, postgres].into_iter().flatten() {
        // The partner's server is down: nothing listens at the webhook's address.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let down = format!("http://{}/antaca/notifications", closed.local_addr().unwrap());
        drop(closed);
        let api = start(&database.url, tempfile::tempdir().unwrap(), &down).await;
        // The deposit model: each authorization charges the partner deposit balance.
        let deposit = api.state.program("dev-deposit-eur").unwrap().funding_balance;
        antaca::balances::load_external(&api.state, deposit, 20_000)
            .await
            .unwrap();
        antaca::balances::set_low_balance_threshold(&api.state, deposit, Some(15_000))
            .await
            .unwrap();
        let (user, balance) = verified_user_with_balance(&api, "deposit-outbox", "dev-deposit-eur").await;
        let (status, _) = api
            .partner_post(
                &format!("/secure/customers/{user}/balances/{balance}/reload"),
                json!({"amount": 10_000}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, card) = api
            .partner_post(
                &format!("/secure/customers/{user}/cards/virtual"),
                json!({"balanceId": balance}),
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
        // Approved although the webhook is unreachable: the switch never waits for it.
        let mut switch = api.connect().await;
        let answer = switch.exchange(&Tx::authorization(&pan, 6_000)).await;
        assert_eq!(answer.action(), "0000");
        let recorded = api.state.notifications();
        assert_eq!(recorded.len(), 1, "14 000 available under a 15 000 threshold");
        let id = recorded[0].id.clone();
        // Attempts fail and are recorded; the operator sees it undelivered with the last error.
        let operator = api.admin_with("ops.restart-outbox", "OPERATOR", None).await;
        let mut undelivered = Value::Null;
        for _ in 0..3_000 {
            let (_, listed) = admin_get(&api, &operator, "/admin/notifications?status=undelivered").await;
            undelivered = listed;
            if undelivered[0]["attempts"]
                .as_u64()
                .is_some_and(|attempts| attempts >= 2)
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(
            (
                &undelivered[0]["id"],
                &undelivered[0]["status"],
                &undelivered[0]["lastError"]
            ),
            (&json!(id), &json!("UNDELIVERED"), &json!("could not connect")),
            "{undelivered}"
        );
        assert_eq!(undelivered[0]["payload"]["balanceKind"], json!("DEPOSIT"));
        let directory = api.stop().await;

        // After a restart, with the partner's server up: the same notification, delivered once.
        let mut receiver = Receiver::start(0).await;
        let api = start(&database.url, directory, &receiver.url).await;
        let request = receiver.next().await;
        assert_eq!(request.headers["antaca-notification-id"], id.as_str());
        assert_eq!(
            request.headers["antaca-signature"].to_str().unwrap(),
            expected_signature(&request.body)
        );
        let delivered = wait_delivered(&api, &id).await;
        assert!(delivered.attempts >= 3, "{delivered:?}");
        assert_eq!(api.state.notifications().len(), 1, "a restart does not notify again");
        api.state.check_invariants().unwrap();
        api.stop().await;
    }
}

crate::support::on_every_store!(partner_balances_are_opened_by_the_partner_or_an_operator, over_https);
async fn partner_balances_are_opened_by_the_partner_or_an_operator(api: &Api) {
    let (status, body) = api
        .partner_post(
            "/secure/partner/balances",
            json!({"kind": "DEPOSIT", "currency": "pln"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (&body["kind"], &body["currency"], &body["available"], &body["partnerId"]),
        (&json!("DEPOSIT"), &json!("PLN"), &json!(0), &json!(PARTNER))
    );
    let (status, body) = api
        .partner_post(
            "/secure/partner/balances",
            json!({"kind": "DEPOSIT", "currency": "PLN"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("PARTNER_BALANCE_EXISTS"))
    );
    // The program's credit balance exists from the start: a second one is refused.
    let (status, _) = api
        .partner_post("/secure/partner/balances", json!({"kind": "CREDIT", "currency": "EUR"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = api
        .partner_post("/secure/partner/balances", json!({"kind": "CREDIT", "currency": "XXQ"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VALIDATION_FAILED"))
    );

    // An operator opens one for another partner; it is that partner's alone.
    let operator = api.admin_with("ops.partner-balances", "OPERATOR", None).await;
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::POST,
            &format!("/admin/partners/{OTHER_PARTNER}/balances"),
            Some(&operator),
            Some(json!({"kind": "CREDIT", "currency": "USD"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::POST,
            "/admin/partners/no-such-partner/balances",
            Some(&operator),
            Some(json!({"kind": "CREDIT", "currency": "USD"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("PARTNER_NOT_FOUND"))
    );
    let (_, theirs) = api
        .call(&api.other, Method::GET, "/secure/partner/balances", None, None)
        .await;
    assert!(theirs.to_string().contains("\"USD\""), "{theirs}");
    let (_, ours) = api.partner_get("/secure/partner/balances").await;
    assert!(
        !ours.to_string().contains("\"USD\"") && ours.to_string().contains("\"PLN\""),
        "{ours}"
    );
}
