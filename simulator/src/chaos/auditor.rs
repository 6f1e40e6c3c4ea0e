//! The auditor: a model of every card built only from what the simulator sent
//! and what it was answered, and the checks against it. Each lane owns its
//! cards and sends one request at a time, so the model of a card is exact:
//! every approval's DE 54 must be the modelled available amount (a lost
//! approval or a hold made twice shows at the next one), every decline must be
//! the one the model predicts (or 9109, the outage answer, which changes
//! nothing), every duplicate must get the first answer. At the end every
//! balance is read from the database and compared with the model, and money
//! is conserved per currency except for the recorded loads.

use std::collections::BTreeMap;

use anyhow::Context as _;
use sqlx::Row;

use crate::scenarios::Request;

/// An authorization hold the model expects open.
#[derive(Debug, Clone)]
pub struct HoldModel {
    /// The 2100/2120 that made it (DE 56 of its completion or reversal names it).
    pub request: Request,
    pub amount: i64,
    pub remaining: i64,
}

/// One card and its balance as the auditor knows them.
#[derive(Debug, Clone)]
pub struct CardModel {
    pub pan: String,
    pub customer_id: i64,
    pub card_id: i64,
    pub balance_id: i64,
    pub ledger: i64,
    pub held: i64,
    /// The lock reason while locked over HTTP.
    pub lock: Option<u8>,
    pub holds: Vec<HoldModel>,
}

impl CardModel {
    pub fn available(&self) -> i64 {
        self.ledger - self.held
    }

    /// The action code an authorization gets on this card while locked.
    pub fn lock_code(&self) -> Option<&'static str> {
        self.lock.map(|reason| match reason {
            3 => "1000",
            7 => "1002",
            _ => "????",
        })
    }
}

/// The first definite answer to a request, for its duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub action: String,
    pub approval: Option<String>,
    pub balance: Option<String>,
}

/// What the auditor found and counted.
#[derive(Debug, Default)]
pub struct Findings {
    pub violations: Vec<String>,
    pub counts: BTreeMap<String, u64>,
}

impl Findings {
    pub fn count(&mut self, what: impl Into<String>) {
        *self.counts.entry(what.into()).or_default() += 1;
    }

    pub fn violation(&mut self, what: impl Into<String>) {
        let what = what.into();
        if self.violations.len() < 200 {
            eprintln!("VIOLATION {what}");
        }
        self.violations.push(what);
    }

    pub fn merge(&mut self, other: Findings) {
        self.violations.extend(other.violations);
        for (key, value) in other.counts {
            *self.counts.entry(key).or_default() += value;
        }
    }
}

/// The end of the run: every modelled balance against the database, and money conserved.
pub async fn check_database(database_url: &str, cards: &[&CardModel], findings: &mut Findings) -> anyhow::Result<()> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(database_url)
        .await
        .context("connecting to the chaos database")?;
    for card in cards {
        check_balance(&pool, card, findings).await?;
    }
    check_conservation(&pool, findings).await?;
    check_held_sums(&pool, findings).await?;
    pool.close().await;
    Ok(())
}

/// One card's balance in the database against its model: ledger and held, its open holds
/// (count and sum), and held equal to the sum of its open holds.
async fn check_balance(pool: &sqlx::PgPool, card: &CardModel, findings: &mut Findings) -> anyhow::Result<()> {
    let row = sqlx::query("SELECT ledger, held FROM balances WHERE id = $1")
        .bind(card.balance_id)
        .fetch_one(pool)
        .await?;
    let (ledger, held): (i64, i64) = (row.try_get("ledger")?, row.try_get("held")?);
    let row = sqlx::query(
        "SELECT COALESCE(SUM(remaining), 0)::BIGINT AS remaining, COUNT(*) AS open FROM holds \
         WHERE user_balance_id = $1 AND status = 'open'",
    )
    .bind(card.balance_id)
    .fetch_one(pool)
    .await?;
    let (open_sum, open_count): (i64, i64) = (row.try_get("remaining")?, row.try_get("open")?);
    let model_open: i64 = card.holds.iter().map(|hold| hold.remaining).sum();
    if (ledger, held) != (card.ledger, card.held) {
        findings.violation(format!(
            "balance {}: the database has ledger {ledger} held {held}, the model ledger {} held {}",
            card.balance_id, card.ledger, card.held
        ));
    }
    if (open_sum, open_count) != (model_open, card.holds.len() as i64) {
        findings.violation(format!(
            "balance {}: the database has {open_count} open holds for {open_sum}, the model {} for {model_open}",
            card.balance_id,
            card.holds.len()
        ));
    }
    if held != open_sum {
        findings.violation(format!(
            "balance {}: held {held} is not the sum of its open holds {open_sum}",
            card.balance_id
        ));
    }
    findings.count("balances checked against the database");
    Ok(())
}

/// Money is neither made nor lost: per currency, all balances together hold what was loaded.
async fn check_conservation(pool: &sqlx::PgPool, findings: &mut Findings) -> anyhow::Result<()> {
    let totals = sqlx::query("SELECT currency, SUM(ledger)::BIGINT AS total FROM balances GROUP BY currency")
        .fetch_all(pool)
        .await?;
    let loads = sqlx::query(
        "SELECT b.currency, SUM(t.amount)::BIGINT AS loaded FROM transfers t \
         JOIN balances b ON b.id = t.credit_balance_id WHERE t.kind = 'external_load' GROUP BY b.currency",
    )
    .fetch_all(pool)
    .await?;
    let loaded: BTreeMap<String, i64> = loads
        .iter()
        .map(|row| Ok((row.try_get("currency")?, row.try_get("loaded")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    for row in totals {
        let currency: String = row.try_get("currency")?;
        let total: i64 = row.try_get("total")?;
        let expected = loaded.get(&currency).copied().unwrap_or(0);
        if total != expected {
            findings.violation(format!(
                "{currency}: the balances hold {total} in all, the recorded loads are {expected}"
            ));
        } else {
            println!("conservation {currency}: balances {total} = recorded loads {expected}");
        }
    }
    Ok(())
}

/// Every balance in the database (partner ones included, which the model does not hold):
/// held is the sum of the open holds on it.
async fn check_held_sums(pool: &sqlx::PgPool, findings: &mut Findings) -> anyhow::Result<()> {
    let broken: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM balances b WHERE b.held <> (SELECT COALESCE(SUM(h.remaining), 0)::BIGINT \
         FROM holds h WHERE h.status = 'open' AND (h.user_balance_id = b.id OR h.partner_balance_id = b.id))",
    )
    .fetch_one(pool)
    .await?;
    if broken != 0 {
        findings.violation(format!(
            "{broken} balances whose held is not the sum of their open holds"
        ));
    }
    Ok(())
}
