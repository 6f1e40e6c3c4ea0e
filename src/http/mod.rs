//! The HTTPS listener: the lifecycle API's three channels, health, metrics
//! and the OpenAPI document, on one rustls listener.
//!
//! # Layout
//! By resource, each module with its own `routes()` (merged here); the channel a route serves
//! (partner certificate, mobile session, admin role) is an extractor of [`auth`], not a folder.
//! - [`cards`]: issue (virtual, corporate, asynchronous), status (lock, unlock, remove), physical
//!   (order, activate), secrets (full card data, CVV reset, PIN, over JWE), the card lists.
//! - [`balances`]: user balances and reloads, corporate balances, partner credit and deposit
//!   balances with their thresholds and the balance summary.
//! - [`customers`]: users and their KYC (the partner's flag, submitted data, the review queue).
//! - [`corporations`]: corporations and their KYB decisions.
//! - [`sessions`]: device pairing and the app's session, the admin panel's login and session.
//! - [`admins`]: the administration panel's users.
//! - [`notifications`]: the notification outbox as the panel and the partner see it.
//! - [`fees`]: fee schedules, FX rates and the fee report.
//! - [`public`]: `/health`, `/metrics`, `/openapi.json`.
//!
//! Shared by them:
//! - [`tls`]: rustls configuration, client certificate → partner name.
//! - [`dev_certificates`]: the development CA, server and partner certificates.
//! - [`error`]: the one API error type (status + stable code, JSON body) and every domain error's
//!   mapping to it.
//! - [`auth`]: extractors per channel (partner certificate, mobile session, admin session + role).
//! - [`extract`]: JSON body, path and query extractors answering with [`error::ApiError`].
//! - [`dto`]: validation helpers and the bodies several resources share (address, decision).
//! - [`encryption`]: the JWE channel (`Public-Key`, `Encrypted-Request`, `Encrypt-Response` headers,
//!   encrypted bodies and answers), the platform's key pair and its public-key routes.
//!
//! Every route is declared through `utoipa-axum`, so the router and the
//! OpenAPI document ([`openapi`], `specs/openapi.json`) are built from the
//! same list and cannot disagree.

pub mod admins;
pub mod auth;
pub mod balances;
pub mod cards;
pub mod corporations;
pub mod customers;
pub mod dev_certificates;
pub mod dto;
pub mod encryption;
pub mod error;
pub mod extract;
pub mod fees;
pub mod notifications;
pub mod public;
pub mod sessions;
pub mod tls;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::config::{Config, PartnerNameFrom};
use crate::customers::kyc::KycVerifier;
use crate::state::State;

/// What the handlers share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Api {
    pub state: State,
    pub settings: Arc<ApiSettings>,
    pub kyc_verifier: Arc<dyn KycVerifier>,
    pub metrics: PrometheusHandle,
    /// Where physical cards are ordered.
    pub personalization: Arc<dyn crate::cards::personalization::PersonalizationCenter>,
    /// The platform's JWE key pair(s) (`[jwe]`).
    pub platform_keys: Arc<crate::crypto::jwe::PlatformKeys>,
}

/// The API's settings, from the config.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Tenants a client certificate may name.
    pub partners: BTreeSet<String>,
    pub partner_name_from: PartnerNameFrom,
    pub session_ttl_ms: i64,
    pub session_retention_ms: i64,
    pub body_bytes_max: usize,
    pub request_timeout: Duration,
}

