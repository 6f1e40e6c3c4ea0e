//! The store suite, written once and run on both backends: SQLite always, PostgreSQL when reachable
//! (see tests/support/store.rs). Most tests apply the same changes to the store and to an [`Oracle`] that
//! applies them one by one in memory, then compare everything the store gives back.

mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use antaca::domain::*;
use antaca::state::change::Change;
use antaca::store::{BatchMarker, ConstraintKind, MaxIds, Snapshot, Store, StoreError};
use support::{Backend, TestStore, each_store};

const PARTNER: &str = "acme";
const PROGRAM: &str = "acme-eur";
const T0: TimestampMs = 1_790_000_000_000;
const DAY_MS: i64 = 86_400_000;

// ---------------------------------------------------------------------------------------------------
// Fixtures

fn partner() -> Partner {
    Partner {
        id: PARTNER.into(),
        name: "Acme Bank".into(),
        created_at: T0,
    }
}

fn program() -> Program {
    Program {
        id: PROGRAM.into(),
        partner_id: PARTNER.into(),
        bin: "400000".into(),
        currency: "EUR".into(),
        funding: FundingModel::PartnerDeposit,
        validity_months: 36,
    }
}

fn customer(id: CustomerId) -> Customer {
    Customer {
        id,
        partner_id: PARTNER.into(),
        external_ref: Some(format!("user-{id}")),
        kyc_status: KycStatus::Pending,
        created_at: T0 + id,
    }
}

fn corporation(id: CorporationId) -> Corporation {
    Corporation {
        id,
        partner_id: PARTNER.into(),
        name: format!("Corporation {id}"),
        kyb_status: KybStatus::Submitted,
        created_at: T0 + id,
    }
}

fn balance(id: BalanceId, kind: BalanceKind, owner: Owner) -> Balance {
    Balance {
        id,
        kind,
        owner,
        partner_id: PARTNER.into(),
        currency: "EUR".into(),
        ledger: 0,
        held: 0,
        state: BalanceState::Active,
        low_balance_threshold: None,
        program_id: None,
        created_at: T0 + id,
    }
}

fn user_balance(id: BalanceId, customer_id: CustomerId) -> Balance {
    balance(id, BalanceKind::User, Owner::Customer(customer_id))
}

/// A card whose look-up hash and last four digits derive from its id (unique per id).
fn card(id: CardId, balance_id: BalanceId) -> Card {
    let mut pan_hash = [0xA5; 32];
    pan_hash[..8].copy_from_slice(&id.to_be_bytes());
    Card {
        id,
        balance_id,
        program_id: PROGRAM.into(),
        kind: CardKind::Virtual,
        status: CardStatus::Active,
        pan_hash,
        pan_encrypted: [&id.to_le_bytes()[..], &[7; 36]].concat(),
        pan_first6: "400000".into(),
        pan_last4: format!("{:04}", id % 10_000),
        expiry: "2912".into(),
        cvc_encrypted: vec![3; 31],
        pin_verification: Some([id as u8; 32]),
        pin_tries: 0,
        created_at: T0 + id,
    }
}

/// DE 32 "00123456" (leading zeros kept), the given STAN.
fn transaction(stan: u32) -> TransactionId {
    TransactionId {
        acquirer: 123_456,
        acquirer_digits: 8,
        stan,
        local_time: 261_124_120_000,
    }
}

fn hold(id: HoldId, stan: u32, card_id: CardId, user_balance_id: BalanceId, amount: i64) -> Hold {
    Hold {
        id,
        transaction: transaction(stan),
        card_id,
        user_balance_id,
        partner_balance_id: None,
        amount,
        remaining: amount,
        status: HoldStatus::Open,
        created_at: T0 + id,
        expires_at: T0 + id + 7 * DAY_MS,
    }
}

fn answer(stan: u32, created_at: TimestampMs, hold_id: Option<HoldId>) -> RecordedAnswer {
    RecordedAnswer {
        transaction: transaction(stan),
        mti: 100,
        action_code: *b"0000",
        approval_code: Some(*b"A1B2C3"),
        available: Some((12_345, 978)),
        hold_id,
        created_at,
    }
}

/// Partner, program, customer 1 with user balance 1, the partner's deposit balance 2, card 1.
fn base() -> Vec<Change> {
    vec![
        Change::UpsertPartner(partner()),
        Change::UpsertProgram(program()),
        Change::InsertCustomer(customer(1)),
        Change::InsertBalance(user_balance(1, 1)),
        Change::InsertBalance(balance(2, BalanceKind::PartnerDeposit, Owner::Partner(PARTNER.into()))),
        Change::InsertCard(card(1, 1)),
    ]
}

/// The changes of placing a hold: the hold, the funds held on both balances, the answer.
fn place_hold(id: HoldId, stan: u32, amount: i64) -> Vec<Change> {
    let mut hold = hold(id, stan, 1, 1, amount);
    hold.partner_balance_id = Some(2);
    vec![
        Change::InsertHold(hold),
        Change::BalanceDelta {
            balance_id: 1,
            ledger: 0,
            held: amount,
        },
        Change::BalanceDelta {
            balance_id: 2,
            ledger: 0,
            held: amount,
        },
        Change::RecordAnswer(answer(stan, T0 + id, Some(id))),
    ]
}

// ---------------------------------------------------------------------------------------------------
// The oracle

/// What the store should hold: the changes applied one by one, in memory.
#[derive(Debug, Clone, Default)]
struct Oracle {
    partners: BTreeMap<String, Partner>,
    programs: BTreeMap<String, Program>,
    customers: BTreeMap<CustomerId, Customer>,
    corporations: BTreeMap<CorporationId, Corporation>,
    balances: BTreeMap<BalanceId, Balance>,
    cards: BTreeMap<CardId, Card>,
    holds: BTreeMap<HoldId, Hold>,
    transfers: BTreeMap<TransferId, Transfer>,
    answers: BTreeMap<TransactionId, RecordedAnswer>,
    profiles: BTreeMap<CustomerId, CustomerProfile>,
    installations: BTreeMap<String, Installation>,
    sessions: BTreeMap<[u8; 32], Session>,
    admins: BTreeMap<String, AdminUser>,
    kyc_submissions: BTreeMap<String, KycSubmission>,
    corporation_details: BTreeMap<CorporationId, CorporationDetails>,
    kyb_transitions: BTreeMap<String, KybTransition>,
    notifications: BTreeMap<String, Notification>,
    card_requests: BTreeMap<String, CardRequestRecord>,
}

impl Oracle {
    /// What `Store::forget_answers_before` deletes: the recorded answers created before `cutoff`.
    /// An approval's answer is stored on the hold its request placed (migration 0012) and stays
    /// with it; start-up's cutoff leaves the old ones out of memory all the same.
    fn forget_answers_before(&mut self, cutoff: TimestampMs) {
        let holds = &self.holds;
        self.answers.retain(|_, answer| {
            let on_its_hold = answer
                .hold_id
                .and_then(|id| holds.get(&id))
                .is_some_and(|hold| hold.transaction == answer.transaction && hold.created_at == answer.created_at);
            answer.created_at >= cutoff || on_its_hold
        });
    }

