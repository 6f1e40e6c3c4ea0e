//! SQLite: connection, migrations, and the batch writer.
//!
//! SQLite has no arrays to `UNNEST`, so rows go as multi-row `VALUES` lists, as many rows per statement
//! as its bound-parameter limit allows. Updates join their target table to a `WITH v (...) AS (VALUES
//! ...)` list (`UPDATE ... FROM`, SQLite ≥ 3.33; the bundled SQLite is newer).

mod lifecycle;

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::query_builder::Separated;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::batch::{BalanceDelta, Batch, HoldUpdate, References, expect_rows, fits, utf8};
use super::codes::{Code, card_status_columns, owner_columns, subject_columns, to_json};
use super::{BatchMarker, StoreError};
use crate::domain::*;
use crate::state::journal::{BATCH_COUNT_BITS, Written};
use lifecycle::{
    insert_corporation_details, insert_kyb_transitions, upsert_admins, upsert_card_requests, upsert_customer_profiles,
    upsert_installations, upsert_kyc_submissions, upsert_notifications, upsert_sessions,
};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// SQLite's limit on bound parameters per statement (`SQLITE_MAX_VARIABLE_NUMBER`, since 3.32).
const PARAMETERS_MAX: usize = 32766;
/// How long a writer waits for another connection's write lock before the store counts as unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (creating the file and its directory if needed) in WAL mode with `synchronous = FULL`: a
/// committed transaction survives a power loss, and readers do not block the writer.
pub(super) async fn connect(url: &str, connections_max: u32) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let file = options.get_filename();
    if let Some(directory) = file.parent().filter(|directory| !directory.as_os_str().is_empty())
        && file.as_os_str() != ":memory:"
    {
        std::fs::create_dir_all(directory).map_err(|error| StoreError::Unavailable(error.into()))?;
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(connections_max.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

pub(super) async fn commit(
    pool: &SqlitePool,
    batch: &Batch<'_>,
    marker: Option<BatchMarker>,
    written: Written,
) -> Result<(), StoreError> {
    // IMMEDIATE takes the write lock up front (waiting up to the busy timeout) instead of failing on
    // a lock upgrade half-way through the batch.
    let mut transaction = pool.begin_with("BEGIN IMMEDIATE").await?;
    // On an error the transaction is dropped, which rolls it back: nothing of the batch stays.
    write(&mut transaction, batch).await?;
    // No epoch to check: the instance's file lock is the OS's, gone only with the process, and a
    // killed process commits nothing more.
    if let Some(marker) = marker {
        sqlx::query("INSERT INTO committed_batches (id) VALUES ($1)")
            .bind(marker.batch)
            .execute(&mut *transaction)
            .await?;
    }
    written.signal();
    // SQLite reports a failed COMMIT after rolling back (or leaving nothing durable): never in doubt.
    transaction.commit().await?;
    Ok(())
}

/// Deletes one slice of the recorded answers created in `[from, before)`, the oldest first, in a
/// transaction of its own: how many it deleted and the newest creation time among them (the same
/// contract as PostgreSQL's; SQLite deletes index entries at once, so the bound only keeps the two alike).
pub(super) async fn forget_answers_slice(
    pool: &SqlitePool,
    from: TimestampMs,
    before: TimestampMs,
    limit: i64,
) -> Result<(u64, Option<TimestampMs>), StoreError> {
    let created: Vec<TimestampMs> = sqlx::query_scalar(
        "DELETE FROM recorded_answers WHERE transaction_id IN \
         (SELECT transaction_id FROM recorded_answers WHERE created_at >= $1 AND created_at < $2 \
         ORDER BY created_at LIMIT $3) RETURNING created_at",
    )
    .bind(from)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok((created.len() as u64, created.into_iter().max()))
}

/// Deletes the batch markers of batches started before `before` (long decided: none can be in doubt).
pub(super) async fn forget_batch_markers(pool: &SqlitePool, before: TimestampMs) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM committed_batches WHERE id < $1")
        .bind(before.saturating_mul(1 << BATCH_COUNT_BITS))
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether the batch marked `marker` is stored. Inserting the marker waits for a transaction still
/// holding it (one whose connection was lost during COMMIT and that the server is still finishing),
/// conflicts if it committed, and is rolled back either way.
pub(super) async fn batch_stored(pool: &SqlitePool, marker: i64) -> Result<bool, StoreError> {
    let mut transaction = pool.begin_with("BEGIN IMMEDIATE").await?;
    let inserted = sqlx::query("INSERT INTO committed_batches (id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(marker)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
    transaction.rollback().await?;
    Ok(inserted == 0)
}

async fn write(connection: &mut SqliteConnection, batch: &Batch<'_>) -> Result<(), StoreError> {
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
    add_balance_deltas(connection, &batch.balance_deltas).await?;
    update_balance_states(connection, &batch.balance_states).await?;
    update_balance_thresholds(connection, &batch.balance_thresholds).await?;
    insert_cards(connection, &batch.cards).await?;
    update_cards(connection, &batch.card_updates).await?;
    insert_holds(connection, &batch.holds, &batch.hold_answers).await?;
    update_holds(connection, &batch.hold_updates).await?;
    insert_transfers(connection, &batch.transfers).await?;
    insert_answers(connection, &batch.answers).await?;
    upsert_notifications(connection, &batch.notifications).await?;
    upsert_card_requests(connection, &batch.card_requests).await?;
    super::fees::sqlite_writer::write(
        connection,
        &batch.fee_schedules,
        &batch.fx_rates,
        &batch.fee_entries,
        &batch.hold_fees,
    )
    .await?;
    check_references(connection, &batch.references).await?;
    if let Some(cutoff) = batch.forget_sessions_before {
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(cutoff)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

type Values<'q> = Separated<'q, Sqlite, &'static str>;

/// Runs `head VALUES (...), (...) tail` over `rows`, `columns` values per row, in as few statements as
/// the parameter limit allows; returns the number of rows the statements changed.
async fn write_rows<T>(
    connection: &mut SqliteConnection,
    head: &str,
    columns: usize,
    tail: &str,
    rows: &[T],
    mut bind: impl FnMut(&mut Values<'_>, &T) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let rows_max = PARAMETERS_MAX / columns;
    let mut changed = 0;
    for chunk in rows.chunks(rows_max) {
        let mut builder = QueryBuilder::<Sqlite>::new(head);
        builder.push("VALUES ");
        for (position, row) in chunk.iter().enumerate() {
            builder.push(if position == 0 { "(" } else { ", (" });
            bind(&mut builder.separated(", "), row)?;
            builder.push(")");
        }
        builder.push(tail);
        // Only full chunks recur with the same text; keep the others out of the statement cache.
        let recurring = chunk.len() == rows_max;
        changed += builder
            .build()
            .persistent(recurring)
            .execute(&mut *connection)
            .await?
            .rows_affected();
    }
    Ok(changed)
}

async fn upsert_partners(connection: &mut SqliteConnection, rows: &[&Partner]) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO partners (id, name, created_at) ",
        3,
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, created_at = excluded.created_at",
        rows,
        |values, row| {
            values
                .push_bind(row.id.as_str())
                .push_bind(row.name.as_str())
                .push_bind(row.created_at);
            Ok(())
        },
    )
    .await?;
    Ok(())
}

async fn upsert_programs(connection: &mut SqliteConnection, rows: &[&Program]) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO programs (id, partner_id, bin, currency, funding, validity_months) ",
        6,
        " ON CONFLICT (id) DO UPDATE SET partner_id = excluded.partner_id, bin = excluded.bin, \
         currency = excluded.currency, funding = excluded.funding, validity_months = excluded.validity_months",
        rows,
        |values, row| {
            values
                .push_bind(row.id.as_str())
                .push_bind(row.partner_id.as_str())
                .push_bind(row.bin.as_str())
                .push_bind(row.currency.as_str())
                .push_bind(row.funding.text())
                .push_bind(i64::from(row.validity_months));
            Ok(())
        },
    )
    .await?;
    Ok(())
}

async fn insert_customers(connection: &mut SqliteConnection, rows: &[&Customer]) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO customers (id, partner_id, external_ref, kyc_status, created_at) ",
        5,
        "",
        rows,
        |values, row| {
            values
                .push_bind(row.id)
                .push_bind(row.partner_id.as_str())
                .push_bind(row.external_ref.as_deref())
                .push_bind(row.kyc_status.text())
                .push_bind(row.created_at);
            Ok(())
        },
    )
    .await?;
    Ok(())
}

