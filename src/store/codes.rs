//! How the domain's enumerations are spelled in both databases: one table per enumeration, read in both
//! directions, so a spelling cannot differ between writing and reading. The migrations' CHECK
//! constraints list the same spellings.

use super::StoreError;
use crate::domain::CardRequestStatus;
use crate::domain::{
    AdminRole, BalanceKind, BalanceState, CardKind, CardStatus, FundingModel, HoldStatus, KybStatus, KycSource,
    KycStatus, KycSubmissionStatus, LockReason, Owner, SessionSubject, TransferKind,
};

impl Code for CardRequestStatus {
    const SPELLINGS: &'static [(Self, &'static str)] = &[
        (CardRequestStatus::Pending, "pending"),
        (CardRequestStatus::Done, "done"),
        (CardRequestStatus::Failed, "failed"),
    ];
}

/// An enumeration stored as TEXT.
pub(crate) trait Code: Sized + Copy + PartialEq + 'static {
    /// Every value with its spelling.
    const SPELLINGS: &'static [(Self, &'static str)];

    fn text(self) -> &'static str {
        Self::SPELLINGS
            .iter()
            .find(|(value, _)| *value == self)
            .map(|(_, text)| *text)
            .expect("every value of a stored enumeration has a spelling")
    }

    fn from_text(text: &str) -> Option<Self> {
        Self::SPELLINGS
            .iter()
            .find(|(_, spelling)| *spelling == text)
            .map(|(value, _)| *value)
    }
}

impl Code for FundingModel {
    const SPELLINGS: &'static [(Self, &'static str)] = &[
        (FundingModel::PartnerCredit, "partner_credit"),
        (FundingModel::PartnerDeposit, "partner_deposit"),
    ];
}

impl Code for KycStatus {
    const SPELLINGS: &'static [(Self, &'static str)] = &[
        (KycStatus::NotStarted, "not_started"),
        (KycStatus::Pending, "pending"),
        (KycStatus::Verified, "verified"),
        (KycStatus::Rejected, "rejected"),
    ];
}

impl Code for KybStatus {
    const SPELLINGS: &'static [(Self, &'static str)] = &[
        (KybStatus::Submitted, "submitted"),
        (KybStatus::Approved, "approved"),
        (KybStatus::Rejected, "rejected"),
        (KybStatus::OnHold, "on_hold"),
    ];
}

impl Code for BalanceKind {
    const SPELLINGS: &'static [(Self, &'static str)] = &[
        (BalanceKind::User, "user"),
        (BalanceKind::Corporate, "corporate"),
        (BalanceKind::PartnerCredit, "partner_credit"),
        (BalanceKind::PartnerDeposit, "partner_deposit"),
        (BalanceKind::System, "system"),
    ];
}

impl Code for BalanceState {
    const SPELLINGS: &'static [(Self, &'static str)] = &[
        (BalanceState::Active, "active"),
        (BalanceState::Blocked, "blocked"),
        (BalanceState::Closed, "closed"),
    ];
}

impl Code for CardKind {
    const SPELLINGS: &'static [(Self, &'static str)] =
        &[(CardKind::Virtual, "virtual"), (CardKind::Physical, "physical")];
}

impl Code for HoldStatus {
    const SPELLINGS: &'static [(Self, &'static str)] = &[
        (HoldStatus::Open, "open"),
        (HoldStatus::Completed, "completed"),
        (HoldStatus::Reversed, "reversed"),
        (HoldStatus::Expired, "expired"),
    ];
}

impl Code for TransferKind {
    const SPELLINGS: &'static [(Self, &'static str)] = &[
        (TransferKind::ExternalLoad, "external_load"),
        (TransferKind::Reload, "reload"),
        (TransferKind::CardDebit, "card_debit"),
        (TransferKind::CardCredit, "card_credit"),
        (TransferKind::ReversalCredit, "reversal_credit"),
    ];
}

impl Code for AdminRole {
    const SPELLINGS: &'static [(Self, &'static str)] = &[
        (AdminRole::Admin, "admin"),
        (AdminRole::Manager, "manager"),
        (AdminRole::Employee, "employee"),
        (AdminRole::Operator, "operator"),
    ];
}

impl Code for KycSource {
    const SPELLINGS: &'static [(Self, &'static str)] = &[
        (KycSource::Mobile, "mobile"),
        (KycSource::Server, "server"),
        (KycSource::Partner, "partner"),
    ];
}

impl Code for KycSubmissionStatus {
    const SPELLINGS: &'static [(Self, &'static str)] = &[
        (KycSubmissionStatus::InReview, "in_review"),
        (KycSubmissionStatus::Verified, "verified"),
        (KycSubmissionStatus::Rejected, "rejected"),
    ];
}

/// A card status is two columns: `status`, and `lock_reason` (the contract's code) when locked.
pub(crate) fn card_status_columns(status: CardStatus) -> (&'static str, Option<i16>) {
    match status {
        CardStatus::Ordered => ("ordered", None),
        CardStatus::Linked => ("linked", None),
        CardStatus::Active => ("active", None),
        CardStatus::Locked(reason) => ("locked", Some(i16::from(reason.code()))),
        CardStatus::Removed => ("removed", None),
    }
}

pub(crate) fn card_status_from_columns(status: &str, lock_reason: Option<i64>) -> Option<CardStatus> {
    Some(match (status, lock_reason) {
        ("ordered", None) => CardStatus::Ordered,
        ("linked", None) => CardStatus::Linked,
        ("active", None) => CardStatus::Active,
        ("locked", Some(code)) => CardStatus::Locked(LockReason::from_code(u8::try_from(code).ok()?)?),
        ("removed", None) => CardStatus::Removed,
        _ => return None,
    })
}

