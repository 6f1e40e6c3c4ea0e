//! PostgreSQL: connection, migrations, and the batch writer.
//!
//! Every table's rows go in one statement whatever their number: each column is bound as one array and
//! `UNNEST` turns the arrays back into rows. The SQL text never changes with the batch size, so each
//! statement is prepared once per connection, and there is no parameter limit to chunk under.

mod lifecycle;

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};

use super::batch::{Batch, HoldUpdate, expect_rows, fits, utf8};
use super::codes::{Code, card_status_columns, owner_columns, subject_columns, to_json};
use super::{BatchMarker, StoreError};
use crate::domain::*;
use crate::state::journal::{BATCH_COUNT_BITS, Written};
use lifecycle::{
    insert_corporation_details, insert_kyb_transitions, upsert_admins, upsert_card_requests, upsert_customer_profiles,
    upsert_installations, upsert_kyc_submissions, upsert_notifications, upsert_sessions,
};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a caller waits for a pooled connection before the store counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A pooled connection idle longer than this is pinged before use (the database may have restarted).
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

pub(super) async fn connect(url: &str, connections_max: u32) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(connections_max.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // sqlx pings every connection it hands out: a round trip before each batch. A connection in
        // use moments ago is alive (its release pinged it), so only one idle for a while is pinged.
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_AFTER_IDLE {
                    sqlx::Connection::ping(connection).await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// The most rows (holds, hold updates, transfers, answers, balance deltas) a hot-path batch may have
/// to be committed as one statement on its own; a larger one is written in a transaction.
///
/// Why a bound: committing on its own saves two round trips, but the next batch may then start
/// writing only once this one's commit record is flushed ([`Written`]); in a transaction it starts
/// as soon as the statement has run, and this batch's flush overlaps its writing. A small batch (a
/// lightly loaded switch, where latency is what counts) gains more from the round trips; a large one
/// (a backlog, where throughput is what counts) from the overlap. Measured side by side on 2 cores
/// (docs/history/benchmarks-2026-12.md, 2026-12-06 evening): own transactions for every batch
/// lowered the median latency at 14,500/s by a third and the saturation throughput by 10-19 %, with
/// batches of about 130 changes at 14,500/s and 1,500 at saturation.
const OWN_TRANSACTION_ROWS_MAX: usize = 512;

pub(super) async fn commit(
    pool: &PgPool,
    batch: &Batch<'_>,
    marker: Option<BatchMarker>,
    written: Written,
) -> Result<(), StoreError> {
    if batch.only_money_rows() && batch.money_rows() <= OWN_TRANSACTION_ROWS_MAX {
        // The hot path: one statement, which is a transaction of its own (no BEGIN and COMMIT round
        // trips). Its answer comes after its commit record is flushed, so "written" is "committed".
        let mut connection = pool.acquire().await?;
        write_money_rows(&mut connection, batch, marker, Transaction::Own).await?;
        written.signal();
        return Ok(());
    }
    let mut transaction = pool.begin().await?;
    // On an error the transaction is dropped, which rolls it back: nothing of the batch stays.
    write(&mut transaction, batch, marker).await?;
    written.signal();
    transaction.commit().await.map_err(StoreError::from_postgres_commit)
}

/// Whether a statement runs inside a transaction the caller commits, or commits on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transaction {
    Enclosing,
    /// A lost connection then leaves the statement's outcome unknown, as a lost COMMIT does.
    Own,
}

/// Deletes one slice of the recorded answers created in `[from, before)`, the oldest first, in a
/// transaction of its own: how many it deleted and the newest creation time among them. The lower
/// bound lets the next slice's index scan start past this one's deleted entries, which stay in the
/// index until a vacuum (from the bottom, each slice would walk over all of them again).
pub(super) async fn forget_answers_slice(
    pool: &PgPool,
    from: TimestampMs,
    before: TimestampMs,
    limit: i64,
) -> Result<(u64, Option<TimestampMs>), StoreError> {
    let (deleted, newest): (i64, Option<TimestampMs>) = sqlx::query_as(
        "WITH gone AS (DELETE FROM recorded_answers WHERE transaction_id IN \
         (SELECT transaction_id FROM recorded_answers WHERE created_at >= $1 AND created_at < $2 \
         ORDER BY created_at LIMIT $3) RETURNING created_at) \
         SELECT COUNT(*), MAX(created_at) FROM gone",
    )
    .bind(from)
    .bind(before)
    .bind(limit)
    .fetch_one(pool)
    .await?;
    Ok((deleted as u64, newest))
}

/// Deletes the batch markers of batches started before `before` (long decided: none can be in doubt).
pub(super) async fn forget_batch_markers(pool: &PgPool, before: TimestampMs) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM committed_batches WHERE id < $1")
        .bind(before.saturating_mul(1 << BATCH_COUNT_BITS))
        .execute(pool)
        .await?;
    Ok(())
}

