//! A batch of changes sorted into what each table receives, in the order that keeps references valid
//! (a card's balance is written before the card). Both backends write from this; only the SQL differs.
//!
//! Within one batch: balance deltas are summed per balance (one row update each, however many holds
//! touched the balance); for row updates and upserts the last change of a row wins, as it would had
//! the changes been applied one by one. Rows are sorted by id so that concurrent writers, if there
//! ever are several, lock rows in one order and cannot deadlock.

use std::collections::HashMap;
use std::hash::Hash;

use super::StoreError;
use crate::domain::*;
use crate::state::change::Change;

/// The rows of one batch, by table, in writing order.
#[derive(Debug, Default)]
pub(crate) struct Batch<'a> {
    pub partners: Vec<&'a Partner>,
    pub programs: Vec<&'a Program>,
    pub customers: Vec<&'a Customer>,
    pub customer_kyc: Vec<(CustomerId, KycStatus)>,
    pub corporations: Vec<&'a Corporation>,
    pub corporation_kyb: Vec<(CorporationId, KybStatus)>,
    pub balances: Vec<&'a Balance>,
    pub balance_deltas: Vec<BalanceDelta>,
    pub balance_states: Vec<(BalanceId, BalanceState)>,
    pub balance_thresholds: Vec<(BalanceId, Option<i64>)>,
    pub cards: Vec<&'a Card>,
    pub card_updates: Vec<&'a CardUpdate>,
    pub holds: Vec<&'a Hold>,
    /// The answer stored on each new hold's row (index by index with `holds`), taken out of
    /// `answers`: see [`answers_on_holds`].
    pub hold_answers: Vec<Option<&'a RecordedAnswer>>,
    pub hold_updates: Vec<HoldUpdate>,
    pub transfers: Vec<&'a Transfer>,
    pub answers: Vec<&'a RecordedAnswer>,
    // The lifecycle API's records, written after the rows they refer to.
    pub customer_profiles: Vec<&'a CustomerProfile>,
    pub installations: Vec<&'a Installation>,
    pub admins: Vec<&'a AdminUser>,
    pub sessions: Vec<&'a Session>,
    pub kyc_submissions: Vec<&'a KycSubmission>,
    pub corporation_details: Vec<&'a CorporationDetails>,
    pub kyb_transitions: Vec<&'a KybTransition>,
    /// Outbox notifications and asynchronous card requests, written after the rows they refer to.
    pub notifications: Vec<&'a Notification>,
    pub card_requests: Vec<&'a CardRequestRecord>,
    /// Forget sessions that expired before this (the latest cutoff of the batch).
    pub forget_sessions_before: Option<TimestampMs>,
    /// What the batch's holds, transfers and answers refer to, checked before the commit.
    pub references: References,
    // Fees (src/store/fees.rs), written after the holds.
    pub fee_schedules: Vec<&'a crate::domain::fees::ScheduleVersion>,
    pub fx_rates: Vec<&'a crate::domain::fees::FxRate>,
    pub fee_entries: Vec<&'a crate::domain::fees::FeeEntry>,
    pub hold_fees: Vec<&'a crate::domain::fees::HoldFee>,
}

/// The rows referred to by the batch's new holds, transfers and answers, each id once, sorted. These
/// tables have no foreign keys (a trigger per row is too slow for them); the writer checks that
/// every id here exists, in one set-wise query per batch, before it commits.
///
/// Left out are the ids the batch itself proves: a hold it inserts, a hold it updates and a balance
/// it adds a delta to (the writers refuse a batch whose update or delta finds no row,
/// `StoreError::MissingRows`). On the hot path that is every balance and hold an authorization
/// refers to, so the check probes only the cards: on PostgreSQL a batch of 125 authorizations spent
/// 0.5 ms of its 6 ms statement probing balances it was updating anyway
/// (docs/history/benchmarks-2026-12.md, "Headline numbers (2026-12-07 02:00 UTC, tree d10de4f)").
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct References {
    pub cards: Vec<CardId>,
    pub balances: Vec<BalanceId>,
    pub holds: Vec<HoldId>,
}

