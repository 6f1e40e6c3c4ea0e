//! `/admin`: the administration panel. Login gives an admin session; each
//! route names the permission it needs (`admins::Permission::roles` is the
//! role table). A partner's administrators see only that partner's records:
//! another partner's ids answer 404, as unknown ones do.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Api;
use super::auth::permission::{ManageAdmins, ReadCorporations, ReadCustomers, ReviewKyb, ReviewKyc};
use super::auth::{AdminSession, Authorized};
use super::dto::{
    AdminRoleDto, AdminUserResponse, CorporationResponse, DecisionRequest, KybStatusDto, KycSubmissionResponse,
    RenewedSessionResponse, UserResponse, optional_text, time,
};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};
use crate::admins::{self, NewAdmin};
use crate::corporations;
use crate::customers::{self, kyc};
use crate::sessions;
use crate::state::KybStatus;

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(renew_session))
        .routes(routes!(end_session))
        .routes(routes!(me))
        .routes(routes!(list_admins, create_admin))
        .routes(routes!(get_customer))
        .routes(routes!(kyc_review_queue))
        .routes(routes!(approve_kyc))
        .routes(routes!(reject_kyc))
        .routes(routes!(list_corporations))
        .routes(routes!(get_corporation))
        .routes(routes!(approve_corporation))
        .routes(routes!(reject_corporation))
        .routes(routes!(hold_corporation))
}

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
    post, path = "/admin/session/renew", tag = "admin",
    security(("session" = [])),
    responses(
        (status = 200, description = "Renewed", body = RenewedSessionResponse),
        (status = 401, description = "SESSION_EXPIRED", body = ErrorBody),
    )
)]
async fn renew_session(
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
    delete, path = "/admin/session", tag = "admin",
    security(("session" = [])),
    responses((status = 204, description = "Signed out"), (status = 401, description = "SESSION_*", body = ErrorBody))
)]
async fn end_session(State(api): State<Api>, session: AdminSession) -> Result<StatusCode, ApiError> {
    sessions::revoke(&api.state, &session.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in administrator. Any role.
#[utoipa::path(
    get, path = "/admin/me", tag = "admin",
    security(("session" = [])),
    responses((status = 200, description = "Who is signed in", body = AdminUserResponse), (status = 401, description = "SESSION_*", body = ErrorBody))
)]
async fn me(session: AdminSession) -> axum::Json<AdminUserResponse> {
    axum::Json(AdminUserResponse::from(&session.admin))
}

/// The administration panel users the caller may see. Roles: Admin.
#[utoipa::path(
    get, path = "/admin/users", tag = "admin",
    security(("session" = [])),
    responses(
        (status = 200, description = "Users", body = Vec<AdminUserResponse>),
        (status = 403, description = "FORBIDDEN: the role may not", body = ErrorBody),
    )
)]
async fn list_admins(
    State(api): State<Api>,
    session: Authorized<ManageAdmins>,
) -> Result<axum::Json<Vec<AdminUserResponse>>, ApiError> {
    let admins = admins::list(&api.state, &session.admin);
    Ok(axum::Json(admins.iter().map(AdminUserResponse::from).collect()))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAdminRequest {
    #[schema(example = "maria.compliance")]
    pub username: String,
    /// At least 12 characters.
    pub password: String,
    pub role: AdminRoleDto,
    /// The partner the user works for; absent: the creator's partner (platform-wide for a platform Admin).
    pub partner_id: Option<String>,
}

/// Creates an administration panel user. Roles: Admin (a partner's Admin: users of its partner, no operators).
#[utoipa::path(
    post, path = "/admin/users", tag = "admin",
    security(("session" = [])),
    request_body = CreateAdminRequest,
    responses(
        (status = 201, description = "Created", body = AdminUserResponse),
        (status = 400, description = "VALIDATION_FAILED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 409, description = "USERNAME_TAKEN", body = ErrorBody),
    )
)]
async fn create_admin(
    State(api): State<Api>,
    session: Authorized<ManageAdmins>,
    ApiJson(request): ApiJson<CreateAdminRequest>,
) -> Result<(StatusCode, axum::Json<AdminUserResponse>), ApiError> {
    let new = NewAdmin {
        username: request.username.trim().to_owned(),
        password: request.password,
        role: request.role.into(),
        partner_id: optional_text("partnerId", request.partner_id.as_deref(), 100)?,
    };
    let admin = admins::create(&api.state, &session.admin, new).await?;
    Ok((StatusCode::CREATED, axum::Json(AdminUserResponse::from(&admin))))
}

/// A user and its KYC submissions (with the submitted data).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminCustomerResponse {
    pub partner_id: String,
    pub user: UserResponse,
    pub kyc_submissions: Vec<KycSubmissionResponse>,
}

