//! Periodic fees per card: periods (UTC days, ISO weeks, calendar months) and the scheduler.
//!
//! A period is charged once it has ended, by the schedule version in force at its last instant,
//! for every card created before its end and not removed; a spend waiver looks at the card's
//! posted spend in that period. Each (card, period) is charged at most once: memory refuses a
//! period already charged or being charged, and the database's unique key on
//! `fee_entries (card_id, period_key)` refuses a second row, so a restart, a retry or a second
//! instance cannot charge a period twice.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

use super::events::{ChargeContext, charge_balance, exponent_of};
use super::schedule::{Period, ScheduleVersion, WaiverCondition, in_force};
use super::{FeeType, rounding};
use crate::state::{CardId, CardStatus, JournalError, State, Submission, TimestampMs};

/// Where a card's posted spend in a period comes from, for the spend waiver: the store's transfers,
/// which memory does not keep. A trait, so that the fee rules reach the database only through what
/// the application wiring hands them (the store implements it).
pub trait SpendLedger: Send + Sync {
    /// The card's posted spend in [from, to), minor units.
    fn card_spend(
        &self,
        card_id: CardId,
        from: TimestampMs,
        to: TimestampMs,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<i64, SpendUnavailable>> + Send + '_>>;
}

/// The spend could not be read (the database is away); the period is charged at a later tick.
#[derive(Debug, thiserror::Error)]
#[error("the card spend could not be read: {0}")]
pub struct SpendUnavailable(pub String);

/// One period: [start, end) in ms, and its key (e.g. `M2026-11`, `W2026-48`, `D2026-11-25`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodSpan {
    pub start: TimestampMs,
    pub end: TimestampMs,
    pub key: String,
}

fn start_of_day(date: NaiveDate) -> TimestampMs {
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
        .timestamp_millis()
}

/// The period of `unit` containing `at`.
pub fn period_containing(unit: Period, at: TimestampMs) -> PeriodSpan {
    let date = DateTime::from_timestamp_millis(at).unwrap_or_default().date_naive();
    match unit {
        Period::Daily => PeriodSpan {
            start: start_of_day(date),
            end: start_of_day(date + Duration::days(1)),
            key: format!("D{}", date.format("%Y-%m-%d")),
        },
        Period::Weekly => {
            let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
            let week = date.iso_week();
            PeriodSpan {
                start: start_of_day(monday),
                end: start_of_day(monday + Duration::days(7)),
                key: format!("W{}-{:02}", week.year(), week.week()),
            }
        }
        Period::Monthly => {
            let first = date.with_day(1).unwrap_or(date);
            let next = first.checked_add_months(chrono::Months::new(1)).unwrap_or(first);
            PeriodSpan {
                start: start_of_day(first),
                end: start_of_day(next),
                key: format!("M{}", first.format("%Y-%m")),
            }
        }
    }
}

/// The periods of `unit` that ended after `after` and by `now`, oldest first.
pub fn ended_periods(unit: Period, after: TimestampMs, now: TimestampMs) -> Vec<PeriodSpan> {
    let mut periods = Vec::new();
    let mut period = period_containing(unit, after);
    while period.end <= now {
        if period.end > after {
            periods.push(period.clone());
        }
        period = period_containing(unit, period.end);
    }
    periods
}

/// Which periods of a card a program's versions charge by `now`: (period, the version in force
/// at its last instant).
pub fn due_periods(
    versions: &[ScheduleVersion],
    card_created_at: TimestampMs,
    now: TimestampMs,
) -> Vec<(PeriodSpan, &ScheduleVersion)> {
    let mut due = Vec::new();
    for version in versions {
        let Some(fee) = version.schedule.periodic.filter(|_| version.schedule.enabled) else {
            continue;
        };
        let after = version.effective_from.max(card_created_at);
        for period in ended_periods(fee.period, after, now) {
            let governs = in_force(versions, period.end - 1).is_some_and(|v| v.version == version.version);
            if governs && !due.iter().any(|(p, _): &(PeriodSpan, _)| p.key == period.key) {
                due.push((period, version));
            }
        }
    }
    due
}

/// What one scheduler pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeriodicRun {
    pub charged: usize,
    pub waived: usize,
    /// Periods skipped because they were charged already (or are being charged).
    pub already_charged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PeriodicError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Spend(#[from] SpendUnavailable),
}