async fn update_customer_kyc(
    connection: &mut SqliteConnection,
    rows: &[(CustomerId, KycStatus)],
) -> Result<(), StoreError> {
    let changed = write_rows(
        connection,
        "WITH v (id, kyc_status) AS (",
        2,
        ") UPDATE customers SET kyc_status = v.kyc_status FROM v WHERE customers.id = v.id",
        rows,
        |values, (id, status)| {
            values.push_bind(*id).push_bind(status.text());
            Ok(())
        },
    )
    .await?;
    expect_rows("customers", rows.len(), changed)
}

async fn insert_corporations(connection: &mut SqliteConnection, rows: &[&Corporation]) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO corporations (id, partner_id, name, kyb_status, created_at) ",
        5,
        "",
        rows,
        |values, row| {
            values
                .push_bind(row.id)
                .push_bind(row.partner_id.as_str())
                .push_bind(row.name.as_str())
                .push_bind(row.kyb_status.text())
                .push_bind(row.created_at);
            Ok(())
        },
    )
    .await?;
    Ok(())
}

async fn update_corporation_kyb(
    connection: &mut SqliteConnection,
    rows: &[(CorporationId, KybStatus)],
) -> Result<(), StoreError> {
    let changed = write_rows(
        connection,
        "WITH v (id, kyb_status) AS (",
        2,
        ") UPDATE corporations SET kyb_status = v.kyb_status FROM v WHERE corporations.id = v.id",
        rows,
        |values, (id, status)| {
            values.push_bind(*id).push_bind(status.text());
            Ok(())
        },
    )
    .await?;
    expect_rows("corporations", rows.len(), changed)
}

