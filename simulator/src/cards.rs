//! The cards file that `antaca provision` writes: JSON lines of
//! {card_id, balance_id, pan, expiry (YYMM), cvc2, pin (or null), currency}.

use std::path::Path;

use anyhow::{Context, ensure};

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Card {
    pub pan: String,
    /// YYMM.
    pub expiry: String,
    pub cvc2: String,
    pub pin: Option<String>,
    /// ISO 4217 numeric.
    pub currency: u16,
}

pub fn read(path: &Path) -> anyhow::Result<Vec<Card>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the cards file {}", path.display()))?;
    let cards = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let card: Card =
                serde_json::from_str(line).with_context(|| format!("{} line {}", path.display(), index + 1))?;
            ensure!(
                card.pan.len() >= 12 && card.pan.bytes().all(|byte| byte.is_ascii_digit()),
                "{} line {}: the PAN is not 12 to 19 digits",
                path.display(),
                index + 1
            );
            ensure!(
                card.expiry.len() == 4 && card.cvc2.len() == 3,
                "{} line {}: expiry must be YYMM and cvc2 three digits",
                path.display(),
                index + 1
            );
            Ok(card)
        })
        .collect::<anyhow::Result<Vec<Card>>>()?;
    ensure!(!cards.is_empty(), "{} holds no cards", path.display());
    Ok(cards)
}