    fn apply(&mut self, changes: &[Change]) {
        for change in changes {
            match change.clone() {
                Change::UpsertPartner(partner) => {
                    self.partners.insert(partner.id.clone(), partner);
                }
                Change::UpsertProgram(program) => {
                    self.programs.insert(program.id.clone(), program);
                }
                Change::InsertCustomer(customer) => {
                    self.customers.insert(customer.id, customer);
                }
                Change::UpdateCustomerKyc {
                    customer_id,
                    kyc_status,
                } => self.customers.get_mut(&customer_id).unwrap().kyc_status = kyc_status,
                Change::InsertCorporation(corporation) => {
                    self.corporations.insert(corporation.id, corporation);
                }
                Change::UpdateCorporationKyb {
                    corporation_id,
                    kyb_status,
                } => self.corporations.get_mut(&corporation_id).unwrap().kyb_status = kyb_status,
                Change::InsertBalance(balance) => {
                    self.balances.insert(balance.id, balance);
                }
                Change::BalanceDelta {
                    balance_id,
                    ledger,
                    held,
                } => {
                    let balance = self.balances.get_mut(&balance_id).unwrap();
                    balance.ledger += ledger;
                    balance.held += held;
                }
                Change::UpdateBalanceState { balance_id, state } => {
                    self.balances.get_mut(&balance_id).unwrap().state = state
                }
                Change::UpdateBalanceThreshold { balance_id, threshold } => {
                    self.balances.get_mut(&balance_id).unwrap().low_balance_threshold = threshold
                }
                Change::InsertCard(card) => {
                    self.cards.insert(card.id, card);
                }
                Change::UpdateCard(update) => {
                    let card = self.cards.get_mut(&update.card_id).unwrap();
                    card.status = update.status;
                    card.cvc_encrypted = update.cvc_encrypted;
                    card.pin_verification = update.pin_verification;
                    card.pin_tries = update.pin_tries;
                }
                Change::InsertHold(hold) => {
                    self.holds.insert(hold.id, hold);
                }
                // The fee tables have their own round-trip checks (tests/fees.rs).
                Change::InsertFeeSchedule(_)
                | Change::InsertFxRate(_)
                | Change::InsertFeeEntry(_)
                | Change::InsertHoldFee(_) => {}
                Change::UpdateHold {
                    hold_id,
                    remaining,
                    status,
                } => {
                    let hold = self.holds.get_mut(&hold_id).unwrap();
                    hold.remaining = remaining;
                    hold.status = status;
                }
                Change::InsertTransfer(transfer) => {
                    self.transfers.insert(transfer.id, transfer);
                }
                Change::RecordAnswer(answer) => {
                    self.answers.entry(answer.transaction).or_insert(answer);
                }
                Change::UpsertCustomerProfile(profile) => {
                    self.profiles.insert(profile.customer_id, profile);
                }
                Change::UpsertInstallation(installation) => {
                    self.installations.insert(installation.id.clone(), installation);
                }
                Change::UpsertSession(session) => {
                    self.sessions.insert(session.token_hash, session);
                }
                Change::ForgetSessionsBefore(cutoff) => self.sessions.retain(|_, session| session.expires_at >= cutoff),
                Change::UpsertAdmin(admin) => {
                    self.admins.insert(admin.id.clone(), admin);
                }
                Change::UpsertKycSubmission(submission) => {
                    self.kyc_submissions.insert(submission.id.clone(), submission);
                }
                Change::InsertCorporationDetails(details) => {
                    self.corporation_details.insert(details.corporation_id, details);
                }
                Change::InsertKybTransition(transition) => {
                    self.kyb_transitions.insert(transition.id.clone(), transition);
                }
                Change::UpsertNotification(notification) => {
                    self.notifications.insert(notification.id.clone(), notification);
                }
                Change::UpsertCardRequest(request) => {
                    self.card_requests.insert(request.id.clone(), request);
                }
            }
        }
    }

    fn max_ids(&self) -> MaxIds {
        fn last<V>(map: &BTreeMap<i64, V>) -> i64 {
            map.keys().next_back().copied().unwrap_or(0)
        }
        MaxIds {
            balance: last(&self.balances),
            card: last(&self.cards),
            hold: last(&self.holds),
            customer: last(&self.customers),
            corporation: last(&self.corporations),
            transfer: last(&self.transfers),
        }
    }

    /// Everything the store gives back, read every way, equals the oracle.
    async fn check(&self, store: &Store, answers_since: TimestampMs) {
        let snapshot = sorted(store.load(answers_since).await.unwrap());
        assert_eq!(snapshot.partners, values(&self.partners));
        assert_eq!(snapshot.programs, values(&self.programs));
        assert_eq!(snapshot.customers, values(&self.customers));
        assert_eq!(snapshot.corporations, values(&self.corporations));
        assert_eq!(snapshot.balances, values(&self.balances));
        assert_eq!(snapshot.cards, values(&self.cards));
        let live: Vec<Hold> = self
            .holds
            .values()
            .filter(|hold| hold.status == HoldStatus::Open || hold.created_at >= answers_since)
            .cloned()
            .collect();
        assert_eq!(
            snapshot.holds, live,
            "load gives the open holds and the recent closed ones only"
        );
        let recent: Vec<RecordedAnswer> = self
            .answers
            .values()
            .filter(|answer| answer.created_at >= answers_since)
            .cloned()
            .collect();
        assert_eq!(snapshot.answers, recent, "load gives the answers since the cutoff only");
        assert_eq!(snapshot.max_ids, self.max_ids());
        let lifecycle = &snapshot.lifecycle;
        assert_eq!(lifecycle.customer_profiles, values(&self.profiles));
        assert_eq!(lifecycle.installations, values(&self.installations));
        assert_eq!(lifecycle.sessions, values(&self.sessions));
        assert_eq!(lifecycle.admins, values(&self.admins));
        assert_eq!(lifecycle.kyc_submissions, values(&self.kyc_submissions));
        assert_eq!(lifecycle.corporation_details, values(&self.corporation_details));
        assert_eq!(lifecycle.kyb_transitions, values(&self.kyb_transitions));
        assert_eq!(lifecycle.notifications, values(&self.notifications));
        let polled: Vec<CardRequestRecord> = self
            .card_requests
            .values()
            .filter(|request| request.status == CardRequestStatus::Pending || request.created_at >= answers_since)
            .cloned()
            .collect();
        assert_eq!(
            lifecycle.card_requests, polled,
            "pending requests and the recent others"
        );

        assert_eq!(
            by_id(store.balances().await.unwrap(), |balance| balance.id),
            values(&self.balances)
        );
        assert_eq!(by_id(store.holds().await.unwrap(), |hold| hold.id), values(&self.holds));
        assert_eq!(
            by_id(store.transfers().await.unwrap(), |transfer| transfer.id),
            values(&self.transfers)
        );
        for (transaction, answer) in &self.answers {
            assert_eq!(store.answer(*transaction).await.unwrap().as_ref(), Some(answer));
        }
    }
}

fn values<K, V: Clone>(map: &BTreeMap<K, V>) -> Vec<V> {
    map.values().cloned().collect()
}

fn by_id<T, K: Ord>(mut rows: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    rows.sort_by_key(key);
    rows
}

fn sorted(mut snapshot: Snapshot) -> Snapshot {
    snapshot.partners.sort_by(|left, right| left.id.cmp(&right.id));
    snapshot.programs.sort_by(|left, right| left.id.cmp(&right.id));
    snapshot.customers.sort_by_key(|row| row.id);
    snapshot.corporations.sort_by_key(|row| row.id);
    snapshot.balances.sort_by_key(|row| row.id);
    snapshot.cards.sort_by_key(|row| row.id);
    snapshot.holds.sort_by_key(|row| row.id);
    snapshot.answers.sort_by_key(|row| row.transaction);
    let lifecycle = &mut snapshot.lifecycle;
    lifecycle.customer_profiles.sort_by_key(|row| row.customer_id);
    lifecycle.installations.sort_by(|left, right| left.id.cmp(&right.id));
    lifecycle.sessions.sort_by_key(|row| row.token_hash);
    lifecycle.admins.sort_by(|left, right| left.id.cmp(&right.id));
    lifecycle.kyc_submissions.sort_by(|left, right| left.id.cmp(&right.id));
    lifecycle.corporation_details.sort_by_key(|row| row.corporation_id);
    lifecycle.kyb_transitions.sort_by(|left, right| left.id.cmp(&right.id));
    lifecycle.notifications.sort_by(|left, right| left.id.cmp(&right.id));
    lifecycle.card_requests.sort_by(|left, right| left.id.cmp(&right.id));
    snapshot
}