async fn insert_balances(connection: &mut SqliteConnection, rows: &[&Balance]) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO balances (id, kind, owner_kind, owner_customer_id, owner_corporation_id, owner_partner_id, \
         owner_system, partner_id, currency, ledger, held, state, low_balance_threshold, created_at, program_id) ",
        15,
        "",
        rows,
        |values, row| {
            let owner = owner_columns(&row.owner);
            values
                .push_bind(row.id)
                .push_bind(row.kind.text())
                .push_bind(owner.kind)
                .push_bind(owner.customer_id)
                .push_bind(owner.corporation_id)
                .push_bind(owner.partner_id)
                .push_bind(owner.system)
                .push_bind(row.partner_id.as_str())
                .push_bind(row.currency.as_str())
                .push_bind(row.ledger)
                .push_bind(row.held)
                .push_bind(row.state.text())
                .push_bind(row.low_balance_threshold)
                .push_bind(row.created_at)
                .push_bind(row.program_id.as_deref());
            Ok(())
        },
    )
    .await?;
    Ok(())
}

async fn add_balance_deltas(connection: &mut SqliteConnection, rows: &[BalanceDelta]) -> Result<(), StoreError> {
    let changed = write_rows(
        connection,
        "WITH v (id, ledger, held) AS (",
        3,
        ") UPDATE balances SET ledger = balances.ledger + v.ledger, held = balances.held + v.held \
         FROM v WHERE balances.id = v.id",
        rows,
        |values, row| {
            values
                .push_bind(row.balance_id)
                .push_bind(row.ledger)
                .push_bind(row.held);
            Ok(())
        },
    )
    .await?;
    expect_rows("balances", rows.len(), changed)
}

async fn update_balance_states(
    connection: &mut SqliteConnection,
    rows: &[(BalanceId, BalanceState)],
) -> Result<(), StoreError> {
    let changed = write_rows(
        connection,
        "WITH v (id, state) AS (",
        2,
        ") UPDATE balances SET state = v.state FROM v WHERE balances.id = v.id",
        rows,
        |values, (id, state)| {
            values.push_bind(*id).push_bind(state.text());
            Ok(())
        },
    )
    .await?;
    expect_rows("balances", rows.len(), changed)
}

