//! The store: the database under the in-memory state. PostgreSQL in production, SQLite as the
//! embedded default; both behind one [`Store`] with the same schema (`migrations/postgres`,
//! `migrations/sqlite`), run at connection.
//!
//! The state uses three calls: [`Store::connect`], [`Store::load`] once at start-up (everything memory
//! needs, with the highest ids in use so memory continues numbering), and [`Store::commit`] from the
//! journal's group committer: one batch of [`Change`]s in one transaction, all or nothing. The other
//! reads ([`Store::balances`], [`Store::holds`], [`Store::transfers`], [`Store::answer`]) are for
//! tests and the auditor, never the hot path.
//!
//! Layout: `batch` sorts a batch's changes into rows per table (summing deltas, last update wins);
//! `postgres` and `sqlite` write them (arrays + `UNNEST`, multi-row `VALUES`); `rows` and `load`
//! read them back the same way for both; `codes` spells the enumerations.

mod batch;
mod codes;
mod error;
mod fees;
mod load;
mod postgres;
mod rows;
mod sqlite;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sqlx::{PgPool, SqlitePool};

pub use error::{ConstraintKind, StoreError};

use batch::Batch;
use load::{Parameter, RowSource};
use rows::Columns;

use crate::domain::*;
use crate::state::change::Change;
use crate::state::journal::Written;

/// A connection pool to one of the two databases. Cloning shares the pool.
#[derive(Debug, Clone)]
pub enum Store {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Everything the in-memory state needs at start-up (in no particular order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub partners: Vec<Partner>,
    pub programs: Vec<Program>,
    pub customers: Vec<Customer>,
    pub corporations: Vec<Corporation>,
    pub balances: Vec<Balance>,
    pub cards: Vec<Card>,
    /// The open holds, and the closed ones created at or after the cutoff given to [`Store::load`].
    pub holds: Vec<Hold>,
    /// Recorded answers created at or after the cutoff given to [`Store::load`].
    pub answers: Vec<RecordedAnswer>,
    pub max_ids: MaxIds,
    /// Profiles, installations, sessions, admin users, KYC submissions, corporation details, KYB transitions.
    pub lifecycle: LifecycleRecords,
    /// Fee schedules, FX rates, the loaded holds' fees, charged periods, fee report totals.
    pub fees: crate::domain::fees::FeeRecords,
}

/// Recorded answers one slice of [`Store::forget_answers_before`] deletes at most, each slice in a
/// transaction of its own: short enough that the journal's commits, which go on meanwhile on other
/// connections (or, on SQLite, wait for the one write lock), never wait long behind it.
pub const FORGET_ROWS_MAX: i64 = 2_000;

/// The pause between two slices of [`Store::forget_answers_before`], leaving the database to the
/// journal in between: at 2,000 rows per slice it still deletes far faster than answers are made.
const FORGET_PAUSE: Duration = Duration::from_millis(10);

/// What a journal batch is stored with: its id, which [`Store::batch_stored`] looks for when its
/// COMMIT was in doubt, and the epoch of the instance that wrote it (`None`: not fenced, for tools
/// and tests that hold no instance lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMarker {
    pub batch: i64,
    pub epoch: Option<i64>,
}

/// The highest id in use per id sequence, 0 when none is: memory numbers on from here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaxIds {
    pub balance: BalanceId,
    pub card: CardId,
    pub hold: HoldId,
    pub customer: CustomerId,
    pub corporation: CorporationId,
    pub transfer: TransferId,
}

