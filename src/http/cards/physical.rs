//! Physical cards: ordered (`ORDERED`), linked once the personalisation center reports the card made
//! (`LINKED`, visible), then activated; for a user on every channel and for a corporation's employee
//! (`POST /secure/cards/physical` with `dcCorporationId`). The card ordered with its PIN inside JWE
//! is in [`super::secrets`].

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cards::{self, CardRequest};
use crate::http::Api;
use crate::http::auth::permission::ManageCards;
use crate::http::auth::{Authorized, CustomerSession, PartnerIdentity};
use crate::http::balances::program_for;
use crate::http::cards::issue::check_virtual;
use crate::http::cards::{CardResponse, VirtualCardRequest, card_response, corporate_card, user_card};
use crate::http::customers::user;
use crate::http::dto::Created;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath};
use crate::state::KybStatus;
use crate::state::{BalanceKind, CardId, CardKind, CustomerId, Owner, Scope};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(secure_order_physical_card))
        .routes(routes!(secure_activate_card))
        .routes(routes!(me_order_physical_card))
        .routes(routes!(me_activate_card))
        .routes(routes!(admin_order_physical_card))
        .routes(routes!(admin_activate_card))
        .routes(routes!(secure_order_corporate_physical_card))
        .routes(routes!(secure_activate_corporate_card))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhysicalCardRequest {
    /// The user's balance the card spends from.
    pub balance_id: i64,
    /// The card program (as for virtual cards).
    pub program_id: Option<String>,
    /// A PIN to set at issue, 4 to 12 digits (a card "with PIN").
    pub pin: Option<String>,
}

/// Orders a physical card: `ORDERED` now; linked to the user and balance once the personalisation
/// center reports it made (visible, `LINKED`); spends only once activated.
async fn order_physical(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    request: &PhysicalCardRequest,
) -> Result<CardResponse, ApiError> {
    let virtual_request = VirtualCardRequest {
        balance_id: request.balance_id,
        program_id: request.program_id.clone(),
    };
    let (balance, program) = check_virtual(api, scope, customer_id, &virtual_request)?;
    let issued = cards::issue(
        &api.state,
        balance.id,
        &program.program.id,
        CardRequest {
            kind: Some(CardKind::Physical),
            pin: request.pin.clone(),
        },
    )
    .await?;
    let card_id = issued.card_id;
    cards::personalization::order_and_link(api.personalization.as_ref(), &api.state, card_id);
    Ok(CardResponse::from(&user_card(api, customer_id, card_id)?))
}

async fn activate(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    card_id: CardId,
) -> Result<CardResponse, ApiError> {
    user(api, scope, customer_id)?;
    user_card(api, customer_id, card_id)?;
    cards::activate(&api.state, card_id).await?;
    Ok(CardResponse::from(&user_card(api, customer_id, card_id)?))
}

/// Orders a physical card for the user (`ORDERED`; `LINKED` once personalised; then activate it).
#[utoipa::path(
    post, path = "/secure/customers/{customerId}/cards/physical", tag = "secure",
    security(("clientCertificate" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    request_body = PhysicalCardRequest,
    responses(
        (status = 201, description = "Ordered", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (programId, pin)", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn secure_order_physical_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(customer_id): ApiPath<i64>,
    ApiJson(request): ApiJson<PhysicalCardRequest>,
) -> Result<Created<CardResponse>, ApiError> {
    let card = order_physical(&api, partner.scope(), customer_id, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(card)))
}

/// Activates a linked physical card.
#[utoipa::path(
    post, path = "/secure/customers/{userId}/cards/{cardId}/activate", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("userId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    responses(
        (status = 200, description = "Active", body = CardResponse),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_STATE_INVALID (not personalised yet, locked)", body = ErrorBody),
    )
)]
async fn secure_activate_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(activate(&api, partner.scope(), customer_id, card_id).await?))
}

/// Orders a physical card for the user.
#[utoipa::path(
    post, path = "/customers/me/cards/physical", tag = "mobile",
    security(("session" = [])),
    request_body = PhysicalCardRequest,
    responses(
        (status = 201, description = "Ordered", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (programId, pin)", body = ErrorBody),
        (status = 404, description = "BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn me_order_physical_card(
    State(api): State<Api>,
    session: CustomerSession,
    ApiJson(request): ApiJson<PhysicalCardRequest>,
) -> Result<Created<CardResponse>, ApiError> {
    let card = order_physical(&api, session.scope(), session.customer_id, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(card)))
}

/// Activates one of the user's linked physical cards.
#[utoipa::path(
    post, path = "/customers/me/cards/{cardId}/activate", tag = "mobile",
    security(("session" = [])),
    params(("cardId" = i64, Path, description = "The card's id")),
    responses(
        (status = 200, description = "Active", body = CardResponse),
        (status = 404, description = "CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_STATE_INVALID (not personalised yet, locked)", body = ErrorBody),
    )
)]
async fn me_activate_card(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(card_id): ApiPath<i64>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(
        activate(&api, session.scope(), session.customer_id, card_id).await?,
    ))
}

