//! The fee tables (migration 0006): writing a batch's fee rows, reading them back at start-up, and
//! the card spend the periodic-fee waiver asks for. Both backends share the SQL (multi-row VALUES,
//! chunked under the parameter limits); only the connection type differs.

use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool, QueryBuilder, SqliteConnection, SqlitePool};

use super::StoreError;
use super::load::{Parameter, RowSource, collect};
use super::rows::Columns;
use crate::domain::fees::{FeeEntry, FeeRecords, FeeSchedule, FeeTotals, FeeType, FxRate, HoldFee, ScheduleVersion};
use crate::domain::{CardId, TimestampMs, TransactionId};

/// Rows per statement: 15 columns × 2000 stays under SQLite's 32766 and PostgreSQL's 65535 parameters.
const ROWS_MAX: usize = 2000;

macro_rules! fee_writer {
    ($module:ident, $connection:ty, $database:ty) => {
        /// The fee rows' writer for one backend (the SQL is the same; the connection type differs).
        pub(super) mod $module {
            use super::*;

            /// Writes a batch's fee rows (after its holds, which hold fees describe).
            pub(crate) async fn write(
                connection: &mut $connection,
                schedules: &[&ScheduleVersion],
                rates: &[&FxRate],
                entries: &[&FeeEntry],
                hold_fees: &[&HoldFee],
            ) -> Result<(), StoreError> {
                write_schedules(connection, schedules).await?;
                write_rates(connection, rates).await?;
                write_entries(connection, entries).await?;
                write_hold_fees(connection, hold_fees).await
            }

            async fn write_schedules(connection: &mut $connection, schedules: &[&ScheduleVersion]) -> Result<(), StoreError> {
                for chunk in schedules.chunks(ROWS_MAX) {
                    let mut builder = QueryBuilder::<$database>::new(
                        "INSERT INTO fee_schedules (program_id, version, effective_from, schedule, created_at, created_by) ",
                    );
                    let mut failed = None;
                    builder.push_values(chunk, |mut values, row| {
                        let json = serde_json::to_string(&row.schedule).unwrap_or_else(|error| {
                            failed = Some(error.to_string());
                            String::new()
                        });
                        values
                            .push_bind(row.program_id.clone())
                            .push_bind(row.version)
                            .push_bind(row.effective_from)
                            .push_bind(json)
                            .push_bind(row.created_at)
                            .push_bind(row.created_by.clone());
                    });
                    if failed.is_some() {
                        return Err(StoreError::Unstorable {
                            table: "fee_schedules",
                            column: "schedule",
                        });
                    }
                    builder.build().persistent(false).execute(&mut *connection).await?;
                }
                Ok(())
            }

            async fn write_rates(connection: &mut $connection, rates: &[&FxRate]) -> Result<(), StoreError> {
                for chunk in rates.chunks(ROWS_MAX) {
                    let mut builder = QueryBuilder::<$database>::new(
                        "INSERT INTO fx_rates (id, from_currency, to_currency, rate, valid_from, valid_to, created_at, \
                         created_by) ",
                    );
                    builder.push_values(chunk, |mut values, row| {
                        values
                            .push_bind(row.id.clone())
                            .push_bind(row.from.clone())
                            .push_bind(row.to.clone())
                            .push_bind(row.rate.to_string())
                            .push_bind(row.valid_from)
                            .push_bind(row.valid_to)
                            .push_bind(row.created_at)
                            .push_bind(row.created_by.clone());
                    });
                    builder.build().persistent(false).execute(&mut *connection).await?;
                }
                Ok(())
            }

            async fn write_entries(connection: &mut $connection, entries: &[&FeeEntry]) -> Result<(), StoreError> {
                for chunk in entries.chunks(ROWS_MAX) {
                    let mut builder = QueryBuilder::<$database>::new(
                        "INSERT INTO fee_entries (id, fee_type, program_id, partner_id, balance_id, revenue_balance_id, \
                         card_id, hold_id, transaction_id, period_key, currency, amount, waived, unpaid, created_at) ",
                    );
                    builder.push_values(chunk, |mut values, row| {
                        values
                            .push_bind(row.id.clone())
                            .push_bind(row.fee_type.text())
                            .push_bind(row.program_id.clone())
                            .push_bind(row.partner_id.clone())
                            .push_bind(row.balance_id)
                            .push_bind(row.revenue_balance_id)
                            .push_bind(row.card_id)
                            .push_bind(row.hold_id)
                            .push_bind(row.transaction.map(|transaction| transaction.to_string()))
                            .push_bind(row.period_key.clone())
                            .push_bind(row.currency.clone())
                            .push_bind(row.amount)
                            .push_bind(row.waived)
                            .push_bind(row.unpaid)
                            .push_bind(row.created_at);
                    });
                    builder.build().persistent(false).execute(&mut *connection).await?;
                }
                Ok(())
            }

            async fn write_hold_fees(connection: &mut $connection, hold_fees: &[&HoldFee]) -> Result<(), StoreError> {
                for chunk in hold_fees.chunks(ROWS_MAX) {
                    let mut builder = QueryBuilder::<$database>::new(
                        "INSERT INTO hold_fees (hold_id, fee_type, fee, conversion_fee, original_amount, \
                         original_currency, rate) ",
                    );
                    builder.push_values(chunk, |mut values, row| {
                        values
                            .push_bind(row.hold_id)
                            .push_bind(row.kind.text())
                            .push_bind(row.fee)
                            .push_bind(row.conversion_fee)
                            .push_bind(row.original.map(|(amount, _)| amount))
                            .push_bind(row.original.map(|(_, currency)| i32::from(currency)))
                            .push_bind(row.rate.map(|rate| rate.to_string()));
                    });
                    builder.build().persistent(false).execute(&mut *connection).await?;
                }
                Ok(())
            }
        }
    };
}

