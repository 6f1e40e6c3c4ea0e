//! The store's errors. Their messages name tables, columns and constraints, never row contents: a
//! database's own message is kept only where it carries no values (PostgreSQL puts the offending key
//! in the error's *detail*, which is never shown; SQLite names only the columns).

use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::migrate::MigrateError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL: expected postgres://, postgresql:// or sqlite://")]
    UnsupportedUrl,
    /// The database cannot be reached now: connection refused or lost, pool timed out or closed,
    /// database shutting down, SQLite file locked. The switch answers 9109, the API 503.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[source] MigrateError),
    /// A row broke a constraint. `constraint` is the constraint's name (PostgreSQL) or the
    /// database's message naming the columns (SQLite).
    #[error("{kind} violated: {constraint}")]
    Constraint {
        kind: ConstraintKind,
        constraint: String,
        #[source]
        source: sqlx::Error,
    },
    /// An update named rows that do not exist (e.g. a delta for an unknown balance).
    #[error("{table}: {expected} rows to update, {found} found")]
    MissingRows {
        table: &'static str,
        expected: u64,
        found: u64,
    },
    /// New holds, transfers or answers refer to rows that do not exist (these tables have no foreign
    /// keys; the store checks their references once per batch).
    #[error("{missing} referenced rows missing from {table}")]
    DanglingReferences { table: &'static str, missing: u64 },
    /// A value does not fit its column (e.g. a number beyond the column's range).
    #[error("{table}.{column}: value does not fit the column")]
    Unstorable { table: &'static str, column: &'static str },
    /// A stored value does not read back into the model (unknown enumeration spelling, wrong length).
    #[error("{table}.{column}: stored value cannot be read")]
    Corrupt { table: &'static str, column: &'static str },
    /// The connection failed during COMMIT: the batch may or may not be stored
    /// ([`crate::store::Store::batch_stored`] tells).
    #[error("commit not confirmed: {0}")]
    InDoubt(#[source] sqlx::Error),
    /// Another instance took over the database ([`crate::store::Store::take_over`]) since this one
    /// did: nothing of the batch was stored, and this process must stop serving.
    #[error("another instance serves this database now (this one's epoch {epoch} ended)")]
    Superseded { epoch: i64 },
    /// Any other database or driver error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    ForeignKey,
    NotNull,
    Check,
}

impl std::fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConstraintKind::Unique => "unique constraint",
            ConstraintKind::ForeignKey => "foreign key",
            ConstraintKind::NotNull => "not-null constraint",
            ConstraintKind::Check => "check constraint",
        })
    }
}

impl StoreError {
    /// An error of a PostgreSQL COMMIT: a statement error from the database means the transaction
    /// was rolled back; no answer (connection lost, I/O error), or the server ending the session
    /// (SQLSTATE class 57, operator intervention such as an immediate shutdown, or 08, connection
    /// exception) while the commit record may already be flushed, leaves its outcome unknown.
    pub(crate) fn from_postgres_commit(error: sqlx::Error) -> StoreError {
        let session_ended = match &error {
            sqlx::Error::Database(database) => database
                .code()
                .is_some_and(|code| code.starts_with("57") || code.starts_with("08")),
            _ => true,
        };
        if session_ended {
            StoreError::InDoubt(error)
        } else {
            StoreError::from(error)
        }
    }

    /// A refusal raised by `antaca_check_batch` (PostgreSQL migration 0010) at the end of the hot
    /// path's statement, read back into the error the client-side checks would have given: the
    /// SQLSTATE says which check, the error's TABLE field names the table and DETAIL holds the counts.
    /// `epoch` is the batch's (for [`StoreError::Superseded`]). `None` for any other error.
    pub(crate) fn from_batch_check(error: &sqlx::Error, epoch: Option<i64>) -> Option<StoreError> {
        let postgres = error
            .as_database_error()?
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
        let table = match postgres.table()? {
            "holds" => "holds",
            "balances" => "balances",
            "cards" => "cards",
            "serving_instance" => "serving_instance",
            _ => return None,
        };
        let mut counts = postgres.detail().unwrap_or("").split(' ').map(str::parse::<u64>);
        match postgres.code() {
            "AN001" => {
                let (Some(Ok(expected)), Some(Ok(found))) = (counts.next(), counts.next()) else {
                    return None;
                };
                Some(StoreError::MissingRows { table, expected, found })
            }
            "AN002" => {
                let Some(Ok(missing)) = counts.next() else {
                    return None;
                };
                Some(StoreError::DanglingReferences { table, missing })
            }
            "AN003" => epoch.map(|epoch| StoreError::Superseded { epoch }),
            _ => None,
        }
    }

    /// True when the database could not be reached (as opposed to refusing what was written): the
    /// request may succeed later unchanged.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        if is_unavailable(&error) {
            return StoreError::Unavailable(error);
        }
        let sqlx::Error::Database(database) = &error else {
            return StoreError::Database(error);
        };
        match constraint_kind(database.kind()) {
            Some(kind) => StoreError::Constraint {
                kind,
                constraint: database.constraint().unwrap_or(database.message()).to_owned(),
                source: error,
            },
            None => StoreError::Database(error),
        }
    }
}

impl From<MigrateError> for StoreError {
    fn from(error: MigrateError) -> StoreError {
        match error {
            MigrateError::Execute(inner) if is_unavailable(&inner) => StoreError::Unavailable(inner),
            other => StoreError::Migration(other),
        }
    }
}

fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => is_unavailable_code(database.as_ref()),
        _ => false,
    }
}

fn constraint_kind(kind: ErrorKind) -> Option<ConstraintKind> {
    match kind {
        ErrorKind::UniqueViolation => Some(ConstraintKind::Unique),
        ErrorKind::ForeignKeyViolation => Some(ConstraintKind::ForeignKey),
        ErrorKind::NotNullViolation => Some(ConstraintKind::NotNull),
        ErrorKind::CheckViolation => Some(ConstraintKind::Check),
        _ => None,
    }
}

/// PostgreSQL: connection exceptions (class 08), the server shutting down or starting (57P01-57P03),
/// too many connections, disk full. SQLite: busy or locked past the busy timeout, cannot open, disk full.
fn is_unavailable_code(database: &dyn DatabaseError) -> bool {
    let Some(code) = database.code() else {
        return false;
    };
    if database.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
        return code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300" | "53100");
    }
    const SQLITE_BUSY: i32 = 5;
    const SQLITE_LOCKED: i32 = 6;
    const SQLITE_FULL: i32 = 13;
    const SQLITE_CANTOPEN: i32 = 14;
    // SQLite reports extended codes; the primary code is the low byte.
    code.parse::<i32>().is_ok_and(|extended| {
        matches!(
            extended & 0xff,
            SQLITE_BUSY | SQLITE_LOCKED | SQLITE_FULL | SQLITE_CANTOPEN
        )
    })
}