async fn update_balance_thresholds(
    connection: &mut SqliteConnection,
    rows: &[(BalanceId, Option<i64>)],
) -> Result<(), StoreError> {
    let changed = write_rows(
        connection,
        "WITH v (id, threshold) AS (",
        2,
        ") UPDATE balances SET low_balance_threshold = v.threshold FROM v WHERE balances.id = v.id",
        rows,
        |values, (id, threshold)| {
            values.push_bind(*id).push_bind(*threshold);
            Ok(())
        },
    )
    .await?;
    expect_rows("balances", rows.len(), changed)
}

async fn insert_cards(connection: &mut SqliteConnection, rows: &[&Card]) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO cards (id, balance_id, program_id, kind, status, lock_reason, pan_hash, pan_encrypted, \
         pan_first6, pan_last4, expiry, cvc_encrypted, pin_verification, pin_tries, created_at) ",
        15,
        "",
        rows,
        |values, row| {
            let (status, lock_reason) = card_status_columns(row.status);
            values
                .push_bind(row.id)
                .push_bind(row.balance_id)
                .push_bind(row.program_id.as_str())
                .push_bind(row.kind.text())
                .push_bind(status)
                .push_bind(lock_reason)
                .push_bind(&row.pan_hash[..])
                .push_bind(row.pan_encrypted.as_slice())
                .push_bind(row.pan_first6.as_str())
                .push_bind(row.pan_last4.as_str())
                .push_bind(row.expiry.as_str())
                .push_bind(row.cvc_encrypted.as_slice())
                .push_bind(row.pin_verification.as_ref().map(|value| &value[..]))
                .push_bind(i64::from(row.pin_tries))
                .push_bind(row.created_at);
            Ok(())
        },
    )
    .await?;
    Ok(())
}

async fn update_cards(connection: &mut SqliteConnection, rows: &[&CardUpdate]) -> Result<(), StoreError> {
    let changed = write_rows(
        connection,
        "WITH v (id, status, lock_reason, cvc_encrypted, pin_verification, pin_tries) AS (",
        6,
        ") UPDATE cards SET status = v.status, lock_reason = v.lock_reason, cvc_encrypted = v.cvc_encrypted, \
         pin_verification = v.pin_verification, pin_tries = v.pin_tries FROM v WHERE cards.id = v.id",
        rows,
        |values, row| {
            let (status, lock_reason) = card_status_columns(row.status);
            values
                .push_bind(row.card_id)
                .push_bind(status)
                .push_bind(lock_reason)
                .push_bind(row.cvc_encrypted.as_slice())
                .push_bind(row.pin_verification.as_ref().map(|value| &value[..]))
                .push_bind(i64::from(row.pin_tries));
            Ok(())
        },
    )
    .await?;
    expect_rows("cards", rows.len(), changed)
}

async fn insert_holds(
    connection: &mut SqliteConnection,
    holds: &[&Hold],
    answers: &[Option<&RecordedAnswer>],
) -> Result<(), StoreError> {
    const TABLE: &str = "holds";
    let rows: Vec<(&Hold, Option<&RecordedAnswer>)> = holds.iter().copied().zip(answers.iter().copied()).collect();
    write_rows(
        connection,
        "INSERT INTO holds (id, transaction_id, card_id, user_balance_id, partner_balance_id, amount, remaining, \
         status, created_at, expires_at, answer_mti, answer_action_code, answer_approval_code, answer_available, \
         answer_available_currency) ",
        15,
        "",
        &rows,
        |values, &(row, answer)| {
            let action_code = answer
                .map(|answer| utf8(&answer.action_code, TABLE, "answer_action_code"))
                .transpose()?;
            let approval_code = answer
                .and_then(|answer| answer.approval_code.as_ref())
                .map(|code| utf8(code, TABLE, "answer_approval_code"))
                .transpose()?;
            let available = answer.and_then(|answer| answer.available);
            values
                .push_bind(row.id)
                .push_bind(row.transaction.to_string())
                .push_bind(row.card_id)
                .push_bind(row.user_balance_id)
                .push_bind(row.partner_balance_id)
                .push_bind(row.amount)
                .push_bind(row.remaining)
                .push_bind(row.status.text())
                .push_bind(row.created_at)
                .push_bind(row.expires_at)
                .push_bind(answer.map(|answer| i64::from(answer.mti)))
                .push_bind(action_code)
                .push_bind(approval_code)
                .push_bind(available.map(|(amount, _)| amount))
                .push_bind(available.map(|(_, currency)| i64::from(currency)));
            Ok(())
        },
    )
    .await?;
    Ok(())
}

