//! Routes open to anyone who completes the TLS handshake: health, Prometheus
//! metrics (the same recorder as the switch) and the OpenAPI document.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Api;

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(metrics))
        .routes(routes!(openapi_document))
}

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "public", responses((status = 200, description = "Serving", body = String)))]
async fn health() -> &'static str {
    "ok\n"
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "public", responses((status = 200, description = "Metrics", body = String)))]
async fn metrics(State(api): State<Api>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        api.metrics.render(),
    )
}

/// This API's OpenAPI 3.1 document (the same as `specs/openapi.json`).
#[utoipa::path(get, path = "/openapi.json", tag = "public", responses((status = 200, description = "The document", content_type = "application/json", body = Object)))]
async fn openapi_document() -> impl IntoResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let document = DOCUMENT.get_or_init(super::openapi_json);
    ([(header::CONTENT_TYPE, "application/json")], document.as_str())
}