impl References {
    fn of(batch: &Batch<'_>) -> References {
        let (holds, transfers, answers) = (&batch.holds, &batch.transfers, &batch.answers);
        let mut references = References {
            cards: holds.iter().map(|hold| hold.card_id).collect(),
            balances: holds
                .iter()
                .flat_map(|hold| [Some(hold.user_balance_id), hold.partner_balance_id])
                .flatten()
                .collect(),
            holds: answers.iter().filter_map(|answer| answer.hold_id).collect(),
        };
        for transfer in transfers {
            references.balances.extend(transfer.debit_balance_id);
            references.balances.push(transfer.credit_balance_id);
            references.holds.extend(transfer.hold_id);
        }
        for ids in [&mut references.cards, &mut references.balances, &mut references.holds] {
            ids.sort_unstable();
            ids.dedup();
        }
        // The deltas are sorted by balance (`Batch::new`, above the call), so each test is a binary search.
        let proven_balances: Vec<BalanceId> = batch.balance_deltas.iter().map(|delta| delta.balance_id).collect();
        references
            .balances
            .retain(|id| proven_balances.binary_search(id).is_err());
        let mut proven_holds: Vec<HoldId> = holds
            .iter()
            .map(|hold| hold.id)
            .chain(batch.hold_updates.iter().map(|update| update.hold_id))
            .collect();
        proven_holds.sort_unstable();
        references.holds.retain(|id| proven_holds.binary_search(id).is_err());
        references
    }

    pub fn is_empty(&self) -> bool {
        self.cards.is_empty() && self.balances.is_empty() && self.holds.is_empty()
    }

    /// Fails if the check query found any id missing, naming the table it is missing from.
    pub fn expect_found(missing: [(&'static str, i64); 3]) -> Result<(), StoreError> {
        match missing.into_iter().find(|(_, count)| *count != 0) {
            Some((table, count)) => Err(StoreError::DanglingReferences {
                table,
                missing: count as u64,
            }),
            None => Ok(()),
        }
    }
}

/// Moves each answer that belongs on a hold of the batch onto it: the answer given to the request
/// that placed the hold (same transaction, same hold, same time). Returns, index by index with
/// `holds`, the answer each hold's row stores, and leaves in `answers` those still written to
/// `recorded_answers` (declines, completions, reversals, advices: no hold of their own).
///
/// Why: an approval wrote a hold row and an answer row, two heap rows and four index entries, when
/// the hold row already has the transaction id (unique), the hold id and the time; the answer was
/// a third of the hot statement's time on PostgreSQL (docs/history/benchmarks-2026-12.md, "Headline
/// numbers (2026-12-07 02:00 UTC, tree d10de4f)").
///
/// The first answer of a transaction wins, as `ON CONFLICT DO NOTHING` made it in one table: a
/// later answer of a transaction whose first went onto a hold is dropped; one whose first stays in
/// `answers` stays too (the insert's conflict drops it).
fn answers_on_holds<'a>(holds: &[&'a Hold], answers: &mut Vec<&'a RecordedAnswer>) -> Vec<Option<&'a RecordedAnswer>> {
    let mut on_holds = vec![None; holds.len()];
    if holds.is_empty() || answers.is_empty() {
        return on_holds;
    }
    let index: HashMap<HoldId, usize> = holds.iter().enumerate().map(|(at, hold)| (hold.id, at)).collect();
    let mut first: HashMap<TransactionId, bool> = HashMap::with_capacity(answers.len());
    answers.retain(|answer| {
        if let Some(&on_hold) = first.get(&answer.transaction) {
            return !on_hold;
        }
        let at = answer.hold_id.and_then(|id| index.get(&id).copied()).filter(|&at| {
            let hold = holds[at];
            hold.transaction == answer.transaction && hold.created_at == answer.created_at && on_holds[at].is_none()
        });
        first.insert(answer.transaction, at.is_some());
        match at {
            Some(at) => {
                on_holds[at] = Some(*answer);
                false
            }
            None => true,
        }
    });
    on_holds
}

/// The sum of a batch's deltas on one balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BalanceDelta {
    pub balance_id: BalanceId,
    pub ledger: i64,
    pub held: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HoldUpdate {
    pub hold_id: HoldId,
    pub remaining: i64,
    pub status: HoldStatus,
}

impl<'a> Batch<'a> {
    pub fn new(changes: &'a [Change]) -> Result<Batch<'a>, StoreError> {
        let mut batch = Batch::default();
        let mut latest = Latest::default();
        for change in changes {
            latest.add(&mut batch, change)?;
        }
        latest.into_batch(&mut batch);
        batch.hold_answers = answers_on_holds(&batch.holds, &mut batch.answers);
        batch.references = References::of(&batch);
        Ok(batch)
    }

    /// How many of the hot path's rows the batch has (new holds, hold updates, transfers, recorded
    /// answers, balance deltas).
    pub fn money_rows(&self) -> usize {
        self.holds.len()
            + self.hold_updates.len()
            + self.transfers.len()
            + self.answers.len()
            + self.balance_deltas.len()
    }

    /// Whether the batch holds only the hot path's rows (new holds, hold updates, transfers,
    /// recorded answers, balance deltas), which PostgreSQL writes in one statement
    /// (`postgres::write_money_rows`). Every field is named, so a table added to the batch must be
    /// placed on one side or the other here before it compiles.
    pub fn only_money_rows(&self) -> bool {
        let Batch {
            partners,
            programs,
            customers,
            customer_kyc,
            corporations,
            corporation_kyb,
            balances,
            balance_deltas: _,
            balance_states,
            balance_thresholds,
            cards,
            card_updates,
            holds: _,
            hold_answers: _,
            hold_updates: _,
            transfers: _,
            answers: _,
            customer_profiles,
            installations,
            admins,
            sessions,
            kyc_submissions,
            corporation_details,
            kyb_transitions,
            notifications,
            card_requests,
            forget_sessions_before,
            references: _,
            fee_schedules,
            fx_rates,
            fee_entries,
            hold_fees,
        } = self;
        partners.is_empty()
            && programs.is_empty()
            && customers.is_empty()
            && customer_kyc.is_empty()
            && corporations.is_empty()
            && corporation_kyb.is_empty()
            && balances.is_empty()
            && balance_states.is_empty()
            && balance_thresholds.is_empty()
            && cards.is_empty()
            && card_updates.is_empty()
            && customer_profiles.is_empty()
            && installations.is_empty()
            && admins.is_empty()
            && sessions.is_empty()
            && kyc_submissions.is_empty()
            && corporation_details.is_empty()
            && kyb_transitions.is_empty()
            && notifications.is_empty()
            && card_requests.is_empty()
            && forget_sessions_before.is_none()
            && fee_schedules.is_empty()
            && fx_rates.is_empty()
            && fee_entries.is_empty()
            && hold_fees.is_empty()
    }
}

/// A value for a narrower column; out of range fails the batch.
pub(crate) fn fits<T: TryFrom<i64>>(
    value: impl Into<i64>,
    table: &'static str,
    column: &'static str,
) -> Result<T, StoreError> {
    T::try_from(value.into()).map_err(|_| StoreError::Unstorable { table, column })
}

/// Bytes for a TEXT column (action and approval codes).
pub(crate) fn utf8<'a>(bytes: &'a [u8], table: &'static str, column: &'static str) -> Result<&'a str, StoreError> {
    std::str::from_utf8(bytes).map_err(|_| StoreError::Unstorable { table, column })
}