fn address() -> PostalAddress {
    PostalAddress {
        line1: "ul. Prosta 1".into(),
        line2: Some("lok. 2".into()),
        city: "Warszawa".into(),
        postal_code: "00-001".into(),
        country: "PL".into(),
    }
}

fn installation(id: &str, active: bool) -> Installation {
    Installation {
        id: id.into(),
        customer_id: 1,
        device_id: "device-1".into(),
        active,
        created_at: T0,
        deactivated_at: (!active).then_some(T0 + 5),
    }
}

fn session(byte: u8, subject: SessionSubject, expires_at: TimestampMs) -> Session {
    Session {
        token_hash: [byte; 32],
        subject,
        created_at: T0,
        expires_at,
        revoked: false,
    }
}

fn admin(id: &str, username: &str, role: AdminRole, partner_id: Option<&str>) -> AdminUser {
    AdminUser {
        id: id.into(),
        username: username.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role,
        partner_id: partner_id.map(str::to_owned),
        active: true,
        created_at: T0,
    }
}

fn kyc_submission(id: &str, data: Option<KycData>, status: KycSubmissionStatus) -> KycSubmission {
    KycSubmission {
        id: id.into(),
        customer_id: 1,
        source: if data.is_some() {
            KycSource::Server
        } else {
            KycSource::Partner
        },
        data,
        status,
        findings: vec!["DOCUMENT_NUMBER_CHECKSUM".into()],
        decided_by: (status != KycSubmissionStatus::InReview).then(|| "partner:acme".into()),
        reason: None,
        created_at: T0,
        decided_at: (status != KycSubmissionStatus::InReview).then_some(T0 + 1),
    }
}

/// One of each lifecycle record, after base() and every_change_round_trips's rows (customer 1,
/// corporation 3).
fn lifecycle_records() -> Vec<Change> {
    let person = KycData {
        first_name: "Zoë".into(),
        last_name: "O'Neil-Kowalska".into(),
        birth_date: "1990-05-17".into(),
        nationality: "PL".into(),
        document_type: DocumentType::IdCard,
        document_number: "ABA300000".into(),
        document_country: "PL".into(),
        document_expiry: "2030-01-31".into(),
        address: address(),
    };
    let customer_subject = SessionSubject::Customer {
        customer_id: 1,
        installation_id: "inst-1".into(),
    };
    vec![
        Change::UpsertCustomerProfile(CustomerProfile {
            customer_id: 1,
            email: Some("anna@example.com".into()),
            phone: None,
            first_name: Some("Anna".into()),
            last_name: None,
            updated_at: T0,
        }),
        Change::UpsertInstallation(installation("inst-1", true)),
        Change::UpsertAdmin(admin("adm-1", "root", AdminRole::Admin, None)),
        Change::UpsertAdmin(admin("adm-2", "clerk", AdminRole::Employee, Some(PARTNER))),
        Change::UpsertSession(session(1, customer_subject, T0 + 600_000)),
        Change::UpsertSession(session(
            2,
            SessionSubject::Admin {
                admin_id: "adm-1".into(),
            },
            T0 + 1,
        )),
        Change::UpsertKycSubmission(kyc_submission("kyc-1", Some(person), KycSubmissionStatus::InReview)),
        Change::UpsertKycSubmission(kyc_submission("kyc-2", None, KycSubmissionStatus::Verified)),
        Change::InsertCorporationDetails(CorporationDetails {
            corporation_id: 3,
            registration_number: "0000012345".into(),
            tax_id: None,
            address: address(),
            documents: vec![CorporationDocument {
                document_type: CorporationDocumentType::RegistryExtract,
                url: "https://docs.example/krs.pdf".into(),
                sha256: "ab".repeat(32),
            }],
        }),
        Change::InsertKybTransition(KybTransition {
            id: "kyb-1".into(),
            corporation_id: 3,
            from: None,
            to: KybStatus::Submitted,
            actor: "partner:acme".into(),
            reason: None,
            at: T0,
        }),
        Change::InsertKybTransition(KybTransition {
            id: "kyb-2".into(),
            corporation_id: 3,
            from: Some(KybStatus::Submitted),
            to: KybStatus::OnHold,
            actor: "admin:root".into(),
            reason: Some("registry extract older than 3 months".into()),
            at: T0 + 1,
        }),
    ]
}

/// Updates of the records above, in one batch: the last write of a row wins; the replaced
/// installation is deactivated before its successor (one active per device); the admin session that
/// expired is forgotten.
fn lifecycle_updates() -> Vec<Change> {
    let mut decided = kyc_submission("kyc-1", None, KycSubmissionStatus::Rejected);
    decided.data = lifecycle_records().iter().find_map(|change| match change {
        Change::UpsertKycSubmission(submission) if submission.id == "kyc-1" => submission.data.clone(),
        _ => None,
    });
    decided.source = KycSource::Server;
    decided.decided_by = Some("admin:root".into());
    decided.reason = Some("document number does not check".into());
    let customer_subject = SessionSubject::Customer {
        customer_id: 1,
        installation_id: "inst-1".into(),
    };
    let mut renewed = session(1, customer_subject.clone(), T0 + 900_000);
    let mut revoked = renewed.clone();
    revoked.revoked = true;
    renewed.expires_at = T0 + 800_000;
    let successor = SessionSubject::Customer {
        customer_id: 1,
        installation_id: "inst-2".into(),
    };
    let mut promoted = admin("adm-2", "clerk", AdminRole::Manager, Some(PARTNER));
    promoted.active = false;
    vec![
        Change::UpsertSession(renewed),
        Change::UpsertSession(revoked),
        Change::UpsertInstallation(installation("inst-1", false)),
        Change::UpsertInstallation(installation("inst-2", true)),
        Change::UpsertSession(session(3, successor, T0 + 600_000)),
        Change::UpsertAdmin(promoted),
        Change::UpsertKycSubmission(decided),
        Change::UpsertCustomerProfile(CustomerProfile {
            customer_id: 1,
            email: None,
            phone: Some("+48600100200".into()),
            first_name: Some("Anna".into()),
            last_name: Some("Nowak".into()),
            updated_at: T0 + 2,
        }),
        Change::ForgetSessionsBefore(T0 + 2),
    ]
}

/// Commits to the store and applies to the oracle.
async fn commit(store: &Store, oracle: &mut Oracle, changes: &[Change]) {
    store.commit(changes).await.unwrap();
    oracle.apply(changes);
}

/// Commits `changes` as the journal does, marked as batch `batch` of the instance serving at `epoch`.
async fn commit_fenced(store: &Store, changes: &[Change], batch: i64, epoch: i64) -> Result<(), StoreError> {
    let marker = BatchMarker {
        batch,
        epoch: Some(epoch),
    };
    store
        .commit_signalling(changes, Some(marker), antaca::state::journal::Written::unobserved())
        .await
}

