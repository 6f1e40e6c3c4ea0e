//! Users: the partner's server registers and reads them (`/lifecycle/v1/users`), the app reads its
//! own (`GET /customers/me`), the administration panel reads one (`GET /admin/customers/{customerId}`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::customers::{self, NewCustomer, kyc};
use crate::http::Api;
use crate::http::auth::permission::ReadCustomers;
use crate::http::auth::{Authorized, CustomerSession, PartnerIdentity};
use crate::http::customers::*;
use crate::http::dto::optional_text;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(register_user))
        .routes(routes!(get_user))
        .routes(routes!(me))
        .routes(routes!(get_customer))
}

/// A user to register; every field is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterUserRequest {
    /// The partner's own id of the user, unique per partner.
    #[schema(example = "crm-000123")]
    pub external_id: Option<String>,
    #[schema(example = "anna.nowak@example.com")]
    pub email: Option<String>,
    /// E.164.
    #[schema(example = "+48600100200")]
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl RegisterUserRequest {
    fn validate(&self) -> Result<NewCustomer, ApiError> {
        let email = optional_text("email", self.email.as_deref(), 254)?;
        if let Some(email) = &email {
            let shaped = email
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !email.contains(' '));
            if !shaped {
                return Err(ApiError::validation("email", "must be an email address"));
            }
        }
        let phone = optional_text("phone", self.phone.as_deref(), 16)?;
        if let Some(phone) = &phone {
            let digits = phone.strip_prefix('+').unwrap_or("");
            if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(ApiError::validation(
                    "phone",
                    "must be an E.164 number (+ and 7 to 15 digits)",
                ));
            }
        }
        let external_ref = optional_text("externalId", self.external_id.as_deref(), 64)?;
        Ok(NewCustomer {
            external_ref,
            email,
            phone,
            first_name: optional_text("firstName", self.first_name.as_deref(), 100)?,
            last_name: optional_text("lastName", self.last_name.as_deref(), 100)?,
        })
    }
}

/// Registers a user of the calling partner; its KYC is not started.
#[utoipa::path(
    post, path = "/lifecycle/v1/users", tag = "lifecycle",
    security(("clientCertificate" = [])),
    request_body = RegisterUserRequest,
    responses(
        (status = 201, description = "Registered", body = UserResponse),
        (status = 400, description = "VALIDATION_FAILED (the message names the field)", body = ErrorBody),
        (status = 401, description = "CLIENT_CERTIFICATE_REQUIRED", body = ErrorBody),
        (status = 403, description = "PARTNER_UNKNOWN", body = ErrorBody),
        (status = 409, description = "EXTERNAL_ID_TAKEN", body = ErrorBody),
    )
)]
async fn register_user(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiJson(request): ApiJson<RegisterUserRequest>,
) -> Result<(StatusCode, axum::Json<UserResponse>), ApiError> {
    let new = request.validate()?;
    let view = customers::register(&api.state, &partner.0, new).await?;
    Ok((StatusCode::CREATED, axum::Json(UserResponse::from(&view))))
}

/// One of the calling partner's users.
#[utoipa::path(
    get, path = "/lifecycle/v1/users/{userId}", tag = "lifecycle",
    security(("clientCertificate" = [])),
    params(("userId" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = UserResponse),
        (status = 404, description = "USER_NOT_FOUND (also for another partner's user)", body = ErrorBody),
    )
)]
async fn get_user(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(user_id): ApiPath<i64>,
) -> Result<axum::Json<UserResponse>, ApiError> {
    let view = customers::view(&api.state, partner.scope(), user_id)?;
    Ok(axum::Json(UserResponse::from(&view)))
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
