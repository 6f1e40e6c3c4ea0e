//! Applying committed changes to memory, and releasing what a decided batch held.
//!
//! [`Memory::apply_one`] is the one place a committed [`Change`] reaches memory: one line per
//! variant, each naming the function that applies it (TigerBeetle's commit dispatch is the model).
//! The money and network records are applied here; the lifecycle API's records in
//! [`super::lifecycle`], the fee records in [`super::fee_memory`].

use super::*;

impl Memory {
    pub(super) fn apply_one(&self, change: &Change) {
        match change {
            Change::UpsertPartner(partner) => self.upsert_partner(partner),
            Change::UpsertProgram(program) => self.index_program(program.clone()),
            Change::InsertCustomer(customer) => self.insert_customer(customer),
            Change::UpdateCustomerKyc {
                customer_id,
                kyc_status,
            } => self.update_customer_kyc(*customer_id, *kyc_status),
            Change::InsertCorporation(corporation) => self.insert_corporation(corporation),
            Change::UpdateCorporationKyb {
                corporation_id,
                kyb_status,
            } => self.update_corporation_kyb(*corporation_id, *kyb_status),
            Change::InsertBalance(balance) => self.insert_balance(balance),
            Change::BalanceDelta {
                balance_id,
                ledger,
                held,
            } => self.move_balance(*balance_id, *ledger, *held),
            Change::UpdateBalanceState { balance_id, state } => self.update_balance_state(*balance_id, *state),
            Change::UpdateBalanceThreshold { balance_id, threshold } => self.set_threshold(*balance_id, *threshold),
            Change::InsertCard(card) => self.insert_card(card),
            Change::UpdateCard(update) => self.update_card(update),
            Change::InsertHold(hold) => self.insert_hold(hold),
            Change::UpdateHold {
                hold_id,
                remaining,
                status,
            } => self.update_hold(*hold_id, *remaining, *status),
            Change::InsertTransfer(transfer) => self.insert_transfer(transfer),
            Change::RecordAnswer(answer) => self.record_answer(answer),
            Change::UpsertCustomerProfile(profile) => self.upsert_customer_profile(profile),
            Change::UpsertInstallation(installation) => self.upsert_installation(installation),
            Change::UpsertSession(session) => self.upsert_session(session),
            Change::ForgetSessionsBefore(cutoff) => self.forget_sessions_before(*cutoff),
            Change::UpsertAdmin(admin) => self.upsert_admin(admin),
            Change::UpsertKycSubmission(submission) => self.upsert_kyc_submission(submission),
            Change::InsertCorporationDetails(details) => self.insert_corporation_details(details),
            Change::InsertFeeSchedule(version) => self.insert_fee_schedule(version),
            Change::InsertFxRate(rate) => self.insert_fx_rate(rate),
            Change::InsertFeeEntry(entry) => self.apply_fee_entry(entry),
            Change::InsertHoldFee(fee) => self.insert_hold_fee(fee),
            Change::InsertKybTransition(transition) => self.insert_kyb_transition(transition),
            Change::UpsertNotification(notification) => self.upsert_notification(notification),
            Change::UpsertCardRequest(request) => self.upsert_card_request(request),
        }
    }

    fn upsert_partner(&self, partner: &Partner) {
        self.partners.insert(partner.id.clone(), partner.clone());
    }

    fn insert_customer(&self, customer: &Customer) {
        self.index_customer(customer);
        self.customers.insert(customer.id, customer.clone());
    }

    fn update_customer_kyc(&self, customer_id: CustomerId, kyc_status: KycStatus) {
        if let Some(mut customer) = self.customers.get_mut(&customer_id) {
            customer.kyc_status = kyc_status;
        }
    }

    fn insert_corporation(&self, corporation: &Corporation) {
        self.corporations.insert(corporation.id, corporation.clone());
    }

    fn update_corporation_kyb(&self, corporation_id: CorporationId, kyb_status: KybStatus) {
        if let Some(mut corporation) = self.corporations.get_mut(&corporation_id) {
            corporation.kyb_status = kyb_status;
        }
    }

    fn insert_balance(&self, balance: &Balance) {
        if balance.low_balance_threshold.is_some() {
            self.watched_balances.insert(balance.id);
        }
        self.balances.insert(balance.id, Arc::new(BalanceCell::new(balance)));
    }

    fn move_balance(&self, balance_id: BalanceId, ledger: i64, held: i64) {
        let cell = self.balances.get(&balance_id).map(|cell| cell.clone());
        let cell = cell.expect("a committed delta names a balance in memory");
        let mut money = cell.lock();
        money.ledger += ledger;
        money.held += held;
        assert!(money.held >= 0, "balance {balance_id}: held went negative");
    }

