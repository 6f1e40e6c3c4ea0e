//! Sessions on the two session channels: the partner pairs a user's device and opens its app's
//! session (`/secure/customers/{customerId}/…`); the app renews and ends it (`/customers/me/session`);
//! an administrator logs in to the panel, renews and ends the admin session (`/admin/login`,
//! `/admin/session`). Tokens are hashed at rest ([`crate::sessions`]).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::admins;
use crate::http::Api;
use crate::http::admins::AdminUserResponse;
use crate::http::auth::{AdminSession, CustomerSession, PartnerIdentity};
use crate::http::dto::{text, time};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath};
use crate::sessions;

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(pair_device))
        .routes(routes!(open_session))
        .routes(routes!(me_renew_session))
        .routes(routes!(me_end_session))
        .routes(routes!(login))
        .routes(routes!(admin_renew_session))
        .routes(routes!(admin_end_session))
}

/// A session token, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    /// Send as `Authorization: Bearer <sessionToken>`.
    pub session_token: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenewedSessionResponse {
    pub expires_at: String,
}

// ---------------------------------------------------------------- device pairing (/secure)

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PairDeviceRequest {
    /// The partner app's identifier of the device.
    #[schema(example = "device-7f3a9c")]
    pub device_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PairDeviceResponse {
    pub installation_id: String,
    /// For the app: `Authorization: Bearer <sessionToken>` on `/customers/me`.
    pub session_token: String,
    pub expires_at: String,
}

/// Pairs a device for a user: a new installation (replacing the device's previous one for this user,
/// whose sessions end) and a session token for the app.
#[utoipa::path(
    post, path = "/secure/customers/{customerId}/devices", tag = "secure",
    security(("clientCertificate" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    request_body = PairDeviceRequest,
    responses(
        (status = 201, description = "Paired", body = PairDeviceResponse),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
    )
)]
async fn pair_device(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(customer_id): ApiPath<i64>,
    ApiJson(request): ApiJson<PairDeviceRequest>,
) -> Result<(StatusCode, axum::Json<PairDeviceResponse>), ApiError> {
    crate::customers::get(&api.state, partner.scope(), customer_id)?;
    let device_id = text("deviceId", &request.device_id, 128)?;
    let ttl = api.settings.session_ttl_ms;
    let (installation, issued) = sessions::pair_device(&api.state, &partner.0, customer_id, &device_id, ttl).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(PairDeviceResponse {
            installation_id: installation.id,
            session_token: issued.token.as_str().to_owned(),
            expires_at: time(issued.session.expires_at),
        }),
    ))
}

/// A new session on an active installation, after the partner authenticated its user again.
#[utoipa::path(
    post, path = "/secure/customers/{customerId}/installations/{installationId}/sessions", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("installationId" = String, Path, description = "The installation's id"),
    ),
    responses(
        (status = 201, description = "A new session", body = SessionResponse),
        (status = 404, description = "USER_NOT_FOUND or INSTALLATION_NOT_FOUND (also when replaced)", body = ErrorBody),
    )
)]
async fn open_session(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, installation_id)): ApiPath<(i64, String)>,
) -> Result<(StatusCode, axum::Json<SessionResponse>), ApiError> {
    let ttl = api.settings.session_ttl_ms;
    let issued = sessions::open_for_installation(&api.state, &partner.0, customer_id, &installation_id, ttl).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(SessionResponse {
            session_token: issued.token.as_str().to_owned(),
            expires_at: time(issued.session.expires_at),
        }),
    ))
}

// ---------------------------------------------------------------- the app (/customers/me)

/// Starts the session's lifetime again (only while it is valid).
#[utoipa::path(
    post, path = "/customers/me/session/renew", tag = "mobile", operation_id = "renew_session",
    security(("session" = [])),
    responses(
        (status = 200, description = "Renewed", body = RenewedSessionResponse),
        (status = 401, description = "SESSION_EXPIRED: too late, pair or open a new session", body = ErrorBody),
    )
)]
async fn me_renew_session(
    State(api): State<Api>,
    session: CustomerSession,
) -> Result<axum::Json<RenewedSessionResponse>, ApiError> {
    let expires_at = sessions::renew(&api.state, &session.token, api.settings.session_ttl_ms).await?;
    Ok(axum::Json(RenewedSessionResponse {
        expires_at: time(expires_at),
    }))
}

/// Ends the session (logout).
#[utoipa::path(
    delete, path = "/customers/me/session", tag = "mobile", operation_id = "end_session",
    security(("session" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
    )
)]
async fn me_end_session(State(api): State<Api>, session: CustomerSession) -> Result<StatusCode, ApiError> {
    sessions::revoke(&api.state, &session.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- the administration panel (/admin)

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "admin")]
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <sessionToken>`.
    pub session_token: String,
    pub expires_at: String,
    pub admin: AdminUserResponse,
}

/// Signs in with a username and password.
#[utoipa::path(
    post, path = "/admin/login", tag = "admin",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "INVALID_CREDENTIALS", body = ErrorBody),
    )
)]
async fn login(
    State(api): State<Api>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<axum::Json<LoginResponse>, ApiError> {
    let ttl = api.settings.session_ttl_ms;
    let (admin, issued) = admins::login(&api.state, &request.username, &request.password, ttl).await?;
    Ok(axum::Json(LoginResponse {
        session_token: issued.token.as_str().to_owned(),
        expires_at: time(issued.session.expires_at),
        admin: AdminUserResponse::from(&admin),
    }))
}

/// Starts the session's lifetime again (only while it is valid). Any role.
#[utoipa::path(
    post, path = "/admin/session/renew", tag = "admin", operation_id = "renew_session",
    security(("session" = [])),
    responses(
        (status = 200, description = "Renewed", body = RenewedSessionResponse),
        (status = 401, description = "SESSION_EXPIRED", body = ErrorBody),
    )
)]
async fn admin_renew_session(
    State(api): State<Api>,
    session: AdminSession,
) -> Result<axum::Json<RenewedSessionResponse>, ApiError> {
    let expires_at = sessions::renew(&api.state, &session.token, api.settings.session_ttl_ms).await?;
    Ok(axum::Json(RenewedSessionResponse {
        expires_at: time(expires_at),
    }))
}

/// Signs out. Any role.
#[utoipa::path(
    delete, path = "/admin/session", tag = "admin", operation_id = "end_session",
    security(("session" = [])),
    responses((status = 204, description = "Signed out"), (status = 401, description = "SESSION_*", body = ErrorBody))
)]
async fn admin_end_session(State(api): State<Api>, session: AdminSession) -> Result<StatusCode, ApiError> {
    sessions::revoke(&api.state, &session.token).await?;
    Ok(StatusCode::NO_CONTENT)
}
