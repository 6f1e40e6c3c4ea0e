//! Lock, unlock and remove a card, on every channel: a user's card by the partner (`/secure`), the
//! app (`/customers/me`) and the administration panel (`/admin`), and a corporate card by the
//! partner (`/secure/cards/{cardId}`). The switch declines a locked or removed card's very next
//! authorization.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cards::{self};
use crate::http::Api;
use crate::http::auth::permission::ManageCards;
use crate::http::auth::{Authorized, CustomerSession, PartnerIdentity};
use crate::http::cards::{CardResponse, card_response, corporate_card, user_card};
use crate::http::customers::user;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath};
use crate::state::{CardId, CustomerId, LockReason, Scope};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(secure_lock_card))
        .routes(routes!(secure_unlock_card))
        .routes(routes!(secure_remove_card))
        .routes(routes!(me_lock_card))
        .routes(routes!(me_unlock_card))
        .routes(routes!(me_remove_card))
        .routes(routes!(admin_lock_card))
        .routes(routes!(admin_unlock_card))
        .routes(routes!(admin_remove_card))
        .routes(routes!(secure_lock_corporate_card))
        .routes(routes!(secure_unlock_corporate_card))
        .routes(routes!(secure_remove_corporate_card))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LockRequest {
    /// The lock reason code: 1 lost, 2 stolen, 3 pending query, 4 consolidation, 5 inactive,
    /// 6 PIN tries exceeded, 7 suspected fraud, 8 replaced, 11 offline PIN tries exceeded.
    /// 1, 2, 5 and 8 can never be unlocked.
    #[schema(example = 7)]
    pub reason: u8,
}

async fn lock(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    card_id: CardId,
    request: &LockRequest,
) -> Result<CardResponse, ApiError> {
    user(api, scope, customer_id)?;
    user_card(api, customer_id, card_id)?;
    let reason = LockReason::from_code(request.reason)
        .ok_or_else(|| ApiError::validation("reason", "must be one of 1, 2, 3, 4, 5, 6, 7, 8, 11"))?;
    cards::lock(&api.state, card_id, reason).await?;
    Ok(CardResponse::from(&user_card(api, customer_id, card_id)?))
}

async fn unlock(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    card_id: CardId,
) -> Result<CardResponse, ApiError> {
    user(api, scope, customer_id)?;
    user_card(api, customer_id, card_id)?;
    cards::unlock(&api.state, card_id).await?;
    Ok(CardResponse::from(&user_card(api, customer_id, card_id)?))
}

async fn remove(api: &Api, scope: Scope<'_>, customer_id: CustomerId, card_id: CardId) -> Result<StatusCode, ApiError> {
    user(api, scope, customer_id)?;
    user_card(api, customer_id, card_id)?;
    cards::remove(&api.state, card_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Locks a card with a reason code; the switch declines its very next authorization.
#[utoipa::path(
    post, path = "/secure/customers/{userId}/cards/{cardId}/lock", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("userId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    request_body = LockRequest,
    responses(
        (status = 200, description = "Locked", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (reason)", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE: already locked for good", body = ErrorBody),
    )
)]
async fn secure_lock_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
    ApiJson(request): ApiJson<LockRequest>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(
        lock(&api, partner.scope(), customer_id, card_id, &request).await?,
    ))
}

/// Unlocks a card locked for a reversible reason.
#[utoipa::path(
    post, path = "/secure/customers/{userId}/cards/{cardId}/unlock", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("userId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    responses(
        (status = 200, description = "Unlocked", body = CardResponse),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE (reasons 1, 2, 5, 8), CARD_STATE_INVALID", body = ErrorBody),
    )
)]
async fn secure_unlock_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(unlock(&api, partner.scope(), customer_id, card_id).await?))
}

/// Removes a card for good: it is declined from now on and cannot be restored.
#[utoipa::path(
    delete, path = "/secure/customers/{userId}/cards/{cardId}", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("userId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND (also once removed)", body = ErrorBody),
    )
)]
async fn secure_remove_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    remove(&api, partner.scope(), customer_id, card_id).await
}

/// Locks one of the user's cards with a reason code.
#[utoipa::path(
    post, path = "/customers/me/cards/{cardId}/lock", tag = "mobile",
    security(("session" = [])),
    params(("cardId" = i64, Path, description = "The card's id")),
    request_body = LockRequest,
    responses(
        (status = 200, description = "Locked", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (reason)", body = ErrorBody),
        (status = 404, description = "CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE: already locked for good", body = ErrorBody),
    )
)]
async fn me_lock_card(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(card_id): ApiPath<i64>,
    ApiJson(request): ApiJson<LockRequest>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(
        lock(&api, session.scope(), session.customer_id, card_id, &request).await?,
    ))
}

