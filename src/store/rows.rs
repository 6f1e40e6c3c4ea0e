//! Reading rows back into the model, the same for both backends: the SELECT lists (plain SQL both
//! databases accept; narrow integer columns are widened with CAST so one reader fits both) and one
//! decoder per table over the [`Columns`] of a row, whichever backend it came from.

use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::StoreError;
use super::codes::{
    Code, OwnerColumns, SubjectColumns, card_status_from_columns, from_json, owner_from_columns, subject_from_columns,
};
use crate::domain::*;

pub(crate) const PARTNERS: &str = "SELECT id, name, created_at FROM partners";
pub(crate) const PROGRAMS: &str =
    "SELECT id, partner_id, bin, currency, funding, CAST(validity_months AS BIGINT) FROM programs";
pub(crate) const CUSTOMERS: &str = "SELECT id, partner_id, external_ref, kyc_status, created_at FROM customers";
pub(crate) const CORPORATIONS: &str = "SELECT id, partner_id, name, kyb_status, created_at FROM corporations";
pub(crate) const BALANCES: &str = "SELECT id, kind, owner_kind, owner_customer_id, owner_corporation_id, \
     owner_partner_id, owner_system, partner_id, currency, ledger, held, state, low_balance_threshold, created_at, \
     program_id FROM balances";
pub(crate) const CARDS: &str = "SELECT id, balance_id, program_id, kind, status, CAST(lock_reason AS BIGINT), \
     pan_hash, pan_encrypted, pan_first6, pan_last4, expiry, cvc_encrypted, pin_verification, \
     CAST(pin_tries AS BIGINT), created_at FROM cards";
pub(crate) const HOLDS: &str = "SELECT id, transaction_id, card_id, user_balance_id, partner_balance_id, amount, \
     remaining, status, created_at, expires_at FROM holds";
/// Open holds, and closed ones still inside the duplicate-retention window: a
/// reversal of a completed transaction must find its hold after a restart. With the answer stored
/// on each (migration 0012; [`live_hold`]).
pub(crate) const LIVE_HOLDS: &str = "SELECT id, transaction_id, card_id, user_balance_id, partner_balance_id, \
     amount, remaining, status, created_at, expires_at, CAST(answer_mti AS BIGINT), answer_action_code, \
     answer_approval_code, answer_available, CAST(answer_available_currency AS BIGINT) \
     FROM holds WHERE status = 'open' OR created_at >= $1";
pub(crate) const TRANSFERS: &str = "SELECT id, kind, debit_balance_id, credit_balance_id, amount, transaction_id, \
     hold_id, created_at FROM transfers";
pub(crate) const ANSWERS_SINCE: &str = "SELECT transaction_id, CAST(mti AS BIGINT), action_code, approval_code, \
     available, CAST(available_currency AS BIGINT), hold_id, created_at FROM recorded_answers \
     WHERE created_at >= $1";
/// A transaction's answer, in `recorded_answers` or on its hold (migration 0012), the newer first.
pub(crate) const ANSWER: &str = "SELECT transaction_id, CAST(mti AS BIGINT), action_code, approval_code, \
     available, CAST(available_currency AS BIGINT), hold_id, created_at FROM recorded_answers \
     WHERE transaction_id = $1 \
     UNION ALL SELECT transaction_id, CAST(answer_mti AS BIGINT), answer_action_code, answer_approval_code, \
     answer_available, CAST(answer_available_currency AS BIGINT), id, created_at FROM holds \
     WHERE transaction_id = $1 AND answer_action_code IS NOT NULL \
     ORDER BY 8 DESC LIMIT 1";
/// Per currency, the money that entered the platform (BIGINT in both: PostgreSQL's SUM of BIGINT is
/// NUMERIC, hence the CAST).
pub(crate) const EXTERNAL_LOADS: &str = "SELECT balances.currency, CAST(SUM(transfers.amount) AS BIGINT) \
     FROM transfers JOIN balances ON balances.id = transfers.credit_balance_id \
     WHERE transfers.kind = 'external_load' GROUP BY balances.currency";
