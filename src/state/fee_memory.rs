//! Fee memory: schedules, FX rates, hold fees, the periods already charged and the report totals.

use super::*;

/// Fee schedules, FX rates, hold fees, charged periods and report totals.
#[derive(Debug, Default)]
pub(super) struct FeeMemory {
    /// Per program, every version (sorted by version).
    pub(super) schedules: DashMap<String, Arc<Vec<ScheduleVersion>>>,
    /// Per (from, to) ISO 4217 numeric pair.
    pub(super) rates: DashMap<(u16, u16), Arc<Vec<FxRate>>>,
    pub(super) hold_fees: DashMap<HoldId, HoldFee>,
    /// (card, period key) charged or being charged.
    pub(super) charged_periods: DashSet<(CardId, String)>,
    /// (program, fee type, UTC day) → totals.
    pub(super) totals: DashMap<(String, FeeType, i64), FeeTotals>,
    /// What a program without a schedule has (shared, so answering it allocates nothing).
    pub(super) no_schedule: Arc<Vec<ScheduleVersion>>,
}

/// A (card, period) claimed for a periodic fee charge in flight; dropped without
/// [`FeePeriodClaim::keep`] (the charge failed), it frees the period again.
#[derive(Debug)]
pub struct FeePeriodClaim {
    memory: Arc<Memory>,
    key: Option<(CardId, String)>,
}

impl FeePeriodClaim {
    /// The charge is durable: the period stays charged.
    pub fn keep(mut self) {
        self.key = None;
    }
}

impl Drop for FeePeriodClaim {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.memory.fees.charged_periods.remove(&key);
        }
    }
}

impl State {
    /// Every version of a program's fee schedule, oldest first (empty when none). On the
    /// authorization path: a map look-up and a reference count, no allocation.
    pub fn fee_schedules(&self, program_id: &str) -> Arc<Vec<ScheduleVersion>> {
        match self.memory.fees.schedules.get(program_id) {
            Some(entry) => entry.clone(),
            None => self.memory.fees.no_schedule.clone(),
        }
    }

    /// The version of a program's fee schedule in force at `now`.
    pub fn fee_schedule_at(&self, program_id: &str, now: TimestampMs) -> Option<ScheduleVersion> {
        let versions = self.memory.fees.schedules.get(program_id)?.clone();
        crate::domain::fees::schedule::in_force(&versions, now).cloned()
    }

    /// The rate converting `from` into `to` (ISO 4217 numeric) at `now`.
    pub fn fx_rate(&self, from: u16, to: u16, now: TimestampMs) -> Option<FxRate> {
        let rates = self.memory.fees.rates.get(&(from, to))?.clone();
        crate::domain::fees::fx::rate_at(&rates, now).cloned()
    }

    /// Every FX rate, oldest first.
    pub fn fx_rates(&self) -> Vec<FxRate> {
        let mut rates: Vec<FxRate> = self
            .memory
            .fees
            .rates
            .iter()
            .flat_map(|entry| entry.value().as_ref().clone())
            .collect();
        rates.sort_by(|left, right| left.id.cmp(&right.id));
        rates
    }

    /// The fees and conversion of a hold, when it has any.
    pub fn hold_fee(&self, hold_id: HoldId) -> Option<HoldFee> {
        self.memory.fees.hold_fees.get(&hold_id).map(|entry| entry.clone())
    }

    /// Claims (card, period) for a periodic fee charge: `None` when it is charged already or
    /// being charged.
    pub fn claim_fee_period(&self, card_id: CardId, period_key: &str) -> Option<FeePeriodClaim> {
        let key = (card_id, period_key.to_owned());
        self.memory
            .fees
            .charged_periods
            .insert(key.clone())
            .then(|| FeePeriodClaim {
                memory: self.memory.clone(),
                key: Some(key),
            })
    }

    /// Fee totals of a program per fee type over the UTC days `[from_day, to_day)`.
    pub fn fee_totals(&self, program_id: &str, from_day: i64, to_day: i64) -> Vec<(FeeType, FeeTotals)> {
        let mut totals: std::collections::BTreeMap<FeeType, FeeTotals> = std::collections::BTreeMap::new();
        for entry in self.memory.fees.totals.iter() {
            let (program, fee_type, day) = entry.key();
            if program == program_id && (from_day..to_day).contains(day) {
                totals.entry(*fee_type).or_default().add(entry.value());
            }
        }
        totals.into_iter().collect()
    }
}

impl Memory {
    pub(super) fn apply_fee_entry(&self, entry: &FeeEntry) {
        if let (Some(card_id), Some(period_key)) = (entry.card_id, &entry.period_key) {
            self.fees.charged_periods.insert((card_id, period_key.clone()));
        }
        let day = entry.created_at.div_euclid(crate::domain::fees::DAY_MS);
        self.fees
            .totals
            .entry((entry.program_id.clone(), entry.fee_type, day))
            .or_default()
            .add(&FeeTotals::of(entry));
    }
}

impl Memory {
    pub(super) fn insert_fee_schedule(&self, version: &ScheduleVersion) {
        let mut versions = self
            .fees
            .schedules
            .get(&version.program_id)
            .map(|entry| entry.as_ref().clone())
            .unwrap_or_default();
        versions.retain(|existing| existing.version != version.version);
        versions.push(version.clone());
        versions.sort_by_key(|existing| existing.version);
        self.fees
            .schedules
            .insert(version.program_id.clone(), Arc::new(versions));
    }

    pub(super) fn insert_fx_rate(&self, rate: &FxRate) {
        let code = |alpha: &str| crate::domain::money::Currency::from_code(alpha).map_or(0, |c| c.numeric);
        let key = (code(&rate.from), code(&rate.to));
        let mut rates = self
            .fees
            .rates
            .get(&key)
            .map(|entry| entry.as_ref().clone())
            .unwrap_or_default();
        rates.retain(|existing| existing.id != rate.id);
        rates.push(rate.clone());
        self.fees.rates.insert(key, Arc::new(rates));
    }

    pub(super) fn insert_hold_fee(&self, fee: &HoldFee) {
        self.fees.hold_fees.insert(fee.hold_id, fee.clone());
    }
}
