//! A corporation's balances (`/secure/balances`, client certificate): opened for a KYB-approved
//! corporation, read with their cards, reloaded as user balances are.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::balances::{self};
use crate::http::Api;
use crate::http::auth::PartnerIdentity;
use crate::http::balances::{
    BalanceResponse, ReloadRequest, balance_response, corporate_balance, program_at_opening, reload_balance,
};
use crate::http::corporations::approved_corporation;
use crate::http::dto::Created;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath};
use crate::state::{BalanceKind, Owner};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(secure_open_corporate_balance))
        .routes(routes!(secure_get_corporate_balance))
        .routes(routes!(secure_reload_corporate_balance))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorporateBalanceRequest {
    /// The corporation (KYB approved).
    pub dc_corporation_id: i64,
    /// ISO 4217 alphabetic code; one of the partner's program currencies.
    #[schema(example = "EUR")]
    pub currency: String,
    /// The card program the balance works under (as for user balances).
    pub program_id: Option<String>,
}

/// Opens a corporate balance at zero for an approved corporation (`dcCorporationId`).
#[utoipa::path(
    post, path = "/secure/balances", tag = "secure",
    security(("clientCertificate" = [])),
    request_body = CorporateBalanceRequest,
    responses(
        (status = 201, description = "Opened", body = BalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (currency)", body = ErrorBody),
        (status = 404, description = "CORPORATION_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYB_NOT_APPROVED", body = ErrorBody),
    )
)]
async fn secure_open_corporate_balance(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiJson(request): ApiJson<CorporateBalanceRequest>,
) -> Result<Created<BalanceResponse>, ApiError> {
    let corporation = approved_corporation(&api, partner.scope(), request.dc_corporation_id)?;
    let currency = request.currency.trim().to_ascii_uppercase();
    let program = program_at_opening(&api, &corporation.partner_id, &currency, request.program_id.as_deref())?;
    let balance = balances::open_under(
        &api.state,
        BalanceKind::Corporate,
        Owner::Corporation(corporation.id),
        &corporation.partner_id,
        &currency,
        program.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(balance_response(&api, &balance))))
}

/// A corporate balance with its cards.
#[utoipa::path(
    get, path = "/secure/balances/{balanceId}", tag = "secure",
    security(("clientCertificate" = [])),
    params(("balanceId" = i64, Path, description = "The corporate balance's id")),
    responses(
        (status = 200, description = "The balance", body = BalanceResponse),
        (status = 404, description = "BALANCE_NOT_FOUND", body = ErrorBody),
    )
)]
async fn secure_get_corporate_balance(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(balance_id): ApiPath<i64>,
) -> Result<axum::Json<BalanceResponse>, ApiError> {
    let balance = corporate_balance(&api, partner.scope(), balance_id)?;
    Ok(axum::Json(balance_response(&api, &balance)))
}

/// Reloads a corporate balance, as a user balance is reloaded (partner credit charged, or the
/// partner's deposit-model load recorded).
#[utoipa::path(
    post, path = "/secure/balances/{balanceId}/reload", tag = "secure",
    security(("clientCertificate" = [])),
    params(("balanceId" = i64, Path, description = "The corporate balance's id")),
    request_body = ReloadRequest,
    responses(
        (status = 200, description = "Reloaded: the balance now", body = BalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (amount, programId)", body = ErrorBody),
        (status = 404, description = "BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "PARTNER_FUNDS_INSUFFICIENT, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn secure_reload_corporate_balance(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(balance_id): ApiPath<i64>,
    ApiJson(request): ApiJson<ReloadRequest>,
) -> Result<axum::Json<BalanceResponse>, ApiError> {
    let balance = corporate_balance(&api, partner.scope(), balance_id)?;
    reload_balance(&api, &balance, &request).await?;
    let balance = corporate_balance(&api, partner.scope(), balance_id)?;
    Ok(axum::Json(balance_response(&api, &balance)))
}