/// The highest id in use per id sequence (0 for an empty table), in [`MaxIds`](super::MaxIds) order.
pub(crate) const MAX_IDS: &str = "SELECT \
     (SELECT COALESCE(MAX(id), 0) FROM balances), \
     (SELECT COALESCE(MAX(id), 0) FROM cards), \
     (SELECT COALESCE(MAX(id), 0) FROM holds), \
     (SELECT COALESCE(MAX(id), 0) FROM customers), \
     (SELECT COALESCE(MAX(id), 0) FROM corporations), \
     (SELECT COALESCE(MAX(id), 0) FROM transfers)";

// The lifecycle records. Booleans are BOOLEAN in PostgreSQL and INTEGER in SQLite; the CASE reads both as 0/1.
pub(crate) const CUSTOMER_PROFILES: &str =
    "SELECT customer_id, email, phone, first_name, last_name, updated_at FROM customer_profiles";
pub(crate) const INSTALLATIONS: &str = "SELECT id, customer_id, device_id, \
     CAST(CASE WHEN active THEN 1 ELSE 0 END AS BIGINT), created_at, deactivated_at FROM installations";
pub(crate) const ADMINS: &str = "SELECT id, username, password_hash, role, partner_id, \
     CAST(CASE WHEN active THEN 1 ELSE 0 END AS BIGINT), created_at FROM admin_users";
pub(crate) const SESSIONS: &str = "SELECT token_hash, subject_kind, customer_id, installation_id, admin_id, \
     created_at, expires_at, CAST(CASE WHEN revoked THEN 1 ELSE 0 END AS BIGINT) FROM sessions";
pub(crate) const KYC_SUBMISSIONS: &str = "SELECT id, customer_id, source, data, status, findings, decided_by, \
     reason, created_at, decided_at FROM kyc_submissions";
pub(crate) const CORPORATION_DETAILS: &str =
    "SELECT corporation_id, registration_number, tax_id, address, documents FROM corporation_details";
pub(crate) const KYB_TRANSITIONS: &str =
    "SELECT id, corporation_id, from_status, to_status, actor, reason, at FROM kyb_transitions";
pub(crate) const NOTIFICATIONS: &str = "SELECT id, partner_id, balance_id, event, payload, created_at, \
     CAST(attempts AS BIGINT), next_attempt_at, last_error, delivered_at FROM notifications";
/// Pending requests, and the others made at or after the cutoff (older finished ones are no longer polled).
pub(crate) const CARD_REQUESTS_SINCE: &str = "SELECT id, customer_id, balance_id, program_id, status, card_id, \
     error, created_at FROM card_requests WHERE status = 'pending' OR created_at >= $1";

/// Typed access to a row's columns by position; values borrow from the row.
pub(crate) trait Columns {
    fn int(&self, index: usize) -> Result<i64, sqlx::Error>;
    fn int_or_null(&self, index: usize) -> Result<Option<i64>, sqlx::Error>;
    fn text(&self, index: usize) -> Result<&str, sqlx::Error>;
    fn text_or_null(&self, index: usize) -> Result<Option<&str>, sqlx::Error>;
    fn bytes(&self, index: usize) -> Result<&[u8], sqlx::Error>;
    fn bytes_or_null(&self, index: usize) -> Result<Option<&[u8]>, sqlx::Error>;
}

macro_rules! columns_of {
    ($row:ty) => {
        impl Columns for $row {
            fn int(&self, index: usize) -> Result<i64, sqlx::Error> {
                self.try_get(index)
            }
            fn int_or_null(&self, index: usize) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(index)
            }
            fn text(&self, index: usize) -> Result<&str, sqlx::Error> {
                self.try_get(index)
            }
            fn text_or_null(&self, index: usize) -> Result<Option<&str>, sqlx::Error> {
                self.try_get(index)
            }
            fn bytes(&self, index: usize) -> Result<&[u8], sqlx::Error> {
                self.try_get(index)
            }
            fn bytes_or_null(&self, index: usize) -> Result<Option<&[u8]>, sqlx::Error> {
                self.try_get(index)
            }
        }
    };
}

columns_of!(PgRow);
columns_of!(SqliteRow);

fn code<T: Code>(text: &str, table: &'static str, column: &'static str) -> Result<T, StoreError> {
    T::from_text(text).ok_or(StoreError::Corrupt { table, column })
}

fn narrow<T: TryFrom<i64>>(value: i64, table: &'static str, column: &'static str) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| StoreError::Corrupt { table, column })
}

fn fixed<const N: usize>(bytes: &[u8], table: &'static str, column: &'static str) -> Result<[u8; N], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt { table, column })
}

