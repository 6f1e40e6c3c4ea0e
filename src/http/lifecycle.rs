//! `/lifecycle/v1`: a partner's server registers users and corporations
//! (client certificate). Another partner's ids answer 404, as unknown ones do.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Api;
use super::auth::PartnerIdentity;
use super::dto::{self, AddressDto, CorporationDocumentDto, CorporationResponse, UserResponse, optional_text, text};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::corporations::{self, NewCorporation};
use crate::customers::{self, NewCustomer};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(register_user))
        .routes(routes!(get_user))
        .routes(routes!(set_user_kyc))
        .routes(routes!(create_corporation))
        .routes(routes!(get_corporation))
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

/// A company submitted for KYB.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCorporationRequest {
    #[schema(example = "Acme Sp. z o.o.")]
    pub name: String,
    /// The company register's number (e.g. KRS).
    #[schema(example = "0000012345")]
    pub registration_number: String,
    pub tax_id: Option<String>,
    pub address: AddressDto,
    /// At least one; the registry extract is required.
    pub documents: Vec<CorporationDocumentDto>,
}

impl CreateCorporationRequest {
    fn validate(&self) -> Result<NewCorporation, ApiError> {
        if self.documents.is_empty() || self.documents.len() > 20 {
            return Err(ApiError::validation("documents", "must hold 1 to 20 documents"));
        }
        let documents = self
            .documents
            .iter()
            .enumerate()
            .map(|(index, document)| document.validate(&format!("documents[{index}]")))
            .collect::<Result<Vec<_>, _>>()?;
        if !documents
            .iter()
            .any(|document| document.document_type == crate::state::CorporationDocumentType::RegistryExtract)
        {
            return Err(ApiError::validation("documents", "must include a REGISTRY_EXTRACT"));
        }
        Ok(NewCorporation {
            name: text("name", &self.name, 200)?,
            registration_number: text("registrationNumber", &self.registration_number, 50)?,
            tax_id: optional_text("taxId", self.tax_id.as_deref(), 50)?,
            address: self.address.validate("address")?,
            documents,
        })
    }
}

/// Submits a company for KYB; answers its `dcCorporationId`, status SUBMITTED.
#[utoipa::path(
    post, path = "/lifecycle/v1/corporations", tag = "lifecycle",
    security(("clientCertificate" = [])),
    request_body = CreateCorporationRequest,
    responses(
        (status = 201, description = "Submitted", body = CorporationResponse),
        (status = 400, description = "VALIDATION_FAILED", body = ErrorBody),
    )
)]
async fn create_corporation(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiJson(request): ApiJson<CreateCorporationRequest>,
) -> Result<(StatusCode, axum::Json<CorporationResponse>), ApiError> {
    let new = request.validate()?;
    let view = corporations::submit(&api.state, &partner.0, new).await?;
    Ok((StatusCode::CREATED, axum::Json(CorporationResponse::from(&view))))
}

/// One of the calling partner's corporations, with its KYB history.
#[utoipa::path(
    get, path = "/lifecycle/v1/corporations/{dcCorporationId}", tag = "lifecycle",
    security(("clientCertificate" = [])),
    params(("dcCorporationId" = i64, Path, description = "The corporation's id")),
    responses(
        (status = 200, description = "The corporation", body = CorporationResponse),
        (status = 404, description = "CORPORATION_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_corporation(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(corporation_id): ApiPath<i64>,
) -> Result<axum::Json<CorporationResponse>, ApiError> {
    let view = corporations::view(&api.state, partner.scope(), corporation_id)?;
    Ok(axum::Json(dto::CorporationResponse::from(&view)))
}