/// Raises the serving epoch and returns it. The update waits for every batch still committing under
/// an earlier epoch (they hold the row in share mode), so what is read after it includes them.
pub(super) async fn take_over(pool: &PgPool) -> Result<i64, StoreError> {
    let mut transaction = pool.begin().await?;
    // How long a take-over waits for the batches of an earlier instance to finish committing.
    sqlx::query("SET LOCAL lock_timeout = '30s'")
        .execute(&mut *transaction)
        .await?;
    let epoch: i64 = sqlx::query_scalar("UPDATE serving_instance SET epoch = epoch + 1 RETURNING epoch")
        .fetch_one(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(epoch)
}

/// Whether the batch marked `marker` is stored. Inserting the marker waits for a transaction still
/// holding it (one whose connection was lost during COMMIT and that the server is still finishing),
/// conflicts if it committed, and is rolled back either way.
pub(super) async fn batch_stored(pool: &PgPool, marker: i64) -> Result<bool, StoreError> {
    let mut transaction = pool.begin().await?;
    let inserted = sqlx::query("INSERT INTO committed_batches (id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(marker)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
    transaction.rollback().await?;
    Ok(inserted == 0)
}

async fn write(
    connection: &mut PgConnection,
    batch: &Batch<'_>,
    marker: Option<BatchMarker>,
) -> Result<(), StoreError> {
    // The lifecycle's rows first (most batches have none, and an empty table costs no statement),
    // so that the one statement below sees the balances and cards they create.
    upsert_partners(connection, &batch.partners).await?;
    upsert_programs(connection, &batch.programs).await?;
    insert_customers(connection, &batch.customers).await?;
    update_customer_kyc(connection, &batch.customer_kyc).await?;
    insert_corporations(connection, &batch.corporations).await?;
    update_corporation_kyb(connection, &batch.corporation_kyb).await?;
    upsert_customer_profiles(connection, &batch.customer_profiles).await?;
    upsert_installations(connection, &batch.installations).await?;
    upsert_admins(connection, &batch.admins).await?;
    upsert_sessions(connection, &batch.sessions).await?;
    upsert_kyc_submissions(connection, &batch.kyc_submissions).await?;
    insert_corporation_details(connection, &batch.corporation_details).await?;
    insert_kyb_transitions(connection, &batch.kyb_transitions).await?;
    insert_balances(connection, &batch.balances).await?;
    insert_cards(connection, &batch.cards).await?;
    update_cards(connection, &batch.card_updates).await?;
    write_money_rows(connection, batch, marker, Transaction::Enclosing).await?;
    // A balance's state or threshold after its deltas: one statement cannot change a row twice.
    update_balance_states(connection, &batch.balance_states).await?;
    update_balance_thresholds(connection, &batch.balance_thresholds).await?;
    super::fees::postgres_writer::write(
        connection,
        &batch.fee_schedules,
        &batch.fx_rates,
        &batch.fee_entries,
        &batch.hold_fees,
    )
    .await?;
    upsert_notifications(connection, &batch.notifications).await?;
    upsert_card_requests(connection, &batch.card_requests).await?;
    if let Some(cutoff) = batch.forget_sessions_before {
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(cutoff)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// The rows every authorization, completion and reversal writes (new holds, hold updates, transfers,
/// recorded answers, balance deltas), the batch's marker and the check of what they refer to, in one
/// statement: one round trip per batch on the hot path (the statement is its own transaction there)
/// instead of one per table plus BEGIN and COMMIT. Each part is a
/// data-modifying `WITH` query over its `UNNEST`ed arrays; an empty array makes it a no-op, so the
/// SQL never changes and stays prepared.
///
/// All parts see the database as it was before the statement (PostgreSQL runs them on one
/// snapshot), so:
/// - the reference check could not see a hold the batch itself inserts, so such holds are not in
///   its list (`batch::References` leaves out what the batch proves);
/// - no part may change a row another part changes: balance states and thresholds are separate
///   statements, and a hold is never both inserted and updated in one batch (an update needs the
///   hold in memory, which it is only after its insert committed).
///
/// The statement ends with `antaca_check_batch` (migration 0010): every update found its row, every
/// reference exists, the epoch still serves. A failed check raises, which aborts the whole statement,
/// so the statement may commit on its own (`Transaction::Own`, a batch of nothing else): the checks
/// cannot be left to the client, which would see the counts only after the commit.
///
/// The balance rows are the ones two batches in flight both change: this statement waits for the
/// previous batch's COMMIT on them, which keeps the database's order equal to memory's
/// ([`Written`]).
///
/// The marker is stored only while `epoch` is still the serving one; the share lock makes a
/// successor's take-over wait for this transaction (migration 0008 says why). Without an epoch
/// (tools and tests holding no instance lock) the share lock is taken all the same: a take-over
/// waits for this batch too, which is harmless.
async fn write_money_rows(
    connection: &mut PgConnection,
    batch: &Batch<'_>,
    marker: Option<BatchMarker>,
    transaction: Transaction,
) -> Result<(), StoreError> {
    if batch.holds.is_empty()
        && batch.hold_updates.is_empty()
        && batch.transfers.is_empty()
        && batch.answers.is_empty()
        && batch.balance_deltas.is_empty()
        && batch.references.is_empty()
        && marker.is_none()
    {
        return Ok(());
    }
    let (updates_of_new, hold_updates) = split_hold_updates(batch);
    let deltas = &batch.balance_deltas;
    let epoch = marker.and_then(|marker| marker.epoch);
    let query = sqlx::query(MONEY_STATEMENT);
    let query = bind_holds(query, &batch.holds, &updates_of_new);
    let query = bind_hold_updates(query, &hold_updates);
    let query = bind_transfers(query, &batch.transfers);
    let query = bind_answers(query, &batch.answers)?;
    let query = query
        .bind(column(deltas, |row| row.balance_id))
        .bind(column(deltas, |row| row.ledger))
        .bind(column(deltas, |row| row.held))
        .bind(marker.map(|marker| marker.batch))
        .bind(epoch)
        .bind(&batch.references.cards)
        .bind(&batch.references.balances)
        .bind(&batch.references.holds)
        .bind(hold_updates.len() as i64)
        .bind(deltas.len() as i64);
    let query = bind_hold_answers(query, &batch.hold_answers)?;
    query
        .execute(&mut *connection)
        .await
        .map_err(|error| match StoreError::from_batch_check(&error, epoch) {
            Some(refused) => refused,
            None if transaction == Transaction::Own => StoreError::from_postgres_commit(error),
            None => StoreError::from(error),
        })?;
    Ok(())
}

/// The hot path's one statement: every money row of a batch, its marker and its checks. Its
/// parameters: $1–$10 new holds, $11–$13 hold updates, $14–$21 transfers, $22–$29 recorded
/// answers, $30–$32 balance deltas, $33 the batch marker, $34 the epoch, $35–$37 the references
/// to check, $38–$39 the expected row counts, $40–$44 the answers stored on new holds.
const MONEY_STATEMENT: &str = "WITH new_holds AS (\
           INSERT INTO holds (id, transaction_id, card_id, user_balance_id, partner_balance_id, amount, remaining, \
           status, created_at, expires_at, answer_mti, answer_action_code, answer_approval_code, answer_available, \
           answer_available_currency) \
           SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], \
           $8::text[], $9::int8[], $10::int8[], $40::int4[], $41::text[], $42::text[], $43::int8[], $44::int2[])), \
         changed_holds AS (\
           UPDATE holds SET remaining = v.remaining, status = v.status \
           FROM UNNEST($11::int8[], $12::int8[], $13::text[]) AS v (id, remaining, status) WHERE holds.id = v.id \
           RETURNING 1), \
         new_transfers AS (\
           INSERT INTO transfers (id, kind, debit_balance_id, credit_balance_id, amount, transaction_id, hold_id, \
           created_at) \
           SELECT * FROM UNNEST($14::int8[], $15::text[], $16::int8[], $17::int8[], $18::int8[], $19::text[], \
           $20::int8[], $21::int8[])), \
         new_answers AS (\
           INSERT INTO recorded_answers (transaction_id, mti, action_code, approval_code, available, \
           available_currency, hold_id, created_at) \
           SELECT * FROM UNNEST($22::text[], $23::int4[], $24::text[], $25::text[], $26::int8[], $27::int2[], \
           $28::int8[], $29::int8[]) \
           ON CONFLICT (transaction_id) DO NOTHING), \
         changed_balances AS (\
           UPDATE balances SET ledger = balances.ledger + v.ledger, held = balances.held + v.held \
           FROM UNNEST($30::int8[], $31::int8[], $32::int8[]) AS v (id, ledger, held) WHERE balances.id = v.id \
           RETURNING 1), \
         marked AS (\
           INSERT INTO committed_batches (id) SELECT $33 FROM serving_instance \
           WHERE $33::int8 IS NOT NULL AND ($34::int8 IS NULL OR epoch = $34) FOR SHARE \
           RETURNING 1) \
         SELECT antaca_check_batch($38, (SELECT COUNT(*) FROM changed_holds), \
         $39, (SELECT COUNT(*) FROM changed_balances), \
         (SELECT COUNT(*) FROM UNNEST($35::int8[]) AS v (id) \
          WHERE NOT EXISTS (SELECT 1 FROM cards WHERE cards.id = v.id)), \
         (SELECT COUNT(*) FROM UNNEST($36::int8[]) AS v (id) \
          WHERE NOT EXISTS (SELECT 1 FROM balances WHERE balances.id = v.id)), \
         (SELECT COUNT(*) FROM UNNEST($37::int8[]) AS v (id) \
          WHERE NOT EXISTS (SELECT 1 FROM holds WHERE holds.id = v.id)), \
         $34, (SELECT COUNT(*) FROM marked))";

/// A statement of the batch writer with the arguments bound so far.
type Statement<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The batch's hold updates: those of holds the batch inserts (written as part of the insert: the
/// update would not see the row its own statement inserts; the store allows it, memory never does
/// it), and the others.
fn split_hold_updates<'b>(batch: &'b Batch<'_>) -> (Vec<&'b HoldUpdate>, Vec<&'b HoldUpdate>) {
    if batch.holds.is_empty() {
        return (Vec::new(), batch.hold_updates.iter().collect());
    }
    // A set, not `contains` on the vector: a backlog's batch holds thousands of each.
    let new: HashSet<HoldId> = batch.holds.iter().map(|hold| hold.id).collect();
    batch
        .hold_updates
        .iter()
        .partition(|update| new.contains(&update.hold_id))
}

/// $1–$10: the new holds, each as its update in the batch left it.
fn bind_holds<'q>(query: Statement<'q>, holds: &[&Hold], updates_of_new: &[&HoldUpdate]) -> Statement<'q> {
    let updated = |hold: &Hold| updates_of_new.iter().find(|update| update.hold_id == hold.id);
    query
        .bind(column(holds, |row| row.id))
        .bind(column(holds, |row| row.transaction.to_string()))
        .bind(column(holds, |row| row.card_id))
        .bind(column(holds, |row| row.user_balance_id))
        .bind(column(holds, |row| row.partner_balance_id))
        .bind(column(holds, |row| row.amount))
        .bind(column(holds, |row| {
            updated(row).map_or(row.remaining, |update| update.remaining)
        }))
        .bind(column(holds, |row| {
            updated(row).map_or(row.status, |update| update.status).text()
        }))
        .bind(column(holds, |row| row.created_at))
        .bind(column(holds, |row| row.expires_at))
}

/// $11–$13: updates of holds stored earlier.
fn bind_hold_updates<'q>(query: Statement<'q>, updates: &[&HoldUpdate]) -> Statement<'q> {
    query
        .bind(column(updates, |row| row.hold_id))
        .bind(column(updates, |row| row.remaining))
        .bind(column(updates, |row| row.status.text()))
}

