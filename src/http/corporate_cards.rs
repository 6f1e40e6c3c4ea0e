//! Corporate cards for a corporation's employees (`/secure`, client certificate): order a physical
//! card on a corporate balance (`POST /secure/cards/physical` with `dcCorporationId`), and lock,
//! unlock, remove and activate a corporate card by its id. (Virtual corporate cards and corporate
//! balances are in [`super::wallet`].)
//!
//! A card of another partner's corporation, a user's card, a removed card and an unknown id all
//! answer `CARD_NOT_FOUND`, alike.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Api;
use super::auth::PartnerIdentity;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use super::wallet::{CardResponse, LockRequest};
use crate::cards::{self, CardRequest};
use crate::state::{BalanceKind, Card, CardId, CardKind, CardStatus, KybStatus, LockReason, Owner, Scope};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(secure_order_corporate_physical_card))
        .routes(routes!(secure_lock_corporate_card))
        .routes(routes!(secure_unlock_corporate_card))
        .routes(routes!(secure_activate_corporate_card))
        .routes(routes!(secure_remove_corporate_card))
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

/// A card on a corporate balance of the caller's partner, not removed.
fn corporate_card(api: &Api, scope: Scope<'_>, card_id: CardId) -> Result<Card, ApiError> {
    let card = api
        .state
        .card(card_id)
        .map(|cell| cell.lock().card.clone())
        .filter(|card| card.status != CardStatus::Removed)
        .ok_or(ApiError::NotFound("card"))?;
    let corporate = api.state.balance(card.balance_id).is_some_and(|balance| {
        balance.kind == BalanceKind::Corporate
            && matches!(balance.owner, Owner::Corporation(_))
            && scope.allows(&balance.partner_id)
    });
    if corporate {
        Ok(card)
    } else {
        Err(ApiError::NotFound("card"))
    }
}

fn card_response(api: &Api, card_id: CardId) -> Result<CardResponse, ApiError> {
    api.state
        .card(card_id)
        .map(|cell| CardResponse::from(&cell.lock().card))
        .ok_or(ApiError::NotFound("card"))
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
    let program = super::wallet::program_for(&api, &balance, request.program_id.as_deref())?;
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