fn transaction(text: &str, table: &'static str) -> Result<TransactionId, StoreError> {
    TransactionId::parse(text).ok_or(StoreError::Corrupt {
        table,
        column: "transaction_id",
    })
}

pub(crate) fn partner(row: &impl Columns) -> Result<Partner, StoreError> {
    Ok(Partner {
        id: row.text(0)?.to_owned(),
        name: row.text(1)?.to_owned(),
        created_at: row.int(2)?,
    })
}

pub(crate) fn program(row: &impl Columns) -> Result<Program, StoreError> {
    Ok(Program {
        id: row.text(0)?.to_owned(),
        partner_id: row.text(1)?.to_owned(),
        bin: row.text(2)?.to_owned(),
        currency: row.text(3)?.to_owned(),
        funding: code(row.text(4)?, "programs", "funding")?,
        validity_months: narrow(row.int(5)?, "programs", "validity_months")?,
    })
}

pub(crate) fn customer(row: &impl Columns) -> Result<Customer, StoreError> {
    Ok(Customer {
        id: row.int(0)?,
        partner_id: row.text(1)?.to_owned(),
        external_ref: row.text_or_null(2)?.map(str::to_owned),
        kyc_status: code(row.text(3)?, "customers", "kyc_status")?,
        created_at: row.int(4)?,
    })
}

pub(crate) fn corporation(row: &impl Columns) -> Result<Corporation, StoreError> {
    Ok(Corporation {
        id: row.int(0)?,
        partner_id: row.text(1)?.to_owned(),
        name: row.text(2)?.to_owned(),
        kyb_status: code(row.text(3)?, "corporations", "kyb_status")?,
        created_at: row.int(4)?,
    })
}

pub(crate) fn balance(row: &impl Columns) -> Result<Balance, StoreError> {
    let owner = OwnerColumns {
        kind: row.text(2)?,
        customer_id: row.int_or_null(3)?,
        corporation_id: row.int_or_null(4)?,
        partner_id: row.text_or_null(5)?,
        system: row.text_or_null(6)?,
    };
    Ok(Balance {
        id: row.int(0)?,
        kind: code(row.text(1)?, "balances", "kind")?,
        owner: owner_from_columns(owner).ok_or(StoreError::Corrupt {
            table: "balances",
            column: "owner_kind",
        })?,
        partner_id: row.text(7)?.to_owned(),
        currency: row.text(8)?.to_owned(),
        ledger: row.int(9)?,
        held: row.int(10)?,
        state: code(row.text(11)?, "balances", "state")?,
        low_balance_threshold: row.int_or_null(12)?,
        created_at: row.int(13)?,
        program_id: row.text_or_null(14)?.map(str::to_owned),
    })
}

pub(crate) fn card(row: &impl Columns) -> Result<Card, StoreError> {
    let status = card_status_from_columns(row.text(4)?, row.int_or_null(5)?).ok_or(StoreError::Corrupt {
        table: "cards",
        column: "status",
    })?;
    Ok(Card {
        id: row.int(0)?,
        balance_id: row.int(1)?,
        program_id: row.text(2)?.to_owned(),
        kind: code(row.text(3)?, "cards", "kind")?,
        status,
        pan_hash: fixed(row.bytes(6)?, "cards", "pan_hash")?,
        pan_encrypted: row.bytes(7)?.to_vec(),
        pan_first6: row.text(8)?.to_owned(),
        pan_last4: row.text(9)?.to_owned(),
        expiry: row.text(10)?.to_owned(),
        cvc_encrypted: row.bytes(11)?.to_vec(),
        pin_verification: row
            .bytes_or_null(12)?
            .map(|bytes| fixed(bytes, "cards", "pin_verification"))
            .transpose()?,
        pin_tries: narrow(row.int(13)?, "cards", "pin_tries")?,
        created_at: row.int(14)?,
    })
}

pub(crate) fn hold(row: &impl Columns) -> Result<Hold, StoreError> {
    Ok(Hold {
        id: row.int(0)?,
        transaction: transaction(row.text(1)?, "holds")?,
        card_id: row.int(2)?,
        user_balance_id: row.int(3)?,
        partner_balance_id: row.int_or_null(4)?,
        amount: row.int(5)?,
        remaining: row.int(6)?,
        status: code(row.text(7)?, "holds", "status")?,
        created_at: row.int(8)?,
        expires_at: row.int(9)?,
    })
}