    fn update_balance_state(&self, balance_id: BalanceId, state: BalanceState) {
        if let Some(cell) = self.balances.get(&balance_id) {
            cell.lock().state = state;
        }
    }

    fn set_threshold(&self, balance_id: BalanceId, threshold: Option<i64>) {
        if let Some(cell) = self.balances.get(&balance_id) {
            cell.set_low_balance_threshold(threshold);
        }
        if threshold.is_some() {
            self.watched_balances.insert(balance_id);
        } else {
            self.watched_balances.remove(&balance_id);
        }
    }

    fn insert_card(&self, card: &Card) {
        self.card_by_pan.insert(card.pan_hash, card.id);
        self.cards.insert(card.id, Arc::new(CardCell::new(card.clone())));
    }

    fn update_card(&self, update: &CardUpdate) {
        if let Some(cell) = self.cards.get(&update.card_id) {
            let mut entry = cell.lock();
            entry.card.status = update.status;
            entry.card.cvc_encrypted = update.cvc_encrypted.clone();
            entry.card.pin_verification = update.pin_verification;
            entry.card.pin_tries = update.pin_tries;
        }
    }

    fn insert_hold(&self, hold: &Hold) {
        let mut retention = lock(&self.retention);
        retention.holds.push_back((hold.created_at, hold.id));
        if hold.status == HoldStatus::Open {
            retention.expiries.insert((hold.expires_at, hold.id));
        }
        drop(retention);
        self.hold_by_transaction.insert(hold.transaction, hold.id);
        self.holds.insert(hold.id, Arc::new(HoldCell::new(hold.clone())));
    }

    fn update_hold(&self, hold_id: HoldId, remaining: i64, status: HoldStatus) {
        // The map's guard and the hold's lock are let go before the retention lock is
        // taken: the sweep takes the retention lock first, then these.
        let Some(cell) = self.holds.get(&hold_id).map(|cell| cell.clone()) else {
            return;
        };
        let mut entry = cell.lock();
        entry.hold.remaining = remaining;
        entry.hold.status = status;
        let expires_at = entry.hold.expires_at;
        drop(entry);
        if status != HoldStatus::Open {
            let mut retention = lock(&self.retention);
            retention.expiries.remove(&(expires_at, hold_id));
            if retention.lingering.remove(&hold_id) {
                retention.closed_lingering.push(hold_id);
            }
        }
    }

    fn insert_transfer(&self, transfer: &Transfer) {
        if transfer.kind != TransferKind::ExternalLoad {
            return;
        }
        let currency = self
            .balances
            .get(&transfer.credit_balance_id)
            .map(|cell| cell.currency.clone());
        if let Some(currency) = currency {
            *self.external_loads.entry(currency).or_default() += transfer.amount;
        }
    }

    fn record_answer(&self, answer: &RecordedAnswer) {
        lock(&self.retention)
            .answers
            .push_back((answer.created_at, answer.transaction));
        let previous = self
            .answers
            .insert(answer.transaction, AnswerSlot::Final(answer.clone()));
        if let Some(AnswerSlot::Pending(pending)) = previous {
            pending.decided.notify_waiters();
        }
    }
}

impl Applier for Memory {
    fn consequences(&self, changes: &[Change], settled: bool) -> Option<Vec<Change>> {
        // A crossing is judged from the committed amounts, which lack the batches still in flight:
        // a batch moving a watched balance waits for them (the watched ones are the partners'
        // balances with a threshold, so only those partners' traffic loses the overlap).
        if !settled && self.moves_watched_balance(changes) {
            return None;
        }
        Some(self.low_balance_notifications(changes))
    }

    fn apply(&self, changes: &[Change]) {
        for change in changes {
            self.apply_one(change);
        }
    }

    fn release(&self, releases: Vec<Release>, committed: bool) {
        for release in releases {
            match release {
                Release::Funds { balance, amount } => {
                    let mut money = balance.lock();
                    money.reserved -= amount;
                    assert!(
                        money.reserved >= 0,
                        "balance {}: reservations went negative",
                        balance.id
                    );
                }
                Release::Card(cell) => {
                    cell.lock().pending = None;
                    cell.changed.notify_waiters();
                }
                Release::Hold(cell) => {
                    cell.lock().busy = false;
                    cell.changed.notify_waiters();
                }
                // Committed: `RecordAnswer` made the slot final. Failed: free the identity.
                Release::Answer(transaction) => self.free_answer(&transaction, !committed),
            }
        }
    }
}
