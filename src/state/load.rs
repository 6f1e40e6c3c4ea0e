//! The start-up load: everything the store holds, put into memory before anything is served.

use super::*;

/// Everything loaded at start-up.
#[derive(Debug, Default)]
pub struct LoadedState {
    pub partners: Vec<Partner>,
    pub programs: Vec<Program>,
    pub customers: Vec<Customer>,
    pub corporations: Vec<Corporation>,
    pub balances: Vec<Balance>,
    pub cards: Vec<Card>,
    pub holds: Vec<Hold>,
    pub answers: Vec<RecordedAnswer>,
    /// Sum of external loads per currency (the conserved totals).
    pub external_loads: HashMap<String, i64>,
    pub max_ids: [i64; 6],
    pub lifecycle: LifecycleRecords,
    pub fees: FeeRecords,
}

impl Memory {
    pub(super) fn load(&self, loaded: LoadedState) {
        for partner in loaded.partners {
            self.partners.insert(partner.id.clone(), partner);
        }
        for customer in loaded.customers {
            self.index_customer(&customer);
            self.customers.insert(customer.id, customer);
        }
        for corporation in loaded.corporations {
            self.corporations.insert(corporation.id, corporation);
        }
        for balance in &loaded.balances {
            self.balances.insert(balance.id, Arc::new(BalanceCell::new(balance)));
        }
        for program in loaded.programs {
            self.index_program(program);
        }
        for card in loaded.cards {
            self.card_by_pan.insert(card.pan_hash, card.id);
            self.cards.insert(card.id, Arc::new(CardCell::new(card)));
        }
        let mut holds = loaded.holds;
        holds.sort_unstable_by_key(|hold| (hold.created_at, hold.id));
        let mut answers = loaded.answers;
        answers.sort_unstable_by_key(|answer| answer.created_at);
        let mut retention = lock(&self.retention);
        for hold in holds {
            retention.holds.push_back((hold.created_at, hold.id));
            if hold.status == HoldStatus::Open {
                retention.expiries.insert((hold.expires_at, hold.id));
            }
            self.hold_by_transaction.insert(hold.transaction, hold.id);
            self.holds.insert(hold.id, Arc::new(HoldCell::new(hold)));
        }
        for answer in answers {
            retention.answers.push_back((answer.created_at, answer.transaction));
            self.answers.insert(answer.transaction, AnswerSlot::Final(answer));
        }
        drop(retention);
        for (currency, total) in loaded.external_loads {
            self.external_loads.insert(currency, total);
        }
        let [balance, card, hold, customer, corporation, transfer] = loaded.max_ids;
        self.ids.balance.store(balance, Ordering::Relaxed);
        self.ids.card.store(card, Ordering::Relaxed);
        self.ids.hold.store(hold, Ordering::Relaxed);
        self.ids.customer.store(customer, Ordering::Relaxed);
        self.ids.corporation.store(corporation, Ordering::Relaxed);
        self.ids.transfer.store(transfer, Ordering::Relaxed);
        self.load_lifecycle(loaded.lifecycle);
        self.load_fees(loaded.fees);
    }

    pub(super) fn load_fees(&self, records: FeeRecords) {
        let FeeRecords {
            schedules,
            rates,
            hold_fees,
            charged_periods,
            totals,
        } = records;
        for version in schedules {
            self.apply_one(&Change::InsertFeeSchedule(version));
        }
        for rate in rates {
            self.apply_one(&Change::InsertFxRate(rate));
        }
        for fee in hold_fees {
            self.fees.hold_fees.insert(fee.hold_id, fee);
        }
        for key in charged_periods {
            self.fees.charged_periods.insert(key);
        }
        for (program, fee_type, day, total) in totals {
            self.fees
                .totals
                .entry((program, fee_type, day))
                .or_default()
                .add(&total);
        }
    }

    pub(super) fn load_lifecycle(&self, records: LifecycleRecords) {
        // Applied as changes so loading and committing index the same way.
        let LifecycleRecords {
            customer_profiles,
            installations,
            sessions,
            admins,
            mut kyc_submissions,
            corporation_details,
            mut kyb_transitions,
            notifications,
            card_requests,
        } = records;
        kyc_submissions.sort_by(|left, right| left.id.cmp(&right.id));
        kyb_transitions.sort_by(|left, right| left.id.cmp(&right.id));
        let changes = customer_profiles
            .into_iter()
            .map(Change::UpsertCustomerProfile)
            .chain(installations.into_iter().map(Change::UpsertInstallation))
            .chain(sessions.into_iter().map(Change::UpsertSession))
            .chain(admins.into_iter().map(Change::UpsertAdmin))
            .chain(kyc_submissions.into_iter().map(Change::UpsertKycSubmission))
            .chain(corporation_details.into_iter().map(Change::InsertCorporationDetails))
            .chain(kyb_transitions.into_iter().map(Change::InsertKybTransition))
            .chain(notifications.into_iter().map(Change::UpsertNotification))
            .chain(card_requests.into_iter().map(Change::UpsertCardRequest));
        for change in changes {
            self.apply_one(&change);
        }
    }

    pub(super) fn index_customer(&self, customer: &Customer) {
        if let Some(external_ref) = &customer.external_ref {
            self.lifecycle
                .customer_by_ref
                .insert((customer.partner_id.clone(), external_ref.clone()), customer.id);
        }
    }

    /// Indexes a program with its funding and system balances, when they exist.
    pub(super) fn index_program(&self, program: Program) {
        let find = |predicate: &dyn Fn(&BalanceCell) -> bool| {
            self.balances.iter().find(|cell| predicate(cell)).map(|cell| cell.id)
        };
        let funding_kind = match program.funding {
            FundingModel::PartnerCredit => BalanceKind::PartnerCredit,
            FundingModel::PartnerDeposit => BalanceKind::PartnerDeposit,
        };
        let funding = find(&|cell| {
            cell.kind == funding_kind && cell.partner_id == program.partner_id && cell.currency == program.currency
        });
        let settlement =
            find(&|cell| cell.currency == program.currency && cell.owner == Owner::System(SETTLEMENT.to_owned()));
        let clearing_owner = Owner::System(clearing_purpose(&program.partner_id));
        let clearing = find(&|cell| cell.currency == program.currency && cell.owner == clearing_owner);
        let revenue_owner = Owner::System(crate::domain::revenue_purpose(&program.partner_id));
        let fee_balance = find(&|cell| cell.currency == program.currency && cell.owner == revenue_owner);
        let currency_numeric = crate::domain::money::Currency::from_code(&program.currency).map_or(0, |c| c.numeric);
        if let (Some(funding_balance), Some(settlement_balance)) = (funding, settlement) {
            let entry = ProgramEntry {
                clearing_balance: if program.funding == FundingModel::PartnerDeposit {
                    clearing
                } else {
                    None
                },
                fee_balance,
                program: program.clone(),
                currency_numeric,
                funding_balance,
                settlement_balance,
            };
            self.programs.insert(program.id.clone(), Arc::new(entry));
        } else {
            tracing::warn!(program = %program.id, "program has no funding or settlement balance yet; not indexed");
        }
    }
}
