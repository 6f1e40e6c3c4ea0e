//! Balances: opening them and moving money into them.
//!
//! Every operation here is one durable submission through the state's
//! journal; it returns once the change is committed. [`programs`]: the configured programs'
//! set-up at start-up.

pub mod programs;

use crate::state::{
    Balance, BalanceId, BalanceKind, BalanceState, Change, FundingModel, IdKind, JournalError, Owner, ProgramEntry,
    Release, State, Submission, Transfer, TransferKind,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BalanceError {
    #[error("balance not found")]
    NotFound,
    #[error("currency {0:?} is not a known ISO 4217 code")]
    UnknownCurrency(String),
    #[error("amount must be positive")]
    InvalidAmount,
    #[error("balance is not active")]
    NotActive,
    #[error("the funding balance has insufficient funds")]
    InsufficientFunds,
    #[error("balances are in different currencies")]
    CurrencyMismatch,
    #[error("the partner already has a balance of this kind in this currency")]
    AlreadyExists,
    #[error("another change of this is in flight; try again")]
    Busy,
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Opens a balance at zero.
pub async fn open(
    state: &State,
    kind: BalanceKind,
    owner: Owner,
    partner_id: &str,
    currency: &str,
) -> Result<Balance, BalanceError> {
    open_under(state, kind, owner, partner_id, currency, None).await
}

/// Opens a balance at zero, bound to a card program when `program_id` is given (the caller checked
/// that the program is the partner's, in `currency`).
pub async fn open_under(
    state: &State,
    kind: BalanceKind,
    owner: Owner,
    partner_id: &str,
    currency: &str,
    program_id: Option<&str>,
) -> Result<Balance, BalanceError> {
    if crate::domain::money::Currency::from_code(currency).is_none() {
        return Err(BalanceError::UnknownCurrency(currency.to_owned()));
    }
    let balance = Balance {
        id: state.next_id(IdKind::Balance),
        kind,
        owner,
        partner_id: partner_id.to_owned(),
        currency: currency.to_owned(),
        ledger: 0,
        held: 0,
        state: BalanceState::Active,
        low_balance_threshold: None,
        program_id: program_id.map(str::to_owned),
        created_at: state.now_ms(),
    };
    let mut submission = Submission::default();
    submission.push(Change::InsertBalance(balance.clone()));
    if let Some(program) = program_id.and_then(|id| state.program(id)) {
        // A new balance holds nothing: the fee is recorded unpaid (see `fees`, "A balance too short").
        if let Some(entry) = crate::fees::events::opening_fee(state, &program, &balance) {
            submission.push(Change::InsertFeeEntry(entry));
        }
    }
    state.submit(submission).await?;
    Ok(balance)
}

/// Opens a partner credit or deposit balance at zero: at most one of each kind per partner and
/// currency (a program's funding balance is found by kind, partner and currency).
pub async fn open_partner_balance(
    state: &State,
    partner_id: &str,
    kind: BalanceKind,
    currency: &str,
) -> Result<Balance, BalanceError> {
    assert!(
        matches!(kind, BalanceKind::PartnerCredit | BalanceKind::PartnerDeposit),
        "a partner balance is a credit or a deposit balance"
    );
    // Held until the balance is committed and applied, so a concurrent second request sees it.
    let _reservation = state
        .reserve(format!("partner-balance:{partner_id}:{kind:?}:{currency}"))
        .ok_or(BalanceError::Busy)?;
    let owner = Owner::Partner(partner_id.to_owned());
    let exists = state
        .balances()
        .iter()
        .any(|balance| balance.kind == kind && balance.owner == owner && balance.currency == currency);
    if exists {
        return Err(BalanceError::AlreadyExists);
    }
    open(state, kind, owner, partner_id, currency).await
}

/// Sets (or clears) a balance's low-balance threshold (minor units, not negative).
pub async fn set_low_balance_threshold(
    state: &State,
    balance_id: BalanceId,
    threshold: Option<i64>,
) -> Result<Balance, BalanceError> {
    if threshold.is_some_and(|threshold| threshold < 0) {
        return Err(BalanceError::InvalidAmount);
    }
    let cell = state.balance(balance_id).ok_or(BalanceError::NotFound)?;
    let mut submission = Submission::default();
    submission.push(Change::UpdateBalanceThreshold { balance_id, threshold });
    state.submit(submission).await?;
    Ok(cell.snapshot())
}

/// Records money arriving from outside the platform (a partner's bank
/// transfer, entered by an operator): the only way money enters.
pub async fn load_external(state: &State, balance_id: BalanceId, amount: i64) -> Result<(), BalanceError> {
    let submission = load_submission(state, balance_id, amount)?;
    state.submit(submission).await?;
    Ok(())
}

/// Reloads a user or corporate balance under its program's funding model (partner credit: the
/// partner credit balance pays, all or nothing; partner deposit: the partner's bank transfer is
/// recorded), with the program's money transfer fee in the same durable submission.
pub async fn reload(
    state: &State,
    program: &ProgramEntry,
    balance_id: BalanceId,
    amount: i64,
) -> Result<(), BalanceError> {
    let mut submission = match program.program.funding {
        FundingModel::PartnerCredit => {
            transfer_submission(state, program.funding_balance, balance_id, amount, TransferKind::Reload)?
        }
        FundingModel::PartnerDeposit => load_submission(state, balance_id, amount)?,
    };
    let balance = state.balance(balance_id).ok_or(BalanceError::NotFound)?;
    crate::fees::events::charge_reload(state, &mut submission, program, &balance, amount);
    state.submit(submission).await?;
    Ok(())
}

fn load_submission(state: &State, balance_id: BalanceId, amount: i64) -> Result<Submission, BalanceError> {
    if amount <= 0 {
        return Err(BalanceError::InvalidAmount);
    }
    state.balance(balance_id).ok_or(BalanceError::NotFound)?;
    let mut submission = Submission::default();
    submission
        .push(Change::InsertTransfer(Transfer {
            id: state.next_id(IdKind::Transfer),
            kind: TransferKind::ExternalLoad,
            debit_balance_id: None,
            credit_balance_id: balance_id,
            amount,
            transaction: None,
            hold_id: None,
            created_at: state.now_ms(),
        }))
        .push(Change::BalanceDelta {
            balance_id,
            ledger: amount,
            held: 0,
        });
    Ok(submission)
}

/// Moves `amount` from one balance to another (e.g. a partner credit balance
/// reloading a user balance), all or nothing: a short source changes nothing.
pub async fn transfer(
    state: &State,
    from: BalanceId,
    to: BalanceId,
    amount: i64,
    kind: TransferKind,
) -> Result<(), BalanceError> {
    let submission = transfer_submission(state, from, to, amount, kind)?;
    state.submit(submission).await?;
    Ok(())
}

/// The submission of [`transfer`], the source's funds reserved.
fn transfer_submission(
    state: &State,
    from: BalanceId,
    to: BalanceId,
    amount: i64,
    kind: TransferKind,
) -> Result<Submission, BalanceError> {
    if amount <= 0 {
        return Err(BalanceError::InvalidAmount);
    }
    let source = state.balance(from).ok_or(BalanceError::NotFound)?;
    let target = state.balance(to).ok_or(BalanceError::NotFound)?;
    if source.currency != target.currency {
        return Err(BalanceError::CurrencyMismatch);
    }
    {
        let mut money = source.lock();
        if money.state != BalanceState::Active {
            return Err(BalanceError::NotActive);
        }
        if money.spendable() < amount {
            return Err(BalanceError::InsufficientFunds);
        }
        money.reserved += amount;
    }
    let mut submission = Submission::default();
    submission
        .push(Change::InsertTransfer(Transfer {
            id: state.next_id(IdKind::Transfer),
            kind,
            debit_balance_id: Some(from),
            credit_balance_id: to,
            amount,
            transaction: None,
            hold_id: None,
            created_at: state.now_ms(),
        }))
        .push(Change::BalanceDelta {
            balance_id: from,
            ledger: -amount,
            held: 0,
        })
        .push(Change::BalanceDelta {
            balance_id: to,
            ledger: amount,
            held: 0,
        })
        .release(Release::Funds {
            balance: source,
            amount,
        });
    Ok(submission)
}