impl Store {
    /// Connects and runs the backend's migrations (already applied ones are skipped).
    ///
    /// `postgres://...` or `postgresql://...`: PostgreSQL. `sqlite://PATH` (or `sqlite:PATH`): SQLite,
    /// creating the file and its directory if missing, in WAL mode with `synchronous = FULL`, so a
    /// committed batch survives a power loss. `connections_max` bounds the pool (at least 1; with 3
    /// or more, the start-up load reads the big tables in parallel).
    pub async fn connect(url: &str, connections_max: u32) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            postgres::connect(url, connections_max).await.map(Store::Postgres)
        } else if url.starts_with("sqlite:") {
            sqlite::connect(url, connections_max).await.map(Store::Sqlite)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// Reads everything the in-memory state needs at start-up: partners, programs, customers,
    /// corporations, all balances and cards, the open holds, the recorded answers created at or after
    /// `answers_since`, and the highest id in use per sequence. Assumes nobody writes meanwhile.
    pub async fn load(&self, answers_since: TimestampMs) -> Result<Snapshot, StoreError> {
        let started = Instant::now();
        let snapshot = match self {
            Store::Postgres(pool) => load::snapshot(pool, answers_since).await?,
            Store::Sqlite(pool) => load::snapshot(pool, answers_since).await?,
        };
        tracing::debug!(
            partners = snapshot.partners.len(),
            programs = snapshot.programs.len(),
            customers = snapshot.customers.len(),
            corporations = snapshot.corporations.len(),
            balances = snapshot.balances.len(),
            cards = snapshot.cards.len(),
            open_holds = snapshot.holds.len(),
            answers = snapshot.answers.len(),
            load_ms = started.elapsed().as_millis() as u64,
            "store loaded"
        );
        Ok(snapshot)
    }

    /// Writes a batch of changes in one transaction and commits it; on any error nothing of the batch
    /// is stored.
    ///
    /// Rows are written table by table so references hold (partners, programs, customers and their
    /// KYC updates, corporations and their KYB updates, the lifecycle records (customer profiles,
    /// installations, admin users, sessions, KYC submissions, corporation details, KYB transitions),
    /// balance inserts, balance deltas, balance states, card inserts, card updates, hold inserts, hold
    /// updates, transfers, recorded answers, then forgetting expired sessions; on
    /// PostgreSQL the balance updates come after the recorded answers, see `postgres::write`), each
    /// table in one multi-row statement (or a few, under SQLite's parameter limit). Deltas on one balance are summed; of several updates of one row, the last
    /// wins. An update of a row that does not exist fails the batch ([`StoreError::MissingRows`]), and
    /// so does a new hold, transfer or answer referring to a row that does not exist
    /// ([`StoreError::DanglingReferences`]); an answer already recorded for the transaction is kept as
    /// it was.
    ///
    /// If the connection is lost while the final COMMIT is under way (or, on PostgreSQL, while a
    /// hot-path batch's one statement is), the error is [`StoreError::InDoubt`] and whether the batch
    /// was stored is not known.
    pub async fn commit(&self, changes: &[Change]) -> Result<(), StoreError> {
        self.commit_signalling(changes, None, Written::unobserved()).await
    }

    /// [`Store::commit`], signalling `written` once every statement has run and only the COMMIT is
    /// left (the journal's cue to start writing its next batch). On PostgreSQL a batch of the hot
    /// path's rows alone (holds, hold updates, transfers, answers, balance deltas) is one statement
    /// that commits on its own: `written` then comes once it is committed, and a connection lost
    /// before its answer leaves it in doubt ([`StoreError::InDoubt`]) as a lost COMMIT does.
    ///
    /// `marker`, when given, is stored with the batch (`committed_batches`), so that after
    /// [`StoreError::InDoubt`] [`Store::batch_stored`] can tell whether the batch was stored; with an
    /// epoch, only while that epoch serves the database ([`Store::take_over`]), else
    /// [`StoreError::Superseded`] and nothing is stored.
    pub async fn commit_signalling(
        &self,
        changes: &[Change],
        marker: Option<BatchMarker>,
        written: Written,
    ) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let batch = Batch::new(changes)?;
        match self {
            Store::Postgres(pool) => postgres::commit(pool, &batch, marker, written).await,
            Store::Sqlite(pool) => sqlite::commit(pool, &batch, marker, written).await,
        }
    }

    /// Makes this process the one serving the database, once it holds the instance lock: returns the
    /// epoch its batches are fenced with (see [`BatchMarker`]), after every batch of an earlier
    /// instance still committing has finished, so a load that follows sees them all. `None` on
    /// SQLite, whose file lock ends only with its process (a killed process commits nothing more).
    pub async fn take_over(&self) -> Result<Option<i64>, StoreError> {
        match self {
            Store::Postgres(pool) => postgres::take_over(pool).await.map(Some),
            Store::Sqlite(_) => Ok(None),
        }
    }

    /// Whether the batch committed with `marker` is stored (after [`StoreError::InDoubt`]).
    pub async fn batch_stored(&self, marker: i64) -> Result<bool, StoreError> {
        match self {
            Store::Postgres(pool) => postgres::batch_stored(pool, marker).await,
            Store::Sqlite(pool) => sqlite::batch_stored(pool, marker).await,
        }
    }

    /// Deletes the recorded answers created before `cutoff` (not those stored on holds, which stay
    /// with their holds; start-up leaves them out by the same cutoff) and the markers of the batches
    /// started before it, outside the journal: in slices of at most [`FORGET_ROWS_MAX`] answers,
    /// each its own transaction on a pooled connection, with a pause between them. In a journal
    /// batch (as it was), every request behind the batch waited for a sweep's whole delete: the
    /// soak's worst seconds (docs/history/reliability-2026-12.md, 2026-12-04). Nothing else writes
    /// rows that old, so this needs no ordering with the journal. Returns how many answers were
    /// deleted; on an error, those deleted until then stay deleted and the next sweep deletes the
    /// rest.
    pub async fn forget_answers_before(&self, cutoff: TimestampMs) -> Result<u64, StoreError> {
        let mut deleted = 0;
        let mut from = TimestampMs::MIN;
        loop {
            let (slice, newest) = match self {
                Store::Postgres(pool) => postgres::forget_answers_slice(pool, from, cutoff, FORGET_ROWS_MAX).await?,
                Store::Sqlite(pool) => sqlite::forget_answers_slice(pool, from, cutoff, FORGET_ROWS_MAX).await?,
            };
            deleted += slice;
            // Answers created in the same millisecond as the newest deleted may remain: start there.
            from = newest.unwrap_or(from);
            if slice < FORGET_ROWS_MAX as u64 {
                break;
            }
            tokio::time::sleep(FORGET_PAUSE).await;
        }
        match self {
            Store::Postgres(pool) => postgres::forget_batch_markers(pool, cutoff).await?,
            Store::Sqlite(pool) => sqlite::forget_batch_markers(pool, cutoff).await?,
        }
        Ok(deleted)
    }

    /// Whether batches may commit concurrently (PostgreSQL) or only one after another (SQLite has
    /// one writer: a second batch would only wait for the lock).
    pub fn commits_concurrently(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// Every balance, as stored.
    pub async fn balances(&self) -> Result<Vec<Balance>, StoreError> {
        self.read_all(rows::BALANCES, rows::balance, rows::balance).await
    }

    /// Every hold, open or closed.
    pub async fn holds(&self) -> Result<Vec<Hold>, StoreError> {
        self.read_all(rows::HOLDS, rows::hold, rows::hold).await
    }

    /// Every ledger transfer.
    pub async fn transfers(&self) -> Result<Vec<Transfer>, StoreError> {
        self.read_all(rows::TRANSFERS, rows::transfer, rows::transfer).await
    }

    /// The total of external loads per currency (ISO 4217 code): the only money that entered the
    /// platform, against which the conservation invariant is checked.
    pub async fn external_loads(&self) -> Result<HashMap<String, i64>, StoreError> {
        let mut totals = HashMap::new();
        let mut add = |row: &dyn Columns| {
            totals.insert(row.text(0)?.to_owned(), row.int(1)?);
            Ok(())
        };
        match self {
            Store::Postgres(pool) => {
                pool.for_each_row(rows::EXTERNAL_LOADS, Parameter::None, |row| add(row))
                    .await?
            }
            Store::Sqlite(pool) => {
                pool.for_each_row(rows::EXTERNAL_LOADS, Parameter::None, |row| add(row))
                    .await?
            }
        }
        Ok(totals)
    }

    /// Every fee entry, in id (creation) order (tests and the auditor).
    pub async fn fee_entries(&self) -> Result<Vec<crate::domain::fees::FeeEntry>, StoreError> {
        match self {
            Store::Postgres(pool) => fees::entries(pool).await,
            Store::Sqlite(pool) => fees::entries(pool).await,
        }
    }

    /// The posted card spend of a card in [from, to), minor units (the periodic-fee spend waiver).
    pub async fn posted_card_spend(
        &self,
        card_id: CardId,
        from: TimestampMs,
        to: TimestampMs,
    ) -> Result<i64, StoreError> {
        match self {
            Store::Postgres(pool) => fees::card_spend_postgres(pool, card_id, from, to).await,
            Store::Sqlite(pool) => fees::card_spend_sqlite(pool, card_id, from, to).await,
        }
    }

    /// The answer recorded for a transaction, if it is still kept: in `recorded_answers` until the
    /// retention sweep, or on the hold the transaction placed (an approval), as long as the hold.
    pub async fn answer(&self, transaction: TransactionId) -> Result<Option<RecordedAnswer>, StoreError> {
        let key = transaction.to_string();
        let parameter = Parameter::Text(&key);
        let mut answers = match self {
            Store::Postgres(pool) => load::collect(pool, rows::ANSWER, parameter, 1, rows::answer).await?,
            Store::Sqlite(pool) => load::collect(pool, rows::ANSWER, parameter, 1, rows::answer).await?,
        };
        Ok(answers.pop())
    }

    /// Closes the pool: waits for connections in use to be returned, then closes them all.
    pub async fn close(&self) {
        match self {
            Store::Postgres(pool) => pool.close().await,
            Store::Sqlite(pool) => pool.close().await,
        }
    }

    async fn read_all<T: Send>(
        &self,
        sql: &'static str,
        from_postgres: fn(&<PgPool as RowSource>::Row) -> Result<T, StoreError>,
        from_sqlite: fn(&<SqlitePool as RowSource>::Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Store::Postgres(pool) => load::collect(pool, sql, Parameter::None, 0, from_postgres).await,
            Store::Sqlite(pool) => load::collect(pool, sql, Parameter::None, 0, from_sqlite).await,
        }
    }
}

impl crate::fees::periodic::SpendLedger for Store {
    fn card_spend(
        &self,
        card_id: CardId,
        from: TimestampMs,
        to: TimestampMs,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<i64, crate::fees::periodic::SpendUnavailable>> + Send + '_>,
    > {
        Box::pin(async move {
            self.posted_card_spend(card_id, from, to)
                .await
                .map_err(|error| crate::fees::periodic::SpendUnavailable(error.to_string()))
        })
    }
}

impl crate::state::retention::AnswerArchive for Store {
    fn forget_answers_before(
        &self,
        cutoff: TimestampMs,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, String>> + Send + '_>> {
        Box::pin(async move {
            Store::forget_answers_before(self, cutoff)
                .await
                .map_err(|error| error.to_string())
        })
    }
}
