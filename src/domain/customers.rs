//! Customers (users) and what was decided about them: KYC data, submissions and their status.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KycStatus {
    NotStarted,
    Pending,
    Verified,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: CustomerId,
    pub partner_id: String,
    /// The partner's own reference for the user (unique per partner), if given.
    pub external_ref: Option<String>,
    pub kyc_status: KycStatus,
    pub created_at: TimestampMs,
}

/// A postal address (people's KYC data, companies' seats).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PostalAddress {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// Contact details a partner gives when it registers a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerProfile {
    pub customer_id: CustomerId,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub updated_at: TimestampMs,
}

/// Identity document types the built-in KYC verifier knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    Passport,
    IdCard,
    DrivingLicense,
}

/// The person's data submitted for KYC.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KycData {
    pub first_name: String,
    pub last_name: String,
    /// YYYY-MM-DD.
    pub birth_date: String,
    /// ISO 3166-1 alpha-2.
    pub nationality: String,
    pub document_type: DocumentType,
    pub document_number: String,
    /// ISO 3166-1 alpha-2 of the issuing country.
    pub document_country: String,
    /// YYYY-MM-DD.
    pub document_expiry: String,
    pub address: PostalAddress,
}

/// Where a KYC submission came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KycSource {
    /// `/customers/me/register`.
    Mobile,
    /// `/secure/customers/{id}/register`.
    Server,
    /// The partner did KYC itself and set the flag (no data here).
    Partner,
}

/// Where a KYC submission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KycSubmissionStatus {
    /// Waiting for an administrator's decision.
    InReview,
    Verified,
    Rejected,
}

/// One KYC submission and its decision: by the verifier, an administrator
/// (after review) or the partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KycSubmission {
    pub id: String,
    pub customer_id: CustomerId,
    pub source: KycSource,
    pub data: Option<KycData>,
    pub status: KycSubmissionStatus,
    /// What the verifier found doubtful or wrong (stable codes).
    pub findings: Vec<String>,
    /// Who decided: `verifier`, `admin:<username>` or `partner:<id>`; `None` while in review.
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub created_at: TimestampMs,
    pub decided_at: Option<TimestampMs>,
}
