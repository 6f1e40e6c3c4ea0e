//! Partner credit and deposit balances: the partner reads its own (`/secure`),
//! the administration panel reads them and the balance summary, and an
//! operator records a bank transfer received (`load_external`).
//!
//! A partner-scoped administrator sees only its partner: another partner's
//! id answers `PARTNER_NOT_FOUND`, exactly like an unknown one.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::balances::{self, BalanceError};
use crate::http::Api;
use crate::http::auth::permission::{CreatePartnerBalances, LoadPartnerBalances, ReadBalances, SetBalanceThresholds};
use crate::http::auth::{Authorized, PartnerIdentity};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath};
use crate::state::{Balance, BalanceKind, Owner, Scope};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(secure_partner_balances, secure_open_partner_balance))
        .routes(routes!(admin_partner_balances, admin_open_partner_balance))
        .routes(routes!(admin_load_partner_balance))
        .routes(routes!(admin_set_threshold))
        .routes(routes!(admin_balance_summary))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PartnerBalanceKindDto {
    /// Funds user reloads (partner-credit programs).
    Credit,
    /// Charged by each authorization (partner-deposit programs).
    Deposit,
}

/// A partner credit or deposit balance; amounts in minor units of `currency`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerBalanceResponse {
    pub balance_id: i64,
    pub partner_id: String,
    pub kind: PartnerBalanceKindDto,
    #[schema(example = "EUR")]
    pub currency: String,
    pub ledger: i64,
    pub held: i64,
    pub available: i64,
    /// Below this available amount the partner is due a notification.
    pub low_balance_threshold: Option<i64>,
    pub below_threshold: bool,
}

fn partner_balance_response(balance: &Balance) -> PartnerBalanceResponse {
    PartnerBalanceResponse {
        balance_id: balance.id,
        partner_id: balance.partner_id.clone(),
        kind: if balance.kind == BalanceKind::PartnerCredit {
            PartnerBalanceKindDto::Credit
        } else {
            PartnerBalanceKindDto::Deposit
        },
        currency: balance.currency.clone(),
        ledger: balance.ledger,
        held: balance.held,
        available: balance.available(),
        low_balance_threshold: balance.low_balance_threshold,
        below_threshold: balance
            .low_balance_threshold
            .is_some_and(|threshold| balance.available() < threshold),
    }
}

fn is_partner_balance(balance: &Balance, partner_id: &str) -> bool {
    matches!(balance.kind, BalanceKind::PartnerCredit | BalanceKind::PartnerDeposit)
        && balance.owner == Owner::Partner(partner_id.to_owned())
}

fn partner_balances(api: &Api, partner_id: &str) -> Vec<PartnerBalanceResponse> {
    api.state
        .balances()
        .iter()
        .filter(|balance| is_partner_balance(balance, partner_id))
        .map(partner_balance_response)
        .collect()
}

/// The partner, if it exists and the caller may see it.
fn visible_partner(api: &Api, scope: Scope<'_>, partner_id: &str) -> Result<(), ApiError> {
    if api.settings.partners.contains(partner_id) && scope.allows(partner_id) {
        Ok(())
    } else {
        Err(ApiError::NotFound("partner"))
    }
}

/// The partner's own credit and deposit balances.
#[utoipa::path(
    get, path = "/secure/partner/balances", tag = "secure",
    security(("clientCertificate" = [])),
    responses(
        (status = 200, description = "The partner's balances", body = Vec<PartnerBalanceResponse>),
    )
)]
async fn secure_partner_balances(
    State(api): State<Api>,
    partner: PartnerIdentity,
) -> axum::Json<Vec<PartnerBalanceResponse>> {
    axum::Json(partner_balances(&api, &partner.0))
}