/// Charges every periodic fee due at `now`, one durable submission per (card, period).
pub async fn charge_due(
    state: &State,
    spend: &dyn SpendLedger,
    now: TimestampMs,
) -> Result<PeriodicRun, PeriodicError> {
    let mut run = PeriodicRun::default();
    for card in state.cards() {
        if card.status == CardStatus::Removed {
            continue;
        }
        let versions = state.fee_schedules(&card.program_id);
        if versions.is_empty() {
            continue;
        }
        let (Some(program), Some(balance)) = (state.program(&card.program_id), state.balance(card.balance_id)) else {
            continue;
        };
        for (period, version) in due_periods(&versions, card.created_at, now) {
            let Some(fee) = version.schedule.periodic else {
                continue;
            };
            let Some(claim) = state.claim_fee_period(card.id, &period.key) else {
                run.already_charged += 1;
                continue;
            };
            let exponent = exponent_of(&balance);
            let amount = rounding::to_minor_units(fee.amount, exponent).unwrap_or(0);
            let waived = match spend_waiver(&version.schedule.waivers, exponent) {
                Some(threshold) => spend.card_spend(card.id, period.start, period.end).await? >= threshold,
                None => false,
            };
            let (fee_minor, waived_minor) = if waived { (0, amount) } else { (amount, 0) };
            let mut submission = Submission::default();
            let context = ChargeContext {
                card_id: Some(card.id),
                period_key: Some(period.key.clone()),
                incoming: 0,
            };
            let entry = charge_balance(
                &mut submission,
                &program,
                &balance,
                FeeType::Periodic,
                fee_minor,
                waived_minor,
                context,
                now,
            );
            if entry.is_none() {
                continue;
            }
            state.submit(submission).await?;
            claim.keep();
            if waived {
                run.waived += 1;
            } else {
                run.charged += 1;
            }
        }
    }
    Ok(run)
}

/// The spend threshold (minor units) of the periodic fee's spend waiver, if the schedule has one.
fn spend_waiver(waivers: &[super::schedule::Waiver], exponent: u32) -> Option<i64> {
    waivers.iter().find_map(|waiver| match waiver.when {
        WaiverCondition::CardSpendInPeriodAtLeast { amount: threshold } if waiver.fee == FeeType::Periodic => {
            rounding::to_minor_units(threshold, exponent)
        }
        _ => None,
    })
}

/// Runs [`charge_due`] every `interval` (the first time one interval after start) until `shutdown`.
pub async fn run_scheduler(
    state: State,
    spend: std::sync::Arc<dyn SpendLedger>,
    interval: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    // The first pass one interval after start: a restart does not race what started it.
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match charge_due(&state, spend.as_ref(), state.now_ms()).await {
            Ok(run) if run.charged + run.waived > 0 => {
                tracing::info!(charged = run.charged, waived = run.waived, "periodic fees charged")
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "periodic fee run failed; retried at the next tick"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-25T10:00:00Z
    const NOW: TimestampMs = 1_795_600_800_000;

    #[test]
    fn periods_have_stable_keys_and_bounds() {
        let month = period_containing(Period::Monthly, NOW);
        assert_eq!(month.key, "M2026-11");
        assert_eq!(period_containing(Period::Monthly, month.end).key, "M2026-12");
        assert_eq!(period_containing(Period::Monthly, month.end - 1).key, "M2026-11");
        let week = period_containing(Period::Weekly, NOW);
        assert_eq!(week.key, "W2026-48");
        assert_eq!(week.end - week.start, 7 * super::super::DAY_MS);
        assert_eq!(period_containing(Period::Daily, NOW).key, "D2026-11-25");
    }

    #[test]
    fn only_ended_periods_after_the_start_are_due() {
        let start = period_containing(Period::Daily, NOW).start - 3 * super::super::DAY_MS + 1;
        let keys: Vec<String> = ended_periods(Period::Daily, start, NOW)
            .into_iter()
            .map(|p| p.key)
            .collect();
        assert_eq!(keys, ["D2026-11-22", "D2026-11-23", "D2026-11-24"]);
        assert!(ended_periods(Period::Monthly, NOW, NOW).is_empty());
    }
}
