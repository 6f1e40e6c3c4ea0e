//! The platform's KYC: a person's data is submitted (from the mobile app or
//! the partner's server), a [`KycVerifier`] judges it, and doubtful cases wait
//! for an administrator to approve or reject them. Every decision is kept
//! with who made it and when.
//!
//! Checks that the data is well formed (required fields, date and country
//! formats) happen before: they are the API's validation errors. The verifier
//! judges well-formed data: is the person old enough, is the document valid,
//! does its number look like one of its kind.

use std::future::Future;
use std::pin::Pin;

use chrono::{Datelike, NaiveDate};

use super::{CustomerError, get};
use crate::state::{
    Change, CustomerId, DocumentType, KycData, KycSource, KycStatus, KycSubmission, KycSubmissionStatus, Reservation,
    Scope, State, Submission,
};

/// What a verifier concluded, with its findings (stable codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Verified,
    /// Doubtful: an administrator decides.
    Review(Vec<String>),
    Rejected(Vec<String>),
}

/// A KYC provider. Async, so an external provider (an HTTP service) fits.
pub trait KycVerifier: Send + Sync + std::fmt::Debug + 'static {
    /// Recorded as the decision's author: `verifier:<name>`.
    fn name(&self) -> &'static str;
    fn verify<'a>(&'a self, data: &'a KycData, today: NaiveDate) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;
}

/// The built-in provider: age, document validity and document number formats.
#[derive(Debug, Clone)]
pub struct BuiltInVerifier {
    pub minimum_age_years: u32,
}

/// Finding codes.
pub const UNDERAGE: &str = "UNDERAGE";
pub const BIRTH_DATE_IN_FUTURE: &str = "BIRTH_DATE_IN_FUTURE";
pub const DOCUMENT_EXPIRED: &str = "DOCUMENT_EXPIRED";
pub const AGE_IMPLAUSIBLE: &str = "AGE_IMPLAUSIBLE";
pub const DOCUMENT_NUMBER_FORMAT: &str = "DOCUMENT_NUMBER_FORMAT";
pub const DOCUMENT_NUMBER_CHECKSUM: &str = "DOCUMENT_NUMBER_CHECKSUM";
pub const NAME_CHARACTERS: &str = "NAME_CHARACTERS";
pub const UNREADABLE_DATE: &str = "UNREADABLE_DATE";

/// Older than this is more likely a typing error than a customer.
const AGE_PLAUSIBLE_MAX_YEARS: u32 = 110;

impl KycVerifier for BuiltInVerifier {
    fn name(&self) -> &'static str {
        "builtin"
    }

    fn verify<'a>(&'a self, data: &'a KycData, today: NaiveDate) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        Box::pin(std::future::ready(self.judge(data, today)))
    }
}

