//! Changes: the journal's records. Every change of state, from the switch or
//! the HTTP API, is one of these, made durable by the store before anyone is
//! told it happened and then applied to memory.
//!
//! Money changes are deltas (`BalanceDelta`), never absolute values, so the
//! order of commits cannot lose one; row updates carry the row's whole new
//! mutable state, so the last one committed wins.

use crate::domain::fees::{FeeEntry, FxRate, HoldFee, ScheduleVersion};
use crate::domain::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    UpsertPartner(Partner),
    UpsertProgram(Program),
    InsertCustomer(Customer),
    UpdateCustomerKyc {
        customer_id: CustomerId,
        kyc_status: KycStatus,
    },
    InsertCorporation(Corporation),
    UpdateCorporationKyb {
        corporation_id: CorporationId,
        kyb_status: KybStatus,
    },
    InsertBalance(Balance),
    /// Adds to a balance's ledger and held amounts.
    BalanceDelta {
        balance_id: BalanceId,
        ledger: i64,
        held: i64,
    },
    UpdateBalanceState {
        balance_id: BalanceId,
        state: BalanceState,
    },
    /// Sets (or clears) a partner balance's low-balance threshold.
    UpdateBalanceThreshold {
        balance_id: BalanceId,
        threshold: Option<i64>,
    },
    InsertCard(Card),
    UpdateCard(CardUpdate),
    InsertHold(Hold),
    UpdateHold {
        hold_id: HoldId,
        remaining: i64,
        status: HoldStatus,
    },
    InsertTransfer(Transfer),
    RecordAnswer(RecordedAnswer),
    // The lifecycle API's records (sessions, admins, KYC and KYB decisions).
    UpsertCustomerProfile(CustomerProfile),
    UpsertInstallation(Installation),
    UpsertSession(Session),
    /// Forgets sessions that expired before the cutoff (past `session.retention_s`).
    ForgetSessionsBefore(TimestampMs),
    UpsertAdmin(AdminUser),
    UpsertKycSubmission(KycSubmission),
    InsertCorporationDetails(CorporationDetails),
    InsertKybTransition(KybTransition),
    /// A notification in the outbox, new or after a delivery attempt (the last write wins).
    UpsertNotification(Notification),
    /// An asynchronous card request, new or finished (the last write wins).
    UpsertCardRequest(CardRequestRecord),
    // Fees and currency conversion (src/fees).
    /// A new version of a program's fee schedule (earlier versions are kept).
    InsertFeeSchedule(ScheduleVersion),
    InsertFxRate(FxRate),
    /// A fee's ledger entry; its money moves by `BalanceDelta`s in the same submission.
    InsertFeeEntry(FeeEntry),
    /// The fees and conversion of a hold, inserted with it.
    InsertHoldFee(HoldFee),
}
