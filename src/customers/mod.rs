//! Customers (the seed's users): registration by a partner, reading, and the
//! KYC flag a partner sets when it did KYC itself. The platform's own KYC
//! (submission, verifier, review) is in [`kyc`].
//!
//! Every operation takes the caller's [`Scope`]: a customer of another
//! partner is `NotFound`, exactly like one that does not exist.

pub mod kyc;

use crate::state::{
    Change, Customer, CustomerId, CustomerProfile, IdKind, JournalError, KycSource, KycStatus, KycSubmission,
    KycSubmissionStatus, Scope, State, Submission,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerError {
    #[error("user not found")]
    NotFound,
    #[error("the partner already registered a user with this external id")]
    ExternalRefTaken,
    #[error("another change of this user is in flight; try again")]
    Busy,
    #[error("the user is already KYC-verified")]
    KycAlreadyVerified,
    #[error("a KYC submission of this user is waiting for review")]
    KycInReview,
    #[error("KYC submission not found")]
    SubmissionNotFound,
    #[error("the KYC submission was already decided")]
    SubmissionDecided,
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A user as a partner registers it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCustomer {
    /// The partner's own id of the user, unique per partner.
    pub external_ref: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// A customer with its contact details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerView {
    pub customer: Customer,
    pub profile: Option<CustomerProfile>,
}

/// Registers a user of `partner`; KYC not started.
pub async fn register(state: &State, partner: &str, new: NewCustomer) -> Result<CustomerView, CustomerError> {
    // Unique per partner: claimed in memory so a duplicate never reaches the database.
    let _reservation = match &new.external_ref {
        Some(external_ref) => Some(
            state
                .reserve(format!("customer-ref:{partner}:{external_ref}"))
                .ok_or(CustomerError::ExternalRefTaken)?,
        ),
        None => None,
    };
    if let Some(external_ref) = &new.external_ref
        && state.customer_by_external_ref(partner, external_ref).is_some()
    {
        return Err(CustomerError::ExternalRefTaken);
    }
    let now = state.now_ms();
    let customer = Customer {
        id: state.next_id(IdKind::Customer),
        partner_id: partner.to_owned(),
        external_ref: new.external_ref,
        kyc_status: KycStatus::NotStarted,
        created_at: now,
    };
    let profile = CustomerProfile {
        customer_id: customer.id,
        email: new.email,
        phone: new.phone,
        first_name: new.first_name,
        last_name: new.last_name,
        updated_at: now,
    };
    let mut submission = Submission::default();
    submission
        .push(Change::InsertCustomer(customer.clone()))
        .push(Change::UpsertCustomerProfile(profile.clone()));
    state.submit(submission).await?;
    Ok(CustomerView {
        customer,
        profile: Some(profile),
    })
}

/// A customer the caller may see.
pub fn get(state: &State, scope: Scope<'_>, id: CustomerId) -> Result<Customer, CustomerError> {
    state
        .customer(id)
        .filter(|customer| scope.allows(&customer.partner_id))
        .ok_or(CustomerError::NotFound)
}

/// A customer the caller may see, with its contact details.
pub fn view(state: &State, scope: Scope<'_>, id: CustomerId) -> Result<CustomerView, CustomerError> {
    let customer = get(state, scope, id)?;
    Ok(CustomerView {
        profile: state.customer_profile(id),
        customer,
    })
}

/// The partner did KYC itself: records its decision (who and when, as a
/// submission without data) and sets the user's KYC status.
pub async fn set_kyc_by_partner(
    state: &State,
    partner: &str,
    id: CustomerId,
    verified: bool,
) -> Result<Customer, CustomerError> {
    get(state, Scope::Partner(partner), id)?;
    let _reservation = kyc::reserve(state, id)?;
    let customer = get(state, Scope::Partner(partner), id)?;
    if state
        .kyc_submissions_of(id)
        .iter()
        .any(|submission| submission.status == KycSubmissionStatus::InReview)
    {
        return Err(CustomerError::KycInReview);
    }
    let now = state.now_ms();
    let (status, kyc_status) = if verified {
        (KycSubmissionStatus::Verified, KycStatus::Verified)
    } else {
        (KycSubmissionStatus::Rejected, KycStatus::Rejected)
    };
    let record = KycSubmission {
        id: uuid::Uuid::now_v7().to_string(),
        customer_id: id,
        source: KycSource::Partner,
        data: None,
        status,
        findings: Vec::new(),
        decided_by: Some(format!("partner:{partner}")),
        reason: None,
        created_at: now,
        decided_at: Some(now),
    };
    let mut submission = Submission::default();
    submission
        .push(Change::UpsertKycSubmission(record))
        .push(Change::UpdateCustomerKyc {
            customer_id: id,
            kyc_status,
        });
    state.submit(submission).await?;
    Ok(Customer { kyc_status, ..customer })
}