/// A user with its KYC history. Roles: Admin, Manager, Employee, Operator.
#[utoipa::path(
    get, path = "/admin/customers/{customerId}", tag = "admin",
    security(("session" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = AdminCustomerResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND (also another partner's, for a partner's administrator)", body = ErrorBody),
    )
)]
async fn get_customer(
    State(api): State<Api>,
    session: Authorized<ReadCustomers>,
    ApiPath(customer_id): ApiPath<i64>,
) -> Result<axum::Json<AdminCustomerResponse>, ApiError> {
    let view = customers::view(&api.state, session.scope(), customer_id)?;
    let submissions = kyc::submissions(&api.state, session.scope(), customer_id)?;
    Ok(axum::Json(AdminCustomerResponse {
        partner_id: view.customer.partner_id.clone(),
        user: UserResponse::from(&view),
        kyc_submissions: submissions.iter().map(KycSubmissionResponse::full).collect(),
    }))
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

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CorporationFilter {
    /// Only corporations in this KYB status.
    pub status: Option<KybStatusDto>,
}

/// Corporations the caller may see, optionally in one KYB status. Roles: Admin, Manager, Employee, Operator.
#[utoipa::path(
    get, path = "/admin/corporations", tag = "admin",
    security(("session" = [])),
    params(CorporationFilter),
    responses(
        (status = 200, description = "Corporations", body = Vec<CorporationResponse>),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
    )
)]
async fn list_corporations(
    State(api): State<Api>,
    session: Authorized<ReadCorporations>,
    ApiQuery(filter): ApiQuery<CorporationFilter>,
) -> Result<axum::Json<Vec<CorporationResponse>>, ApiError> {
    let found = corporations::list(&api.state, session.scope(), filter.status.map(KybStatus::from));
    let views = found
        .iter()
        .map(|corporation| corporations::view(&api.state, session.scope(), corporation.id))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(views.iter().map(CorporationResponse::from).collect()))
}

/// A corporation with its details, documents and KYB history. Roles: Admin, Manager, Employee, Operator.
#[utoipa::path(
    get, path = "/admin/corporations/{dcCorporationId}", tag = "admin",
    security(("session" = [])),
    params(("dcCorporationId" = i64, Path, description = "The corporation's id")),
    responses(
        (status = 200, description = "The corporation", body = CorporationResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "CORPORATION_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_corporation(
    State(api): State<Api>,
    session: Authorized<ReadCorporations>,
    ApiPath(corporation_id): ApiPath<i64>,
) -> Result<axum::Json<CorporationResponse>, ApiError> {
    let view = corporations::view(&api.state, session.scope(), corporation_id)?;
    Ok(axum::Json(CorporationResponse::from(&view)))
}

async fn decide_kyb(
    api: &Api,
    session: &Authorized<ReviewKyb>,
    corporation_id: i64,
    to: KybStatus,
    request: &DecisionRequest,
) -> Result<axum::Json<CorporationResponse>, ApiError> {
    let reason = request.reason()?;
    let actor = admins::actor(&session.admin);
    let view = corporations::decide(&api.state, session.scope(), corporation_id, to, actor, reason).await?;
    Ok(axum::Json(CorporationResponse::from(&view)))
}

/// Approves a corporation (KYB passed). Roles: Admin, Manager, Operator.
#[utoipa::path(
    post, path = "/admin/corporations/{dcCorporationId}/approve", tag = "admin",
    security(("session" = [])),
    params(("dcCorporationId" = i64, Path, description = "The corporation's id")),
    request_body(content = Option<DecisionRequest>, description = "Optional; `reason` is required to reject or hold a corporation"),
    responses(
        (status = 200, description = "Approved", body = CorporationResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "CORPORATION_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYB_TRANSITION_NOT_ALLOWED", body = ErrorBody),
    )
)]
async fn approve_corporation(
    State(api): State<Api>,
    session: Authorized<ReviewKyb>,
    ApiPath(corporation_id): ApiPath<i64>,
    OptionalJson(request): OptionalJson<DecisionRequest>,
) -> Result<axum::Json<CorporationResponse>, ApiError> {
    decide_kyb(&api, &session, corporation_id, KybStatus::Approved, &request).await
}

/// Rejects a corporation; a reason is required. Roles: Admin, Manager, Operator.
#[utoipa::path(
    post, path = "/admin/corporations/{dcCorporationId}/reject", tag = "admin",
    security(("session" = [])),
    params(("dcCorporationId" = i64, Path, description = "The corporation's id")),
    request_body(content = Option<DecisionRequest>, description = "Optional; `reason` is required to reject or hold a corporation"),
    responses(
        (status = 200, description = "Rejected", body = CorporationResponse),
        (status = 400, description = "VALIDATION_FAILED: reason missing", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "CORPORATION_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYB_TRANSITION_NOT_ALLOWED", body = ErrorBody),
    )
)]
async fn reject_corporation(
    State(api): State<Api>,
    session: Authorized<ReviewKyb>,
    ApiPath(corporation_id): ApiPath<i64>,
    OptionalJson(request): OptionalJson<DecisionRequest>,
) -> Result<axum::Json<CorporationResponse>, ApiError> {
    decide_kyb(&api, &session, corporation_id, KybStatus::Rejected, &request).await
}

/// Puts a corporation on hold; a reason is required. Roles: Admin, Manager, Operator.
#[utoipa::path(
    post, path = "/admin/corporations/{dcCorporationId}/hold", tag = "admin",
    security(("session" = [])),
    params(("dcCorporationId" = i64, Path, description = "The corporation's id")),
    request_body(content = Option<DecisionRequest>, description = "Optional; `reason` is required to reject or hold a corporation"),
    responses(
        (status = 200, description = "On hold", body = CorporationResponse),
        (status = 400, description = "VALIDATION_FAILED: reason missing", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "CORPORATION_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYB_TRANSITION_NOT_ALLOWED", body = ErrorBody),
    )
)]
async fn hold_corporation(
    State(api): State<Api>,
    session: Authorized<ReviewKyb>,
    ApiPath(corporation_id): ApiPath<i64>,
    OptionalJson(request): OptionalJson<DecisionRequest>,
) -> Result<axum::Json<CorporationResponse>, ApiError> {
    decide_kyb(&api, &session, corporation_id, KybStatus::OnHold, &request).await
}
