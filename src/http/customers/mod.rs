//! Users (customers) and their KYC, on every channel: the bodies shared by the routes below and the
//! tenant check that finds a user (`user`).
//! - [`users`]: registration and reads (`/lifecycle/v1/users`, `GET /customers/me`,
//!   `GET /admin/customers/{customerId}`);
//! - [`kyc`]: the partner's KYC flag, KYC data submitted by the partner or the app, the admin
//!   panel's review queue and decisions.

pub mod kyc;
pub mod users;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::customers::CustomerView;
use crate::http::Api;
use crate::http::dto::{AddressDto, country, date, text, time};
use crate::http::error::ApiError;
use crate::state::{
    CustomerId, DocumentType, KycData, KycSource, KycStatus, KycSubmission, KycSubmissionStatus, Scope,
};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new().merge(users::routes()).merge(kyc::routes())
}

/// The user, if the caller may see it.
pub(crate) fn user(api: &Api, scope: Scope<'_>, customer_id: CustomerId) -> Result<crate::state::Customer, ApiError> {
    Ok(crate::customers::get(&api.state, scope, customer_id)?)
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