/// An owner is `owner_kind` plus the one owner column it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwnerColumns<'a> {
    pub kind: &'a str,
    pub customer_id: Option<i64>,
    pub corporation_id: Option<i64>,
    pub partner_id: Option<&'a str>,
    pub system: Option<&'a str>,
}

pub(crate) fn owner_columns(owner: &Owner) -> OwnerColumns<'_> {
    let none = OwnerColumns {
        kind: "",
        customer_id: None,
        corporation_id: None,
        partner_id: None,
        system: None,
    };
    match owner {
        Owner::Customer(id) => OwnerColumns {
            kind: "customer",
            customer_id: Some(*id),
            ..none
        },
        Owner::Corporation(id) => OwnerColumns {
            kind: "corporation",
            corporation_id: Some(*id),
            ..none
        },
        Owner::Partner(id) => OwnerColumns {
            kind: "partner",
            partner_id: Some(id),
            ..none
        },
        Owner::System(purpose) => OwnerColumns {
            kind: "system",
            system: Some(purpose),
            ..none
        },
    }
}

pub(crate) fn owner_from_columns(columns: OwnerColumns<'_>) -> Option<Owner> {
    Some(match columns {
        OwnerColumns {
            kind: "customer",
            customer_id: Some(id),
            corporation_id: None,
            partner_id: None,
            system: None,
        } => Owner::Customer(id),
        OwnerColumns {
            kind: "corporation",
            customer_id: None,
            corporation_id: Some(id),
            partner_id: None,
            system: None,
        } => Owner::Corporation(id),
        OwnerColumns {
            kind: "partner",
            customer_id: None,
            corporation_id: None,
            partner_id: Some(id),
            system: None,
        } => Owner::Partner(id.to_owned()),
        OwnerColumns {
            kind: "system",
            customer_id: None,
            corporation_id: None,
            partner_id: None,
            system: Some(purpose),
        } => Owner::System(purpose.to_owned()),
        _ => return None,
    })
}

/// A session's subject is `subject_kind` plus the columns it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubjectColumns<'a> {
    pub kind: &'a str,
    pub customer_id: Option<i64>,
    pub installation_id: Option<&'a str>,
    pub admin_id: Option<&'a str>,
}

pub(crate) fn subject_columns(subject: &SessionSubject) -> SubjectColumns<'_> {
    match subject {
        SessionSubject::Customer {
            customer_id,
            installation_id,
        } => SubjectColumns {
            kind: "customer",
            customer_id: Some(*customer_id),
            installation_id: Some(installation_id),
            admin_id: None,
        },
        SessionSubject::Admin { admin_id } => SubjectColumns {
            kind: "admin",
            customer_id: None,
            installation_id: None,
            admin_id: Some(admin_id),
        },
    }
}

pub(crate) fn subject_from_columns(columns: SubjectColumns<'_>) -> Option<SessionSubject> {
    Some(match columns {
        SubjectColumns {
            kind: "customer",
            customer_id: Some(customer_id),
            installation_id: Some(installation_id),
            admin_id: None,
        } => SessionSubject::Customer {
            customer_id,
            installation_id: installation_id.to_owned(),
        },
        SubjectColumns {
            kind: "admin",
            customer_id: None,
            installation_id: None,
            admin_id: Some(admin_id),
        } => SessionSubject::Admin {
            admin_id: admin_id.to_owned(),
        },
        _ => return None,
    })
}

/// A structured value stored whole as JSON text (KYC data, findings, addresses, document lists).
pub(crate) fn to_json<T: serde::Serialize>(
    value: &T,
    table: &'static str,
    column: &'static str,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|_| StoreError::Unstorable { table, column })
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    table: &'static str,
    column: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt { table, column })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: Code + std::fmt::Debug>() {
        for (value, text) in T::SPELLINGS {
            assert_eq!(value.text(), *text);
            assert_eq!(T::from_text(text), Some(*value));
        }
        assert_eq!(T::from_text("unknown"), None);
    }

    #[test]
    fn every_spelling_reads_back() {
        round_trips::<FundingModel>();
        round_trips::<KycStatus>();
        round_trips::<KybStatus>();
        round_trips::<BalanceKind>();
        round_trips::<BalanceState>();
        round_trips::<CardKind>();
        round_trips::<HoldStatus>();
        round_trips::<TransferKind>();
        round_trips::<AdminRole>();
        round_trips::<KycSource>();
        round_trips::<KycSubmissionStatus>();
    }

    #[test]
    fn card_status_and_owner_read_back() {
        for status in [
            CardStatus::Ordered,
            CardStatus::Linked,
            CardStatus::Active,
            CardStatus::Locked(LockReason::OfflinePinTriesExceeded),
            CardStatus::Removed,
        ] {
            let (text, reason) = card_status_columns(status);
            assert_eq!(card_status_from_columns(text, reason.map(i64::from)), Some(status));
        }
        assert_eq!(card_status_from_columns("locked", Some(9)), None);
        assert_eq!(card_status_from_columns("active", Some(1)), None);
        for owner in [
            Owner::Customer(7),
            Owner::Corporation(8),
            Owner::Partner("p".into()),
            Owner::System("settlement".into()),
        ] {
            assert_eq!(owner_from_columns(owner_columns(&owner)), Some(owner));
        }
        for subject in [
            SessionSubject::Customer {
                customer_id: 3,
                installation_id: "i".into(),
            },
            SessionSubject::Admin { admin_id: "a".into() },
        ] {
            assert_eq!(subject_from_columns(subject_columns(&subject)), Some(subject));
        }
    }
}
