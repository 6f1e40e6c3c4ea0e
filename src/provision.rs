//! Offline provisioning for load tests and demos: KYC-verified customers,
//! funded user balances and active cards, created through the same state
//! operations as the API, while no switch serves the database (the instance
//! lock makes sure of it), and written to a file the simulator reads.
//!
//! `antaca provision --cards N --out FILE` — the file holds card numbers, so
//! it is created owner-only (0600).

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use futures_util::StreamExt;

use crate::balances;
use crate::cards::{self, CardRequest};
use crate::state::{
    BalanceKind, Change, Customer, FundingModel, IdKind, KycStatus, Owner, State, Submission, TransferKind,
};

/// One provisioned card as the load generator needs it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ProvisionedCard {
    pub card_id: i64,
    pub balance_id: i64,
    /// The owner, so that the card can also be addressed over the API (`/secure/customers/{id}/…`).
    pub customer_id: i64,
    pub pan: String,
    /// YYMM.
    pub expiry: String,
    pub cvc2: String,
    /// Set for some cards so that PIN transactions can be sent.
    pub pin: Option<String>,
    /// ISO 4217 numeric currency of the balance.
    pub currency: u16,
}

/// What to provision.
#[derive(Debug, Clone)]
pub struct ProvisionPlan {
    pub program: String,
    pub cards: usize,
    /// Minor units put on each user balance.
    pub funds: i64,
    /// Every `pin_every`-th card gets a PIN (0: none).
    pub pin_every: usize,
}

/// Creates the cards (up to 256 at once, so the journal batches them).
pub async fn provision(state: &State, plan: &ProvisionPlan) -> anyhow::Result<Vec<ProvisionedCard>> {
    let entry = state
        .program(&plan.program)
        .with_context(|| format!("no program {:?}", plan.program))?;
    let total = plan
        .funds
        .checked_mul(plan.cards as i64)
        .context("funds × cards overflows")?;
    // The partner's funding balance: it pays the reloads (credit model) or
    // secures every authorization (deposit model).
    balances::load_external(state, entry.funding_balance, total).await?;
    let entry = Arc::new(entry);
    let results: Vec<anyhow::Result<ProvisionedCard>> = futures_util::stream::iter(0..plan.cards)
        .map(|index| {
            let (state, entry) = (state.clone(), entry.clone());
            let pin =
                (plan.pin_every > 0 && index % plan.pin_every == 0).then(|| format!("{:04}", 1000 + index % 9000));
            async move { one_card(&state, &entry.program, entry.funding_balance, plan.funds, pin).await }
        })
        .buffer_unordered(256)
        .collect()
        .await;
    results.into_iter().collect()
}

async fn one_card(
    state: &State,
    program: &crate::state::Program,
    funding_balance: i64,
    funds: i64,
    pin: Option<String>,
) -> anyhow::Result<ProvisionedCard> {
    let customer = Customer {
        id: state.next_id(IdKind::Customer),
        partner_id: program.partner_id.clone(),
        external_ref: None,
        kyc_status: KycStatus::Verified,
        created_at: state.now_ms(),
    };
    let customer_id = customer.id;
    let mut submission = Submission::default();
    submission.push(Change::InsertCustomer(customer));
    state.submit(submission).await?;
    let user = balances::open(
        state,
        BalanceKind::User,
        Owner::Customer(customer_id),
        &program.partner_id,
        &program.currency,
    )
    .await?;
    match program.funding {
        // The partner credit balance pays for the user's reload.
        FundingModel::PartnerCredit => {
            balances::transfer(state, funding_balance, user.id, funds, TransferKind::Reload).await?;
        }
        // The user's funds are the partner's; the platform records its load.
        FundingModel::PartnerDeposit => balances::load_external(state, user.id, funds).await?,
    }
    let issued = cards::issue(
        state,
        user.id,
        &program.id,
        CardRequest {
            kind: None,
            pin: pin.clone(),
        },
    )
    .await?;
    let currency = crate::domain::money::Currency::from_code(&program.currency).map_or(0, |currency| currency.numeric);
    Ok(ProvisionedCard {
        card_id: issued.card_id,
        balance_id: user.id,
        customer_id,
        pan: issued.pan,
        expiry: issued.expiry,
        cvc2: issued.cvc2,
        pin,
        currency,
    })
}

/// Writes the cards as JSON lines to a new owner-only file.
pub fn write_cards(path: &std::path::Path, cards: &[ProvisionedCard]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    for card in cards {
        serde_json::to_writer(&mut writer, card)?;
        writer.write_all(b"\n")?;
    }
    writer.flush()?;
    Ok(())
}