impl BuiltInVerifier {
    /// Rejections (certainly not acceptable) win over doubts.
    pub fn judge(&self, data: &KycData, today: NaiveDate) -> Verdict {
        let mut rejections = Vec::new();
        let mut doubts = Vec::new();
        match parse_date(&data.birth_date) {
            Some(birth) if birth > today => rejections.push(BIRTH_DATE_IN_FUTURE),
            Some(birth) => {
                let age = age_years(birth, today);
                if age < self.minimum_age_years {
                    rejections.push(UNDERAGE);
                } else if age > AGE_PLAUSIBLE_MAX_YEARS {
                    doubts.push(AGE_IMPLAUSIBLE);
                }
            }
            None => doubts.push(UNREADABLE_DATE),
        }
        match parse_date(&data.document_expiry) {
            Some(expiry) if expiry < today => rejections.push(DOCUMENT_EXPIRED),
            Some(_) => {}
            None => doubts.push(UNREADABLE_DATE),
        }
        if let Some(finding) = document_number_finding(data) {
            doubts.push(finding);
        }
        if !plausible_name(&data.first_name) || !plausible_name(&data.last_name) {
            doubts.push(NAME_CHARACTERS);
        }
        let codes = |found: Vec<&str>| found.into_iter().map(str::to_owned).collect();
        if !rejections.is_empty() {
            Verdict::Rejected(codes(rejections))
        } else if !doubts.is_empty() {
            Verdict::Review(codes(doubts))
        } else {
            Verdict::Verified
        }
    }
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Whole years from `birth` to `today`.
pub fn age_years(birth: NaiveDate, today: NaiveDate) -> u32 {
    let mut years = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years.max(0) as u32
}

/// Letters of any script, spaces, hyphens, apostrophes and dots.
fn plausible_name(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.' | '’'))
}

/// Why a document number looks wrong for its type and country, if it does.
fn document_number_finding(data: &KycData) -> Option<&'static str> {
    let number: String = data
        .document_number
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let alphanumeric = |range: std::ops::RangeInclusive<usize>| {
        range.contains(&number.len()) && number.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    match (data.document_type, data.document_country.as_str()) {
        // Polish ID card: three letters, six digits, the first digit a check digit.
        (DocumentType::IdCard, "PL") => {
            let bytes = number.as_bytes();
            let shaped = bytes.len() == 9
                && bytes[..3].iter().all(u8::is_ascii_uppercase)
                && bytes[3..].iter().all(u8::is_ascii_digit);
            if !shaped {
                Some(DOCUMENT_NUMBER_FORMAT)
            } else if !polish_id_card_check_digit_valid(bytes) {
                Some(DOCUMENT_NUMBER_CHECKSUM)
            } else {
                None
            }
        }
        // ICAO 9303: a passport number is up to 9 characters.
        (DocumentType::Passport, _) => (!alphanumeric(6..=9)).then_some(DOCUMENT_NUMBER_FORMAT),
        (DocumentType::IdCard, _) => (!alphanumeric(5..=12)).then_some(DOCUMENT_NUMBER_FORMAT),
        (DocumentType::DrivingLicense, _) => (!alphanumeric(5..=16)).then_some(DOCUMENT_NUMBER_FORMAT),
    }
}

/// Weights 7,3,1 over the letters (A = 10) and the five last digits; the sum
/// modulo 10 is the fourth character.
fn polish_id_card_check_digit_valid(number: &[u8]) -> bool {
    let value = |byte: u8| {
        if byte.is_ascii_digit() {
            u32::from(byte - b'0')
        } else {
            u32::from(byte - b'A') + 10
        }
    };
    let weights = [7, 3, 1, 0, 7, 3, 1, 7, 3];
    let sum: u32 = number
        .iter()
        .zip(weights)
        .map(|(&byte, weight)| value(byte) * weight)
        .sum();
    sum % 10 == value(number[3])
}

/// Claims a customer's KYC for one change at a time.
pub(super) fn reserve(state: &State, customer_id: CustomerId) -> Result<Reservation, CustomerError> {
    state.reserve(format!("kyc:{customer_id}")).ok_or(CustomerError::Busy)
}

/// The day of the state's clock (UTC).
fn today(state: &State) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(state.now_ms())
        .unwrap_or_default()
        .date_naive()
}

/// Submits a person's data for a customer the caller may see: the verifier
/// decides, or queues the case for review; the customer's KYC status follows.
pub async fn submit(
    state: &State,
    verifier: &dyn KycVerifier,
    scope: Scope<'_>,
    customer_id: CustomerId,
    source: KycSource,
    data: KycData,
) -> Result<KycSubmission, CustomerError> {
    get(state, scope, customer_id)?;
    let _reservation = reserve(state, customer_id)?;
    let customer = get(state, scope, customer_id)?;
    if customer.kyc_status == KycStatus::Verified {
        return Err(CustomerError::KycAlreadyVerified);
    }
    if customer.kyc_status == KycStatus::Pending {
        return Err(CustomerError::KycInReview);
    }
    let verdict = verifier.verify(&data, today(state)).await;
    let now = state.now_ms();
    let decided_by = Some(format!("verifier:{}", verifier.name()));
    let (status, findings, decided_by, decided_at) = match verdict {
        Verdict::Verified => (KycSubmissionStatus::Verified, Vec::new(), decided_by, Some(now)),
        Verdict::Rejected(findings) => (KycSubmissionStatus::Rejected, findings, decided_by, Some(now)),
        Verdict::Review(findings) => (KycSubmissionStatus::InReview, findings, None, None),
    };
    let record = KycSubmission {
        id: uuid::Uuid::now_v7().to_string(),
        customer_id,
        source,
        data: Some(data),
        status,
        findings,
        decided_by,
        reason: None,
        created_at: now,
        decided_at,
    };
    commit(state, record).await
}