/// Orders a physical card for a user. Roles: Admin, Manager, Employee.
#[utoipa::path(
    post, path = "/admin/customers/{customerId}/cards/physical", tag = "admin",
    security(("session" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    request_body = PhysicalCardRequest,
    responses(
        (status = 201, description = "Ordered", body = CardResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND (also another partner's, for a partner's administrator) \
            or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn admin_order_physical_card(
    State(api): State<Api>,
    session: Authorized<ManageCards>,
    ApiPath(customer_id): ApiPath<i64>,
    ApiJson(request): ApiJson<PhysicalCardRequest>,
) -> Result<Created<CardResponse>, ApiError> {
    let card = order_physical(&api, session.scope(), customer_id, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(card)))
}

/// Activates a user's linked physical card. Roles: Admin, Manager, Employee.
#[utoipa::path(
    post, path = "/admin/customers/{customerId}/cards/{cardId}/activate", tag = "admin",
    security(("session" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    responses(
        (status = 200, description = "Active", body = CardResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_STATE_INVALID (not personalised yet, locked)", body = ErrorBody),
    )
)]
async fn admin_activate_card(
    State(api): State<Api>,
    session: Authorized<ManageCards>,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(activate(&api, session.scope(), customer_id, card_id).await?))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorporatePhysicalCardRequest {
    /// The corporation (KYB approved) whose balance the card spends from.
    pub dc_corporation_id: i64,
    /// The corporation's balance.
    pub balance_id: i64,
    /// The card program; needed only when the partner runs several programs in the balance's
    /// currency and the balance has no card yet.
    pub program_id: Option<String>,
}

/// Orders a physical card for an employee on a corporate balance: `ORDERED` now, `LINKED` once the
/// personalisation center made it, spending once activated.
#[utoipa::path(
    post, path = "/secure/cards/physical", tag = "secure",
    security(("clientCertificate" = [])),
    request_body = CorporatePhysicalCardRequest,
    responses(
        (status = 201, description = "Ordered", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (programId)", body = ErrorBody),
        (status = 404, description = "CORPORATION_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYB_NOT_APPROVED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn secure_order_corporate_physical_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiJson(request): ApiJson<CorporatePhysicalCardRequest>,
) -> Result<(StatusCode, axum::Json<CardResponse>), ApiError> {
    let corporation = crate::corporations::get(&api.state, partner.scope(), request.dc_corporation_id)?;
    if corporation.kyb_status != KybStatus::Approved {
        return Err(ApiError::conflict(
            "KYB_NOT_APPROVED",
            "the corporation must be approved (KYB) first",
        ));
    }
    let balance = api
        .state
        .balance(request.balance_id)
        .map(|cell| cell.snapshot())
        .filter(|balance| balance.kind == BalanceKind::Corporate && balance.owner == Owner::Corporation(corporation.id))
        .ok_or(ApiError::NotFound("balance"))?;
    let program = program_for(&api, &balance, request.program_id.as_deref())?;
    let issued = cards::issue(
        &api.state,
        balance.id,
        &program.program.id,
        CardRequest {
            kind: Some(CardKind::Physical),
            pin: None,
        },
    )
    .await?;
    cards::personalization::order_and_link(api.personalization.as_ref(), &api.state, issued.card_id);
    Ok((StatusCode::CREATED, axum::Json(card_response(&api, issued.card_id)?)))
}

/// Activates a linked physical corporate card.
#[utoipa::path(
    post, path = "/secure/cards/{cardId}/activate", tag = "secure",
    security(("clientCertificate" = [])),
    params(("cardId" = i64, Path, description = "The corporate card's id")),
    responses(
        (status = 200, description = "Active", body = CardResponse),
        (status = 404, description = "CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_STATE_INVALID (not personalised yet, locked)", body = ErrorBody),
    )
)]
async fn secure_activate_corporate_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(card_id): ApiPath<i64>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    corporate_card(&api, partner.scope(), card_id)?;
    cards::activate(&api.state, card_id).await?;
    Ok(axum::Json(card_response(&api, card_id)?))
}
