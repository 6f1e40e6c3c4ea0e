//! Corporations and KYB: the partner's server registers and reads them (`/lifecycle/v1/corporations`),
//! the administration panel lists them and decides KYB (approve, reject, hold; each transition
//! recorded with who and when). Another partner's corporation answers `CORPORATION_NOT_FOUND`, as an
//! unknown one does.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::admins;
use crate::corporations::{self, NewCorporation};
use crate::http::Api;
use crate::http::auth::permission::{ReadCorporations, ReviewKyb};
use crate::http::auth::{Authorized, PartnerIdentity};
use crate::http::dto::{AddressDto, DecisionRequest, optional_text, text, time};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};
use crate::state::{CorporationDocument, CorporationDocumentType, KybStatus, KybTransition, Scope};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(create_corporation))
        .routes(routes!(get_corporation))
        .routes(routes!(list_corporations))
        .routes(routes!(admin_get_corporation))
        .routes(routes!(approve_corporation))
        .routes(routes!(reject_corporation))
        .routes(routes!(hold_corporation))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KybStatusDto {
    Submitted,
    Approved,
    Rejected,
    OnHold,
}

impl From<KybStatus> for KybStatusDto {
    fn from(status: KybStatus) -> Self {
        match status {
            KybStatus::Submitted => KybStatusDto::Submitted,
            KybStatus::Approved => KybStatusDto::Approved,
            KybStatus::Rejected => KybStatusDto::Rejected,
            KybStatus::OnHold => KybStatusDto::OnHold,
        }
    }
}

impl From<KybStatusDto> for KybStatus {
    fn from(status: KybStatusDto) -> Self {
        match status {
            KybStatusDto::Submitted => KybStatus::Submitted,
            KybStatusDto::Approved => KybStatus::Approved,
            KybStatusDto::Rejected => KybStatus::Rejected,
            KybStatusDto::OnHold => KybStatus::OnHold,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CorporationDocumentTypeDto {
    RegistryExtract,
    ArticlesOfAssociation,
    ProofOfAddress,
    BeneficialOwners,
    Other,
}

/// A document the partner keeps: where it is and its SHA-256.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorporationDocumentDto {
    #[serde(rename = "type")]
    pub document_type: CorporationDocumentTypeDto,
    /// An https URL where the compliance team can fetch it.
    #[schema(example = "https://docs.partner.example/krs-0000012345.pdf")]
    pub url: String,
    /// Lowercase hex SHA-256 of the document.
    #[schema(example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    pub sha256: String,
}

impl CorporationDocumentDto {
    pub fn validate(&self, field: &str) -> Result<CorporationDocument, ApiError> {
        let url = text(&format!("{field}.url"), &self.url, 2000)?;
        if !url.starts_with("https://") || url.contains(char::is_whitespace) {
            return Err(ApiError::validation(format!("{field}.url"), "must be an https URL"));
        }
        let sha256 = self.sha256.to_ascii_lowercase();
        if sha256.len() != 64 || !sha256.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(ApiError::validation(
                format!("{field}.sha256"),
                "must be 64 hexadecimal digits",
            ));
        }
        Ok(CorporationDocument {
            document_type: match self.document_type {
                CorporationDocumentTypeDto::RegistryExtract => CorporationDocumentType::RegistryExtract,
                CorporationDocumentTypeDto::ArticlesOfAssociation => CorporationDocumentType::ArticlesOfAssociation,
                CorporationDocumentTypeDto::ProofOfAddress => CorporationDocumentType::ProofOfAddress,
                CorporationDocumentTypeDto::BeneficialOwners => CorporationDocumentType::BeneficialOwners,
                CorporationDocumentTypeDto::Other => CorporationDocumentType::Other,
            },
            url,
            sha256,
        })
    }
}

impl From<&CorporationDocument> for CorporationDocumentDto {
    fn from(document: &CorporationDocument) -> Self {
        CorporationDocumentDto {
            document_type: match document.document_type {
                CorporationDocumentType::RegistryExtract => CorporationDocumentTypeDto::RegistryExtract,
                CorporationDocumentType::ArticlesOfAssociation => CorporationDocumentTypeDto::ArticlesOfAssociation,
                CorporationDocumentType::ProofOfAddress => CorporationDocumentTypeDto::ProofOfAddress,
                CorporationDocumentType::BeneficialOwners => CorporationDocumentTypeDto::BeneficialOwners,
                CorporationDocumentType::Other => CorporationDocumentTypeDto::Other,
            },
            url: document.url.clone(),
            sha256: document.sha256.clone(),
        }
    }
}

/// One KYB status change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KybTransitionResponse {
    /// Absent for the submission itself.
    pub from: Option<KybStatusDto>,
    pub to: KybStatusDto,
    /// `partner:<id>` or `admin:<username>`.
    pub actor: String,
    pub reason: Option<String>,
    pub at: String,
}

impl From<&KybTransition> for KybTransitionResponse {
    fn from(transition: &KybTransition) -> Self {
        KybTransitionResponse {
            from: transition.from.map(Into::into),
            to: transition.to.into(),
            actor: transition.actor.clone(),
            reason: transition.reason.clone(),
            at: time(transition.at),
        }
    }
}

/// A corporation with its details and KYB history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CorporationResponse {
    /// The id to use for corporate balances and cards.
    pub dc_corporation_id: i64,
    pub name: String,
    pub registration_number: Option<String>,
    pub tax_id: Option<String>,
    pub address: Option<AddressDto>,
    pub documents: Vec<CorporationDocumentDto>,
    pub status: KybStatusDto,
    pub created_at: String,
    /// Every status change, oldest first.
    pub history: Vec<KybTransitionResponse>,
}

impl From<&crate::corporations::CorporationView> for CorporationResponse {
    fn from(view: &crate::corporations::CorporationView) -> Self {
        let details = view.details.as_ref();
        CorporationResponse {
            dc_corporation_id: view.corporation.id,
            name: view.corporation.name.clone(),
            registration_number: details.map(|details| details.registration_number.clone()),
            tax_id: details.and_then(|details| details.tax_id.clone()),
            address: details.map(|details| AddressDto::from(&details.address)),
            documents: details
                .map(|details| details.documents.iter().map(CorporationDocumentDto::from).collect())
                .unwrap_or_default(),
            status: view.corporation.kyb_status.into(),
            created_at: time(view.corporation.created_at),
            history: view.transitions.iter().map(KybTransitionResponse::from).collect(),
        }
    }
}

/// A corporation of the caller's partner, approved by KYB.
pub(crate) fn approved_corporation(
    api: &Api,
    scope: Scope<'_>,
    corporation_id: i64,
) -> Result<crate::state::Corporation, ApiError> {
    let corporation = crate::corporations::get(&api.state, scope, corporation_id)?;
    if corporation.kyb_status != crate::state::KybStatus::Approved {
        return Err(ApiError::conflict(
            "KYB_NOT_APPROVED",
            "the corporation must be approved (KYB) first",
        ));
    }
    Ok(corporation)
}

// ---------------------------------------------------------------- the partner (/lifecycle/v1)

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
    Ok(axum::Json(CorporationResponse::from(&view)))
}

// ---------------------------------------------------------------- the administration panel (/admin)

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
    get, path = "/admin/corporations/{dcCorporationId}", tag = "admin", operation_id = "get_corporation",
    security(("session" = [])),
    params(("dcCorporationId" = i64, Path, description = "The corporation's id")),
    responses(
        (status = 200, description = "The corporation", body = CorporationResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "CORPORATION_NOT_FOUND", body = ErrorBody),
    )
)]
async fn admin_get_corporation(
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