/// $14–$21: the transfers.
fn bind_transfers<'q>(query: Statement<'q>, transfers: &[&Transfer]) -> Statement<'q> {
    query
        .bind(column(transfers, |row| row.id))
        .bind(column(transfers, |row| row.kind.text()))
        .bind(column(transfers, |row| row.debit_balance_id))
        .bind(column(transfers, |row| row.credit_balance_id))
        .bind(column(transfers, |row| row.amount))
        .bind(column(transfers, |row| {
            row.transaction.map(|transaction| transaction.to_string())
        }))
        .bind(column(transfers, |row| row.hold_id))
        .bind(column(transfers, |row| row.created_at))
}

/// $22–$29: the answers recorded in `recorded_answers` (those not stored on a new hold).
fn bind_answers<'q>(query: Statement<'q>, answers: &[&RecordedAnswer]) -> Result<Statement<'q>, StoreError> {
    const ANSWERS: &str = "recorded_answers";
    Ok(query
        .bind(column(answers, |row| row.transaction.to_string()))
        .bind(column(answers, |row| i32::from(row.mti)))
        .bind(column_checked(answers, |row| {
            utf8(&row.action_code, ANSWERS, "action_code")
        })?)
        .bind(column_checked(answers, |row| {
            row.approval_code
                .as_ref()
                .map(|code| utf8(code, ANSWERS, "approval_code"))
                .transpose()
        })?)
        .bind(column(answers, |row| row.available.map(|(amount, _)| amount)))
        .bind(column_checked(answers, |row| {
            row.available
                .map(|(_, currency)| fits::<i16>(currency, ANSWERS, "available_currency"))
                .transpose()
        })?)
        .bind(column(answers, |row| row.hold_id))
        .bind(column(answers, |row| row.created_at)))
}

