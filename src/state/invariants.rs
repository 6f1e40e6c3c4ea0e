//! The money invariants: held amounts equal open holds, and money is conserved per currency
//! except for recorded loads.

use super::*;

impl State {
    /// Verifies the money invariants over all of memory; returns what is wrong.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut held_by_balance: HashMap<BalanceId, i64> = HashMap::new();
        let mut open_holds: Vec<(TimestampMs, HoldId)> = Vec::new();
        for cell in self.memory.holds.iter() {
            let entry = cell.lock();
            if entry.hold.status == HoldStatus::Open {
                open_holds.push((entry.hold.expires_at, entry.hold.id));
                // The user's side holds the fees that go with what remains; the deposit does not.
                let fees = self
                    .memory
                    .fees
                    .hold_fees
                    .get(&entry.hold.id)
                    .map_or(0, |fee| fee.total_share(entry.hold.remaining, entry.hold.amount));
                *held_by_balance.entry(entry.hold.user_balance_id).or_default() += entry.hold.remaining + fees;
                if let Some(partner) = entry.hold.partner_balance_id {
                    *held_by_balance.entry(partner).or_default() += entry.hold.remaining;
                }
            }
        }
        open_holds.sort_unstable();
        if !lock(&self.memory.retention).expiries.iter().eq(open_holds.iter()) {
            return Err(format!(
                "the expiry order does not list exactly the {} open holds",
                open_holds.len()
            ));
        }
        let mut ledger_by_currency: HashMap<String, i64> = HashMap::new();
        for cell in self.memory.balances.iter() {
            let money = cell.lock();
            let expected = held_by_balance.get(&cell.id).copied().unwrap_or(0);
            if money.held != expected {
                return Err(format!(
                    "balance {}: held {} but open holds sum to {}",
                    cell.id, money.held, expected
                ));
            }
            *ledger_by_currency.entry(cell.currency.clone()).or_default() += money.ledger;
        }
        for (currency, total) in ledger_by_currency {
            let loaded = self.memory.external_loads.get(&currency).map_or(0, |value| *value);
            if total != loaded {
                return Err(format!(
                    "{currency}: balances total {total} but external loads total {loaded}"
                ));
            }
        }
        Ok(())
    }
}

/// Within one submission, ledger deltas per currency must equal the external
/// loads it records: money moves between balances, it is not made or lost.
pub(super) fn assert_conserved(changes: &[Change]) {
    let ledger: i64 = changes
        .iter()
        .map(|change| match change {
            Change::BalanceDelta { ledger, .. } => *ledger,
            _ => 0,
        })
        .sum();
    let loads: i64 = changes
        .iter()
        .map(|change| match change {
            Change::InsertTransfer(transfer) if transfer.kind == TransferKind::ExternalLoad => transfer.amount,
            _ => 0,
        })
        .sum();
    // Amounts of different currencies never meet in one submission's deltas
    // except through loads, which this sum accounts for.
    assert_eq!(ledger, loads, "a submission creates or destroys money");
}
