//! Request and response bodies shared by several route groups, and the
//! validation that turns request bodies into domain values. JSON names are
//! camelCase; enumerations are UPPER_SNAKE_CASE; times are RFC 3339 (UTC).
//! A validation error names the field by its JSON path.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use crate::customers::CustomerView;
use crate::state::{
    AdminRole, AdminUser, CorporationDocument, CorporationDocumentType, DocumentType, KybStatus, KybTransition,
    KycData, KycSource, KycStatus, KycSubmission, KycSubmissionStatus, PostalAddress, TimestampMs,
};

/// RFC 3339 with milliseconds, UTC.
pub fn time(ms: TimestampMs) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A required text field: trimmed, non-empty, at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::validation(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ApiError::validation(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::validation(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    value.map(|value| text(field, value, max)).transpose()
}

/// ISO 3166-1 alpha-2 (two uppercase letters).
pub fn country(field: &str, value: &str) -> Result<String, ApiError> {
    if value.len() == 2 && value.bytes().all(|byte| byte.is_ascii_uppercase()) {
        Ok(value.to_owned())
    } else {
        Err(ApiError::validation(
            field,
            "must be an ISO 3166-1 alpha-2 country code (e.g. PL)",
        ))
    }
}

/// A calendar date, YYYY-MM-DD.
pub fn date(field: &str, value: &str) -> Result<String, ApiError> {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|date| date.format("%Y-%m-%d").to_string())
        .map_err(|_| ApiError::validation(field, "must be a date YYYY-MM-DD"))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressDto {
    #[schema(example = "ul. Prosta 1")]
    pub line1: String,
    pub line2: Option<String>,
    #[schema(example = "Warszawa")]
    pub city: String,
    #[schema(example = "00-001")]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "PL")]
    pub country: String,
}

impl AddressDto {
    pub fn validate(&self, field: &str) -> Result<PostalAddress, ApiError> {
        let name = |part: &str| format!("{field}.{part}");
        Ok(PostalAddress {
            line1: text(&name("line1"), &self.line1, 200)?,
            line2: optional_text(&name("line2"), self.line2.as_deref(), 200)?,
            city: text(&name("city"), &self.city, 100)?,
            postal_code: text(&name("postalCode"), &self.postal_code, 20)?,
            country: country(&name("country"), &self.country)?,
        })
    }
}

impl From<&PostalAddress> for AddressDto {
    fn from(address: &PostalAddress) -> Self {
        AddressDto {
            line1: address.line1.clone(),
            line2: address.line2.clone(),
            city: address.city.clone(),
            postal_code: address.postal_code.clone(),
            country: address.country.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KycStatusDto {
    NotStarted,
    Pending,
    Verified,
    Rejected,
}

impl From<KycStatus> for KycStatusDto {
    fn from(status: KycStatus) -> Self {
        match status {
            KycStatus::NotStarted => KycStatusDto::NotStarted,
            KycStatus::Pending => KycStatusDto::Pending,
            KycStatus::Verified => KycStatusDto::Verified,
            KycStatus::Rejected => KycStatusDto::Rejected,
        }
    }
}

/// A user as the partner and the user see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserResponse {
    pub user_id: i64,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub kyc_status: KycStatusDto,
    pub created_at: String,
}

impl From<&CustomerView> for UserResponse {
    fn from(view: &CustomerView) -> Self {
        let profile = view.profile.as_ref();
        UserResponse {
            user_id: view.customer.id,
            external_id: view.customer.external_ref.clone(),
            email: profile.and_then(|profile| profile.email.clone()),
            phone: profile.and_then(|profile| profile.phone.clone()),
            first_name: profile.and_then(|profile| profile.first_name.clone()),
            last_name: profile.and_then(|profile| profile.last_name.clone()),
            kyc_status: view.customer.kyc_status.into(),
            created_at: time(view.customer.created_at),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DocumentTypeDto {
    Passport,
    IdCard,
    DrivingLicense,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityDocumentDto {
    #[serde(rename = "type")]
    pub document_type: DocumentTypeDto,
    #[schema(example = "ABA300000")]
    pub number: String,
    /// Issuing country, ISO 3166-1 alpha-2.
    #[schema(example = "PL")]
    pub country: String,
    #[schema(example = "2030-01-31")]
    pub expiry_date: String,
}

/// A person's data for KYC (`/customers/me/register`, `/secure/customers/{customerId}/register`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KycRequest {
    #[schema(example = "Anna")]
    pub first_name: String,
    #[schema(example = "Nowak")]
    pub last_name: String,
    #[schema(example = "1990-05-17")]
    pub birth_date: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "PL")]
    pub nationality: String,
    pub document: IdentityDocumentDto,
    pub address: AddressDto,
}

impl KycRequest {
    pub fn validate(&self) -> Result<KycData, ApiError> {
        let document_number = text("document.number", &self.document.number, 32)?;
        Ok(KycData {
            first_name: text("firstName", &self.first_name, 100)?,
            last_name: text("lastName", &self.last_name, 100)?,
            birth_date: date("birthDate", &self.birth_date)?,
            nationality: country("nationality", &self.nationality)?,
            document_type: match self.document.document_type {
                DocumentTypeDto::Passport => DocumentType::Passport,
                DocumentTypeDto::IdCard => DocumentType::IdCard,
                DocumentTypeDto::DrivingLicense => DocumentType::DrivingLicense,
            },
            document_number,
            document_country: country("document.country", &self.document.country)?,
            document_expiry: date("document.expiryDate", &self.document.expiry_date)?,
            address: self.address.validate("address")?,
        })
    }
}

impl From<&KycData> for KycRequest {
    fn from(data: &KycData) -> Self {
        KycRequest {
            first_name: data.first_name.clone(),
            last_name: data.last_name.clone(),
            birth_date: data.birth_date.clone(),
            nationality: data.nationality.clone(),
            document: IdentityDocumentDto {
                document_type: match data.document_type {
                    DocumentType::Passport => DocumentTypeDto::Passport,
                    DocumentType::IdCard => DocumentTypeDto::IdCard,
                    DocumentType::DrivingLicense => DocumentTypeDto::DrivingLicense,
                },
                number: data.document_number.clone(),
                country: data.document_country.clone(),
                expiry_date: data.document_expiry.clone(),
            },
            address: AddressDto::from(&data.address),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KycSubmissionStatusDto {
    InReview,
    Verified,
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KycSourceDto {
    Mobile,
    Server,
    Partner,
}

/// A KYC submission and its decision. `person` (the submitted data) is shown
/// to administrators only.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KycSubmissionResponse {
    pub submission_id: String,
    pub user_id: i64,
    pub source: KycSourceDto,
    pub status: KycSubmissionStatusDto,
    /// What the verifier found wrong or doubtful (e.g. `UNDERAGE`, `DOCUMENT_NUMBER_CHECKSUM`).
    pub findings: Vec<String>,
    /// `verifier:<name>`, `admin:<username>` or `partner:<id>`; absent while in review.
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub submitted_at: String,
    pub decided_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<KycRequest>,
}

impl KycSubmissionResponse {
    /// Without the person's data.
    pub fn summary(submission: &KycSubmission) -> Self {
        KycSubmissionResponse {
            submission_id: submission.id.clone(),
            user_id: submission.customer_id,
            source: match submission.source {
                KycSource::Mobile => KycSourceDto::Mobile,
                KycSource::Server => KycSourceDto::Server,
                KycSource::Partner => KycSourceDto::Partner,
            },
            status: match submission.status {
                KycSubmissionStatus::InReview => KycSubmissionStatusDto::InReview,
                KycSubmissionStatus::Verified => KycSubmissionStatusDto::Verified,
                KycSubmissionStatus::Rejected => KycSubmissionStatusDto::Rejected,
            },
            findings: submission.findings.clone(),
            decided_by: submission.decided_by.clone(),
            reason: submission.reason.clone(),
            submitted_at: time(submission.created_at),
            decided_at: submission.decided_at.map(time),
            person: None,
        }
    }

    /// With the person's data, for reviewers.
    pub fn full(submission: &KycSubmission) -> Self {
        KycSubmissionResponse {
            person: submission.data.as_ref().map(KycRequest::from),
            ..Self::summary(submission)
        }
    }
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

/// An optional reason of a decision (required to reject or hold a corporation).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionRequest {
    pub reason: Option<String>,
}

impl DecisionRequest {
    pub fn reason(&self) -> Result<Option<String>, ApiError> {
        optional_text("reason", self.reason.as_deref(), 1000)
    }
}
