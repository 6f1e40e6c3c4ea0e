//! The channels at the TLS and request level: who gets in where, and that
//! every error, even one no handler wrote, is JSON with a stable code.

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Api, PARTNER, corporation_body, kyc_body};

crate::support::on_every_store!(health_metrics_and_the_document_need_no_client_certificate, over_https);
async fn health_metrics_and_the_document_need_no_client_certificate(api: &Api) {
    let health = api.anonymous.get(api.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let (status, document) = api.call(&api.anonymous, Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(document["paths"]["/lifecycle/v1/users"].is_object());
    let metrics = api.anonymous.get(api.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("antaca_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/health\""), "labelled by route pattern: {text}");
}

crate::support::on_every_store!(development_certificates_are_generated_and_name_the_partner, over_https);
async fn development_certificates_are_generated_and_name_the_partner(api: &Api) {
    for file in ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem"] {
        assert!(api.certificates.join(file).exists(), "{file}");
    }
    let (certificate, key) = antaca::http::dev_certificates::partner_files(&api.certificates, PARTNER);
    assert!(certificate.exists() && key.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "private keys are owner-only");
    }
}

crate::support::on_every_store!(partner_channels_need_a_partner_certificate, over_https);
async fn partner_channels_need_a_partner_certificate(api: &Api) {
    let user = api.user("crm-1").await;
    let routes: [(Method, String, Option<Value>); 6] = [
        (Method::POST, "/lifecycle/v1/users".into(), Some(json!({}))),
        (Method::GET, format!("/lifecycle/v1/users/{user}"), None),
        (
            Method::POST,
            "/lifecycle/v1/corporations".into(),
            Some(corporation_body("Acme")),
        ),
        (
            Method::POST,
            format!("/secure/customers/{user}/register"),
            Some(kyc_body("1990-05-17", "ABA300000")),
        ),
        (Method::GET, format!("/secure/customers/{user}/kyc"), None),
        (
            Method::POST,
            format!("/secure/customers/{user}/devices"),
            Some(json!({"deviceId": "d"})),
        ),
    ];
    for (method, path, body) in routes {
        let (status, error) = api
            .call(&api.anonymous, method.clone(), &path, None, body.clone())
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("CLIENT_CERTIFICATE_REQUIRED")),
            "{method} {path}"
        );
        let (status, error) = api.call(&api.stranger, method.clone(), &path, None, body).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("PARTNER_UNKNOWN")),
            "{method} {path}"
        );
    }
    // A session token is no way into a partner channel either.
    let (_, token) = api.pair(user, "phone-1").await;
    let (status, _) = api
        .call(
            &api.anonymous,
            Method::GET,
            &format!("/lifecycle/v1/users/{user}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

crate::support::on_every_store!(a_certificate_from_another_ca_fails_the_handshake, over_https);
async fn a_certificate_from_another_ca_fails_the_handshake(api: &Api) {
    let foreign_ca = antaca::http::dev_certificates::new_ca("Some other CA").unwrap();
    let forged = antaca::http::dev_certificates::issue_client_certificate(&foreign_ca, PARTNER).unwrap();
    let client = crate::support::client(&api.certificates, Some(&forged));
    let result = client.get(api.url("/health")).send().await;
    assert!(
        result.is_err(),
        "the server refuses a certificate its partner CA did not sign"
    );
}

crate::support::on_every_store!(every_error_is_json_with_a_stable_code, over_https);
async fn every_error_is_json_with_a_stable_code(api: &Api) {
    let code = |body: &Value| body["code"].as_str().unwrap_or("").to_owned();
    let (status, body) = api
        .call(&api.anonymous, Method::GET, "/no/such/route", None, None)
        .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND".into()));
    assert!(body["message"].is_string());
    let (status, body) = api.call(&api.anonymous, Method::DELETE, "/health", None, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED".into())
    );

    let (status, body) = api
        .partner_post("/lifecycle/v1/users", json!({"email": "not-an-email"}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED".into())
    );
    assert!(body["message"].as_str().unwrap().starts_with("email:"), "{body}");
    let (status, body) = api.partner_post("/lifecycle/v1/users", json!({"nickname": "x"})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED".into())
    );
    assert!(
        body["message"].as_str().unwrap().starts_with("nickname: unknown field"),
        "{body}"
    );

    let user = api.user("crm-err").await;
    let mut missing = kyc_body("1990-05-17", "ABA300000");
    missing["address"].as_object_mut().unwrap().remove("city");
    let (status, body) = api
        .partner_post(&format!("/secure/customers/{user}/register"), missing)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], "address.city: is required");
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/register"),
            kyc_body("17.05.1990", "ABA300000"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().starts_with("birthDate:"), "{body}");
    let (status, body) = api.partner_get("/lifecycle/v1/users/not-a-number").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED".into())
    );
    assert!(body["message"].as_str().unwrap().starts_with("userId:"), "{body}");

    let malformed = api
        .partner
        .post(api.url("/lifecycle/v1/users"))
        .header("content-type", "application/json")
        .body("{\"externalId\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&malformed.json().await.unwrap()), "MALFORMED_JSON");
    let untyped = api
        .partner
        .post(api.url("/lifecycle/v1/users"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(untyped.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(code(&untyped.json().await.unwrap()), "UNSUPPORTED_MEDIA_TYPE");

    // The configured body limit (16 KiB in these tests) holds, announced or not.
    let big = json!({"externalId": "x".repeat(20_000)});
    let (status, body) = api.partner_post("/lifecycle/v1/users", big).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE".into())
    );
}

/// A request not answered within `http.request_timeout_s` (here a body that stops arriving) gets 408,
/// as JSON like every error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_takes_too_long_is_answered_408() {
    let database = crate::support::TestStore::sqlite().await;
    let directory = tempfile::tempdir().unwrap();
    let api = Api::start_in(&database.url, directory, &[("ANTACA__HTTP__REQUEST_TIMEOUT_S", "1")]).await;
    let stalled = futures_util::stream::once(async { Ok::<_, std::io::Error>("{\"externalId\":".to_owned()) }).chain(
        futures_util::stream::once(async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            Ok("\"late\"}".to_owned())
        }),
    );
    let started = std::time::Instant::now();
    let response = api
        .partner
        .post(api.url("/lifecycle/v1/users"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stalled))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "REQUEST_TIMEOUT");
    api.stop().await;
}
