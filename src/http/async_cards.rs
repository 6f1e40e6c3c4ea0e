//! Asynchronous virtual card creation: `…/cards/virtual/async` checks the
//! request at once (user, balance, KYC, program), answers 202 with a
//! `Location` to poll, and issues the card in the background.
//!
//! The requests are kept in memory only, for an hour: after that or a restart a poll answers
//! `CARD_REQUEST_NOT_FOUND` (a card issued before is durable and listed with
//! the user's cards). Each request belongs to one user; another user's or
//! partner's request id reads like an unknown one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Api;
use super::auth::{CustomerSession, PartnerIdentity};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use super::wallet::{CardResponse, VirtualCardRequest, check_virtual, issue_virtual};
use crate::state::{CustomerId, Scope};

/// Card requests in flight or done, by id (in memory).
#[derive(Debug, Default)]
pub struct CardRequests {
    requests: DashMap<String, CardRequestEntry>,
}

#[derive(Debug, Clone)]
struct CardRequestEntry {
    customer_id: CustomerId,
    outcome: Option<Result<CardResponse, ErrorBody>>,
    created: Instant,
}

/// How long a request can be polled; older ones are forgotten when a new one arrives.
const KEPT_FOR: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CardRequestStatus {
    Pending,
    Done,
    Failed,
}

/// Where an asynchronous card request stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardRequestResponse {
    pub request_id: String,
    pub status: CardRequestStatus,
    /// When `DONE`: the card (masked PAN, expiry, id).
    pub card: Option<CardResponse>,
    /// When `FAILED`: why, as the synchronous route would have answered.
    pub error: Option<ErrorBody>,
}

impl CardRequestResponse {
    fn of(request_id: &str, entry: &CardRequestEntry) -> Self {
        let (status, card, error) = match &entry.outcome {
            None => (CardRequestStatus::Pending, None, None),
            Some(Ok(card)) => (CardRequestStatus::Done, Some(card.clone()), None),
            Some(Err(error)) => (CardRequestStatus::Failed, None, Some(error.clone())),
        };
        CardRequestResponse {
            request_id: request_id.to_owned(),
            status,
            card,
            error,
        }
    }
}

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(secure_request_virtual_card))
        .routes(routes!(secure_card_request))
        .routes(routes!(me_request_virtual_card))
        .routes(routes!(me_card_request))
}

/// Checks the request, records it and issues the card in the background: 202 and where to poll.
async fn start(
    api: Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    request: VirtualCardRequest,
    location_prefix: String,
) -> Result<Response, ApiError> {
    check_virtual(&api, scope, customer_id, &request)?;
    let partner = match scope {
        Scope::Partner(partner) => Some(partner.to_owned()),
        Scope::All => None,
    };
    let request_id = uuid::Uuid::now_v7().to_string();
    let entry = CardRequestEntry {
        customer_id,
        outcome: None,
        created: Instant::now(),
    };
    api.card_requests
        .requests
        .retain(|_, entry| entry.outcome.is_none() || entry.created.elapsed() < KEPT_FOR);
    api.card_requests.requests.insert(request_id.clone(), entry.clone());
    let body = CardRequestResponse::of(&request_id, &entry);
    let id = request_id.clone();
    tokio::spawn(async move {
        let scope = partner.as_deref().map_or(Scope::All, Scope::Partner);
        let outcome = issue_virtual(&api, scope, customer_id, &request).await;
        if let Err(error) = &outcome {
            tracing::warn!(request_id = %id, %error, "an asynchronous card request failed");
        }
        if let Some(mut entry) = api.card_requests.requests.get_mut(&id) {
            entry.outcome = Some(outcome.map_err(|error| error.body()));
        }
    });
    let mut response = (StatusCode::ACCEPTED, axum::Json(body)).into_response();
    let location = format!("{location_prefix}/{request_id}");
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

fn poll(api: &Api, customer_id: CustomerId, request_id: &str) -> Result<CardRequestResponse, ApiError> {
    api.card_requests
        .requests
        .get(request_id)
        .filter(|entry| entry.customer_id == customer_id)
        .map(|entry| CardRequestResponse::of(request_id, &entry))
        .ok_or(ApiError::NotFound("card request"))
}

/// Requests a virtual card, issued in the background: 202 with `Location` to poll.
#[utoipa::path(
    post, path = "/secure/customers/{customerId}/cards/virtual/async", tag = "secure",
    security(("clientCertificate" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    request_body = VirtualCardRequest,
    responses(
        (status = 202, description = "Accepted; poll the Location", body = CardRequestResponse),
        (status = 400, description = "VALIDATION_FAILED (programId)", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED", body = ErrorBody),
    )
)]
async fn secure_request_virtual_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(customer_id): ApiPath<i64>,
    ApiJson(request): ApiJson<VirtualCardRequest>,
) -> Result<Response, ApiError> {
    let prefix = format!("/secure/customers/{customer_id}/cards/virtual/async");
    start(api.clone(), partner.scope(), customer_id, request, prefix).await
}

/// Where an asynchronous virtual card request stands.
#[utoipa::path(
    get, path = "/secure/customers/{customerId}/cards/virtual/async/{requestId}", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("requestId" = String, Path, description = "The request's id"),
    ),
    responses(
        (status = 200, description = "PENDING, DONE with the card, or FAILED with the error", body = CardRequestResponse),
        (status = 404, description = "USER_NOT_FOUND or CARD_REQUEST_NOT_FOUND (also after a restart)", body = ErrorBody),
    )
)]
async fn secure_card_request(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, request_id)): ApiPath<(i64, String)>,
) -> Result<axum::Json<CardRequestResponse>, ApiError> {
    crate::customers::get(&api.state, partner.scope(), customer_id)?;
    Ok(axum::Json(poll(&api, customer_id, &request_id)?))
}

/// Requests a virtual card for the user, issued in the background: 202 with `Location` to poll.
#[utoipa::path(
    post, path = "/customers/me/cards/virtual/async", tag = "mobile",
    security(("session" = [])),
    request_body = VirtualCardRequest,
    responses(
        (status = 202, description = "Accepted; poll the Location", body = CardRequestResponse),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
        (status = 404, description = "BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED", body = ErrorBody),
    )
)]
async fn me_request_virtual_card(
    State(api): State<Api>,
    session: CustomerSession,
    ApiJson(request): ApiJson<VirtualCardRequest>,
) -> Result<Response, ApiError> {
    let prefix = "/customers/me/cards/virtual/async".to_owned();
    start(api.clone(), session.scope(), session.customer_id, request, prefix).await
}

/// Where the user's asynchronous virtual card request stands.
#[utoipa::path(
    get, path = "/customers/me/cards/virtual/async/{requestId}", tag = "mobile",
    security(("session" = [])),
    params(("requestId" = String, Path, description = "The request's id")),
    responses(
        (status = 200, description = "PENDING, DONE with the card, or FAILED with the error", body = CardRequestResponse),
        (status = 404, description = "CARD_REQUEST_NOT_FOUND (also after a restart)", body = ErrorBody),
    )
)]
async fn me_card_request(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(request_id): ApiPath<String>,
) -> Result<axum::Json<CardRequestResponse>, ApiError> {
    Ok(axum::Json(poll(&api, session.customer_id, &request_id)?))
}

/// Shared so that [`Api`] stays cheap to clone.
pub type SharedCardRequests = Arc<CardRequests>;