fee_writer!(postgres_writer, PgConnection, sqlx::Postgres);
fee_writer!(sqlite_writer, SqliteConnection, sqlx::Sqlite);

const SCHEDULES: &str =
    "SELECT program_id, version, effective_from, schedule, created_at, created_by FROM fee_schedules";
const RATES: &str =
    "SELECT id, from_currency, to_currency, rate, valid_from, valid_to, created_at, created_by FROM fx_rates";
/// The fees of the holds memory loads (see `rows::LIVE_HOLDS`).
const LIVE_HOLD_FEES: &str = "SELECT hold_fees.hold_id, hold_fees.fee_type, hold_fees.fee, hold_fees.conversion_fee, \
     hold_fees.original_amount, CAST(hold_fees.original_currency AS BIGINT), hold_fees.rate FROM hold_fees \
     JOIN holds ON holds.id = hold_fees.hold_id WHERE holds.status = 'open' OR holds.created_at >= $1";
const CHARGED_PERIODS: &str = "SELECT card_id, period_key FROM fee_entries WHERE period_key IS NOT NULL";
/// Totals per program, fee type and UTC day (BIGINT in both: PostgreSQL's SUM of BIGINT is NUMERIC).
const TOTALS: &str = "SELECT program_id, fee_type, created_at / 86400000, \
     CAST(SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS BIGINT), \
     CAST(SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS BIGINT), \
     CAST(SUM(waived) AS BIGINT), CAST(SUM(unpaid) AS BIGINT), CAST(COUNT(*) AS BIGINT) \
     FROM fee_entries GROUP BY program_id, fee_type, created_at / 86400000";

fn decimal(text: &str, table: &'static str, column: &'static str) -> Result<Decimal, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt { table, column })
}

fn fee_type(text: &str, table: &'static str) -> Result<FeeType, StoreError> {
    FeeType::from_text(text).ok_or_else(|| StoreError::Corrupt {
        table,
        column: "fee_type",
    })
}

fn schedule(row: &impl Columns) -> Result<ScheduleVersion, StoreError> {
    let text = row.text(3)?;
    let schedule: FeeSchedule = serde_json::from_str(text).map_err(|_| StoreError::Corrupt {
        table: "fee_schedules",
        column: "schedule",
    })?;
    Ok(ScheduleVersion {
        program_id: row.text(0)?.to_owned(),
        version: row.int(1)?,
        effective_from: row.int(2)?,
        schedule,
        created_at: row.int(4)?,
        created_by: row.text(5)?.to_owned(),
    })
}

fn rate(row: &impl Columns) -> Result<FxRate, StoreError> {
    Ok(FxRate {
        id: row.text(0)?.to_owned(),
        from: row.text(1)?.to_owned(),
        to: row.text(2)?.to_owned(),
        rate: decimal(row.text(3)?, "fx_rates", "rate")?,
        valid_from: row.int(4)?,
        valid_to: row.int_or_null(5)?,
        created_at: row.int(6)?,
        created_by: row.text(7)?.to_owned(),
    })
}