/// A partner's credit and deposit balances. Roles: all.
#[utoipa::path(
    get, path = "/admin/partners/{partnerId}/balances", tag = "admin",
    security(("session" = [])),
    params(("partnerId" = String, Path, description = "The partner's id")),
    responses(
        (status = 200, description = "The partner's balances", body = Vec<PartnerBalanceResponse>),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "PARTNER_NOT_FOUND (also another partner, for a partner's administrator)", body = ErrorBody),
    )
)]
async fn admin_partner_balances(
    State(api): State<Api>,
    session: Authorized<ReadBalances>,
    ApiPath(partner_id): ApiPath<String>,
) -> Result<axum::Json<Vec<PartnerBalanceResponse>>, ApiError> {
    visible_partner(&api, session.scope(), &partner_id)?;
    Ok(axum::Json(partner_balances(&api, &partner_id)))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenPartnerBalanceRequest {
    pub kind: PartnerBalanceKindDto,
    /// ISO 4217 alphabetic code.
    #[schema(example = "EUR")]
    pub currency: String,
}

/// Opens a partner balance at zero: one credit and one deposit balance per partner and currency.
async fn open_partner_balance(
    api: &Api,
    partner_id: &str,
    request: &OpenPartnerBalanceRequest,
) -> Result<(axum::http::StatusCode, axum::Json<PartnerBalanceResponse>), ApiError> {
    let kind = match request.kind {
        PartnerBalanceKindDto::Credit => BalanceKind::PartnerCredit,
        PartnerBalanceKindDto::Deposit => BalanceKind::PartnerDeposit,
    };
    let currency = request.currency.trim().to_ascii_uppercase();
    let balance = balances::open_partner_balance(&api.state, partner_id, kind, &currency).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        axum::Json(partner_balance_response(&balance)),
    ))
}

/// Opens a partner credit or deposit balance in a currency (not used in standard projects: the
/// configured programs' funding balances exist from the start).
#[utoipa::path(
    post, path = "/secure/partner/balances", tag = "secure",
    security(("clientCertificate" = [])),
    request_body = OpenPartnerBalanceRequest,
    responses(
        (status = 201, description = "Opened at zero", body = PartnerBalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (currency)", body = ErrorBody),
        (status = 409, description = "PARTNER_BALANCE_EXISTS", body = ErrorBody),
    )
)]
async fn secure_open_partner_balance(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiJson(request): ApiJson<OpenPartnerBalanceRequest>,
) -> Result<(axum::http::StatusCode, axum::Json<PartnerBalanceResponse>), ApiError> {
    open_partner_balance(&api, &partner.0, &request).await
}

/// Opens a partner credit or deposit balance in a currency for a partner. Roles: Operator.
#[utoipa::path(
    post, path = "/admin/partners/{partnerId}/balances", tag = "admin",
    security(("session" = [])),
    params(("partnerId" = String, Path, description = "The partner's id")),
    request_body = OpenPartnerBalanceRequest,
    responses(
        (status = 201, description = "Opened at zero", body = PartnerBalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (currency)", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "PARTNER_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "PARTNER_BALANCE_EXISTS", body = ErrorBody),
    )
)]
async fn admin_open_partner_balance(
    State(api): State<Api>,
    session: Authorized<CreatePartnerBalances>,
    ApiPath(partner_id): ApiPath<String>,
    ApiJson(request): ApiJson<OpenPartnerBalanceRequest>,
) -> Result<(axum::http::StatusCode, axum::Json<PartnerBalanceResponse>), ApiError> {
    visible_partner(&api, session.scope(), &partner_id)?;
    open_partner_balance(&api, &partner_id, &request).await
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadRequest {
    /// Minor units of the balance's currency received by bank transfer, positive.
    #[schema(example = 1000000)]
    pub amount: i64,
}

/// Records a bank transfer received into a partner balance. Roles: Operator.
#[utoipa::path(
    post, path = "/admin/partners/{partnerId}/balances/{partnerBalanceId}/load", tag = "admin",
    security(("session" = [])),
    params(
        ("partnerId" = String, Path, description = "The partner's id"),
        ("partnerBalanceId" = i64, Path, description = "The partner balance's id"),
    ),
    request_body = LoadRequest,
    responses(
        (status = 200, description = "Loaded: the balance now", body = PartnerBalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (amount)", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "PARTNER_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
    )
)]
async fn admin_load_partner_balance(
    State(api): State<Api>,
    session: Authorized<LoadPartnerBalances>,
    ApiPath((partner_id, balance_id)): ApiPath<(String, i64)>,
    ApiJson(request): ApiJson<LoadRequest>,
) -> Result<axum::Json<PartnerBalanceResponse>, ApiError> {
    visible_partner(&api, session.scope(), &partner_id)?;
    partner_balance(&api, &partner_id, balance_id)?;
    if request.amount <= 0 {
        return Err(BalanceError::InvalidAmount.into());
    }
    balances::load_external(&api.state, balance_id, request.amount).await?;
    Ok(axum::Json(partner_balance_response(&partner_balance(
        &api,
        &partner_id,
        balance_id,
    )?)))
}