async fn scalar(store: &Store, sql: &'static str) -> i64 {
    match store {
        Store::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Store::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}

// ---------------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn migrations_run_twice_are_idempotent() {
    each_store(|db| async move {
        let mut oracle = Oracle::default();
        commit(&db.store, &mut oracle, &base()).await;
        let again = db.reconnect().await;
        // One row per migration file of the backend's folder (PostgreSQL has one more: the fence).
        let folder = match db.backend {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        };
        let files = std::fs::read_dir(format!("{}/migrations/{folder}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .count() as i64;
        assert_eq!(scalar(&again, "SELECT COUNT(*) FROM _sqlx_migrations").await, files);
        oracle.check(&again, 0).await;
        commit(&again, &mut oracle, &place_hold(1, 1, 500)).await;
        oracle.check(&db.store, 0).await;
    })
    .await;
}

#[tokio::test]
async fn every_change_round_trips() {
    each_store(|db| async move {
        let mut oracle = Oracle::default();
        let mut kyb_corporation = corporation(3);
        kyb_corporation.kyb_status = KybStatus::OnHold;
        let mut anonymous = customer(2);
        anonymous.external_ref = None;
        let mut threshold = balance(5, BalanceKind::PartnerCredit, Owner::Partner(PARTNER.into()));
        threshold.low_balance_threshold = Some(100_000);
        threshold.ledger = 1_000_000;
        let mut locked = card(2, 3);
        locked.status = CardStatus::Locked(LockReason::OfflinePinTriesExceeded);
        locked.kind = CardKind::Physical;
        locked.pin_verification = None;
        locked.pin_tries = 3;
        let mut no_answer_details = answer(3, T0 + 3, None);
        no_answer_details.action_code = *b"9114";
        no_answer_details.approval_code = None;
        no_answer_details.available = None;
        no_answer_details.mti = 420;
        let mut deposit_hold = hold(2, 2, 2, 3, 2_500);
        deposit_hold.partner_balance_id = Some(2);
        let mut bound = user_balance(6, 2);
        bound.program_id = Some(program().id);
        let mut changes = base();
        changes.extend([
            Change::InsertCustomer(anonymous),
            Change::UpdateCustomerKyc {
                customer_id: 1,
                kyc_status: KycStatus::Verified,
            },
            Change::InsertCorporation(kyb_corporation),
            Change::UpdateCorporationKyb {
                corporation_id: 3,
                kyb_status: KybStatus::Approved,
            },
            Change::InsertBalance(balance(3, BalanceKind::Corporate, Owner::Corporation(3))),
            Change::InsertBalance(balance(4, BalanceKind::System, Owner::System("settlement".into()))),
            Change::InsertBalance(threshold),
            Change::InsertBalance(bound),
            Change::BalanceDelta {
                balance_id: 1,
                ledger: 10_000,
                held: 0,
            },
            Change::UpdateBalanceState {
                balance_id: 6,
                state: BalanceState::Blocked,
            },
            // Cleared (NULL) on one balance, set on another.
            Change::UpdateBalanceThreshold {
                balance_id: 5,
                threshold: None,
            },
            Change::UpdateBalanceThreshold {
                balance_id: 3,
                threshold: Some(7),
            },
            Change::InsertCard(locked),
            Change::UpdateCard(CardUpdate {
                card_id: 1,
                status: CardStatus::Locked(LockReason::Stolen),
                cvc_encrypted: vec![4; 31],
                pin_verification: Some([9; 32]),
                pin_tries: 1,
            }),
            Change::InsertHold(hold(1, 1, 1, 1, 700)),
            Change::InsertHold(deposit_hold),
            Change::UpdateHold {
                hold_id: 1,
                remaining: 0,
                status: HoldStatus::Completed,
            },
            Change::InsertTransfer(Transfer {
                id: 1,
                kind: TransferKind::ExternalLoad,
                debit_balance_id: None,
                credit_balance_id: 1,
                amount: 10_000,
                transaction: None,
                hold_id: None,
                created_at: T0 + 1,
            }),
            Change::InsertTransfer(Transfer {
                id: 2,
                kind: TransferKind::CardDebit,
                debit_balance_id: Some(1),
                credit_balance_id: 4,
                amount: 700,
                transaction: Some(transaction(1)),
                hold_id: Some(1),
                created_at: T0 + 2,
            }),
            Change::RecordAnswer(answer(1, T0 + 1, Some(1))),
            Change::RecordAnswer(answer(2, T0 + 2, Some(2))),
            Change::RecordAnswer(no_answer_details),
        ]);
        commit(&db.store, &mut oracle, &changes).await;
        oracle.check(&db.store, 0).await;

        let mut renamed = partner();
        renamed.name = "Acme Bank plc".into();
        let mut longer = program();
        longer.validity_months = 48;
        longer.funding = FundingModel::PartnerCredit;
        commit(
            &db.store,
            &mut oracle,
            &[Change::UpsertPartner(renamed), Change::UpsertProgram(longer)],
        )
        .await;
        // Answers 1 and 2 are on their holds, which keep them; answer 3 (no hold) is deleted.
        assert_eq!(db.store.forget_answers_before(T0 + 4).await.unwrap(), 1);
        oracle.forget_answers_before(T0 + 4);
        assert_eq!(oracle.answers.len(), 2);
        oracle.check(&db.store, 0).await;

        commit(&db.store, &mut oracle, &lifecycle_records()).await;
        oracle.check(&db.store, 0).await;
        commit(&db.store, &mut oracle, &lifecycle_updates()).await;
        assert_eq!(oracle.sessions.len(), 2, "the expired session is forgotten");
        oracle.check(&db.store, 0).await;

        // The outbox and asynchronous card requests: inserted, then updated (the last write wins).
        let notification = Notification {
            id: "0190c0de-0000-7000-8000-00000000n001".into(),
            partner_id: PARTNER.into(),
            balance_id: 5,
            event: EVENT_PARTNER_BALANCE_LOW.into(),
            payload: r#"{"id":"0190c0de-0000-7000-8000-00000000n001","available":99}"#.into(),
            created_at: T0 + 3,
            attempts: 0,
            next_attempt_at: T0 + 3,
            last_error: None,
            delivered_at: None,
        };
        let request = |id: &str, created_at| CardRequestRecord {
            id: id.into(),
            customer_id: 1,
            balance_id: 1,
            program_id: Some(program().id),
            status: CardRequestStatus::Pending,
            card_id: None,
            error: None,
            created_at,
        };
        commit(
            &db.store,
            &mut oracle,
            &[
                Change::UpsertNotification(notification.clone()),
                Change::UpsertCardRequest(request("req-old-pending", T0 - 10)),
                Change::UpsertCardRequest(request("req-done", T0 + 4)),
                Change::UpsertCardRequest(request("req-failed", T0 - 5)),
            ],
        )
        .await;
        oracle.check(&db.store, 0).await;
        let retried = Notification {
            attempts: 2,
            next_attempt_at: T0 + 2_000,
            last_error: Some("HTTP 503".into()),
            ..notification.clone()
        };
        let delivered = Notification {
            attempts: 3,
            delivered_at: Some(T0 + 3_000),
            ..retried.clone()
        };
        commit(
            &db.store,
            &mut oracle,
            &[
                Change::UpsertNotification(retried),
                Change::UpsertNotification(delivered),
                Change::UpsertCardRequest(CardRequestRecord {
                    status: CardRequestStatus::Done,
                    card_id: Some(1),
                    ..request("req-done", T0 + 4)
                }),
                Change::UpsertCardRequest(CardRequestRecord {
                    status: CardRequestStatus::Failed,
                    error: Some(r#"{"code":"KYC_NOT_VERIFIED","message":"no"}"#.into()),
                    ..request("req-failed", T0 - 5)
                }),
            ],
        )
        .await;
        oracle.check(&db.store, 0).await;
        // Finished requests older than the cutoff are not loaded; a pending one always is.
        oracle.check(&db.store, T0).await;
        // A restart reads the same, also with a pool of one connection (tables read one by one).
        oracle.check(&db.reconnect().await, 0).await;
        oracle.check(&Store::connect(&db.url, 1).await.unwrap(), 0).await;
    })
    .await;
}

#[tokio::test]
async fn deltas_on_one_balance_in_a_batch_sum() {
    each_store(|db| async move {
        let mut oracle = Oracle::default();
        commit(&db.store, &mut oracle, &base()).await;
        let mut changes = Vec::new();
        for (id, stan, amount) in [(1, 1, 100), (2, 2, 250), (3, 3, 4_000)] {
            changes.extend(place_hold(id, stan, amount));
        }
        changes.push(Change::BalanceDelta {
            balance_id: 1,
            ledger: 9_999,
            held: -100,
        });
        commit(&db.store, &mut oracle, &changes).await;
        let balances = by_id(db.store.balances().await.unwrap(), |balance| balance.id);
        assert_eq!((balances[0].ledger, balances[0].held), (9_999, 4_250));
        assert_eq!((balances[1].ledger, balances[1].held), (0, 4_350));
        oracle.check(&db.store, 0).await;
    })
    .await;
}

#[tokio::test]
async fn last_update_of_a_row_in_a_batch_wins() {
    each_store(|db| async move {
        let mut oracle = Oracle::default();
        commit(&db.store, &mut oracle, &base()).await;
        commit(&db.store, &mut oracle, &place_hold(1, 1, 800)).await;
        let card_update = |status, pin_tries| {
            Change::UpdateCard(CardUpdate {
                card_id: 1,
                status,
                cvc_encrypted: vec![pin_tries as u8; 31],
                pin_verification: None,
                pin_tries,
            })
        };
        let mut renamed = partner();
        renamed.name = "first".into();
        let mut renamed_again = partner();
        renamed_again.name = "second".into();
        let changes = [
            card_update(CardStatus::Locked(LockReason::PinTriesExceeded), 3),
            Change::UpdateHold {
                hold_id: 1,
                remaining: 300,
                status: HoldStatus::Open,
            },
            card_update(CardStatus::Active, 0),
            Change::UpdateCustomerKyc {
                customer_id: 1,
                kyc_status: KycStatus::Rejected,
            },
            Change::UpdateBalanceState {
                balance_id: 1,
                state: BalanceState::Closed,
            },
            Change::UpsertPartner(renamed),
            Change::UpdateHold {
                hold_id: 1,
                remaining: 0,
                status: HoldStatus::Reversed,
            },
            card_update(CardStatus::Removed, 1),
            Change::UpdateCustomerKyc {
                customer_id: 1,
                kyc_status: KycStatus::Verified,
            },
            Change::UpdateBalanceState {
                balance_id: 1,
                state: BalanceState::Blocked,
            },
            Change::UpsertPartner(renamed_again),
        ];
        commit(&db.store, &mut oracle, &changes).await;
        let holds = db.store.holds().await.unwrap();
        assert_eq!((holds[0].remaining, holds[0].status), (0, HoldStatus::Reversed));
        let snapshot = db.store.load(0).await.unwrap();
        assert_eq!(snapshot.cards[0].status, CardStatus::Removed);
        assert_eq!(snapshot.customers[0].kyc_status, KycStatus::Verified);
        assert_eq!(snapshot.partners[0].name, "second");
        oracle.check(&db.store, 0).await;
    })
    .await;
}

#[tokio::test]
async fn a_failing_batch_stores_nothing() {
    each_store(|db| async move {
        let mut oracle = Oracle::default();
        commit(&db.store, &mut oracle, &base()).await;
        commit(&db.store, &mut oracle, &place_hold(1, 1, 500)).await;

        // Everything a batch can carry, then a hold reusing hold 1's transaction identity.
        let mut changes = vec![
            Change::InsertCustomer(customer(2)),
            Change::InsertBalance(user_balance(3, 2)),
            Change::InsertCard(card(2, 3)),
            Change::UpdateCard(CardUpdate {
                card_id: 1,
                status: CardStatus::Removed,
                cvc_encrypted: vec![],
                pin_verification: None,
                pin_tries: 0,
            }),
            Change::UpdateHold {
                hold_id: 1,
                remaining: 0,
                status: HoldStatus::Completed,
            },
        ];
        changes.extend(place_hold(2, 2, 40));
        changes.extend(place_hold(3, 1, 60));
        let error = db.store.commit(&changes).await.unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Constraint {
                    kind: ConstraintKind::Unique,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(!error.is_unavailable());
        let message = error.to_string();
        assert!(
            !message.contains(&transaction(1).to_string()),
            "no row values in {message:?}"
        );
        oracle.check(&db.store, 0).await;

        // An update of a row that does not exist fails the batch the same way.
        let mut changes = place_hold(4, 4, 10);
        changes.push(Change::BalanceDelta {
            balance_id: 99,
            ledger: 1,
            held: 0,
        });
        let error = db.store.commit(&changes).await.unwrap_err();
        assert!(
            matches!(error, StoreError::MissingRows { table: "balances", .. }),
            "{error:?}"
        );
        oracle.check(&db.store, 0).await;
        // So it does in a batch too large to be one statement committing on its own (PostgreSQL
        // writes that one in a transaction).
        let mut changes: Vec<Change> = (100..700)
            .map(|stan| Change::RecordAnswer(answer(stan, T0, None)))
            .collect();
        changes.push(Change::BalanceDelta {
            balance_id: 99,
            ledger: 1,
            held: 0,
        });
        let error = db.store.commit(&changes).await.unwrap_err();
        assert!(
            matches!(error, StoreError::MissingRows { table: "balances", .. }),
            "{error:?}"
        );
        oracle.check(&db.store, 0).await;

        // And so do references to rows that do not exist, from each table that has no foreign keys.
        let mut orphan = hold(7, 7, 42, 1, 10);
        orphan.partner_balance_id = None;
        let mut orphan_transfer = Transfer {
            id: 1,
            kind: TransferKind::CardDebit,
            debit_balance_id: Some(1),
            credit_balance_id: 77,
            amount: 5,
            transaction: None,
            hold_id: None,
            created_at: T0,
        };
        let orphan_answer = answer(9, T0, Some(88));
        let mut changes = place_hold(5, 5, 10);
        changes.push(Change::InsertHold(orphan));
        let cases = [
            (changes, "cards"),
            (vec![Change::InsertTransfer(orphan_transfer.clone())], "balances"),
            (vec![Change::RecordAnswer(orphan_answer)], "holds"),
        ];
        for (changes, missing_from) in cases {
            let error = db.store.commit(&changes).await.unwrap_err();
            assert!(
                matches!(error, StoreError::DanglingReferences { table, missing: 1 } if table == missing_from),
                "{error:?}"
            );
            oracle.check(&db.store, 0).await;
        }
        orphan_transfer.credit_balance_id = 2;
        orphan_transfer.hold_id = Some(99);
        let error = db
            .store
            .commit(&[Change::InsertTransfer(orphan_transfer)])
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::DanglingReferences { table: "holds", .. }),
            "{error:?}"
        );

        // Tables with foreign keys refuse a missing reference at once.
        let error = db.store.commit(&[Change::InsertCard(card(9, 404))]).await.unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Constraint {
                    kind: ConstraintKind::ForeignKey,
                    ..
                }
            ),
            "{error:?}"
        );
        oracle.check(&db.store, 0).await;

        // The store still takes good batches afterwards.
        commit(&db.store, &mut oracle, &place_hold(6, 6, 70)).await;
        oracle.check(&db.store, 0).await;
    })
    .await;
}