pub(crate) fn transfer(row: &impl Columns) -> Result<Transfer, StoreError> {
    Ok(Transfer {
        id: row.int(0)?,
        kind: code(row.text(1)?, "transfers", "kind")?,
        debit_balance_id: row.int_or_null(2)?,
        credit_balance_id: row.int(3)?,
        amount: row.int(4)?,
        transaction: row
            .text_or_null(5)?
            .map(|text| transaction(text, "transfers"))
            .transpose()?,
        hold_id: row.int_or_null(6)?,
        created_at: row.int(7)?,
    })
}

pub(crate) fn answer(row: &impl Columns) -> Result<RecordedAnswer, StoreError> {
    answer_in(row, &RECORDED_ANSWER, "recorded_answers")
}

/// A hold of [`LIVE_HOLDS`] and the answer stored on it, if any.
pub(crate) fn live_hold(row: &impl Columns) -> Result<(Hold, Option<RecordedAnswer>), StoreError> {
    let hold = hold(row)?;
    let answer = match row.text_or_null(ANSWER_ON_HOLD.action_code)? {
        Some(_) => Some(answer_in(row, &ANSWER_ON_HOLD, "holds")?),
        None => None,
    };
    Ok((hold, answer))
}

/// Where a row's answer columns are: in `recorded_answers`, or on a hold.
struct AnswerColumns {
    transaction: usize,
    mti: usize,
    action_code: usize,
    approval_code: usize,
    available: usize,
    available_currency: usize,
    hold_id: usize,
    created_at: usize,
}

const RECORDED_ANSWER: AnswerColumns = AnswerColumns {
    transaction: 0,
    mti: 1,
    action_code: 2,
    approval_code: 3,
    available: 4,
    available_currency: 5,
    hold_id: 6,
    created_at: 7,
};

/// In [`LIVE_HOLDS`]: the hold's own id, transaction and time, then the answer's columns.
const ANSWER_ON_HOLD: AnswerColumns = AnswerColumns {
    transaction: 1,
    mti: 10,
    action_code: 11,
    approval_code: 12,
    available: 13,
    available_currency: 14,
    hold_id: 0,
    created_at: 8,
};

fn answer_in(row: &impl Columns, at: &AnswerColumns, table: &'static str) -> Result<RecordedAnswer, StoreError> {
    let available = match (row.int_or_null(at.available)?, row.int_or_null(at.available_currency)?) {
        (Some(amount), Some(currency)) => Some((amount, narrow(currency, table, "available_currency")?)),
        (None, None) => None,
        _ => {
            return Err(StoreError::Corrupt {
                table,
                column: "available_currency",
            });
        }
    };
    Ok(RecordedAnswer {
        transaction: transaction(row.text(at.transaction)?, table)?,
        mti: narrow(row.int(at.mti)?, table, "mti")?,
        action_code: fixed(row.text(at.action_code)?.as_bytes(), table, "action_code")?,
        approval_code: row
            .text_or_null(at.approval_code)?
            .map(|text| fixed(text.as_bytes(), table, "approval_code"))
            .transpose()?,
        available,
        hold_id: row.int_or_null(at.hold_id)?,
        created_at: row.int(at.created_at)?,
    })
}

fn flag(value: i64, table: &'static str, column: &'static str) -> Result<bool, StoreError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(StoreError::Corrupt { table, column }),
    }
}

pub(crate) fn customer_profile(row: &impl Columns) -> Result<CustomerProfile, StoreError> {
    Ok(CustomerProfile {
        customer_id: row.int(0)?,
        email: row.text_or_null(1)?.map(str::to_owned),
        phone: row.text_or_null(2)?.map(str::to_owned),
        first_name: row.text_or_null(3)?.map(str::to_owned),
        last_name: row.text_or_null(4)?.map(str::to_owned),
        updated_at: row.int(5)?,
    })
}

pub(crate) fn installation(row: &impl Columns) -> Result<Installation, StoreError> {
    Ok(Installation {
        id: row.text(0)?.to_owned(),
        customer_id: row.int(1)?,
        device_id: row.text(2)?.to_owned(),
        active: flag(row.int(3)?, "installations", "active")?,
        created_at: row.int(4)?,
        deactivated_at: row.int_or_null(5)?,
    })
}