/// An update must find every row it names; a missing one fails the whole batch.
pub(crate) fn expect_rows(table: &'static str, expected: usize, found: u64) -> Result<(), StoreError> {
    let expected = expected as u64;
    if found == expected {
        Ok(())
    } else {
        Err(StoreError::MissingRows { table, expected, found })
    }
}

/// While a batch is gathered: the last update of each record (the one to write), and each
/// balance's summed delta. Inserts go straight to the [`Batch`].
#[derive(Default)]
struct Latest<'a> {
    partners: LastById<&'a str, &'a Partner>,
    programs: LastById<&'a str, &'a Program>,
    customer_kyc: LastById<CustomerId, (CustomerId, KycStatus)>,
    corporation_kyb: LastById<CorporationId, (CorporationId, KybStatus)>,
    deltas: HashMap<BalanceId, BalanceDelta>,
    balance_states: LastById<BalanceId, (BalanceId, BalanceState)>,
    balance_thresholds: LastById<BalanceId, (BalanceId, Option<i64>)>,
    card_updates: LastById<CardId, &'a CardUpdate>,
    hold_updates: LastById<HoldId, HoldUpdate>,
    profiles: LastById<CustomerId, &'a CustomerProfile>,
    installations: LastById<&'a str, &'a Installation>,
    admins: LastById<&'a str, &'a AdminUser>,
    sessions: LastById<[u8; 32], &'a Session>,
    kyc_submissions: LastById<&'a str, &'a KycSubmission>,
    notifications: LastById<&'a str, &'a Notification>,
    card_requests: LastById<&'a str, &'a CardRequestRecord>,
}