/// An administrator's decision on a submission in review.
pub async fn review(
    state: &State,
    scope: Scope<'_>,
    submission_id: &str,
    actor: String,
    approve: bool,
    reason: Option<String>,
) -> Result<KycSubmission, CustomerError> {
    let submission = visible_submission(state, scope, submission_id)?;
    let _reservation = reserve(state, submission.customer_id)?;
    let submission = visible_submission(state, scope, submission_id)?;
    if submission.status != KycSubmissionStatus::InReview {
        return Err(CustomerError::SubmissionDecided);
    }
    let record = KycSubmission {
        status: if approve {
            KycSubmissionStatus::Verified
        } else {
            KycSubmissionStatus::Rejected
        },
        decided_by: Some(actor),
        reason,
        decided_at: Some(state.now_ms()),
        ..submission
    };
    commit(state, record).await
}

async fn commit(state: &State, record: KycSubmission) -> Result<KycSubmission, CustomerError> {
    let kyc_status = match record.status {
        KycSubmissionStatus::InReview => KycStatus::Pending,
        KycSubmissionStatus::Verified => KycStatus::Verified,
        KycSubmissionStatus::Rejected => KycStatus::Rejected,
    };
    let mut submission = Submission::default();
    submission
        .push(Change::UpsertKycSubmission(record.clone()))
        .push(Change::UpdateCustomerKyc {
            customer_id: record.customer_id,
            kyc_status,
        });
    state.submit(submission).await?;
    Ok(record)
}

fn visible_submission(state: &State, scope: Scope<'_>, id: &str) -> Result<KycSubmission, CustomerError> {
    let submission = state.kyc_submission(id).ok_or(CustomerError::SubmissionNotFound)?;
    get(state, scope, submission.customer_id).map_err(|_| CustomerError::SubmissionNotFound)?;
    Ok(submission)
}

/// The submissions waiting for review that the caller may see, oldest first.
pub fn review_queue(state: &State, scope: Scope<'_>) -> Vec<KycSubmission> {
    state
        .kyc_in_review()
        .into_iter()
        .filter(|submission| get(state, scope, submission.customer_id).is_ok())
        .collect()
}

/// A customer's submissions, oldest first.
pub fn submissions(
    state: &State,
    scope: Scope<'_>,
    customer_id: CustomerId,
) -> Result<Vec<KycSubmission>, CustomerError> {
    get(state, scope, customer_id)?;
    Ok(state.kyc_submissions_of(customer_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::PostalAddress;

    fn person() -> KycData {
        KycData {
            first_name: "Anna".into(),
            last_name: "Nowak-Kowalska".into(),
            birth_date: "1990-05-17".into(),
            nationality: "PL".into(),
            document_type: DocumentType::IdCard,
            document_number: "ABA300000".into(),
            document_country: "PL".into(),
            document_expiry: "2030-01-31".into(),
            address: PostalAddress {
                line1: "ul. Prosta 1".into(),
                line2: None,
                city: "Warszawa".into(),
                postal_code: "00-001".into(),
                country: "PL".into(),
            },
        }
    }

    fn judge(data: &KycData) -> Verdict {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        BuiltInVerifier { minimum_age_years: 18 }.judge(data, today)
    }

    #[test]
    fn a_valid_person_is_verified() {
        assert_eq!(judge(&person()), Verdict::Verified);
    }

    #[test]
    fn minors_and_expired_documents_are_rejected() {
        let minor = KycData {
            birth_date: "2008-11-26".into(),
            ..person()
        };
        assert_eq!(judge(&minor), Verdict::Rejected(vec![UNDERAGE.into()]));
        let adult_today = KycData {
            birth_date: "2008-11-25".into(),
            ..person()
        };
        assert_eq!(judge(&adult_today), Verdict::Verified);
        let expired = KycData {
            document_expiry: "2026-11-24".into(),
            ..person()
        };
        assert_eq!(judge(&expired), Verdict::Rejected(vec![DOCUMENT_EXPIRED.into()]));
    }

    #[test]
    fn doubtful_cases_go_to_review() {
        let checksum = KycData {
            document_number: "ABA400000".into(),
            ..person()
        };
        assert_eq!(judge(&checksum), Verdict::Review(vec![DOCUMENT_NUMBER_CHECKSUM.into()]));
        let passport = KycData {
            document_type: DocumentType::Passport,
            document_number: "12".into(),
            ..person()
        };
        assert_eq!(judge(&passport), Verdict::Review(vec![DOCUMENT_NUMBER_FORMAT.into()]));
        let old = KycData {
            birth_date: "1900-01-01".into(),
            first_name: "R2D2".into(),
            ..person()
        };
        assert_eq!(
            judge(&old),
            Verdict::Review(vec![AGE_IMPLAUSIBLE.into(), NAME_CHARACTERS.into()])
        );
    }
}