pub(crate) fn admin(row: &impl Columns) -> Result<AdminUser, StoreError> {
    Ok(AdminUser {
        id: row.text(0)?.to_owned(),
        username: row.text(1)?.to_owned(),
        password_hash: row.text(2)?.to_owned(),
        role: code(row.text(3)?, "admin_users", "role")?,
        partner_id: row.text_or_null(4)?.map(str::to_owned),
        active: flag(row.int(5)?, "admin_users", "active")?,
        created_at: row.int(6)?,
    })
}

pub(crate) fn session(row: &impl Columns) -> Result<Session, StoreError> {
    let subject = SubjectColumns {
        kind: row.text(1)?,
        customer_id: row.int_or_null(2)?,
        installation_id: row.text_or_null(3)?,
        admin_id: row.text_or_null(4)?,
    };
    Ok(Session {
        token_hash: fixed(row.bytes(0)?, "sessions", "token_hash")?,
        subject: subject_from_columns(subject).ok_or(StoreError::Corrupt {
            table: "sessions",
            column: "subject_kind",
        })?,
        created_at: row.int(5)?,
        expires_at: row.int(6)?,
        revoked: flag(row.int(7)?, "sessions", "revoked")?,
    })
}

pub(crate) fn kyc_submission(row: &impl Columns) -> Result<KycSubmission, StoreError> {
    const TABLE: &str = "kyc_submissions";
    Ok(KycSubmission {
        id: row.text(0)?.to_owned(),
        customer_id: row.int(1)?,
        source: code(row.text(2)?, TABLE, "source")?,
        data: row
            .text_or_null(3)?
            .map(|text| from_json(text, TABLE, "data"))
            .transpose()?,
        status: code(row.text(4)?, TABLE, "status")?,
        findings: from_json(row.text(5)?, TABLE, "findings")?,
        decided_by: row.text_or_null(6)?.map(str::to_owned),
        reason: row.text_or_null(7)?.map(str::to_owned),
        created_at: row.int(8)?,
        decided_at: row.int_or_null(9)?,
    })
}

pub(crate) fn corporation_details(row: &impl Columns) -> Result<CorporationDetails, StoreError> {
    const TABLE: &str = "corporation_details";
    Ok(CorporationDetails {
        corporation_id: row.int(0)?,
        registration_number: row.text(1)?.to_owned(),
        tax_id: row.text_or_null(2)?.map(str::to_owned),
        address: from_json(row.text(3)?, TABLE, "address")?,
        documents: from_json(row.text(4)?, TABLE, "documents")?,
    })
}

pub(crate) fn kyb_transition(row: &impl Columns) -> Result<KybTransition, StoreError> {
    const TABLE: &str = "kyb_transitions";
    Ok(KybTransition {
        id: row.text(0)?.to_owned(),
        corporation_id: row.int(1)?,
        from: row
            .text_or_null(2)?
            .map(|text| code(text, TABLE, "from_status"))
            .transpose()?,
        to: code(row.text(3)?, TABLE, "to_status")?,
        actor: row.text(4)?.to_owned(),
        reason: row.text_or_null(5)?.map(str::to_owned),
        at: row.int(6)?,
    })
}

pub(crate) fn notification(row: &impl Columns) -> Result<Notification, StoreError> {
    const TABLE: &str = "notifications";
    Ok(Notification {
        id: row.text(0)?.to_owned(),
        partner_id: row.text(1)?.to_owned(),
        balance_id: row.int(2)?,
        event: row.text(3)?.to_owned(),
        payload: row.text(4)?.to_owned(),
        created_at: row.int(5)?,
        attempts: narrow(row.int(6)?, TABLE, "attempts")?,
        next_attempt_at: row.int(7)?,
        last_error: row.text_or_null(8)?.map(str::to_owned),
        delivered_at: row.int_or_null(9)?,
    })
}

pub(crate) fn card_request(row: &impl Columns) -> Result<CardRequestRecord, StoreError> {
    const TABLE: &str = "card_requests";
    Ok(CardRequestRecord {
        id: row.text(0)?.to_owned(),
        customer_id: row.int(1)?,
        balance_id: row.int(2)?,
        program_id: row.text_or_null(3)?.map(str::to_owned),
        status: code(row.text(4)?, TABLE, "status")?,
        card_id: row.int_or_null(5)?,
        error: row.text_or_null(6)?.map(str::to_owned),
        created_at: row.int(7)?,
    })
}