impl<'a> Latest<'a> {
    fn add(&mut self, batch: &mut Batch<'a>, change: &'a Change) -> Result<(), StoreError> {
        match change {
            Change::UpsertPartner(partner) => self.partners.put(partner.id.as_str(), partner),
            Change::UpsertProgram(program) => self.programs.put(program.id.as_str(), program),
            Change::InsertCustomer(customer) => batch.customers.push(customer),
            Change::UpdateCustomerKyc {
                customer_id,
                kyc_status,
            } => self.customer_kyc.put(*customer_id, (*customer_id, *kyc_status)),
            Change::InsertCorporation(corporation) => batch.corporations.push(corporation),
            Change::UpdateCorporationKyb {
                corporation_id,
                kyb_status,
            } => self
                .corporation_kyb
                .put(*corporation_id, (*corporation_id, *kyb_status)),
            Change::InsertBalance(balance) => batch.balances.push(balance),
            Change::BalanceDelta {
                balance_id,
                ledger,
                held,
            } => self.add_delta(*balance_id, *ledger, *held)?,
            Change::UpdateBalanceState { balance_id, state } => {
                self.balance_states.put(*balance_id, (*balance_id, *state))
            }
            Change::UpdateBalanceThreshold { balance_id, threshold } => {
                self.balance_thresholds.put(*balance_id, (*balance_id, *threshold))
            }
            Change::InsertCard(card) => batch.cards.push(card),
            Change::UpdateCard(update) => self.card_updates.put(update.card_id, update),
            Change::InsertHold(hold) => batch.holds.push(hold),
            Change::UpdateHold {
                hold_id,
                remaining,
                status,
            } => self.hold_updates.put(
                *hold_id,
                HoldUpdate {
                    hold_id: *hold_id,
                    remaining: *remaining,
                    status: *status,
                },
            ),
            Change::InsertTransfer(transfer) => batch.transfers.push(transfer),
            Change::RecordAnswer(answer) => batch.answers.push(answer),
            Change::UpsertCustomerProfile(profile) => self.profiles.put(profile.customer_id, profile),
            Change::UpsertInstallation(installation) => self.installations.put(installation.id.as_str(), installation),
            Change::UpsertSession(session) => self.sessions.put(session.token_hash, session),
            Change::ForgetSessionsBefore(cutoff) => {
                batch.forget_sessions_before = batch.forget_sessions_before.max(Some(*cutoff))
            }
            Change::UpsertAdmin(admin) => self.admins.put(admin.id.as_str(), admin),
            Change::UpsertKycSubmission(submission) => self.kyc_submissions.put(submission.id.as_str(), submission),
            Change::InsertCorporationDetails(details) => batch.corporation_details.push(details),
            Change::InsertKybTransition(transition) => batch.kyb_transitions.push(transition),
            Change::UpsertNotification(notification) => self.notifications.put(notification.id.as_str(), notification),
            Change::UpsertCardRequest(request) => self.card_requests.put(request.id.as_str(), request),
            Change::InsertFeeSchedule(version) => batch.fee_schedules.push(version),
            Change::InsertFxRate(rate) => batch.fx_rates.push(rate),
            Change::InsertFeeEntry(entry) => batch.fee_entries.push(entry),
            Change::InsertHoldFee(fee) => batch.hold_fees.push(fee),
        }
        Ok(())
    }

    /// Sums a balance's deltas; a sum past 64 bits cannot be stored.
    fn add_delta(&mut self, balance_id: BalanceId, ledger: i64, held: i64) -> Result<(), StoreError> {
        let sum = self.deltas.entry(balance_id).or_insert(BalanceDelta {
            balance_id,
            ledger: 0,
            held: 0,
        });
        sum.ledger = sum.ledger.checked_add(ledger).ok_or(StoreError::Unstorable {
            table: "balances",
            column: "ledger",
        })?;
        sum.held = sum.held.checked_add(held).ok_or(StoreError::Unstorable {
            table: "balances",
            column: "held",
        })?;
        Ok(())
    }

