//! Corporations and KYB. A partner submits a company's details and documents
//! and receives its id (the seed's `dcCorporationId`), status submitted; the
//! compliance team approves it, rejects it or puts it on hold, with a reason.
//! Every status change, the submission included, is recorded with who and when.
//!
//! Allowed transitions: submitted or on hold → approved, rejected or on hold
//! (on hold → on hold is no change); approved → on hold (a concern found
//! later); rejected is final: the partner submits the company again.

use crate::state::{
    Change, Corporation, CorporationDetails, CorporationDocument, CorporationId, IdKind, JournalError, KybStatus,
    KybTransition, PostalAddress, Scope, State, Submission,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorporationError {
    #[error("corporation not found")]
    NotFound,
    #[error("a corporation cannot go from {from:?} to {to:?}")]
    TransitionNotAllowed { from: KybStatus, to: KybStatus },
    #[error("a reason is required to reject a corporation or put it on hold")]
    ReasonRequired,
    #[error("another decision on this corporation is in flight; try again")]
    Busy,
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A company as a partner submits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCorporation {
    pub name: String,
    pub registration_number: String,
    pub tax_id: Option<String>,
    pub address: PostalAddress,
    pub documents: Vec<CorporationDocument>,
}

/// A corporation with its details and its KYB history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorporationView {
    pub corporation: Corporation,
    pub details: Option<CorporationDetails>,
    pub transitions: Vec<KybTransition>,
}

/// Records a company of `partner`, status submitted.
pub async fn submit(state: &State, partner: &str, new: NewCorporation) -> Result<CorporationView, CorporationError> {
    let now = state.now_ms();
    let corporation = Corporation {
        id: state.next_id(IdKind::Corporation),
        partner_id: partner.to_owned(),
        name: new.name,
        kyb_status: KybStatus::Submitted,
        created_at: now,
    };
    let details = CorporationDetails {
        corporation_id: corporation.id,
        registration_number: new.registration_number,
        tax_id: new.tax_id,
        address: new.address,
        documents: new.documents,
    };
    let transition = KybTransition {
        id: uuid::Uuid::now_v7().to_string(),
        corporation_id: corporation.id,
        from: None,
        to: KybStatus::Submitted,
        actor: format!("partner:{partner}"),
        reason: None,
        at: now,
    };
    let mut submission = Submission::default();
    submission
        .push(Change::InsertCorporation(corporation.clone()))
        .push(Change::InsertCorporationDetails(details.clone()))
        .push(Change::InsertKybTransition(transition.clone()));
    state.submit(submission).await?;
    Ok(CorporationView {
        corporation,
        details: Some(details),
        transitions: vec![transition],
    })
}

/// A corporation the caller may see.
pub fn get(state: &State, scope: Scope<'_>, id: CorporationId) -> Result<Corporation, CorporationError> {
    state
        .corporation(id)
        .filter(|corporation| scope.allows(&corporation.partner_id))
        .ok_or(CorporationError::NotFound)
}

/// A corporation the caller may see, with details and history.
pub fn view(state: &State, scope: Scope<'_>, id: CorporationId) -> Result<CorporationView, CorporationError> {
    let corporation = get(state, scope, id)?;
    Ok(CorporationView {
        details: state.corporation_details(id),
        transitions: state.kyb_transitions(id),
        corporation,
    })
}

/// The corporations the caller may see, optionally in one status, in id order.
pub fn list(state: &State, scope: Scope<'_>, status: Option<KybStatus>) -> Vec<Corporation> {
    state
        .corporations()
        .into_iter()
        .filter(|corporation| scope.allows(&corporation.partner_id))
        .filter(|corporation| status.is_none_or(|status| corporation.kyb_status == status))
        .collect()
}

/// Whether KYB may go from `from` to `to`.
pub fn transition_allowed(from: KybStatus, to: KybStatus) -> bool {
    use KybStatus::*;
    matches!(
        (from, to),
        (Submitted | OnHold, Approved | Rejected) | (Submitted | Approved, OnHold)
    )
}

/// A compliance decision: the new status, recorded with `actor`, now and the reason.
pub async fn decide(
    state: &State,
    scope: Scope<'_>,
    id: CorporationId,
    to: KybStatus,
    actor: String,
    reason: Option<String>,
) -> Result<CorporationView, CorporationError> {
    get(state, scope, id)?;
    if matches!(to, KybStatus::Rejected | KybStatus::OnHold)
        && reason.as_deref().is_none_or(|text| text.trim().is_empty())
    {
        return Err(CorporationError::ReasonRequired);
    }
    let _reservation = state.reserve(format!("kyb:{id}")).ok_or(CorporationError::Busy)?;
    let corporation = get(state, scope, id)?;
    let from = corporation.kyb_status;
    if !transition_allowed(from, to) {
        return Err(CorporationError::TransitionNotAllowed { from, to });
    }
    let transition = KybTransition {
        id: uuid::Uuid::now_v7().to_string(),
        corporation_id: id,
        from: Some(from),
        to,
        actor,
        reason,
        at: state.now_ms(),
    };
    let mut submission = Submission::default();
    submission
        .push(Change::UpdateCorporationKyb {
            corporation_id: id,
            kyb_status: to,
        })
        .push(Change::InsertKybTransition(transition));
    state.submit(submission).await?;
    view(state, scope, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_is_final_and_approved_can_only_be_held() {
        use KybStatus::*;
        for to in [Submitted, Approved, Rejected, OnHold] {
            assert!(!transition_allowed(Rejected, to));
            assert!(!transition_allowed(to, Submitted));
        }
        assert!(transition_allowed(Submitted, Approved));
        assert!(transition_allowed(OnHold, Rejected));
        assert!(transition_allowed(Approved, OnHold));
        assert!(!transition_allowed(Approved, Rejected));
        assert!(!transition_allowed(OnHold, OnHold));
    }
}
