//! Corporations and their KYB: details, documents, and every status transition with who and when.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KybStatus {
    Submitted,
    Approved,
    Rejected,
    OnHold,
}

/// A corporation; its id is the `dcCorporationId` returned to partners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corporation {
    pub id: CorporationId,
    pub partner_id: String,
    pub name: String,
    pub kyb_status: KybStatus,
    pub created_at: TimestampMs,
}

/// Kinds of documents a corporation submits for KYB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorporationDocumentType {
    RegistryExtract,
    ArticlesOfAssociation,
    ProofOfAddress,
    BeneficialOwners,
    Other,
}

/// A document the partner keeps and the compliance team reviews: where it is
/// and its SHA-256, so what was reviewed is what was submitted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CorporationDocument {
    pub document_type: CorporationDocumentType,
    pub url: String,
    /// Lowercase hex.
    pub sha256: String,
}

/// A corporation's details submitted for KYB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorporationDetails {
    pub corporation_id: CorporationId,
    pub registration_number: String,
    pub tax_id: Option<String>,
    pub address: PostalAddress,
    pub documents: Vec<CorporationDocument>,
}

/// One change of a corporation's KYB status: from what, to what, by whom,
/// when and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KybTransition {
    pub id: String,
    pub corporation_id: CorporationId,
    /// `None` for the submission itself.
    pub from: Option<KybStatus>,
    pub to: KybStatus,
    /// `partner:<id>` or `admin:<username>`.
    pub actor: String,
    pub reason: Option<String>,
    pub at: TimestampMs,
}