fn partner_balance(api: &Api, partner_id: &str, balance_id: i64) -> Result<Balance, ApiError> {
    api.state
        .balance(balance_id)
        .map(|cell| cell.snapshot())
        .filter(|balance| is_partner_balance(balance, partner_id))
        .ok_or(ApiError::NotFound("balance"))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ThresholdRequest {
    /// Minor units; `null` clears it. When available falls below it, the balance reads `belowThreshold`.
    #[schema(example = 100000)]
    pub low_balance_threshold: Option<i64>,
}

/// Sets or clears a partner balance's low-balance threshold. Roles: Admin, Manager, Operator.
#[utoipa::path(
    put, path = "/admin/partners/{partnerId}/balances/{partnerBalanceId}/threshold", tag = "admin",
    security(("session" = [])),
    params(
        ("partnerId" = String, Path, description = "The partner's id"),
        ("partnerBalanceId" = i64, Path, description = "The partner balance's id"),
    ),
    request_body = ThresholdRequest,
    responses(
        (status = 200, description = "Set: the balance now", body = PartnerBalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (lowBalanceThreshold)", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "PARTNER_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
    )
)]
async fn admin_set_threshold(
    State(api): State<Api>,
    session: Authorized<SetBalanceThresholds>,
    ApiPath((partner_id, balance_id)): ApiPath<(String, i64)>,
    ApiJson(request): ApiJson<ThresholdRequest>,
) -> Result<axum::Json<PartnerBalanceResponse>, ApiError> {
    visible_partner(&api, session.scope(), &partner_id)?;
    partner_balance(&api, &partner_id, balance_id)?;
    if request.low_balance_threshold.is_some_and(|threshold| threshold < 0) {
        return Err(ApiError::validation("lowBalanceThreshold", "must not be negative"));
    }
    let balance = balances::set_low_balance_threshold(&api.state, balance_id, request.low_balance_threshold).await?;
    Ok(axum::Json(partner_balance_response(&balance)))
}

/// One currency of the balance summary; amounts are ledger amounts in its minor units.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BalanceSummaryResponse {
    #[schema(example = "EUR")]
    pub currency: String,
    /// The sum of all user balances.
    pub users: i64,
    /// Users plus all partner credit and deposit balances.
    pub wallet: i64,
}

/// The balance summary per currency (of the caller's partner, for a partner's administrator).
/// Roles: all.
#[utoipa::path(
    get, path = "/admin/balances/summary", tag = "admin",
    security(("session" = [])),
    responses(
        (status = 200, description = "Per currency", body = Vec<BalanceSummaryResponse>),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
    )
)]
async fn admin_balance_summary(
    State(api): State<Api>,
    session: Authorized<ReadBalances>,
) -> axum::Json<Vec<BalanceSummaryResponse>> {
    let scope = session.scope();
    let mut summary: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for balance in api.state.balances() {
        if !scope.allows(&balance.partner_id) {
            continue;
        }
        let (users, partners) = summary.entry(balance.currency.clone()).or_default();
        match balance.kind {
            BalanceKind::User => *users += balance.ledger,
            BalanceKind::PartnerCredit | BalanceKind::PartnerDeposit => *partners += balance.ledger,
            BalanceKind::Corporate | BalanceKind::System => {}
        }
    }
    axum::Json(
        summary
            .into_iter()
            .map(|(currency, (users, partners))| BalanceSummaryResponse {
                currency,
                users,
                wallet: users + partners,
            })
            .collect(),
    )
}
