//! The domain: partners and their card programs, customers, corporations,
//! balances, cards, holds, ledger transfers and recorded answers.
//!
//! Amounts are integer minor units (`i64`) of the owning balance's currency:
//! exact, cheap on the hot path, and what both databases and the wire carry.
//! `rust_decimal` appears where fractions can arise (fees, conversion, the API).

use std::fmt;

pub type BalanceId = i64;
pub type CardId = i64;
pub type HoldId = i64;
pub type CustomerId = i64;
pub type CorporationId = i64;
pub type TransferId = i64;
/// Milliseconds since the Unix epoch, UTC.
pub type TimestampMs = i64;

/// How a card program's spend is secured (the seed's "Partner Balances").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundingModel {
    /// The user balance is held by the platform; reloads charge the partner credit balance.
    PartnerCredit,
    /// Each authorization charges the partner deposit balance and locks the user's funds.
    PartnerDeposit,
}

/// A partner (tenant): the institution using the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub created_at: TimestampMs,
}

/// A card program: BIN, currency, funding model, card validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub id: String,
    pub partner_id: String,
    pub bin: String,
    /// ISO 4217 alphabetic code.
    pub currency: String,
    pub funding: FundingModel,
    pub validity_months: u32,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BalanceKind {
    User,
    Corporate,
    PartnerCredit,
    PartnerDeposit,
    /// The platform's own accounts that are the other side of card spend
    /// (network settlement) and of user-fund debits under the deposit model.
    /// They make every movement double-entry.
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BalanceState {
    Active,
    Blocked,
    Closed,
}

/// Who owns a balance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    Customer(CustomerId),
    Corporation(CorporationId),
    Partner(String),
    /// A system account, by purpose (e.g. "settlement").
    System(String),
}

/// A balance (the seed's "account"). `held` is the sum of its open holds;
/// available = ledger − held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub id: BalanceId,
    pub kind: BalanceKind,
    pub owner: Owner,
    pub partner_id: String,
    /// ISO 4217 alphabetic code.
    pub currency: String,
    pub ledger: i64,
    pub held: i64,
    pub state: BalanceState,
    /// Partner balances: a notification is due when available falls below it.
    pub low_balance_threshold: Option<i64>,
    /// User and corporate balances: the card program they work under, once bound.
    pub program_id: Option<String>,
    pub created_at: TimestampMs,
}