/// Unlocks one of the user's cards locked for a reversible reason.
#[utoipa::path(
    post, path = "/customers/me/cards/{cardId}/unlock", tag = "mobile",
    security(("session" = [])),
    params(("cardId" = i64, Path, description = "The card's id")),
    responses(
        (status = 200, description = "Unlocked", body = CardResponse),
        (status = 404, description = "CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE (reasons 1, 2, 5, 8), CARD_STATE_INVALID", body = ErrorBody),
    )
)]
async fn me_unlock_card(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(card_id): ApiPath<i64>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(
        unlock(&api, session.scope(), session.customer_id, card_id).await?,
    ))
}

/// Removes one of the user's cards for good.
#[utoipa::path(
    delete, path = "/customers/me/cards/{cardId}", tag = "mobile",
    security(("session" = [])),
    params(("cardId" = i64, Path, description = "The card's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "CARD_NOT_FOUND (also once removed)", body = ErrorBody),
    )
)]
async fn me_remove_card(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(card_id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    remove(&api, session.scope(), session.customer_id, card_id).await
}

/// Locks a user's card with a reason code (the administration panel). Roles: Admin, Manager, Employee.
#[utoipa::path(
    post, path = "/admin/customers/{customerId}/cards/{cardId}/lock", tag = "admin",
    security(("session" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    request_body = LockRequest,
    responses(
        (status = 200, description = "Locked", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (reason)", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE: already locked for good", body = ErrorBody),
    )
)]
async fn admin_lock_card(
    State(api): State<Api>,
    session: Authorized<ManageCards>,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
    ApiJson(request): ApiJson<LockRequest>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(
        lock(&api, session.scope(), customer_id, card_id, &request).await?,
    ))
}

/// Unlocks a user's card locked for a reversible reason. Roles: Admin, Manager, Employee.
#[utoipa::path(
    post, path = "/admin/customers/{customerId}/cards/{cardId}/unlock", tag = "admin",
    security(("session" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    responses(
        (status = 200, description = "Unlocked", body = CardResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE (reasons 1, 2, 5, 8), CARD_STATE_INVALID", body = ErrorBody),
    )
)]
async fn admin_unlock_card(
    State(api): State<Api>,
    session: Authorized<ManageCards>,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(unlock(&api, session.scope(), customer_id, card_id).await?))
}

/// Removes a user's card for good. Roles: Admin, Manager, Employee.
#[utoipa::path(
    delete, path = "/admin/customers/{customerId}/cards/{cardId}", tag = "admin",
    security(("session" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND (also once removed)", body = ErrorBody),
    )
)]
async fn admin_remove_card(
    State(api): State<Api>,
    session: Authorized<ManageCards>,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    remove(&api, session.scope(), customer_id, card_id).await
}

/// Locks a corporate card with a reason code; the switch declines its very next authorization.
#[utoipa::path(
    post, path = "/secure/cards/{cardId}/lock", tag = "secure",
    security(("clientCertificate" = [])),
    params(("cardId" = i64, Path, description = "The corporate card's id")),
    request_body = LockRequest,
    responses(
        (status = 200, description = "Locked", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (reason)", body = ErrorBody),
        (status = 404, description = "CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE: already locked for good", body = ErrorBody),
    )
)]
async fn secure_lock_corporate_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(card_id): ApiPath<i64>,
    ApiJson(request): ApiJson<LockRequest>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    corporate_card(&api, partner.scope(), card_id)?;
    let reason = LockReason::from_code(request.reason)
        .ok_or_else(|| ApiError::validation("reason", "must be one of 1, 2, 3, 4, 5, 6, 7, 8, 11"))?;
    cards::lock(&api.state, card_id, reason).await?;
    Ok(axum::Json(card_response(&api, card_id)?))
}

/// Unlocks a corporate card locked for a reversible reason.
#[utoipa::path(
    post, path = "/secure/cards/{cardId}/unlock", tag = "secure",
    security(("clientCertificate" = [])),
    params(("cardId" = i64, Path, description = "The corporate card's id")),
    responses(
        (status = 200, description = "Unlocked", body = CardResponse),
        (status = 404, description = "CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE (reasons 1, 2, 5, 8), CARD_STATE_INVALID", body = ErrorBody),
    )
)]
async fn secure_unlock_corporate_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(card_id): ApiPath<i64>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    corporate_card(&api, partner.scope(), card_id)?;
    cards::unlock(&api.state, card_id).await?;
    Ok(axum::Json(card_response(&api, card_id)?))
}

/// Removes a corporate card for good: it is declined from now on and cannot be restored.
#[utoipa::path(
    delete, path = "/secure/cards/{cardId}", tag = "secure",
    security(("clientCertificate" = [])),
    params(("cardId" = i64, Path, description = "The corporate card's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "CARD_NOT_FOUND (also once removed)", body = ErrorBody),
    )
)]
async fn secure_remove_corporate_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(card_id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    corporate_card(&api, partner.scope(), card_id)?;
    cards::remove(&api.state, card_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
