//! The administration panel's own users: the caller's profile (`GET /admin/me`), the list of
//! administrators and creating one (`/admin/users`). Each `/admin` route names the permission it
//! needs (`admins::Permission::roles` is the role table); a partner's administrators see only that
//! partner's records: another partner's ids answer 404, as unknown ones do.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::admins::{self, NewAdmin};
use crate::http::Api;
use crate::http::auth::permission::ManageAdmins;
use crate::http::auth::{AdminSession, Authorized};
use crate::http::dto::{optional_text, time};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::state::{AdminRole, AdminUser};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_admins, create_admin))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdminRoleDto {
    Admin,
    Manager,
    Employee,
    Operator,
}

impl From<AdminRole> for AdminRoleDto {
    fn from(role: AdminRole) -> Self {
        match role {
            AdminRole::Admin => AdminRoleDto::Admin,
            AdminRole::Manager => AdminRoleDto::Manager,
            AdminRole::Employee => AdminRoleDto::Employee,
            AdminRole::Operator => AdminRoleDto::Operator,
        }
    }
}

impl From<AdminRoleDto> for AdminRole {
    fn from(role: AdminRoleDto) -> Self {
        match role {
            AdminRoleDto::Admin => AdminRole::Admin,
            AdminRoleDto::Manager => AdminRole::Manager,
            AdminRoleDto::Employee => AdminRole::Employee,
            AdminRoleDto::Operator => AdminRole::Operator,
        }
    }
}

/// An administration panel user (never its password hash).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUserResponse {
    pub admin_id: String,
    pub username: String,
    pub role: AdminRoleDto,
    /// Absent: platform-wide.
    pub partner_id: Option<String>,
    pub active: bool,
    pub created_at: String,
}

impl From<&AdminUser> for AdminUserResponse {
    fn from(admin: &AdminUser) -> Self {
        AdminUserResponse {
            admin_id: admin.id.clone(),
            username: admin.username.clone(),
            role: admin.role.into(),
            partner_id: admin.partner_id.clone(),
            active: admin.active,
            created_at: time(admin.created_at),
        }
    }
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