impl Balance {
    pub fn available(&self) -> i64 {
        self.ledger - self.held
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardKind {
    Virtual,
    Physical,
}

/// The card lock reasons of the contract (network-interface.md, "Card lock reasons").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockReason {
    Lost = 1,
    Stolen = 2,
    PendingQuery = 3,
    Consolidation = 4,
    Inactive = 5,
    PinTriesExceeded = 6,
    SuspectedFraud = 7,
    Replaced = 8,
    OfflinePinTriesExceeded = 11,
}

impl LockReason {
    pub fn from_code(code: u8) -> Option<LockReason> {
        Some(match code {
            1 => LockReason::Lost,
            2 => LockReason::Stolen,
            3 => LockReason::PendingQuery,
            4 => LockReason::Consolidation,
            5 => LockReason::Inactive,
            6 => LockReason::PinTriesExceeded,
            7 => LockReason::SuspectedFraud,
            8 => LockReason::Replaced,
            11 => LockReason::OfflinePinTriesExceeded,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    /// Lost, stolen, inactive and replaced cards can never be unlocked.
    pub fn is_irreversible(self) -> bool {
        matches!(
            self,
            LockReason::Lost | LockReason::Stolen | LockReason::Inactive | LockReason::Replaced
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardStatus {
    /// Physical card ordered, not yet personalised.
    Ordered,
    /// Physical card linked to the user, waiting for activation.
    Linked,
    Active,
    Locked(LockReason),
    Removed,
}

/// A card. Its PAN is kept only encrypted (`pan_encrypted`) and as a keyed
/// hash (`pan_hash`) for look-up; `pan_first6`/`pan_last4` are what may be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub id: CardId,
    pub balance_id: BalanceId,
    pub program_id: String,
    pub kind: CardKind,
    pub status: CardStatus,
    pub pan_hash: [u8; 32],
    pub pan_encrypted: Vec<u8>,
    pub pan_first6: String,
    pub pan_last4: String,
    /// YYMM.
    pub expiry: String,
    pub cvc_encrypted: Vec<u8>,
    /// Keyed verification value of the PIN, when one is set.
    pub pin_verification: Option<[u8; 32]>,
    /// Wrong PINs in a row.
    pub pin_tries: u32,
    pub created_at: TimestampMs,
}

/// The mutable part of a card, written whole on every card update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardUpdate {
    pub card_id: CardId,
    pub status: CardStatus,
    pub cvc_encrypted: Vec<u8>,
    pub pin_verification: Option<[u8; 32]>,
    pub pin_tries: u32,
}

/// A transaction's identity on the network: DE 32 + DE 11 + DE 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId {
    /// DE 32 digits as a number, with its digit count (leading zeros matter).
    pub acquirer: u64,
    pub acquirer_digits: u8,
    /// DE 11.
    pub stan: u32,
    /// DE 12, YYMMDDhhmmss as a number.
    pub local_time: u64,
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:0width$}/{:06}/{:012}",
            self.acquirer,
            self.stan,
            self.local_time,
            width = self.acquirer_digits as usize
        )
    }
}

impl TransactionId {
    /// Parses the `Display` form (as stored in the databases).
    pub fn parse(text: &str) -> Option<TransactionId> {
        let mut parts = text.split('/');
        let acquirer = parts.next()?;
        let stan = parts.next()?;
        let local_time = parts.next()?;
        if parts.next().is_some() || acquirer.len() > 11 || stan.len() != 6 || local_time.len() != 12 {
            return None;
        }
        Some(TransactionId {
            acquirer: acquirer.parse().ok()?,
            acquirer_digits: acquirer.len() as u8,
            stan: stan.parse().ok()?,
            local_time: local_time.parse().ok()?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoldStatus {
    Open,
    Completed,
    Reversed,
    Expired,
}

/// An authorization hold: funds reserved on the user balance and, under the
/// deposit model, on the partner deposit balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: HoldId,
    pub transaction: TransactionId,
    pub card_id: CardId,
    pub user_balance_id: BalanceId,
    pub partner_balance_id: Option<BalanceId>,
    /// Amount first held, in the balance currency's minor units.
    pub amount: i64,
    /// Open: the amount still held (lowered by partial reversals). Completed:
    /// the posted amount not reversed (a completion may post more or less than
    /// was held). Reversed or expired: zero.
    pub remaining: i64,
    pub status: HoldStatus,
    pub created_at: TimestampMs,
    pub expires_at: TimestampMs,
}

/// Why money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferKind {
    /// Money entering the platform from outside (a partner's bank transfer).
    ExternalLoad,
    /// Partner credit balance → user balance.
    Reload,
    /// A completed authorization or a purchase/withdrawal.
    CardDebit,
    /// A refund to the card.
    CardCredit,
    /// A posted debit returned by a reversal.
    ReversalCredit,
}

/// A double-entry movement: `amount` leaves `debit_balance_id` and enters
/// `credit_balance_id`. An external load has no debit side inside the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub kind: TransferKind,
    pub debit_balance_id: Option<BalanceId>,
    pub credit_balance_id: BalanceId,
    pub amount: i64,
    pub transaction: Option<TransactionId>,
    pub hold_id: Option<HoldId>,
    pub created_at: TimestampMs,
}

/// The answer given to a transaction, kept for duplicate detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedAnswer {
    pub transaction: TransactionId,
    /// The request MTI (the original's, for a repeat).
    pub mti: u16,
    /// DE 39, four digits.
    pub action_code: [u8; 4],
    /// DE 38, on approvals.
    pub approval_code: Option<[u8; 6]>,
    /// Available balance reported in DE 54 (minor units, balance currency numeric code).
    pub available: Option<(i64, u16)>,
    pub hold_id: Option<HoldId>,
    pub created_at: TimestampMs,
}

// ---------------------------------------------------------------------------
// The lifecycle API's records: who may act (admins, sessions, installations)
// and what was decided about people and companies (KYC, KYB), with who and when.
// Ids of these records are UUID v7 strings: made without a shared sequence,
// and ordered by creation time.
// ---------------------------------------------------------------------------

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

/// An app installation on a device, paired for one user. At most one
/// installation per (user, device) is active; pairing again replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub id: String,
    pub customer_id: CustomerId,
    /// The partner app's identifier of the device.
    pub device_id: String,
    pub active: bool,
    pub created_at: TimestampMs,
    /// When it was replaced by a newer pairing of the same device and user.
    pub deactivated_at: Option<TimestampMs>,
}

