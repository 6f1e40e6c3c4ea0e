//! Mobile and admin sessions on the injected clock: valid for the TTL,
//! renewable while valid, SESSION_EXPIRED after; pairing a device again
//! replaces its installation and ends its sessions; they survive a restart.

use reqwest::{Method, StatusCode};

use crate::support::{ADMIN, ADMIN_PASSWORD, Api, SESSION_TTL_MS};

async fn me(api: &Api, token: Option<&str>) -> (StatusCode, String) {
    let (status, body) = api
        .call(&api.anonymous, Method::GET, "/customers/me", token, None)
        .await;
    (status, body["code"].as_str().unwrap_or("").to_owned())
}

crate::support::on_every_store!(a_session_expires_after_its_ttl_unless_renewed, over_https);
async fn a_session_expires_after_its_ttl_unless_renewed(api: &Api) {
    let user = api.user("crm-s1").await;
    let (_, token) = api.pair(user, "phone-1").await;
    let (status, body) = api
        .call(&api.anonymous, Method::GET, "/customers/me", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["userId"], user);
    // Only the token's hash is kept.
    assert!(api.state.session(&antaca::sessions::token_hash(&token)).is_some());

    api.clock.advance(SESSION_TTL_MS - 1);
    assert_eq!(
        me(api, Some(&token)).await.0,
        StatusCode::OK,
        "valid until the last millisecond"
    );
    let (status, renewed) = api
        .call(
            &api.anonymous,
            Method::POST,
            "/customers/me/session/renew",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(renewed["expiresAt"].is_string());

    api.clock.advance(SESSION_TTL_MS - 1);
    assert_eq!(
        me(api, Some(&token)).await.0,
        StatusCode::OK,
        "renewal started the lifetime again"
    );
    api.clock.advance(1);
    assert_eq!(
        me(api, Some(&token)).await,
        (StatusCode::UNAUTHORIZED, "SESSION_EXPIRED".into())
    );
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::POST,
            "/customers/me/session/renew",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("SESSION_EXPIRED"))
    );
}

crate::support::on_every_store!(missing_unknown_and_ended_tokens, over_https);
async fn missing_unknown_and_ended_tokens(api: &Api) {
    assert_eq!(
        me(api, None).await,
        (StatusCode::UNAUTHORIZED, "SESSION_REQUIRED".into())
    );
    assert_eq!(
        me(api, Some("0123")).await,
        (StatusCode::UNAUTHORIZED, "SESSION_INVALID".into())
    );
    let user = api.user("crm-s2").await;
    let (installation, token) = api.pair(user, "phone-1").await;
    let (status, _) = api
        .call(
            &api.anonymous,
            Method::DELETE,
            "/customers/me/session",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        me(api, Some(&token)).await,
        (StatusCode::UNAUTHORIZED, "SESSION_INVALID".into())
    );

    // The partner authenticates its user again and opens a new session on the installation.
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/installations/{installation}/sessions"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let fresh = body["sessionToken"].as_str().unwrap();
    assert_eq!(me(api, Some(fresh)).await.0, StatusCode::OK);

    // An admin token is not a mobile session, nor the reverse.
    let admin = api.root().await;
    assert_eq!(
        me(api, Some(&admin)).await,
        (StatusCode::UNAUTHORIZED, "SESSION_INVALID".into())
    );
    let (status, body) = api
        .call(&api.anonymous, Method::GET, "/admin/me", Some(fresh), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("SESSION_INVALID"))
    );
}

crate::support::on_every_store!(pairing_a_device_again_replaces_its_installation, over_https);
async fn pairing_a_device_again_replaces_its_installation(api: &Api) {
    let user = api.user("crm-s3").await;
    let (first_installation, first) = api.pair(user, "phone-1").await;
    let (_, tablet) = api.pair(user, "tablet-1").await;
    let (second_installation, second) = api.pair(user, "phone-1").await;
    assert_ne!(first_installation, second_installation);
    assert_eq!(
        me(api, Some(&first)).await,
        (StatusCode::UNAUTHORIZED, "SESSION_INVALID".into())
    );
    assert_eq!(me(api, Some(&second)).await.0, StatusCode::OK);
    assert_eq!(
        me(api, Some(&tablet)).await.0,
        StatusCode::OK,
        "another device keeps its installation"
    );
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/installations/{first_installation}/sessions"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("INSTALLATION_NOT_FOUND"))
    );
}

crate::support::on_every_store!(admin_sessions_expire_and_renew_too, over_https);
async fn admin_sessions_expire_and_renew_too(api: &Api) {
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::POST,
            "/admin/login",
            None,
            Some(serde_json::json!({"username": ADMIN, "password": "wrong password!"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("INVALID_CREDENTIALS"))
    );
    let (status, unknown) = api
        .call(
            &api.anonymous,
            Method::POST,
            "/admin/login",
            None,
            Some(serde_json::json!({"username": "nobody", "password": ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown, body, "an unknown user reads exactly like a wrong password");

    let token = api.root().await;
    let get_me = || api.call(&api.anonymous, Method::GET, "/admin/me", Some(&token), None);
    let (status, me) = get_me().await;
    assert_eq!((status, me["role"].as_str()), (StatusCode::OK, Some("ADMIN")));
    api.clock.advance(SESSION_TTL_MS - 1);
    let (status, _) = api
        .call(&api.anonymous, Method::POST, "/admin/session/renew", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    api.clock.advance(SESSION_TTL_MS);
    let (status, body) = get_me().await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("SESSION_EXPIRED"))
    );
}

/// Everything the API created is in the database: a restart on it serves the same users, sessions
/// and administrators.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart() {
    let sqlite = Some(crate::support::TestStore::sqlite().await);
    let postgres = crate::support::TestStore::postgres().await;
    for database in [sqlite, postgres].into_iter().flatten() {
        let api = Api::start(&database.url).await;
        let user = api.user("crm-restart").await;
        let (_, token) = api.pair(user, "phone-1").await;
        let corporation = api.corporation("Restart Ltd").await;
        let manager = api.admin_with("manager.restart", "MANAGER", None).await;
        let directory = api.stop().await;

        let api = Api::start_in(&database.url, directory, &[]).await;
        let (status, body) = api
            .call(&api.anonymous, Method::GET, "/customers/me", Some(&token), None)
            .await;
        assert_eq!((status, body["userId"].as_i64()), (StatusCode::OK, Some(user)));
        let (status, body) = api
            .call(
                &api.anonymous,
                Method::GET,
                &format!("/admin/corporations/{corporation}"),
                Some(&manager),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["history"].as_array().unwrap().len(), 1);
        let (status, body) = api
            .partner_post("/lifecycle/v1/users", serde_json::json!({"externalId": "crm-restart"}))
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::CONFLICT, Some("EXTERNAL_ID_TAKEN"))
        );
        let _ = api.root().await;
        api.stop().await;
    }
}
