//! `simulator provision`: funded, active cards made through the running
//! switch's lifecycle API, as a partner's server makes them: a user, the
//! partner's KYC flag, a balance, a reload (charged to the partner's credit
//! balance, which an operator funds first), a virtual card (or, for the cards
//! with a PIN, a physical card, activated once the personalization center has
//! made it). Requests run concurrently, at most `--concurrency` at once.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use futures_util::StreamExt;

use crate::api::{Api, ApiOptions};
use crate::cards::{self, CardLine};

#[derive(Debug, Clone)]
pub struct ProvisionOptions {
    pub api: ApiOptions,
    pub cards: usize,
    pub out: PathBuf,
    /// Minor units put on each user balance.
    pub funds: i64,
    /// Every n-th card is a physical card with a PIN (0: none).
    pub pin_every: usize,
    pub concurrency: usize,
    pub program: String,
    pub currency: String,
}

/// ISO 4217 numeric codes of the currencies the programs use.
fn currency_numeric(alphabetic: &str) -> anyhow::Result<u16> {
    Ok(match alphabetic {
        "EUR" => 978,
        "USD" => 840,
        "GBP" => 826,
        "PLN" => 985,
        "CHF" => 756,
        other => anyhow::bail!("currency {other:?} is not known to the simulator"),
    })
}

pub async fn run(options: ProvisionOptions) -> anyhow::Result<()> {
    let lines = provision(&options).await?;
    cards::write(&options.out, &lines)?;
    println!(
        "{} cards written to {} (owner-only)",
        lines.len(),
        options.out.display()
    );
    Ok(())
}

pub async fn provision(options: &ProvisionOptions) -> anyhow::Result<Vec<CardLine>> {
    ensure!(options.cards > 0, "--cards must be at least 1");
    ensure!(options.funds > 0, "--funds must be positive");
    let api = Api::new(&options.api)?;
    let currency = currency_numeric(&options.currency)?;
    let total = options
        .funds
        .checked_mul(options.cards as i64)
        .context("funds × cards overflows")?;
    api.fund_partner_credit(&options.currency, total)
        .await
        .context("funding the partner credit balance")?;
    let nonce = crate::wire::run_nonce();
    let results: Vec<anyhow::Result<CardLine>> = futures_util::stream::iter(0..options.cards)
        .map(|index| {
            let api = api.clone();
            let pin = (options.pin_every > 0 && index % options.pin_every == 0)
                .then(|| format!("{:04}", 1000 + index % 9000));
            async move {
                one_card(&api, options, &format!("sim-{nonce}-{index}"), pin, currency)
                    .await
                    .with_context(|| format!("card {index}"))
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

async fn one_card(
    api: &Api,
    options: &ProvisionOptions,
    external_id: &str,
    pin: Option<String>,
    currency: u16,
) -> anyhow::Result<CardLine> {
    let user_id = api.verified_user(external_id).await?;
    let balance_id = api.open_balance(user_id, &options.currency, &options.program).await?;
    api.reload(user_id, balance_id, options.funds).await?;
    let card = match &pin {
        None => api.virtual_card(user_id, balance_id).await?,
        Some(pin) => {
            let ordered = api.physical_card(user_id, balance_id, pin).await?;
            wait_linked(api, user_id, ordered.card_id).await?;
            api.activate(user_id, ordered.card_id).await?
        }
    };
    ensure!(
        card.status == "ACTIVE",
        "card {} is {}, not ACTIVE",
        card.card_id,
        card.status
    );
    let (pan, cvc2) = api.full_card(user_id, card.card_id).await?;
    Ok(CardLine {
        card_id: Some(card.card_id),
        balance_id: Some(balance_id),
        customer_id: Some(user_id),
        pan: Some(pan),
        expiry: card.expiry,
        cvc2: Some(cvc2),
        pin,
        currency,
    })
}

/// An ordered physical card is linked once the personalization center made it
/// (`cards.personalization_delay_s`); polls the partner's card list until then.
pub async fn wait_linked(api: &Api, user_id: i64, card_id: i64) -> anyhow::Result<()> {
    for _ in 0..120 {
        let cards = api.cards(user_id).await?;
        if cards
            .iter()
            .any(|card| card.card_id == card_id && card.status == "LINKED")
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    anyhow::bail!("physical card {card_id} not linked within 30 s")
}
