//! Reading whole tables, the same for both backends: rows are streamed and decoded as they arrive
//! (never buffered as a result set), into vectors sized from the highest id in use. The two big tables,
//! cards and balances, are read on their own connections and tasks (when the pool allows three
//! connections), so their decoding runs on other cores while the remaining tables are read.

use std::future::Future;

use futures_util::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{PgPool, SqlitePool};
use tokio::task::JoinHandle;

use super::rows::{self, Columns};
use super::{MaxIds, Snapshot, StoreError};
use crate::domain::{LifecycleRecords, TimestampMs};

/// The one parameter a read may bind.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parameter<'a> {
    None,
    Int(i64),
    Text(&'a str),
}

/// A pool rows can be streamed from.
pub(crate) trait RowSource: Clone + Send + Sync + 'static {
    type Row: Columns;

    /// The pool's connection bound.
    fn connections_max(&self) -> u32;

    /// Calls `each` on every row of `sql` as it arrives.
    fn for_each_row<'a, F>(
        &'a self,
        sql: &'static str,
        parameter: Parameter<'a>,
        each: F,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a
    where
        F: FnMut(&Self::Row) -> Result<(), StoreError> + Send + 'a;
}

macro_rules! row_source {
    ($pool:ty, $row:ty) => {
        impl RowSource for $pool {
            type Row = $row;

            fn connections_max(&self) -> u32 {
                self.options().get_max_connections()
            }

            fn for_each_row<'a, F>(
                &'a self,
                sql: &'static str,
                parameter: Parameter<'a>,
                mut each: F,
            ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a
            where
                F: FnMut(&Self::Row) -> Result<(), StoreError> + Send + 'a,
            {
                async move {
                    let query = sqlx::query(sql);
                    let query = match parameter {
                        Parameter::None => query,
                        Parameter::Int(value) => query.bind(value),
                        Parameter::Text(value) => query.bind(value),
                    };
                    let mut rows = query.fetch(self);
                    while let Some(row) = rows.try_next().await? {
                        each(&row)?;
                    }
                    Ok(())
                }
            }
        }
    };
}

row_source!(PgPool, PgRow);
row_source!(SqlitePool, SqliteRow);

/// Above this, a table's highest id is no longer taken as its row count (a sparse or hostile id must
/// not reserve gigabytes); vectors then grow as usual.
const CAPACITY_HINT_MAX: i64 = 1 << 24;