impl ApiSettings {
    pub fn from_config(config: &Config) -> ApiSettings {
        ApiSettings {
            partners: config.partners(),
            partner_name_from: config.tls.partner_name_from,
            session_ttl_ms: (config.session.ttl_s * 1000) as i64,
            session_retention_ms: (config.session.retention_s * 1000) as i64,
            body_bytes_max: config.http.body_bytes_max as usize,
            request_timeout: Duration::from_secs(config.http.request_timeout_s),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Antaca lifecycle API",
        description = "Users with KYC, corporations with KYB, device pairing and sessions, balances and \
            cards. Money is integer minor units with the balance's ISO 4217 code. Channels: \
            `/secure` and `/lifecycle/v1` (partner servers, client certificate), `/customers/me` \
            (mobile apps, session token), `/admin` (administration panel, admin session with roles). \
            Every error is `{\"code\", \"message\"}` with a stable code."
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "public", description = "Health, metrics, this document"),
        (name = "lifecycle", description = "Partner servers (client certificate): users and corporations"),
        (name = "secure", description = "Partner servers (client certificate): KYC, device pairing, balances, cards"),
        (name = "mobile", description = "The user's mobile app (session token)"),
        (name = "admin", description = "Administration panel (admin session; roles per route)"),
        (name = "encryption", description = "Sensitive card data over JWE: the platform's public key (no client \
            certificate needed), full card data, CVV reset, set PIN. Headers: `Public-Key` (the client's RSA \
            public key, base64 SubjectPublicKeyInfo), `Encrypted-Request: true` (body and answer encrypted) or \
            `Encrypt-Response: true` (answer only). Bodies and answers are `{\"payload\": \"<compact JWE>\"}`; \
            errors are plain: ENCRYPTION_REQUIRED, INVALID_PUBLIC_KEY, INVALID_PAYLOAD, CANT_DECRYPT_PAYLOAD."),
    )
)]
struct ApiDoc;

/// Names the two ways of authenticating in the document.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("session", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme(
            "clientCertificate",
            SecurityScheme::MutualTls {
                description: Some("A client certificate signed by the partner CA; it names the partner.".into()),
                extensions: None,
                deprecated: None,
            },
        );
    }
}

/// Every route, with its documentation.
fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(public::routes())
        .merge(encryption::routes())
        .merge(customers::routes())
        .merge(corporations::routes())
        .merge(sessions::routes())
        .merge(admins::routes())
        .merge(balances::routes())
        .merge(cards::routes())
        .merge(notifications::routes())
        .merge(fees::routes())
}

/// The OpenAPI document of every route (what `specs/openapi.json` holds).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

/// The document as `specs/openapi.json` holds it: pretty JSON and a final newline.
pub fn openapi_json() -> String {
    let mut json = openapi().to_pretty_json().expect("the OpenAPI document serializes");
    json.push('\n');
    json
}

/// The application's router with its layers: panics, timeouts and oversize
/// bodies become JSON errors; the Authorization header is never logged.
pub fn router(api: Api) -> Router {
    let settings = api.settings.clone();
    let (router, _) = routes().split_for_parts();
    // Outermost last: the JSON error mapping sees timeouts, oversize bodies and panics; traces never
    // see a session token (the sensitive-header layer marks it before the trace layer runs).
    router
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(api)
        .layer(DefaultBodyLimit::max(settings.body_bytes_max))
        .layer(RequestBodyLimitLayer::new(settings.body_bytes_max))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            settings.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(count_requests))
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
}

/// Answers no handler wrote (unknown route, wrong method, timeout, oversize
/// body, panic) get the JSON error body too.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let body = serde_json::to_vec(&error::body_for_status(status)).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// `antaca_http_requests_total{route, status}` and `antaca_http_request_seconds{route}`,
/// labelled by the route's pattern (never by ids in the path).
async fn count_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("antaca_http_requests_total", "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("antaca_http_request_seconds", "route" => route).record(started.elapsed().as_secs_f64());
    response
}

/// How long the listener waits for a slow client before dropping its connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// The TLS handshake (`http.handshake_timeout_s`).
    pub handshake: Duration,
    /// A request's headers, and a kept-alive connection's next request (`http.header_timeout_s`).
    pub headers: Duration,
}

/// Serves `router` over TLS on `listener` until `shutdown`, then lets requests
/// in flight finish (up to `drain`). A body's slowness is the router's
/// request timeout's (408).
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    timeouts: Timeouts,
    router: Router,
    shutdown: tokio_util::sync::CancellationToken,
    drain: Duration,
) -> std::io::Result<()> {
    let acceptor =
        axum_server::tls_rustls::RustlsAcceptor::new(axum_server::tls_rustls::RustlsConfig::from_config(tls))
            .handshake_timeout(timeouts.handshake);
    let handle = axum_server::Handle::<std::net::SocketAddr>::new();
    let stopping = handle.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        stopping.graceful_shutdown(Some(drain));
    });
    let mut server = axum_server::Server::from_listener(listener)
        .acceptor(acceptor)
        .handle(handle);
    // axum-server turns hyper's header read timeout off; without it a client trickling its headers
    // holds its connection for ever.
    server.http_builder().http1().header_read_timeout(timeouts.headers);
    server.serve(router.into_make_service()).await
}
