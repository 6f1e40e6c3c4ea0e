//! `/customers/me`: the user's mobile app, with the session token its
//! partner's server obtained by pairing the device.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Api;
use super::auth::CustomerSession;
use super::dto::{KycRequest, KycSubmissionResponse, RenewedSessionResponse, UserResponse, time};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use crate::customers::{self, kyc};
use crate::sessions;
use crate::state::KycSource;

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(register_kyc))
        .routes(routes!(renew_session))
        .routes(routes!(end_session))
}

/// The signed-in user.
#[utoipa::path(
    get, path = "/customers/me", tag = "mobile",
    security(("session" = [])),
    responses(
        (status = 200, description = "The user", body = UserResponse),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
    )
)]
async fn me(State(api): State<Api>, session: CustomerSession) -> Result<axum::Json<UserResponse>, ApiError> {
    let view = customers::view(&api.state, session.scope(), session.customer_id)?;
    Ok(axum::Json(UserResponse::from(&view)))
}

/// Submits the user's KYC data to the platform's verifier.
#[utoipa::path(
    post, path = "/customers/me/register", tag = "mobile",
    security(("session" = [])),
    request_body = KycRequest,
    responses(
        (status = 201, description = "Submitted and judged", body = KycSubmissionResponse),
        (status = 400, description = "VALIDATION_FAILED", body = ErrorBody),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
        (status = 409, description = "KYC_ALREADY_VERIFIED or KYC_IN_REVIEW", body = ErrorBody),
    )
)]
async fn register_kyc(
    State(api): State<Api>,
    session: CustomerSession,
    ApiJson(request): ApiJson<KycRequest>,
) -> Result<(StatusCode, axum::Json<KycSubmissionResponse>), ApiError> {
    let data = request.validate()?;
    let submission = kyc::submit(
        &api.state,
        api.kyc_verifier.as_ref(),
        session.scope(),
        session.customer_id,
        KycSource::Mobile,
        data,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(KycSubmissionResponse::summary(&submission)),
    ))
}

/// Starts the session's lifetime again (only while it is valid).
#[utoipa::path(
    post, path = "/customers/me/session/renew", tag = "mobile",
    security(("session" = [])),
    responses(
        (status = 200, description = "Renewed", body = RenewedSessionResponse),
        (status = 401, description = "SESSION_EXPIRED: too late, pair or open a new session", body = ErrorBody),
    )
)]
async fn renew_session(
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
    delete, path = "/customers/me/session", tag = "mobile",
    security(("session" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
    )
)]
async fn end_session(State(api): State<Api>, session: CustomerSession) -> Result<StatusCode, ApiError> {
    sessions::revoke(&api.state, &session.token).await?;
    Ok(StatusCode::NO_CONTENT)
}