/// Memory never updates a hold in the batch that inserts it, but the store takes such a batch: the
/// PostgreSQL store writes a batch's holds and hold updates in one statement, where an update cannot
/// see a row inserted beside it, so it inserts that hold with its updated values. Alongside, an update
/// of a hold stored earlier, so that both halves of the split are in one batch.
#[tokio::test]
async fn a_hold_inserted_and_updated_in_one_batch_is_stored_as_updated() {
    each_store(|db| async move {
        let mut oracle = Oracle::default();
        commit(&db.store, &mut oracle, &base()).await;
        commit(&db.store, &mut oracle, &place_hold(1, 1, 100)).await;
        let mut changes = place_hold(2, 2, 100);
        changes.extend(place_hold(3, 3, 100));
        changes.extend([
            Change::UpdateHold {
                hold_id: 2,
                remaining: 40,
                status: HoldStatus::Open,
            },
            Change::UpdateHold {
                hold_id: 3,
                remaining: 0,
                status: HoldStatus::Reversed,
            },
            Change::UpdateHold {
                hold_id: 1,
                remaining: 0,
                status: HoldStatus::Completed,
            },
        ]);
        commit(&db.store, &mut oracle, &changes).await;
        let snapshot = sorted(db.store.load(0).await.unwrap());
        let stored: Vec<(HoldId, i64, HoldStatus)> = snapshot
            .holds
            .iter()
            .map(|hold| (hold.id, hold.remaining, hold.status))
            .collect();
        assert_eq!(
            stored,
            [
                (1, 0, HoldStatus::Completed),
                (2, 40, HoldStatus::Open),
                (3, 0, HoldStatus::Reversed)
            ]
        );
        oracle.check(&db.store, 0).await;
    })
    .await;
}