/// Every row of `sql`, decoded.
pub(crate) async fn collect<S: RowSource, T>(
    source: &S,
    sql: &'static str,
    parameter: Parameter<'_>,
    capacity: usize,
    decode: fn(&S::Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError>
where
    T: Send,
{
    let mut values = Vec::with_capacity(capacity);
    source
        .for_each_row(sql, parameter, |row| {
            values.push(decode(row)?);
            Ok(())
        })
        .await?;
    Ok(values)
}

pub(crate) async fn max_ids<S: RowSource>(source: &S) -> Result<MaxIds, StoreError> {
    let mut max_ids = MaxIds::default();
    source
        .for_each_row(rows::MAX_IDS, Parameter::None, |row| {
            max_ids = MaxIds {
                balance: row.int(0)?,
                card: row.int(1)?,
                hold: row.int(2)?,
                customer: row.int(3)?,
                corporation: row.int(4)?,
                transfer: row.int(5)?,
            };
            Ok(())
        })
        .await?;
    Ok(max_ids)
}

/// Parallel reads take this many connections at once; a smaller pool reads one table after another
/// (waiting for a connection could outlast the pool's acquire timeout).
const PARALLEL_CONNECTIONS: u32 = 3;

pub(crate) async fn snapshot<S: RowSource>(source: &S, answers_since: TimestampMs) -> Result<Snapshot, StoreError> {
    let max_ids = max_ids(source).await?;
    let capacity = |max_id: i64| max_id.clamp(0, CAPACITY_HINT_MAX) as usize;
    let (cards, balances) = if source.connections_max() >= PARALLEL_CONNECTIONS {
        (
            Some(spawn_collect(source, rows::CARDS, capacity(max_ids.card), rows::card)),
            Some(spawn_collect(
                source,
                rows::BALANCES,
                capacity(max_ids.balance),
                rows::balance,
            )),
        )
    } else {
        (None, None)
    };
    let partners = collect(source, rows::PARTNERS, Parameter::None, 0, rows::partner).await?;
    let programs = collect(source, rows::PROGRAMS, Parameter::None, 0, rows::program).await?;
    let customers = collect(
        source,
        rows::CUSTOMERS,
        Parameter::None,
        capacity(max_ids.customer),
        rows::customer,
    )
    .await?;
    let corporations = collect(source, rows::CORPORATIONS, Parameter::None, 0, rows::corporation).await?;
    let (holds, answers) = holds_and_answers(source, answers_since).await?;
    let balances = match balances {
        Some(spawned) => spawned.join().await?,
        None => {
            collect(
                source,
                rows::BALANCES,
                Parameter::None,
                capacity(max_ids.balance),
                rows::balance,
            )
            .await?
        }
    };
    let cards = match cards {
        Some(spawned) => spawned.join().await?,
        None => collect(source, rows::CARDS, Parameter::None, capacity(max_ids.card), rows::card).await?,
    };
    let lifecycle = lifecycle(source, answers_since).await?;
    let fees = super::fees::records(source, answers_since).await?;
    Ok(Snapshot {
        partners,
        programs,
        customers,
        corporations,
        balances,
        cards,
        holds,
        answers,
        max_ids,
        lifecycle,
        fees,
    })
}

/// The live holds, and the answers of the retention window: those in `recorded_answers` and those
/// stored on holds (migration 0012).
async fn holds_and_answers<S: RowSource>(
    source: &S,
    answers_since: TimestampMs,
) -> Result<(Vec<crate::domain::Hold>, Vec<crate::domain::RecordedAnswer>), StoreError> {
    let since = Parameter::Int(answers_since);
    let live_holds = collect(source, rows::LIVE_HOLDS, since, 0, rows::live_hold).await?;
    let mut answers = collect(source, rows::ANSWERS_SINCE, since, 0, rows::answer).await?;
    let mut holds = Vec::with_capacity(live_holds.len());
    for (hold, answer) in live_holds {
        answers.extend(answer.filter(|answer| answer.created_at >= answers_since));
        holds.push(hold);
    }
    Ok((holds, answers))
}

/// The lifecycle API's records: small tables (people's pace), read one after another.
async fn lifecycle<S: RowSource>(source: &S, card_requests_since: TimestampMs) -> Result<LifecycleRecords, StoreError> {
    let none = Parameter::None;
    Ok(LifecycleRecords {
        customer_profiles: collect(source, rows::CUSTOMER_PROFILES, none, 0, rows::customer_profile).await?,
        installations: collect(source, rows::INSTALLATIONS, none, 0, rows::installation).await?,
        sessions: collect(source, rows::SESSIONS, none, 0, rows::session).await?,
        admins: collect(source, rows::ADMINS, none, 0, rows::admin).await?,
        kyc_submissions: collect(source, rows::KYC_SUBMISSIONS, none, 0, rows::kyc_submission).await?,
        corporation_details: collect(source, rows::CORPORATION_DETAILS, none, 0, rows::corporation_details).await?,
        kyb_transitions: collect(source, rows::KYB_TRANSITIONS, none, 0, rows::kyb_transition).await?,
        notifications: collect(source, rows::NOTIFICATIONS, none, 0, rows::notification).await?,
        card_requests: collect(
            source,
            rows::CARD_REQUESTS_SINCE,
            Parameter::Int(card_requests_since),
            0,
            rows::card_request,
        )
        .await?,
    })
}

/// A table read on a task of its own; aborted if dropped unfinished (an earlier read failed).
struct Spawned<T>(JoinHandle<Result<Vec<T>, StoreError>>);

impl<T> Spawned<T> {
    async fn join(mut self) -> Result<Vec<T>, StoreError> {
        match (&mut self.0).await {
            Ok(result) => result,
            Err(error) => match error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(error) => panic!("a store read task was cancelled: {error}"),
            },
        }
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn spawn_collect<S: RowSource, T: Send + 'static>(
    source: &S,
    sql: &'static str,
    capacity: usize,
    decode: fn(&S::Row) -> Result<T, StoreError>,
) -> Spawned<T> {
    let source = source.clone();
    Spawned(tokio::spawn(async move {
        collect(&source, sql, Parameter::None, capacity, decode).await
    }))
}
