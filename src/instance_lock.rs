//! One switch per database. Memory is the authoritative working copy of the
//! state, so two processes serving one database would each approve against
//! funds the other has already spent. Start-up therefore takes an exclusive
//! lock for the database and keeps it until exit: a PostgreSQL session
//! advisory lock, or an OS file lock beside the SQLite file. Both vanish with
//! the process, so a crashed switch never leaves a stale lock behind.

use std::path::PathBuf;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The advisory lock key ("ANTA" in ASCII): one per PostgreSQL database.
const ADVISORY_KEY: i64 = 0x414E_5441;

#[derive(Debug, thiserror::Error)]
pub enum InstanceLockError {
    #[error("another Antaca process is serving this database ({0})")]
    Taken(String),
    #[error("cannot take the instance lock: {0}")]
    Io(String),
}

/// How long taking the PostgreSQL lock waits for a predecessor's session to end.
const PREDECESSOR_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Held for the life of the process.
#[derive(Debug)]
pub enum InstanceLock {
    Postgres(PgConnection),
    Sqlite {
        _file: std::fs::File,
        path: PathBuf,
    },
    /// An in-memory SQLite database is private to its process.
    Private,
}

impl InstanceLock {
    pub async fn acquire(database_url: &str) -> Result<InstanceLock, InstanceLockError> {
        if database_url.starts_with("postgres") {
            let mut connection = PgConnection::connect(database_url)
                .await
                .map_err(|error| InstanceLockError::Io(error.to_string()))?;
            // A predecessor that just stopped (or a test's application just dropped) closed its
            // session, but the server may take a moment to end it and free the lock: look again for
            // a bounded while before calling the database taken.
            let deadline = std::time::Instant::now() + PREDECESSOR_WAIT;
            loop {
                let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(ADVISORY_KEY)
                    .fetch_one(&mut connection)
                    .await
                    .map_err(|error| InstanceLockError::Io(error.to_string()))?;
                if taken {
                    return Ok(InstanceLock::Postgres(connection));
                }
                if std::time::Instant::now() >= deadline {
                    return Err(InstanceLockError::Taken("PostgreSQL advisory lock held".to_owned()));
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        let path = database_url
            .strip_prefix("sqlite://")
            .or_else(|| database_url.strip_prefix("sqlite:"));
        let path = path.and_then(|path| path.split('?').next()).unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return Ok(InstanceLock::Private);
        }
        let lock_path = PathBuf::from(format!("{path}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|error| InstanceLockError::Io(format!("{}: {error}", lock_path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(InstanceLock::Sqlite {
                _file: file,
                path: lock_path,
            }),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(InstanceLockError::Taken(format!("{} is locked", lock_path.display())))
            }
            Err(std::fs::TryLockError::Error(error)) => {
                Err(InstanceLockError::Io(format!("{}: {error}", lock_path.display())))
            }
        }
    }
}