/// An approval's answer is written on the hold its request placed, not as a row of its own
/// (migration 0012); a decline's stays in `recorded_answers`. Both load and look up the same.
#[tokio::test]
async fn an_approval_is_answered_on_its_hold_and_a_decline_on_its_own_row() {
    each_store(|db| async move {
        let mut oracle = Oracle::default();
        commit(&db.store, &mut oracle, &base()).await;
        let mut changes = place_hold(1, 1, 100);
        let mut decline = answer(2, T0 + 1, None);
        decline.action_code = *b"1116";
        decline.approval_code = None;
        changes.push(Change::RecordAnswer(decline.clone()));
        commit(&db.store, &mut oracle, &changes).await;
        assert_eq!(scalar(&db.store, "SELECT COUNT(*) FROM recorded_answers").await, 1);
        assert_eq!(
            scalar(
                &db.store,
                "SELECT COUNT(*) FROM holds WHERE answer_action_code = '0000'"
            )
            .await,
            1
        );
        assert_eq!(db.store.answer(transaction(2)).await.unwrap(), Some(decline));
        assert_eq!(
            db.store.answer(transaction(1)).await.unwrap(),
            Some(answer(1, T0 + 1, Some(1)))
        );
        oracle.check(&db.store, 0).await;
        oracle.check(&db.store, T0 + 2).await;
    })
    .await;
}

#[tokio::test]
async fn load_gives_live_holds_and_answers_since_the_cutoff() {
    each_store(|db| async move {
        let mut oracle = Oracle::default();
        commit(&db.store, &mut oracle, &base()).await;
        let mut changes = Vec::new();
        for id in 1..=6 {
            changes.extend(place_hold(id, id as u32, 100));
        }
        commit(&db.store, &mut oracle, &changes).await;
        let closing = [
            (1, HoldStatus::Completed),
            (3, HoldStatus::Reversed),
            (5, HoldStatus::Expired),
        ];
        let changes: Vec<Change> = closing
            .iter()
            .map(|(hold_id, status)| Change::UpdateHold {
                hold_id: *hold_id,
                remaining: 0,
                status: *status,
            })
            .collect();
        commit(&db.store, &mut oracle, &changes).await;

        let snapshot = sorted(db.store.load(T0 + 4).await.unwrap());
        // Open ones, and the closed one (5) created inside the window: a reversal may still name it.
        assert_eq!(
            snapshot.holds.iter().map(|hold| hold.id).collect::<Vec<_>>(),
            [2, 4, 5, 6]
        );
        let stans: Vec<u32> = snapshot.answers.iter().map(|answer| answer.transaction.stan).collect();
        assert_eq!(stans, [4, 5, 6], "answers created at or after the cutoff");
        assert_eq!(snapshot.max_ids.hold, 6);
        oracle.check(&db.store, T0 + 4).await;
        oracle.check(&db.store, T0 + 7).await;
    })
    .await;
}

#[tokio::test]
async fn max_ids_are_the_highest_in_use() {
    each_store(|db| async move {
        let mut oracle = Oracle::default();
        assert_eq!(db.store.load(0).await.unwrap().max_ids, MaxIds::default());
        let mut changes = base();
        let mut closed = hold(31, 31, 20, 12, 10);
        closed.status = HoldStatus::Completed;
        closed.remaining = 0;
        changes.extend([
            Change::InsertCustomer(customer(9)),
            Change::InsertCorporation(corporation(4)),
            Change::InsertBalance(user_balance(12, 9)),
            Change::InsertCard(card(20, 12)),
            Change::InsertHold(hold(30, 30, 20, 12, 10)),
            Change::InsertHold(closed),
            Change::InsertTransfer(Transfer {
                id: 40,
                kind: TransferKind::ExternalLoad,
                debit_balance_id: None,
                credit_balance_id: 12,
                amount: 1,
                transaction: None,
                hold_id: None,
                created_at: T0,
            }),
        ]);
        commit(&db.store, &mut oracle, &changes).await;
        let max_ids = db.store.load(0).await.unwrap().max_ids;
        assert_eq!(
            max_ids,
            MaxIds {
                balance: 12,
                card: 20,
                hold: 31,
                customer: 9,
                corporation: 4,
                transfer: 40,
            },
            "a closed hold's id is in use although the hold is not loaded"
        );
        oracle.check(&db.store, 0).await;
    })
    .await;
}

#[tokio::test]
async fn forget_answers_before_deletes_older_answers() {
    each_store(|db| async move {
        let mut oracle = Oracle::default();
        commit(&db.store, &mut oracle, &base()).await;
        let answers: Vec<Change> = (1..=3)
            .map(|stan| Change::RecordAnswer(answer(stan, T0 + i64::from(stan) * 100, None)))
            .collect();
        commit(&db.store, &mut oracle, &answers).await;
        // A repeat of a recorded answer keeps the first one.
        let mut repeat = answer(1, T0 + 900, None);
        repeat.action_code = *b"9109";
        commit(&db.store, &mut oracle, &[Change::RecordAnswer(repeat)]).await;
        assert_eq!(
            db.store.answer(transaction(1)).await.unwrap().unwrap().action_code,
            *b"0000"
        );

        assert_eq!(db.store.forget_answers_before(T0 + 200).await.unwrap(), 1);
        oracle.forget_answers_before(T0 + 200);
        assert_eq!(db.store.answer(transaction(1)).await.unwrap(), None);
        assert!(db.store.answer(transaction(2)).await.unwrap().is_some());
        assert_eq!(db.store.load(0).await.unwrap().answers.len(), 2);
        oracle.check(&db.store, 0).await;
    })
    .await;
}