    /// Each record's last update into `batch`, sorted by id (the order rows are locked in).
    fn into_batch(self, batch: &mut Batch<'a>) {
        batch.partners = self.partners.into_sorted();
        batch.programs = self.programs.into_sorted();
        batch.customer_kyc = self.customer_kyc.into_sorted();
        batch.corporation_kyb = self.corporation_kyb.into_sorted();
        batch.balance_deltas = self.deltas.into_values().collect();
        batch.balance_deltas.sort_unstable_by_key(|delta| delta.balance_id);
        batch.balance_states = self.balance_states.into_sorted();
        batch.balance_thresholds = self.balance_thresholds.into_sorted();
        batch.card_updates = self.card_updates.into_sorted();
        batch.hold_updates = self.hold_updates.into_sorted();
        batch.customer_profiles = self.profiles.into_sorted();
        // Sorted by id, UUID v7 ids are in creation order: a replaced installation is deactivated before
        // its successor is written, so the one-active-per-device index never sees two.
        batch.installations = self.installations.into_sorted();
        batch.admins = self.admins.into_sorted();
        batch.sessions = self.sessions.into_sorted();
        batch.kyc_submissions = self.kyc_submissions.into_sorted();
        batch.notifications = self.notifications.into_sorted();
        batch.card_requests = self.card_requests.into_sorted();
    }
}

/// Keeps the last value put for each key.
#[derive(Debug)]
struct LastById<K, V> {
    values: HashMap<K, V>,
}

impl<K, V> Default for LastById<K, V> {
    fn default() -> Self {
        LastById { values: HashMap::new() }
    }
}

impl<K: Hash + Eq + Ord, V> LastById<K, V> {
    fn put(&mut self, key: K, value: V) {
        self.values.insert(key, value);
    }

