//! A user's balances: the partner (`/secure/customers/{customerId}/balances`) opens, reads and
//! reloads them; the app (`/customers/me/balances`) opens and reads them.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::balances::{self};
use crate::http::Api;
use crate::http::auth::{CustomerSession, PartnerIdentity};
use crate::http::balances::{
    BalanceResponse, OpenBalanceRequest, ReloadRequest, balance_response, program_at_opening, reload_balance,
    user_balance, user_balances,
};
use crate::http::customers::user;
use crate::http::dto::Created;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath};
use crate::state::{BalanceId, BalanceKind, CustomerId, KycStatus, Owner, Scope};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(secure_open_balance, secure_list_balances))
        .routes(routes!(secure_get_balance))
        .routes(routes!(secure_reload_balance))
        .routes(routes!(me_open_balance, me_list_balances))
        .routes(routes!(me_get_balance))
}

/// Opens a zero balance for a KYC-verified user in one of the partner's program currencies.
async fn open_balance(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    request: &OpenBalanceRequest,
) -> Result<BalanceResponse, ApiError> {
    let customer = user(api, scope, customer_id)?;
    if customer.kyc_status != KycStatus::Verified {
        return Err(ApiError::conflict(
            "KYC_NOT_VERIFIED",
            "the user must be KYC-verified before a balance is opened",
        ));
    }
    let currency = request.currency.trim().to_ascii_uppercase();
    let program = program_at_opening(api, &customer.partner_id, &currency, request.program_id.as_deref())?;
    let balance = balances::open_under(
        &api.state,
        BalanceKind::User,
        Owner::Customer(customer_id),
        &customer.partner_id,
        &currency,
        program.as_deref(),
    )
    .await?;
    Ok(balance_response(api, &balance))
}

/// Reloads a user balance: under the partner-credit model the partner credit balance pays (all or
/// nothing); under the partner-deposit model the partner's load is recorded.
async fn reload(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    balance_id: BalanceId,
    request: &ReloadRequest,
) -> Result<BalanceResponse, ApiError> {
    user(api, scope, customer_id)?;
    let balance = user_balance(api, customer_id, balance_id)?;
    reload_balance(api, &balance, request).await?;
    Ok(balance_response(api, &user_balance(api, customer_id, balance_id)?))
}

/// Opens a balance at zero for a KYC-verified user, in one of the partner's program currencies.
#[utoipa::path(
    post, path = "/secure/customers/{customerId}/balances", tag = "secure",
    security(("clientCertificate" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    request_body = OpenBalanceRequest,
    responses(
        (status = 201, description = "Opened", body = BalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (currency)", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED", body = ErrorBody),
    )
)]
async fn secure_open_balance(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(customer_id): ApiPath<i64>,
    ApiJson(request): ApiJson<OpenBalanceRequest>,
) -> Result<Created<BalanceResponse>, ApiError> {
    let balance = open_balance(&api, partner.scope(), customer_id, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(balance)))
}

/// The user's balances with their cards.
#[utoipa::path(
    get, path = "/secure/customers/{customerId}/balances", tag = "secure",
    security(("clientCertificate" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The balances", body = Vec<BalanceResponse>),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
    )
)]
async fn secure_list_balances(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(customer_id): ApiPath<i64>,
) -> Result<axum::Json<Vec<BalanceResponse>>, ApiError> {
    user(&api, partner.scope(), customer_id)?;
    Ok(axum::Json(user_balances(&api, customer_id)))
}

/// A balance of the user with its cards.
#[utoipa::path(
    get, path = "/secure/customers/{customerId}/balances/{balanceId}", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("balanceId" = i64, Path, description = "The balance's id"),
    ),
    responses(
        (status = 200, description = "The balance", body = BalanceResponse),
        (status = 404, description = "USER_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
    )
)]
async fn secure_get_balance(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, balance_id)): ApiPath<(i64, i64)>,
) -> Result<axum::Json<BalanceResponse>, ApiError> {
    user(&api, partner.scope(), customer_id)?;
    let balance = user_balance(&api, customer_id, balance_id)?;
    Ok(axum::Json(balance_response(&api, &balance)))
}

/// Reloads a user balance. Partner-credit programs charge the partner credit balance first: when it
/// is short, 409 `PARTNER_FUNDS_INSUFFICIENT` and nothing changes. Partner-deposit programs record
/// the partner's load.
#[utoipa::path(
    post, path = "/secure/customers/{customerId}/balances/{balanceId}/reload", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("balanceId" = i64, Path, description = "The balance's id"),
    ),
    request_body = ReloadRequest,
    responses(
        (status = 200, description = "Reloaded: the balance now", body = BalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (amount, programId)", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "PARTNER_FUNDS_INSUFFICIENT, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn secure_reload_balance(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, balance_id)): ApiPath<(i64, i64)>,
    ApiJson(request): ApiJson<ReloadRequest>,
) -> Result<axum::Json<BalanceResponse>, ApiError> {
    Ok(axum::Json(
        reload(&api, partner.scope(), customer_id, balance_id, &request).await?,
    ))
}

/// Opens a balance at zero for the (KYC-verified) user.
#[utoipa::path(
    post, path = "/customers/me/balances", tag = "mobile",
    security(("session" = [])),
    request_body = OpenBalanceRequest,
    responses(
        (status = 201, description = "Opened", body = BalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (currency)", body = ErrorBody),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED", body = ErrorBody),
    )
)]
async fn me_open_balance(
    State(api): State<Api>,
    session: CustomerSession,
    ApiJson(request): ApiJson<OpenBalanceRequest>,
) -> Result<Created<BalanceResponse>, ApiError> {
    let balance = open_balance(&api, session.scope(), session.customer_id, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(balance)))
}

/// The user's balances with their cards.
#[utoipa::path(
    get, path = "/customers/me/balances", tag = "mobile",
    security(("session" = [])),
    responses(
        (status = 200, description = "The balances", body = Vec<BalanceResponse>),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
    )
)]
async fn me_list_balances(
    State(api): State<Api>,
    session: CustomerSession,
) -> Result<axum::Json<Vec<BalanceResponse>>, ApiError> {
    Ok(axum::Json(user_balances(&api, session.customer_id)))
}

/// A balance of the user with its cards.
#[utoipa::path(
    get, path = "/customers/me/balances/{balanceId}", tag = "mobile",
    security(("session" = [])),
    params(("balanceId" = i64, Path, description = "The balance's id")),
    responses(
        (status = 200, description = "The balance", body = BalanceResponse),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
        (status = 404, description = "BALANCE_NOT_FOUND", body = ErrorBody),
    )
)]
async fn me_get_balance(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(balance_id): ApiPath<i64>,
) -> Result<axum::Json<BalanceResponse>, ApiError> {
    let balance = user_balance(&api, session.customer_id, balance_id)?;
    Ok(axum::Json(balance_response(&api, &balance)))
}
