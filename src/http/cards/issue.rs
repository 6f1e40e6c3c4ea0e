//! Virtual cards issued on every channel: a user's (partner, app, admin panel), an employee's on a
//! corporate balance, and asynchronously.
//!
//! Asynchronous creation: `…/cards/virtual/async` checks the request at once (user, balance, KYC,
//! program), records it durably (`PENDING`), answers 202 with a `Location` to poll, and issues the
//! card in the background. The card and the request's `DONE` record commit together, so a request
//! makes one card at most; a request still `PENDING` at a restart is finished after it
//! ([`resume_pending`]). Requests can be polled for the duplicate retention window
//! (`authorization.duplicate_retention_s`) after a restart, and for the process's life before. Each
//! request belongs to one user; another user's or partner's request id reads like an unknown one.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::secrets::created_card;
use crate::cards::{self, CardRequest};
use crate::http::Api;
use crate::http::auth::permission::IssueCards;
use crate::http::auth::{Authorized, CustomerSession, PartnerIdentity};
use crate::http::balances::{corporate_balance, program_for, user_balance};
use crate::http::cards::{CardResponse, VirtualCardRequest, user_card};
use crate::http::corporations::approved_corporation;
use crate::http::customers::user;
use crate::http::dto::Created;
use crate::http::encryption::ClientEncryption;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath};
use crate::state::{Balance, CardKind, CustomerId, KycStatus, Owner, ProgramEntry, Scope};
use crate::state::{CardRequestRecord, CardRequestStatus as RecordStatus, Change, Submission};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(secure_issue_virtual_card))
        .routes(routes!(me_issue_virtual_card))
        .routes(routes!(admin_issue_virtual_card))
        .routes(routes!(secure_issue_corporate_virtual_card))
        .routes(routes!(secure_request_virtual_card))
        .routes(routes!(secure_card_request))
        .routes(routes!(me_request_virtual_card))
        .routes(routes!(me_card_request))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorporateCardRequest {
    /// The corporation whose balance the card spends from.
    pub dc_corporation_id: i64,
    /// The corporation's balance.
    pub balance_id: i64,
    /// The card program; needed only when the partner runs several programs in the balance's
    /// currency and the balance has no card yet.
    pub program_id: Option<String>,
}

/// What a virtual card request needs: the caller's user, KYC-verified, the user's balance, and the
/// program the card will be of.
pub(crate) fn check_virtual(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    request: &VirtualCardRequest,
) -> Result<(Balance, ProgramEntry), ApiError> {
    let customer = user(api, scope, customer_id)?;
    let balance = user_balance(api, customer_id, request.balance_id)?;
    if customer.kyc_status != KycStatus::Verified {
        return Err(ApiError::conflict(
            "KYC_NOT_VERIFIED",
            "the user must be KYC-verified before a card is issued",
        ));
    }
    let program = program_for(api, &balance, request.program_id.as_deref())?;
    Ok((balance, program))
}

pub(super) async fn issue_virtual(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    request: &VirtualCardRequest,
) -> Result<CardResponse, ApiError> {
    let (balance, program) = check_virtual(api, scope, customer_id, request)?;
    let issued = cards::issue(
        &api.state,
        balance.id,
        &program.program.id,
        CardRequest {
            kind: Some(CardKind::Virtual),
            pin: None,
        },
    )
    .await?;
    let card = user_card(api, customer_id, issued.card_id)?;
    Ok(CardResponse::from(&card))
}

