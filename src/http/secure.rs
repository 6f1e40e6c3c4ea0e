//! `/secure`: a partner's server submits its users' KYC data and pairs their
//! devices (client certificate). Another partner's ids answer 404.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Api;
use super::auth::PartnerIdentity;
use super::dto::{KycRequest, KycSubmissionResponse, SessionResponse, text, time};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::customers::kyc;
use crate::sessions;
use crate::state::KycSource;

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(register_kyc))
        .routes(routes!(kyc_submissions))
        .routes(routes!(pair_device))
        .routes(routes!(open_session))
}

/// Submits a user's KYC data to the platform's verifier: VERIFIED or REJECTED at once, or IN_REVIEW
/// (doubtful cases wait for an administrator).
#[utoipa::path(
    post, path = "/secure/customers/{customerId}/register", tag = "secure",
    security(("clientCertificate" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    request_body = KycRequest,
    responses(
        (status = 201, description = "Submitted and judged", body = KycSubmissionResponse),
        (status = 400, description = "VALIDATION_FAILED", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_ALREADY_VERIFIED or KYC_IN_REVIEW", body = ErrorBody),
    )
)]
async fn register_kyc(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(customer_id): ApiPath<i64>,
    ApiJson(request): ApiJson<KycRequest>,
) -> Result<(StatusCode, axum::Json<KycSubmissionResponse>), ApiError> {
    // Whose user it is comes first: another partner's id must not learn what is wrong with a body.
    crate::customers::get(&api.state, partner.scope(), customer_id)?;
    let data = request.validate()?;
    let submission = kyc::submit(
        &api.state,
        api.kyc_verifier.as_ref(),
        partner.scope(),
        customer_id,
        KycSource::Server,
        data,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(KycSubmissionResponse::summary(&submission)),
    ))
}

/// A user's KYC submissions and decisions, oldest first (without the submitted data).
#[utoipa::path(
    get, path = "/secure/customers/{customerId}/kyc", tag = "secure",
    security(("clientCertificate" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The submissions", body = Vec<KycSubmissionResponse>),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
    )
)]
async fn kyc_submissions(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(customer_id): ApiPath<i64>,
) -> Result<axum::Json<Vec<KycSubmissionResponse>>, ApiError> {
    let submissions = kyc::submissions(&api.state, partner.scope(), customer_id)?;
    Ok(axum::Json(
        submissions.iter().map(KycSubmissionResponse::summary).collect(),
    ))
}

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
