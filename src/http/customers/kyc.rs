//! KYC: the partner's own decision (`PUT /lifecycle/v1/users/{userId}/kyc`), KYC data submitted by
//! the partner (`/secure/customers/{customerId}/register`) or the app (`/customers/me/register`) and
//! checked by the verifier, and the administration panel's review of doubtful submissions.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::admins;
use crate::customers::{self, kyc};
use crate::http::Api;
use crate::http::auth::permission::ReviewKyc;
use crate::http::auth::{Authorized, CustomerSession, PartnerIdentity};
use crate::http::customers::*;
use crate::http::dto::DecisionRequest;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, OptionalJson};
use crate::state::KycSource;

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(set_user_kyc))
        .routes(routes!(secure_register_kyc))
        .routes(routes!(kyc_submissions))
        .routes(routes!(me_register_kyc))
        .routes(routes!(kyc_review_queue))
        .routes(routes!(approve_kyc))
        .routes(routes!(reject_kyc))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PartnerKycDecision {
    Verified,
    Rejected,
}

/// The partner's own KYC decision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KycFlagRequest {
    pub kyc_status: PartnerKycDecision,
}

/// Sets a user's KYC flag when the partner did KYC itself (recorded with the partner and the time).
#[utoipa::path(
    put, path = "/lifecycle/v1/users/{userId}/kyc", tag = "lifecycle",
    security(("clientCertificate" = [])),
    params(("userId" = i64, Path, description = "The user's id")),
    request_body = KycFlagRequest,
    responses(
        (status = 200, description = "The user with its new KYC status", body = UserResponse),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_IN_REVIEW: a platform KYC review is under way", body = ErrorBody),
    )
)]
async fn set_user_kyc(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(user_id): ApiPath<i64>,
    ApiJson(request): ApiJson<KycFlagRequest>,
) -> Result<axum::Json<UserResponse>, ApiError> {
    let verified = request.kyc_status == PartnerKycDecision::Verified;
    customers::set_kyc_by_partner(&api.state, &partner.0, user_id, verified).await?;
    // Memory is applied before the submission's receipt resolves: the view shows the new status.
    let view = customers::view(&api.state, partner.scope(), user_id)?;
    Ok(axum::Json(UserResponse::from(&view)))
}

/// Submits a user's KYC data to the platform's verifier: VERIFIED or REJECTED at once, or IN_REVIEW
/// (doubtful cases wait for an administrator).
#[utoipa::path(
    post, path = "/secure/customers/{customerId}/register", tag = "secure", operation_id = "register_kyc",
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
async fn secure_register_kyc(
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

/// Submits the user's KYC data to the platform's verifier.
#[utoipa::path(
    post, path = "/customers/me/register", tag = "mobile", operation_id = "register_kyc",
    security(("session" = [])),
    request_body = KycRequest,
    responses(
        (status = 201, description = "Submitted and judged", body = KycSubmissionResponse),
        (status = 400, description = "VALIDATION_FAILED", body = ErrorBody),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
        (status = 409, description = "KYC_ALREADY_VERIFIED or KYC_IN_REVIEW", body = ErrorBody),
    )
)]
async fn me_register_kyc(
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

/// KYC submissions waiting for a decision, oldest first. Roles: Admin, Manager, Operator.
#[utoipa::path(
    get, path = "/admin/kyc/reviews", tag = "admin",
    security(("session" = [])),
    responses(
        (status = 200, description = "The queue", body = Vec<KycSubmissionResponse>),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
    )
)]
async fn kyc_review_queue(
    State(api): State<Api>,
    session: Authorized<ReviewKyc>,
) -> Result<axum::Json<Vec<KycSubmissionResponse>>, ApiError> {
    let queue = kyc::review_queue(&api.state, session.scope());
    Ok(axum::Json(queue.iter().map(KycSubmissionResponse::full).collect()))
}

async fn decide_kyc(
    api: &Api,
    session: &Authorized<ReviewKyc>,
    submission_id: &str,
    approve: bool,
    request: &DecisionRequest,
) -> Result<axum::Json<KycSubmissionResponse>, ApiError> {
    let reason = request.reason()?;
    let actor = admins::actor(&session.admin);
    let decided = kyc::review(&api.state, session.scope(), submission_id, actor, approve, reason).await?;
    Ok(axum::Json(KycSubmissionResponse::full(&decided)))
}

/// Approves a KYC submission in review: the user becomes KYC-verified. Roles: Admin, Manager, Operator.
#[utoipa::path(
    post, path = "/admin/kyc/submissions/{submissionId}/approve", tag = "admin",
    security(("session" = [])),
    params(("submissionId" = String, Path, description = "The submission's id")),
    request_body(content = Option<DecisionRequest>, description = "Optional; `reason` is required to reject or hold a corporation"),
    responses(
        (status = 200, description = "Decided", body = KycSubmissionResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "KYC_SUBMISSION_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_ALREADY_DECIDED", body = ErrorBody),
    )
)]
async fn approve_kyc(
    State(api): State<Api>,
    session: Authorized<ReviewKyc>,
    ApiPath(submission_id): ApiPath<String>,
    OptionalJson(request): OptionalJson<DecisionRequest>,
) -> Result<axum::Json<KycSubmissionResponse>, ApiError> {
    decide_kyc(&api, &session, &submission_id, true, &request).await
}

/// Rejects a KYC submission in review. Roles: Admin, Manager, Operator.
#[utoipa::path(
    post, path = "/admin/kyc/submissions/{submissionId}/reject", tag = "admin",
    security(("session" = [])),
    params(("submissionId" = String, Path, description = "The submission's id")),
    request_body(content = Option<DecisionRequest>, description = "Optional; `reason` is required to reject or hold a corporation"),
    responses(
        (status = 200, description = "Decided", body = KycSubmissionResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "KYC_SUBMISSION_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_ALREADY_DECIDED", body = ErrorBody),
    )
)]
async fn reject_kyc(
    State(api): State<Api>,
    session: Authorized<ReviewKyc>,
    ApiPath(submission_id): ApiPath<String>,
    OptionalJson(request): OptionalJson<DecisionRequest>,
) -> Result<axum::Json<KycSubmissionResponse>, ApiError> {
    decide_kyc(&api, &session, &submission_id, false, &request).await
}