/// $40–$44: the answer stored on each new hold's row (none for some).
fn bind_hold_answers<'q>(
    query: Statement<'q>,
    hold_answers: &[Option<&RecordedAnswer>],
) -> Result<Statement<'q>, StoreError> {
    const HOLDS: &str = "holds";
    Ok(query
        .bind(column(hold_answers, |answer| {
            answer.map(|answer| i32::from(answer.mti))
        }))
        .bind(column_checked(hold_answers, |answer| {
            answer
                .map(|answer| utf8(&answer.action_code, HOLDS, "answer_action_code"))
                .transpose()
        })?)
        .bind(column_checked(hold_answers, |answer| {
            answer
                .and_then(|answer| answer.approval_code.as_ref())
                .map(|code| utf8(code, HOLDS, "answer_approval_code"))
                .transpose()
        })?)
        .bind(column(hold_answers, |answer| {
            answer.and_then(|answer| answer.available).map(|(amount, _)| amount)
        }))
        .bind(column_checked(hold_answers, |answer| {
            answer
                .and_then(|answer| answer.available)
                .map(|(_, currency)| fits::<i16>(currency, HOLDS, "answer_available_currency"))
                .transpose()
        })?))
}

/// One column of `rows` as an array to bind.
fn column<'a, R, T>(rows: &'a [R], value: impl FnMut(&'a R) -> T) -> Vec<T> {
    rows.iter().map(value).collect()
}