fn hold_fee(row: &impl Columns) -> Result<HoldFee, StoreError> {
    let original = match (row.int_or_null(4)?, row.int_or_null(5)?) {
        (Some(amount), Some(currency)) => Some((amount, currency as u16)),
        _ => None,
    };
    Ok(HoldFee {
        hold_id: row.int(0)?,
        kind: fee_type(row.text(1)?, "hold_fees")?,
        fee: row.int(2)?,
        conversion_fee: row.int(3)?,
        original,
        rate: row
            .text_or_null(6)?
            .map(|text| decimal(text, "hold_fees", "rate"))
            .transpose()?,
    })
}

fn charged_period(row: &impl Columns) -> Result<(CardId, String), StoreError> {
    Ok((row.int(0)?, row.text(1)?.to_owned()))
}

fn totals(row: &impl Columns) -> Result<(String, FeeType, i64, FeeTotals), StoreError> {
    Ok((
        row.text(0)?.to_owned(),
        fee_type(row.text(1)?, "fee_entries")?,
        row.int(2)?,
        FeeTotals {
            charged: row.int(3)?,
            refunded: row.int(4)?,
            waived: row.int(5)?,
            unpaid: row.int(6)?,
            entries: row.int(7)?,
        },
    ))
}

fn entry(row: &impl Columns) -> Result<FeeEntry, StoreError> {
    let transaction = row
        .text_or_null(8)?
        .map(|text| {
            TransactionId::parse(text).ok_or_else(|| StoreError::Corrupt {
                table: "fee_entries",
                column: "transaction_id",
            })
        })
        .transpose()?;
    Ok(FeeEntry {
        id: row.text(0)?.to_owned(),
        fee_type: fee_type(row.text(1)?, "fee_entries")?,
        program_id: row.text(2)?.to_owned(),
        partner_id: row.text(3)?.to_owned(),
        balance_id: row.int(4)?,
        revenue_balance_id: row.int(5)?,
        card_id: row.int_or_null(6)?,
        hold_id: row.int_or_null(7)?,
        transaction,
        period_key: row.text_or_null(9)?.map(str::to_owned),
        currency: row.text(10)?.to_owned(),
        amount: row.int(11)?,
        waived: row.int(12)?,
        unpaid: row.int(13)?,
        created_at: row.int(14)?,
    })
}

const ENTRIES: &str = "SELECT id, fee_type, program_id, partner_id, balance_id, revenue_balance_id, card_id, hold_id, \
     transaction_id, period_key, currency, amount, waived, unpaid, created_at FROM fee_entries ORDER BY id";

pub(super) async fn records<S: RowSource>(source: &S, holds_since: TimestampMs) -> Result<FeeRecords, StoreError> {
    let none = Parameter::None;
    Ok(FeeRecords {
        schedules: collect(source, SCHEDULES, none, 0, schedule).await?,
        rates: collect(source, RATES, none, 0, rate).await?,
        hold_fees: collect(source, LIVE_HOLD_FEES, Parameter::Int(holds_since), 0, hold_fee).await?,
        charged_periods: collect(source, CHARGED_PERIODS, none, 0, charged_period).await?,
        totals: collect(source, TOTALS, none, 0, totals).await?,
    })
}

pub(super) async fn entries<S: RowSource>(source: &S) -> Result<Vec<FeeEntry>, StoreError> {
    collect(source, ENTRIES, Parameter::None, 0, entry).await
}

/// Posted card spend of a card in [from, to): completed debits of its holds less their reversals.
const CARD_SPEND: &str = "SELECT CAST(COALESCE(SUM(CASE \
     WHEN transfers.kind = 'card_debit' AND transfers.debit_balance_id = holds.user_balance_id THEN transfers.amount \
     WHEN transfers.kind = 'reversal_credit' AND transfers.credit_balance_id = holds.user_balance_id \
     THEN -transfers.amount ELSE 0 END), 0) AS BIGINT) \
     FROM transfers JOIN holds ON holds.id = transfers.hold_id \
     WHERE holds.card_id = $1 AND transfers.created_at >= $2 AND transfers.created_at < $3";

pub(super) async fn card_spend_postgres(
    pool: &PgPool,
    card_id: CardId,
    from: TimestampMs,
    to: TimestampMs,
) -> Result<i64, StoreError> {
    let spend: i64 = sqlx::query_scalar(CARD_SPEND)
        .bind(card_id)
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?;
    Ok(spend)
}

pub(super) async fn card_spend_sqlite(
    pool: &SqlitePool,
    card_id: CardId,
    from: TimestampMs,
    to: TimestampMs,
) -> Result<i64, StoreError> {
    let spend: i64 = sqlx::query_scalar(CARD_SPEND)
        .bind(card_id)
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?;
    Ok(spend)
}