async fn update_holds(connection: &mut SqliteConnection, rows: &[HoldUpdate]) -> Result<(), StoreError> {
    let changed = write_rows(
        connection,
        "WITH v (id, remaining, status) AS (",
        3,
        ") UPDATE holds SET remaining = v.remaining, status = v.status FROM v WHERE holds.id = v.id",
        rows,
        |values, row| {
            values
                .push_bind(row.hold_id)
                .push_bind(row.remaining)
                .push_bind(row.status.text());
            Ok(())
        },
    )
    .await?;
    expect_rows("holds", rows.len(), changed)
}

async fn insert_transfers(connection: &mut SqliteConnection, rows: &[&Transfer]) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO transfers (id, kind, debit_balance_id, credit_balance_id, amount, transaction_id, hold_id, \
         created_at) ",
        8,
        "",
        rows,
        |values, row| {
            values
                .push_bind(row.id)
                .push_bind(row.kind.text())
                .push_bind(row.debit_balance_id)
                .push_bind(row.credit_balance_id)
                .push_bind(row.amount)
                .push_bind(row.transaction.map(|transaction| transaction.to_string()))
                .push_bind(row.hold_id)
                .push_bind(row.created_at);
            Ok(())
        },
    )
    .await?;
    Ok(())
}

async fn insert_answers(connection: &mut SqliteConnection, rows: &[&RecordedAnswer]) -> Result<(), StoreError> {
    const TABLE: &str = "recorded_answers";
    write_rows(
        connection,
        "INSERT INTO recorded_answers (transaction_id, mti, action_code, approval_code, available, \
         available_currency, hold_id, created_at) ",
        8,
        " ON CONFLICT (transaction_id) DO NOTHING",
        rows,
        |values, row| {
            let approval_code = row
                .approval_code
                .as_ref()
                .map(|code| utf8(code, TABLE, "approval_code"))
                .transpose()?;
            let available_currency = row
                .available
                .map(|(_, currency)| fits::<i16>(currency, TABLE, "available_currency"))
                .transpose()?;
            values
                .push_bind(row.transaction.to_string())
                .push_bind(i64::from(row.mti))
                .push_bind(utf8(&row.action_code, TABLE, "action_code")?)
                .push_bind(approval_code)
                .push_bind(row.available.map(|(amount, _)| amount))
                .push_bind(available_currency)
                .push_bind(row.hold_id)
                .push_bind(row.created_at);
            Ok(())
        },
    )
    .await?;
    Ok(())
}

/// Counts, per referenced table, the batch's references to rows that do not exist: one query for the
/// whole batch, each referenced id once. The ids go as JSON arrays (one parameter each, whatever
/// their number) read back by `json_each`.
async fn check_references(connection: &mut SqliteConnection, references: &References) -> Result<(), StoreError> {
    if references.is_empty() {
        return Ok(());
    }
    let (cards, balances, holds): (i64, i64, i64) = sqlx::query_as(
        "SELECT \
         (SELECT COUNT(*) FROM json_each($1) AS v WHERE NOT EXISTS (SELECT 1 FROM cards WHERE cards.id = v.value)), \
         (SELECT COUNT(*) FROM json_each($2) AS v WHERE NOT EXISTS (SELECT 1 FROM balances WHERE balances.id = v.value)), \
         (SELECT COUNT(*) FROM json_each($3) AS v WHERE NOT EXISTS (SELECT 1 FROM holds WHERE holds.id = v.value))",
    )
    .bind(json_array(&references.cards))
    .bind(json_array(&references.balances))
    .bind(json_array(&references.holds))
    .fetch_one(&mut *connection)
    .await?;
    References::expect_found([("cards", cards), ("balances", balances), ("holds", holds)])
}

fn json_array(ids: &[i64]) -> String {
    let mut json = String::with_capacity(2 + ids.len() * 8);
    json.push('[');
    for (position, id) in ids.iter().enumerate() {
        if position > 0 {
            json.push(',');
        }
        json.push_str(&id.to_string());
    }
    json.push(']');
    json
}