/// 10,000 holds in one batch: 100,000 hold values alone, beyond SQLite's 32,766 parameters per statement.
#[tokio::test]
async fn a_large_batch_is_written_whole() {
    each_store(|db| async move {
        let mut oracle = Oracle::default();
        commit(&db.store, &mut oracle, &base()).await;
        let changes: Vec<Change> = (1..=10_000).flat_map(|id| place_hold(id, id as u32, 3)).collect();
        commit(&db.store, &mut oracle, &changes).await;
        let balances = by_id(db.store.balances().await.unwrap(), |balance| balance.id);
        assert_eq!((balances[0].held, balances[1].held), (30_000, 30_000));
        let snapshot = db.store.load(0).await.unwrap();
        assert_eq!((snapshot.holds.len(), snapshot.answers.len()), (10_000, 10_000));
        oracle.check(&db.store, 0).await;
    })
    .await;
}

#[tokio::test]
async fn external_loads_are_summed_per_currency() {
    each_store(|db| async move {
        let mut usd = user_balance(3, 1);
        usd.currency = "USD".into();
        let load = |id, credit_balance_id, amount| {
            Change::InsertTransfer(Transfer {
                id,
                kind: TransferKind::ExternalLoad,
                debit_balance_id: None,
                credit_balance_id,
                amount,
                transaction: None,
                hold_id: None,
                created_at: T0,
            })
        };
        let mut changes = base();
        changes.extend([
            Change::InsertBalance(usd),
            load(1, 2, 5_000),
            load(2, 1, 250),
            load(3, 3, 700),
            Change::InsertTransfer(Transfer {
                id: 4,
                kind: TransferKind::Reload,
                debit_balance_id: Some(2),
                credit_balance_id: 1,
                amount: 100,
                transaction: None,
                hold_id: None,
                created_at: T0,
            }),
        ]);
        db.store.commit(&changes).await.unwrap();
        let totals = db.store.external_loads().await.unwrap();
        assert_eq!(totals.len(), 2);
        assert_eq!((totals["EUR"], totals["USD"]), (5_250, 700));
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable() {
    let error = Store::connect("postgres://postgres@127.0.0.1:1/antaca", 1)
        .await
        .unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    assert!(matches!(
        Store::connect("mysql://localhost/antaca", 1).await,
        Err(StoreError::UnsupportedUrl)
    ));
    each_store(|db| async move {
        db.store.commit(&base()).await.unwrap();
        db.store.close().await;
        let error = db.store.commit(&place_hold(1, 1, 10)).await.unwrap_err();
        assert!(error.is_unavailable(), "{error:?}");
        assert!(db.store.load(0).await.unwrap_err().is_unavailable());
    })
    .await;
}

#[test]
fn the_test_database_url_keeps_everything_but_the_name() {
    assert_eq!(
        support::store::with_database("postgres://postgres@127.0.0.1:5432/postgres", "t"),
        "postgres://postgres@127.0.0.1:5432/t"
    );
    assert_eq!(
        support::store::with_database("postgres://u:p@h/db?sslmode=disable", "t"),
        "postgres://u:p@h/t?sslmode=disable"
    );
    assert_eq!(support::store::with_database("postgres://h", "t"), "postgres://h/t");
}

// ---------------------------------------------------------------------------------------------------
// Measurements (ignored: run them with --release --ignored --nocapture)

/// Start-up load of 1,000,000 customers, balances and cards from PostgreSQL (issue target: ≤ 10 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; cargo test --release --test store -- --ignored load_one_million_cards --nocapture"]
async fn load_one_million_cards() {
    const COUNT: i64 = 1_000_000;
    const BATCH: i64 = 25_000;
    let Some(db) = TestStore::postgres().await else {
        return;
    };
    assert_eq!(db.backend, Backend::Postgres);
    db.store.commit(&base()[..2]).await.unwrap();
    let started = Instant::now();
    for first in (1..=COUNT).step_by(BATCH as usize) {
        let mut changes = Vec::with_capacity(3 * BATCH as usize);
        for id in first..first + BATCH {
            changes.push(Change::InsertCustomer(customer(id)));
            let mut balance = user_balance(id, id);
            balance.ledger = 10_000;
            changes.push(Change::InsertBalance(balance));
            changes.push(Change::InsertCard(card(id, id)));
        }
        db.store.commit(&changes).await.unwrap();
    }
    println!(
        "inserted {COUNT} customers, balances and cards in {:.2?} (commit, batches of {BATCH} each)",
        started.elapsed()
    );

    for attempt in ["first (after the bulk insert)", "second"] {
        let started = Instant::now();
        let snapshot = db.store.load(0).await.unwrap();
        let elapsed = started.elapsed();
        assert_eq!(snapshot.cards.len(), COUNT as usize);
        assert_eq!(snapshot.balances.len(), COUNT as usize);
        assert_eq!(snapshot.customers.len(), COUNT as usize);
        assert_eq!(snapshot.max_ids.card, COUNT);
        println!(
            "load, {attempt}: {} cards + {} balances + {} customers in {elapsed:.2?}",
            snapshot.cards.len(),
            snapshot.balances.len(),
            snapshot.customers.len()
        );
        assert!(elapsed.as_secs_f64() <= 10.0, "the issue's target is 10 s");
    }
}

/// Committed holds per second through `commit`, on both backends, in batches the size of
/// `journal.batch_max` (4096 changes = 1024 holds of 4 changes each), one commit after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; cargo test --release --test store -- --ignored commit_holds_per_second --nocapture"]
async fn commit_holds_per_second() {
    const HOLDS: i64 = 200_000;
    const HOLDS_PER_BATCH: i64 = 1024;
    each_store(|db| async move {
        db.store.commit(&base()).await.unwrap();
        let started = Instant::now();
        for first in (1..=HOLDS).step_by(HOLDS_PER_BATCH as usize) {
            let changes: Vec<Change> = (first..first + HOLDS_PER_BATCH)
                .flat_map(|id| place_hold(id, id as u32, 1))
                .collect();
            db.store.commit(&changes).await.unwrap();
        }
        let elapsed = started.elapsed();
        println!(
            "{:?}: {HOLDS} holds in {elapsed:.2?}: {:.0} committed holds/s ({HOLDS_PER_BATCH} holds per commit)",
            db.backend,
            HOLDS as f64 / elapsed.as_secs_f64()
        );
    })
    .await;
}

/// After a COMMIT whose answer was lost, the journal asks whether the batch's marker is stored: yes
/// for a committed batch, no for one that was not (and asking leaves no marker behind); on
/// PostgreSQL, asking while the batch's transaction is still open waits for it to end.
#[tokio::test]
async fn an_in_doubt_batch_is_found_by_its_marker() {
    use antaca::state::journal::Written;
    use sqlx::Connection;
    each_store(|db| async move {
        db.store
            .commit_signalling(
                &base(),
                Some(BatchMarker { batch: 41, epoch: None }),
                Written::unobserved(),
            )
            .await
            .unwrap();
        assert!(db.store.batch_stored(41).await.unwrap(), "a committed batch is found");
        assert!(
            !db.store.batch_stored(42).await.unwrap(),
            "a batch never committed is not"
        );
        assert!(!db.store.batch_stored(42).await.unwrap(), "asking stored nothing");
        assert_eq!(scalar(&db.store, "SELECT COUNT(*) FROM committed_batches").await, 1);
        if !matches!(db.backend, Backend::Postgres) {
            return;
        }
        for commits in [true, false] {
            let marker = if commits { 43 } else { 44 };
            let mut open = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut open).await.unwrap();
            sqlx::query("INSERT INTO committed_batches (id) VALUES ($1)")
                .bind(marker)
                .execute(&mut open)
                .await
                .unwrap();
            let store = db.store.clone();
            let asking = tokio::spawn(async move { store.batch_stored(marker).await.unwrap() });
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            assert!(!asking.is_finished(), "the question waits for the open transaction");
            let end = if commits { "COMMIT" } else { "ROLLBACK" };
            sqlx::query(end).execute(&mut open).await.unwrap();
            assert_eq!(asking.await.unwrap(), commits, "after {end}");
        }
    })
    .await;
}

/// One serving instance per PostgreSQL database, fenced: taking the database over waits for a batch
/// an earlier instance is still committing (a switch killed during COMMIT leaves its server session
/// finishing it), so the successor's load sees it; a batch of the earlier instance that comes after
/// the take-over stores nothing and says why. (SQLite needs no fence: its file lock ends only with
/// its process, and a dead process commits nothing more.)
#[tokio::test]
async fn a_take_over_waits_for_the_predecessors_commit_and_fences_off_the_rest() {
    use sqlx::Connection;
    let Some(db) = TestStore::postgres().await else {
        return;
    };
    let predecessor = db.store.take_over().await.unwrap().expect("PostgreSQL is fenced");
    // The predecessor's batch, every statement run and its marker written; only COMMIT is left.
    let mut committing = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut committing).await.unwrap();
    sqlx::query("INSERT INTO committed_batches (id) SELECT 7 FROM serving_instance WHERE epoch = $1 FOR SHARE")
        .bind(predecessor)
        .execute(&mut committing)
        .await
        .unwrap();
    let successor = Store::connect(&db.url, 2).await.unwrap();
    let taking_over = tokio::spawn({
        let successor = successor.clone();
        async move { successor.take_over().await.unwrap().unwrap() }
    });
    // The take-over is seen waiting on the predecessor's lock, not merely slow.
    let mut waiting = 0;
    while waiting == 0 {
        waiting = scalar(
            &db.store,
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE serving_instance%'",
        )
        .await;
        assert!(
            !taking_over.is_finished(),
            "the take-over waits for the batch still committing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    sqlx::query("COMMIT").execute(&mut committing).await.unwrap();
    let epoch = taking_over.await.unwrap();
    assert!(epoch > predecessor);
    assert!(
        successor.batch_stored(7).await.unwrap(),
        "the predecessor's batch landed before the take-over"
    );

    // From now on the predecessor's batches store nothing.
    let stale = commit_fenced(&db.store, &base(), 8, predecessor).await;
    assert!(
        matches!(stale, Err(StoreError::Superseded { epoch }) if epoch == predecessor),
        "{stale:?}"
    );
    assert_eq!(
        scalar(&db.store, "SELECT COUNT(*) FROM balances").await,
        0,
        "nothing of it stored"
    );
    commit_fenced(&successor, &base(), 9, epoch)
        .await
        .expect("the serving instance commits");
    assert_eq!(scalar(&db.store, "SELECT COUNT(*) FROM balances").await, 2);

    // A batch of the hot path's rows alone is one statement committing on its own; the fence
    // refuses it inside that statement, so nothing of it is stored either.
    let stale = commit_fenced(&db.store, &place_hold(1, 1, 10), 10, predecessor).await;
    assert!(
        matches!(stale, Err(StoreError::Superseded { epoch }) if epoch == predecessor),
        "{stale:?}"
    );
    assert_eq!(
        scalar(&db.store, "SELECT COUNT(*) FROM holds").await,
        0,
        "no hold stored"
    );
    assert_eq!(
        scalar(&db.store, "SELECT COUNT(*) FROM balances WHERE held <> 0").await,
        0,
        "no funds held"
    );
    assert!(!db.store.batch_stored(10).await.unwrap(), "no marker stored");
    commit_fenced(&successor, &place_hold(1, 1, 10), 11, epoch)
        .await
        .expect("the serving instance's hot-path batch commits");
    assert_eq!(scalar(&db.store, "SELECT COUNT(*) FROM holds").await, 1);
    assert!(
        successor.batch_stored(11).await.unwrap(),
        "its marker is stored with it"
    );
}

/// A hot-path batch is one statement that commits on its own, so losing its connection before the
/// answer leaves its outcome unknown, as losing a COMMIT's answer does: the error is `InDoubt`, and
/// the batch's marker then tells (here: not stored, the server ended the session mid-statement).
#[tokio::test]
async fn a_hot_path_batch_whose_connection_ends_mid_statement_is_in_doubt() {
    use antaca::state::journal::Written;
    use sqlx::Connection;
    let Some(db) = TestStore::postgres().await else {
        return;
    };
    let mut oracle = Oracle::default();
    commit(&db.store, &mut oracle, &base()).await;
    // Another session holds the user balance's row, so the batch's statement waits on it.
    let mut locking = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locking).await.unwrap();
    sqlx::query("SELECT 1 FROM balances WHERE id = 1 FOR UPDATE")
        .execute(&mut locking)
        .await
        .unwrap();
    let committing = tokio::spawn({
        let store = db.store.clone();
        async move {
            store
                .commit_signalling(
                    &place_hold(1, 1, 10),
                    Some(BatchMarker { batch: 12, epoch: None }),
                    Written::unobserved(),
                )
                .await
        }
    });
    let mut terminated = false;
    while !terminated {
        assert!(!committing.is_finished(), "the statement waits for the row lock");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        terminated = sqlx::query_scalar::<_, bool>(
            "SELECT COALESCE(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND query LIKE 'WITH new_holds%'",
        )
        .fetch_one(&mut locking)
        .await
        .unwrap();
    }
    let error = committing.await.unwrap().unwrap_err();
    assert!(matches!(error, StoreError::InDoubt(_)), "{error:?}");
    sqlx::query("ROLLBACK").execute(&mut locking).await.unwrap();
    assert!(!db.store.batch_stored(12).await.unwrap(), "the batch was not stored");
    oracle.check(&db.store, 0).await;
}

/// Old answers are deleted outside the journal in slices of at most `FORGET_ROWS_MAX`, each its own
/// transaction, until none is left before the cutoff; answers from the cutoff's millisecond on stay,
/// and so do the markers of batches started since then.
#[tokio::test]
async fn old_answers_are_deleted_in_bounded_slices_until_none_is_left() {
    use antaca::state::journal::Written;
    each_store(|db| async move {
        let mut oracle = Oracle::default();
        commit(&db.store, &mut oracle, &base()).await;
        let slice = antaca::store::FORGET_ROWS_MAX as u32;
        // Two and a half slices, many sharing a millisecond across a slice boundary, and one answer
        // exactly at the cutoff.
        let answers: Vec<Change> = (1..=slice * 5 / 2)
            .map(|stan| Change::RecordAnswer(answer(stan, T0 + 100 + i64::from(stan / 700), None)))
            .chain([Change::RecordAnswer(answer(slice * 3, T0 + 200, None))])
            .collect();
        db.store.commit(&answers).await.unwrap();
        for (marker, started) in [(1, T0 + 150), (2, T0 + 250)] {
            db.store
                .commit_signalling(
                    &[Change::UpsertPartner(partner())],
                    Some(BatchMarker {
                        batch: started << antaca::state::journal::BATCH_COUNT_BITS | marker,
                        epoch: None,
                    }),
                    Written::unobserved(),
                )
                .await
                .unwrap();
        }
        assert_eq!(
            db.store.forget_answers_before(T0 + 200).await.unwrap(),
            u64::from(slice * 5 / 2)
        );
        let left = db.store.load(0).await.unwrap().answers;
        assert_eq!(left.len(), 1, "only the answer at the cutoff is left");
        assert_eq!(left[0].created_at, T0 + 200);
        assert_eq!(scalar(&db.store, "SELECT COUNT(*) FROM committed_batches").await, 1);
        assert_eq!(
            db.store.forget_answers_before(T0 + 200).await.unwrap(),
            0,
            "nothing more"
        );
    })
    .await;
}