    fn into_sorted(self) -> Vec<V> {
        let mut entries: Vec<(K, V)> = self.values.into_iter().collect();
        entries.sort_unstable_by(|(left, _), (right, _)| left.cmp(right));
        entries.into_iter().map(|(_, value)| value).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_sum_and_last_update_wins() {
        let changes = vec![
            Change::BalanceDelta {
                balance_id: 2,
                ledger: 0,
                held: 5,
            },
            Change::BalanceDelta {
                balance_id: 1,
                ledger: -3,
                held: 1,
            },
            Change::BalanceDelta {
                balance_id: 2,
                ledger: 7,
                held: -2,
            },
            Change::UpdateHold {
                hold_id: 9,
                remaining: 4,
                status: HoldStatus::Open,
            },
            Change::UpdateHold {
                hold_id: 9,
                remaining: 0,
                status: HoldStatus::Reversed,
            },
        ];
        let batch = Batch::new(&changes).unwrap();
        assert_eq!(
            batch.balance_deltas,
            vec![
                BalanceDelta {
                    balance_id: 1,
                    ledger: -3,
                    held: 1
                },
                BalanceDelta {
                    balance_id: 2,
                    ledger: 7,
                    held: 3
                },
            ]
        );
        assert_eq!(
            batch.hold_updates,
            vec![HoldUpdate {
                hold_id: 9,
                remaining: 0,
                status: HoldStatus::Reversed
            }]
        );
    }

    #[test]
    fn lifecycle_rows_keep_the_last_write_and_the_latest_cutoff() {
        let session = |expires_at, revoked| Session {
            token_hash: [1; 32],
            subject: SessionSubject::Admin { admin_id: "a".into() },
            created_at: 0,
            expires_at,
            revoked,
        };
        let changes = vec![
            Change::UpsertSession(session(10, false)),
            Change::UpsertSession(session(20, true)),
            Change::ForgetSessionsBefore(5),
            Change::ForgetSessionsBefore(3),
        ];
        let batch = Batch::new(&changes).unwrap();
        assert_eq!(batch.sessions, vec![&session(20, true)]);
        assert_eq!(batch.forget_sessions_before, Some(5));
    }

    #[test]
    fn references_are_collected_once_each() {
        let hold = |id, card_id, partner_balance_id| Hold {
            id,
            transaction: TransactionId {
                acquirer: 1,
                acquirer_digits: 1,
                stan: id as u32,
                local_time: 0,
            },
            card_id,
            user_balance_id: 5,
            partner_balance_id,
            amount: 1,
            remaining: 1,
            status: HoldStatus::Open,
            created_at: 0,
            expires_at: 0,
        };
        let changes = vec![
            Change::InsertHold(hold(1, 8, Some(2))),
            Change::InsertHold(hold(2, 7, None)),
            Change::InsertHold(hold(3, 8, Some(2))),
            Change::InsertTransfer(Transfer {
                id: 1,
                kind: TransferKind::CardDebit,
                debit_balance_id: Some(5),
                credit_balance_id: 9,
                amount: 1,
                transaction: None,
                hold_id: Some(1),
                created_at: 0,
            }),
        ];
        let batch = Batch::new(&changes).unwrap();
        // Hold 1 is inserted by the batch itself, so it is not checked.
        assert_eq!(
            batch.references,
            References {
                cards: vec![7, 8],
                balances: vec![2, 5, 9],
                holds: vec![],
            }
        );
    }

    #[test]
    fn references_leave_out_what_the_batch_proves() {
        let answer = |stan, hold_id| RecordedAnswer {
            transaction: TransactionId {
                acquirer: 1,
                acquirer_digits: 1,
                stan,
                local_time: 0,
            },
            mti: 2100,
            action_code: *b"0000",
            approval_code: None,
            available: None,
            hold_id: Some(hold_id),
            created_at: 0,
        };
        let transfer = |id, debit, credit, hold_id| Transfer {
            id,
            kind: TransferKind::CardDebit,
            debit_balance_id: Some(debit),
            credit_balance_id: credit,
            amount: 1,
            transaction: None,
            hold_id: Some(hold_id),
            created_at: 0,
        };
        let changes = vec![
            // Hold 3 is updated (the update fails the batch if it finds no row), hold 4 is not.
            Change::UpdateHold {
                hold_id: 3,
                remaining: 0,
                status: HoldStatus::Completed,
            },
            Change::RecordAnswer(answer(1, 3)),
            Change::RecordAnswer(answer(2, 4)),
            // Balance 5 gets a delta (which fails the batch if it finds no row), balance 6 does not.
            Change::BalanceDelta {
                balance_id: 5,
                ledger: -1,
                held: 0,
            },
            Change::InsertTransfer(transfer(1, 5, 6, 3)),
        ];
        let batch = Batch::new(&changes).unwrap();
        assert_eq!(
            batch.references,
            References {
                cards: vec![],
                balances: vec![6],
                holds: vec![4],
            }
        );
    }

    #[test]
    fn an_answer_goes_onto_the_hold_its_request_placed() {
        let transaction = |stan| TransactionId {
            acquirer: 1,
            acquirer_digits: 1,
            stan,
            local_time: 0,
        };
        let hold = |id, stan| Hold {
            id,
            transaction: transaction(stan),
            card_id: 7,
            user_balance_id: 5,
            partner_balance_id: None,
            amount: 1,
            remaining: 1,
            status: HoldStatus::Open,
            created_at: 10,
            expires_at: 20,
        };
        let answer = |stan, hold_id, created_at, action_code: &[u8; 4]| RecordedAnswer {
            transaction: transaction(stan),
            mti: 1100,
            action_code: *action_code,
            approval_code: Some(*b"123456"),
            available: Some((5, 978)),
            hold_id,
            created_at,
        };
        let changes = vec![
            Change::InsertHold(hold(1, 1)),
            Change::InsertHold(hold(2, 2)),
            Change::InsertHold(hold(3, 3)),
            // Transaction 1's answer, then a later one of the same transaction: the first wins.
            Change::RecordAnswer(answer(1, Some(1), 10, b"0000")),
            Change::RecordAnswer(answer(1, None, 11, b"9109")),
            // Names hold 2 but is another transaction's: stays a recorded answer.
            Change::RecordAnswer(answer(4, Some(2), 10, b"0000")),
            // Transaction 3's first answer has no hold: both stay (the insert keeps the first).
            Change::RecordAnswer(answer(3, None, 10, b"1116")),
            Change::RecordAnswer(answer(3, Some(3), 10, b"0000")),
            // Another time than its hold's: stays.
            Change::RecordAnswer(answer(2, Some(2), 12, b"0000")),
            // A decline.
            Change::RecordAnswer(answer(5, None, 10, b"1116")),
        ];
        let batch = Batch::new(&changes).unwrap();
        assert_eq!(
            batch.hold_answers,
            vec![Some(&answer(1, Some(1), 10, b"0000")), None, None]
        );
        assert_eq!(
            batch.answers,
            vec![
                &answer(4, Some(2), 10, b"0000"),
                &answer(3, None, 10, b"1116"),
                &answer(3, Some(3), 10, b"0000"),
                &answer(2, Some(2), 12, b"0000"),
                &answer(5, None, 10, b"1116"),
            ]
        );
        assert_eq!(batch.money_rows(), 3 + 5);
    }
}