/// Whom a session token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionSubject {
    /// A user's mobile app, through one installation.
    Customer {
        customer_id: CustomerId,
        installation_id: String,
    },
    /// An administration panel user.
    Admin { admin_id: String },
}

/// A session. The token itself is never stored: only its SHA-256 (a 256-bit
/// random token needs no salt or slow hash), so a copy of the database
/// cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: [u8; 32],
    pub subject: SessionSubject,
    pub created_at: TimestampMs,
    pub expires_at: TimestampMs,
    /// Logged out, or its installation was replaced.
    pub revoked: bool,
}

/// Administration panel roles (the seed's Admin, Manager, Employee) plus the
/// platform's own staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdminRole {
    Admin,
    Manager,
    Employee,
    Operator,
}

/// A user of the administration panel. `partner_id` limits what it sees to
/// one partner; `None` is platform-wide (operators always are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUser {
    pub id: String,
    pub username: String,
    /// Argon2id, PHC string format (algorithm, parameters and salt included).
    pub password_hash: String,
    pub role: AdminRole,
    pub partner_id: Option<String>,
    pub active: bool,
    pub created_at: TimestampMs,
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

/// The lifecycle records loaded at start-up (in no particular order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleRecords {
    pub customer_profiles: Vec<CustomerProfile>,
    pub installations: Vec<Installation>,
    pub sessions: Vec<Session>,
    pub admins: Vec<AdminUser>,
    pub kyc_submissions: Vec<KycSubmission>,
    pub corporation_details: Vec<CorporationDetails>,
    pub kyb_transitions: Vec<KybTransition>,
    pub notifications: Vec<Notification>,
    pub card_requests: Vec<CardRequestRecord>,
}

/// Whose customers and corporations a caller may see: one partner's (a
/// partner's certificate, a partner's admin) or every partner's (platform staff).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    Partner(&'a str),
    All,
}

impl Scope<'_> {
    pub fn allows(&self, partner_id: &str) -> bool {
        match self {
            Scope::Partner(partner) => *partner == partner_id,
            Scope::All => true,
        }
    }
}

// ---------------------------------------------------------------------------
// Outbox and background work that must survive a restart.
// ---------------------------------------------------------------------------

/// A notification to a partner in the durable outbox, delivered as a webhook
/// POST until the partner's server acknowledges it (2xx). Written in the same
/// commit as the change that caused it; `payload` is the exact JSON body sent
/// on every attempt, so the signature and the idempotency id never change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// UUID v7; also the body's `id`, for the receiver's idempotency.
    pub id: String,
    pub partner_id: String,
    /// The balance it is about.
    pub balance_id: BalanceId,
    /// What happened, e.g. `PARTNER_BALANCE_LOW`.
    pub event: String,
    pub payload: String,
    pub created_at: TimestampMs,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (informational after a restart: undelivered ones are retried at once).
    pub next_attempt_at: TimestampMs,
    /// Why the last attempt failed (an HTTP status or a transport error, never the body).
    pub last_error: Option<String>,
    pub delivered_at: Option<TimestampMs>,
}

/// The event of a partner balance falling below its low-balance threshold.
pub const EVENT_PARTNER_BALANCE_LOW: &str = "PARTNER_BALANCE_LOW";

/// Where an asynchronous card request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardRequestStatus {
    Pending,
    Done,
    Failed,
}

/// An asynchronous virtual card request (`…/cards/virtual/async`), kept so a
/// poll after a restart still finds it and a pending one is finished then.
/// The card and the `Done` record commit together, so a request never makes two cards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRequestRecord {
    /// UUID v7.
    pub id: String,
    pub customer_id: CustomerId,
    pub balance_id: BalanceId,
    pub program_id: Option<String>,
    pub status: CardRequestStatus,
    pub card_id: Option<CardId>,
    /// When failed: the error as the synchronous route would have answered, as JSON `{code, message}`.
    pub error: Option<String>,
    pub created_at: TimestampMs,
}