/// One column of `rows` whose values may not fit the column.
fn column_checked<'a, R, T>(
    rows: &'a [R],
    value: impl FnMut(&'a R) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(value).collect()
}

async fn upsert_partners(connection: &mut PgConnection, rows: &[&Partner]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO partners (id, name, created_at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[]) \
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, created_at = EXCLUDED.created_at",
    )
    .bind(column(rows, |row| row.id.as_str()))
    .bind(column(rows, |row| row.name.as_str()))
    .bind(column(rows, |row| row.created_at))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn upsert_programs(connection: &mut PgConnection, rows: &[&Program]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO programs (id, partner_id, bin, currency, funding, validity_months) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int4[]) \
         ON CONFLICT (id) DO UPDATE SET partner_id = EXCLUDED.partner_id, bin = EXCLUDED.bin, \
         currency = EXCLUDED.currency, funding = EXCLUDED.funding, validity_months = EXCLUDED.validity_months",
    )
    .bind(column(rows, |row| row.id.as_str()))
    .bind(column(rows, |row| row.partner_id.as_str()))
    .bind(column(rows, |row| row.bin.as_str()))
    .bind(column(rows, |row| row.currency.as_str()))
    .bind(column(rows, |row| row.funding.text()))
    .bind(column_checked(rows, |row| {
        fits::<i32>(row.validity_months, "programs", "validity_months")
    })?)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn insert_customers(connection: &mut PgConnection, rows: &[&Customer]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO customers (id, partner_id, external_ref, kyc_status, created_at) \
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::int8[])",
    )
    .bind(column(rows, |row| row.id))
    .bind(column(rows, |row| row.partner_id.as_str()))
    .bind(column(rows, |row| row.external_ref.as_deref()))
    .bind(column(rows, |row| row.kyc_status.text()))
    .bind(column(rows, |row| row.created_at))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn update_customer_kyc(
    connection: &mut PgConnection,
    rows: &[(CustomerId, KycStatus)],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let result = sqlx::query(
        "UPDATE customers SET kyc_status = v.kyc_status \
         FROM UNNEST($1::int8[], $2::text[]) AS v (id, kyc_status) WHERE customers.id = v.id",
    )
    .bind(column(rows, |(id, _)| *id))
    .bind(column(rows, |(_, status)| status.text()))
    .execute(&mut *connection)
    .await?;
    expect_rows("customers", rows.len(), result.rows_affected())
}