/// Issues a virtual card on a balance of the user: active at once. The answer shows the masked
/// PAN, expiry and id only.
#[utoipa::path(
    post, path = "/secure/customers/{customerId}/cards/virtual", tag = "secure",
    security(("clientCertificate" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    request_body = VirtualCardRequest,
    responses(
        (status = 201, description = "Issued. With `Public-Key` and `Encrypt-Response: true`, the answer is \
            `{\"payload\": \"<JWE>\"}` whose plaintext is a `FullCardResponse` (PAN, CVC2, expiry): card data \
            leaves only inside JWE", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (programId)", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn secure_issue_virtual_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(customer_id): ApiPath<i64>,
    encryption: ClientEncryption,
    ApiJson(request): ApiJson<VirtualCardRequest>,
) -> Result<Response, ApiError> {
    let card = issue_virtual(&api, partner.scope(), customer_id, &request).await?;
    created_card(&api, &encryption, card)
}

/// Issues a virtual card on a balance of the user.
#[utoipa::path(
    post, path = "/customers/me/cards/virtual", tag = "mobile",
    security(("session" = [])),
    request_body = VirtualCardRequest,
    responses(
        (status = 201, description = "Issued. With `Public-Key` and `Encrypt-Response: true`, the answer is \
            `{\"payload\": \"<JWE>\"}` whose plaintext is a `FullCardResponse` (PAN, CVC2, expiry): card data \
            leaves only inside JWE", body = CardResponse),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
        (status = 404, description = "BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn me_issue_virtual_card(
    State(api): State<Api>,
    session: CustomerSession,
    encryption: ClientEncryption,
    ApiJson(request): ApiJson<VirtualCardRequest>,
) -> Result<Response, ApiError> {
    let card = issue_virtual(&api, session.scope(), session.customer_id, &request).await?;
    created_card(&api, &encryption, card)
}

/// Issues a virtual card to a user on one of the user's balances. Roles: Admin, Manager.
#[utoipa::path(
    post, path = "/admin/customers/{customerId}/cards/virtual", tag = "admin",
    security(("session" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    request_body = VirtualCardRequest,
    responses(
        (status = 201, description = "Issued", body = CardResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND (also another partner's, for a partner's administrator) \
            or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn admin_issue_virtual_card(
    State(api): State<Api>,
    session: Authorized<IssueCards>,
    ApiPath(customer_id): ApiPath<i64>,
    ApiJson(request): ApiJson<VirtualCardRequest>,
) -> Result<Created<CardResponse>, ApiError> {
    let card = issue_virtual(&api, session.scope(), customer_id, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(card)))
}

/// Issues a virtual card for an employee on a corporate balance of the corporation.
#[utoipa::path(
    post, path = "/secure/cards/virtual", tag = "secure",
    security(("clientCertificate" = [])),
    request_body = CorporateCardRequest,
    responses(
        (status = 201, description = "Issued. With `Public-Key` and `Encrypt-Response: true`, the answer is \
            `{\"payload\": \"<JWE>\"}` whose plaintext is a `FullCardResponse` (PAN, CVC2, expiry): card data \
            leaves only inside JWE", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (programId)", body = ErrorBody),
        (status = 404, description = "CORPORATION_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYB_NOT_APPROVED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn secure_issue_corporate_virtual_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    encryption: ClientEncryption,
    ApiJson(request): ApiJson<CorporateCardRequest>,
) -> Result<Response, ApiError> {
    let corporation = approved_corporation(&api, partner.scope(), request.dc_corporation_id)?;
    let balance = corporate_balance(&api, partner.scope(), request.balance_id)?;
    if balance.owner != Owner::Corporation(corporation.id) {
        return Err(ApiError::NotFound("balance"));
    }
    let program = program_for(&api, &balance, request.program_id.as_deref())?;
    let issued = cards::issue(
        &api.state,
        balance.id,
        &program.program.id,
        CardRequest {
            kind: Some(CardKind::Virtual),
            pin: None,
        },
    )
    .await?;
    let card = api
        .state
        .card(issued.card_id)
        .map(|cell| cell.lock().card.clone())
        .ok_or(ApiError::NotFound("card"))?;
    created_card(&api, &encryption, CardResponse::from(&card))
}

// ---------------------------------------------------------------- asynchronously

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
    fn of(api: &Api, record: &CardRequestRecord) -> Self {
        let status = match record.status {
            RecordStatus::Pending => CardRequestStatus::Pending,
            RecordStatus::Done => CardRequestStatus::Done,
            RecordStatus::Failed => CardRequestStatus::Failed,
        };
        let card = record
            .card_id
            .and_then(|card_id| api.state.card(card_id))
            .map(|cell| CardResponse::from(&cell.lock().card));
        let error = record.error.as_deref().map(|text| {
            serde_json::from_str(text).unwrap_or_else(|_| ErrorBody {
                code: "INTERNAL_ERROR".to_owned(),
                message: "the request failed".to_owned(),
            })
        });
        CardRequestResponse {
            request_id: record.id.clone(),
            status,
            card,
            error,
        }
    }
}

/// Checks the request, records it durably and issues the card in the background: 202 and where to poll.
async fn start(
    api: Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    request: VirtualCardRequest,
    location_prefix: String,
) -> Result<Response, ApiError> {
    check_virtual(&api, scope, customer_id, &request)?;
    let record = CardRequestRecord {
        id: uuid::Uuid::now_v7().to_string(),
        customer_id,
        balance_id: request.balance_id,
        program_id: request.program_id.clone(),
        status: RecordStatus::Pending,
        card_id: None,
        error: None,
        created_at: api.state.now_ms(),
    };
    let mut submission = Submission::default();
    submission.push(Change::UpsertCardRequest(record.clone()));
    api.state.submit(submission).await?;
    let body = CardRequestResponse::of(&api, &record);
    let location = format!("{location_prefix}/{}", record.id);
    tokio::spawn(finish(api, record));
    let mut response = (StatusCode::ACCEPTED, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Issues the card of a pending request and records the outcome (the card and `DONE` in one commit).
async fn finish(api: Api, record: CardRequestRecord) {
    let Some(customer) = api.state.customer(record.customer_id) else {
        return;
    };
    let scope = Scope::Partner(&customer.partner_id);
    let request = VirtualCardRequest {
        balance_id: record.balance_id,
        program_id: record.program_id.clone(),
    };
    let issued = async {
        let (balance, program) = check_virtual(&api, scope, record.customer_id, &request)?;
        let done = |card_id| {
            vec![Change::UpsertCardRequest(CardRequestRecord {
                status: RecordStatus::Done,
                card_id: Some(card_id),
                ..record.clone()
            })]
        };
        let card_request = CardRequest {
            kind: Some(CardKind::Virtual),
            pin: None,
        };
        cards::issue_with(&api.state, balance.id, &program.program.id, card_request, done).await?;
        Ok::<(), ApiError>(())
    }
    .await;
    let Err(error) = issued else {
        return;
    };
    if matches!(error, ApiError::Unavailable) {
        // The database is away: the request stays pending and is finished at the next start.
        tracing::warn!(request_id = %record.id, "an asynchronous card request waits for the database");
        return;
    }
    tracing::warn!(request_id = %record.id, %error, "an asynchronous card request failed");
    let failed = CardRequestRecord {
        status: RecordStatus::Failed,
        error: serde_json::to_string(&error.body()).ok(),
        ..record
    };
    let mut submission = Submission::default();
    submission.push(Change::UpsertCardRequest(failed));
    if let Err(error) = api.state.submit(submission).await {
        tracing::error!(%error, "recording a failed card request failed");
    }
}

/// Finishes, in the background, every request still pending (made before a restart). Returns how many.
pub fn resume_pending(api: &Api) -> usize {
    let pending: Vec<CardRequestRecord> = api
        .state
        .card_requests()
        .into_iter()
        .filter(|record| record.status == RecordStatus::Pending)
        .collect();
    for record in &pending {
        tokio::spawn(finish(api.clone(), record.clone()));
    }
    pending.len()
}

fn poll(api: &Api, customer_id: CustomerId, request_id: &str) -> Result<CardRequestResponse, ApiError> {
    api.state
        .card_request(request_id)
        .filter(|record| record.customer_id == customer_id)
        .map(|record| CardRequestResponse::of(api, &record))
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
        (status = 404, description = "USER_NOT_FOUND or CARD_REQUEST_NOT_FOUND ", body = ErrorBody),
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
        (status = 404, description = "CARD_REQUEST_NOT_FOUND ", body = ErrorBody),
    )
)]
async fn me_card_request(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(request_id): ApiPath<String>,
) -> Result<axum::Json<CardRequestResponse>, ApiError> {
    Ok(axum::Json(poll(&api, session.customer_id, &request_id)?))
}
