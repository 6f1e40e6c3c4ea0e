//! The low-balance watch: the notifications a batch implies. A watched balance whose committed
//! available amount goes from at or above its threshold to below it, change by change in commit
//! order, notifies once; it notifies again only after rising back to the threshold and falling again.

use super::*;

impl Memory {
    /// The low-balance notifications a batch implies: a watched balance whose committed available
    /// amount goes from at or above its threshold to below it, change by change in commit order,
    /// notifies once; it notifies again only after rising back to the threshold and falling again.
    /// Whether the batch moves a watched balance or changes a threshold (a newly watched balance
    /// starts from its committed amount too).
    pub(super) fn moves_watched_balance(&self, changes: &[Change]) -> bool {
        changes.iter().any(|change| match change {
            Change::BalanceDelta { balance_id, .. } => self.watched_balances.contains(balance_id),
            Change::UpdateBalanceThreshold { .. } => true,
            _ => false,
        })
    }

    pub(super) fn low_balance_notifications(&self, changes: &[Change]) -> Vec<Change> {
        let sets_thresholds = || {
            changes
                .iter()
                .any(|change| matches!(change, Change::UpdateBalanceThreshold { .. }))
        };
        if self.watched_balances.is_empty() && !sets_thresholds() {
            return Vec::new();
        }
        // (available, threshold) as the batch moves them, from the committed values.
        let mut tracked: HashMap<BalanceId, (Arc<BalanceCell>, i64, Option<i64>)> = HashMap::new();
        let mut notifications = Vec::new();
        for change in changes {
            match change {
                Change::BalanceDelta {
                    balance_id,
                    ledger,
                    held,
                } if self.watched_balances.contains(balance_id) || tracked.contains_key(balance_id) => {
                    let Some(entry) = self.tracked_balance(&mut tracked, *balance_id) else {
                        continue;
                    };
                    let before = entry.1;
                    entry.1 = before + ledger - held;
                    if let Some(threshold) = entry.2
                        && before >= threshold
                        && entry.1 < threshold
                    {
                        notifications.push(Change::UpsertNotification(
                            self.low_balance_notification(&entry.0, entry.1, threshold),
                        ));
                    }
                }
                Change::UpdateBalanceThreshold { balance_id, threshold } => {
                    if let Some(entry) = self.tracked_balance(&mut tracked, *balance_id) {
                        entry.2 = *threshold;
                    }
                }
                _ => {}
            }
        }
        notifications
    }

    pub(super) fn tracked_balance<'a>(
        &self,
        tracked: &'a mut HashMap<BalanceId, (Arc<BalanceCell>, i64, Option<i64>)>,
        balance_id: BalanceId,
    ) -> Option<&'a mut (Arc<BalanceCell>, i64, Option<i64>)> {
        match tracked.entry(balance_id) {
            std::collections::hash_map::Entry::Occupied(occupied) => Some(occupied.into_mut()),
            std::collections::hash_map::Entry::Vacant(vacant) => {
                let cell = self.balances.get(&balance_id)?.clone();
                let available = {
                    let money = cell.lock();
                    money.ledger - money.held
                };
                let threshold = cell.low_balance_threshold();
                Some(vacant.insert((cell, available, threshold)))
            }
        }
    }

    pub(super) fn low_balance_notification(&self, cell: &BalanceCell, available: i64, threshold: i64) -> Notification {
        let now = self
            .clock
            .as_ref()
            .map_or_else(|| SystemClock.now_ms(), |clock| clock.now_ms());
        let id = uuid::Uuid::now_v7().to_string();
        let kind = match cell.kind {
            BalanceKind::PartnerCredit => "CREDIT",
            BalanceKind::PartnerDeposit => "DEPOSIT",
            _ => "OTHER",
        };
        let created_at = chrono::DateTime::from_timestamp_millis(now)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let payload = serde_json::json!({
            "id": id,
            "event": EVENT_PARTNER_BALANCE_LOW,
            "partnerId": cell.partner_id,
            "balanceId": cell.id,
            "balanceKind": kind,
            "currency": cell.currency,
            "available": available,
            "lowBalanceThreshold": threshold,
            "createdAt": created_at,
        });
        Notification {
            id,
            partner_id: cell.partner_id.clone(),
            balance_id: cell.id,
            event: EVENT_PARTNER_BALANCE_LOW.to_owned(),
            payload: payload.to_string(),
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            delivered_at: None,
        }
    }
}