async fn insert_corporations(connection: &mut PgConnection, rows: &[&Corporation]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO corporations (id, partner_id, name, kyb_status, created_at) \
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::int8[])",
    )
    .bind(column(rows, |row| row.id))
    .bind(column(rows, |row| row.partner_id.as_str()))
    .bind(column(rows, |row| row.name.as_str()))
    .bind(column(rows, |row| row.kyb_status.text()))
    .bind(column(rows, |row| row.created_at))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn update_corporation_kyb(
    connection: &mut PgConnection,
    rows: &[(CorporationId, KybStatus)],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let result = sqlx::query(
        "UPDATE corporations SET kyb_status = v.kyb_status \
         FROM UNNEST($1::int8[], $2::text[]) AS v (id, kyb_status) WHERE corporations.id = v.id",
    )
    .bind(column(rows, |(id, _)| *id))
    .bind(column(rows, |(_, status)| status.text()))
    .execute(&mut *connection)
    .await?;
    expect_rows("corporations", rows.len(), result.rows_affected())
}

async fn insert_balances(connection: &mut PgConnection, rows: &[&Balance]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let owners = column(rows, |row| owner_columns(&row.owner));
    sqlx::query(
        "INSERT INTO balances (id, kind, owner_kind, owner_customer_id, owner_corporation_id, owner_partner_id, \
         owner_system, partner_id, currency, ledger, held, state, low_balance_threshold, created_at, program_id) \
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::text[], $7::text[], \
         $8::text[], $9::text[], $10::int8[], $11::int8[], $12::text[], $13::int8[], $14::int8[], $15::text[])",
    )
    .bind(column(rows, |row| row.id))
    .bind(column(rows, |row| row.kind.text()))
    .bind(column(&owners, |owner| owner.kind))
    .bind(column(&owners, |owner| owner.customer_id))
    .bind(column(&owners, |owner| owner.corporation_id))
    .bind(column(&owners, |owner| owner.partner_id))
    .bind(column(&owners, |owner| owner.system))
    .bind(column(rows, |row| row.partner_id.as_str()))
    .bind(column(rows, |row| row.currency.as_str()))
    .bind(column(rows, |row| row.ledger))
    .bind(column(rows, |row| row.held))
    .bind(column(rows, |row| row.state.text()))
    .bind(column(rows, |row| row.low_balance_threshold))
    .bind(column(rows, |row| row.created_at))
    .bind(column(rows, |row| row.program_id.as_deref()))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn update_balance_states(
    connection: &mut PgConnection,
    rows: &[(BalanceId, BalanceState)],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let result = sqlx::query(
        "UPDATE balances SET state = v.state \
         FROM UNNEST($1::int8[], $2::text[]) AS v (id, state) WHERE balances.id = v.id",
    )
    .bind(column(rows, |(id, _)| *id))
    .bind(column(rows, |(_, state)| state.text()))
    .execute(&mut *connection)
    .await?;
    expect_rows("balances", rows.len(), result.rows_affected())
}

async fn update_balance_thresholds(
    connection: &mut PgConnection,
    rows: &[(BalanceId, Option<i64>)],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let result = sqlx::query(
        "UPDATE balances SET low_balance_threshold = v.threshold \
         FROM UNNEST($1::int8[], $2::int8[]) AS v (id, threshold) WHERE balances.id = v.id",
    )
    .bind(column(rows, |(id, _)| *id))
    .bind(column(rows, |(_, threshold)| *threshold))
    .execute(&mut *connection)
    .await?;
    expect_rows("balances", rows.len(), result.rows_affected())
}

async fn insert_cards(connection: &mut PgConnection, rows: &[&Card]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let statuses = column(rows, |row| card_status_columns(row.status));
    sqlx::query(
        "INSERT INTO cards (id, balance_id, program_id, kind, status, lock_reason, pan_hash, pan_encrypted, \
         pan_first6, pan_last4, expiry, cvc_encrypted, pin_verification, pin_tries, created_at) \
         SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::int2[], \
         $7::bytea[], $8::bytea[], $9::text[], $10::text[], $11::text[], $12::bytea[], $13::bytea[], $14::int4[], \
         $15::int8[])",
    )
    .bind(column(rows, |row| row.id))
    .bind(column(rows, |row| row.balance_id))
    .bind(column(rows, |row| row.program_id.as_str()))
    .bind(column(rows, |row| row.kind.text()))
    .bind(column(&statuses, |(status, _)| *status))
    .bind(column(&statuses, |(_, reason)| *reason))
    .bind(column(rows, |row| &row.pan_hash[..]))
    .bind(column(rows, |row| row.pan_encrypted.as_slice()))
    .bind(column(rows, |row| row.pan_first6.as_str()))
    .bind(column(rows, |row| row.pan_last4.as_str()))
    .bind(column(rows, |row| row.expiry.as_str()))
    .bind(column(rows, |row| row.cvc_encrypted.as_slice()))
    .bind(column(rows, |row| {
        row.pin_verification.as_ref().map(|value| &value[..])
    }))
    .bind(column_checked(rows, |row| {
        fits::<i32>(row.pin_tries, "cards", "pin_tries")
    })?)
    .bind(column(rows, |row| row.created_at))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn update_cards(connection: &mut PgConnection, rows: &[&CardUpdate]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let statuses = column(rows, |row| card_status_columns(row.status));
    let result = sqlx::query(
        "UPDATE cards SET status = v.status, lock_reason = v.lock_reason, cvc_encrypted = v.cvc_encrypted, \
         pin_verification = v.pin_verification, pin_tries = v.pin_tries \
         FROM UNNEST($1::int8[], $2::text[], $3::int2[], $4::bytea[], $5::bytea[], $6::int4[]) \
         AS v (id, status, lock_reason, cvc_encrypted, pin_verification, pin_tries) WHERE cards.id = v.id",
    )
    .bind(column(rows, |row| row.card_id))
    .bind(column(&statuses, |(status, _)| *status))
    .bind(column(&statuses, |(_, reason)| *reason))
    .bind(column(rows, |row| row.cvc_encrypted.as_slice()))
    .bind(column(rows, |row| {
        row.pin_verification.as_ref().map(|value| &value[..])
    }))
    .bind(column_checked(rows, |row| {
        fits::<i32>(row.pin_tries, "cards", "pin_tries")
    })?)
    .execute(&mut *connection)
    .await?;
    expect_rows("cards", rows.len(), result.rows_affected())
}
