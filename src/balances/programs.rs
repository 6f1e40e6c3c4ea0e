//! The configured programs' set-up: each program with its partner, its funding balance and the
//! system accounts it posts to (settlement, fee revenue, and under the deposit model the partner's
//! clearing account), made at start-up in one durable submission when anything is missing.

use crate::config::ProgramConfig;
use crate::state::{
    Balance, BalanceKind, BalanceState, Change, FundingModel, IdKind, JournalError, Owner, PLATFORM_PARTNER, Partner,
    Program, SETTLEMENT, State, Submission, TimestampMs, clearing_purpose,
};

/// Makes sure every configured program exists with its partner, its funding
/// balance and the system accounts it posts to (one durable submission).
pub async fn set_up_programs(state: &State, programs: &[ProgramConfig]) -> Result<(), JournalError> {
    let setup = program_setup(state, programs);
    if setup.changes.is_empty() {
        return Ok(());
    }
    state.submit(setup).await
}

/// What the configured programs need and the state does not have yet.
fn program_setup(state: &State, programs: &[ProgramConfig]) -> Submission {
    let now = state.now_ms();
    let mut submission = Submission::default();
    for balance in missing_balances(state, programs, now) {
        submission.push(Change::InsertBalance(balance));
    }
    for partner in missing_partners(state, programs, now) {
        submission.push(Change::UpsertPartner(partner));
    }
    for program in changed_programs(state, programs) {
        submission.push(Change::UpsertProgram(program));
    }
    submission
}

/// A balance a program needs: kind, owner, partner, currency.
type NeededBalance = (BalanceKind, Owner, String, String);

/// The balances the programs post to, in the order first needed, less those that exist.
fn missing_balances(state: &State, programs: &[ProgramConfig], now: TimestampMs) -> Vec<Balance> {
    let existing = state.balances();
    let mut needed: Vec<NeededBalance> = Vec::new();
    for program in programs {
        for (kind, owner, partner) in balances_of(program) {
            let exists = existing
                .iter()
                .any(|balance| balance.kind == kind && balance.owner == owner && balance.currency == program.currency);
            let planned = needed
                .iter()
                .any(|(k, o, _, c)| *k == kind && *o == owner && *c == program.currency);
            if !exists && !planned {
                needed.push((kind, owner, partner, program.currency.clone()));
            }
        }
    }
    needed
        .into_iter()
        .map(|(kind, owner, partner_id, currency)| Balance {
            id: state.next_id(IdKind::Balance),
            kind,
            owner,
            partner_id,
            currency,
            ledger: 0,
            held: 0,
            state: BalanceState::Active,
            low_balance_threshold: None,
            program_id: None,
            created_at: now,
        })
        .collect()
}

/// The balances one program posts to, with the partner each belongs to.
fn balances_of(program: &ProgramConfig) -> Vec<(BalanceKind, Owner, String)> {
    let partner = program.partner.clone();
    let funding_kind = match program.funding {
        FundingModel::PartnerCredit => BalanceKind::PartnerCredit,
        FundingModel::PartnerDeposit => BalanceKind::PartnerDeposit,
    };
    let mut balances = vec![
        (funding_kind, Owner::Partner(partner.clone()), partner.clone()),
        (
            BalanceKind::System,
            Owner::System(SETTLEMENT.to_owned()),
            PLATFORM_PARTNER.to_owned(),
        ),
        (
            BalanceKind::System,
            Owner::System(crate::fees::revenue_purpose(&partner)),
            partner.clone(),
        ),
    ];
    if program.funding == FundingModel::PartnerDeposit {
        let clearing = Owner::System(clearing_purpose(&partner));
        balances.push((BalanceKind::System, clearing, partner));
    }
    balances
}

/// The platform's own partner and the programs' partners that the state lacks, each once.
fn missing_partners(state: &State, programs: &[ProgramConfig], now: TimestampMs) -> Vec<Partner> {
    let mut missing: Vec<Partner> = Vec::new();
    let platform = std::iter::once(PLATFORM_PARTNER);
    for partner in platform.chain(programs.iter().map(|program| program.partner.as_str())) {
        if state.partner(partner).is_none() && !missing.iter().any(|planned| planned.id == partner) {
            missing.push(Partner {
                id: partner.to_owned(),
                name: partner.to_owned(),
                created_at: now,
            });
        }
    }
    missing
}

/// The programs whose stored form differs from the configuration (or that are new).
fn changed_programs(state: &State, programs: &[ProgramConfig]) -> Vec<Program> {
    let mut changed = Vec::new();
    for program in programs {
        let wanted = Program {
            id: program.id.clone(),
            partner_id: program.partner.clone(),
            bin: program.bin.clone(),
            currency: program.currency.clone(),
            funding: program.funding,
            validity_months: program.validity_months,
        };
        // A program indexed before its fee-revenue account existed is indexed again.
        let indexed = state.program(&program.id);
        let lacks_revenue = indexed.as_ref().is_some_and(|entry| entry.fee_balance.is_none());
        if indexed.map(|entry| entry.program.clone()) != Some(wanted.clone()) || lacks_revenue {
            changed.push(wanted);
        }
    }
    changed
}
