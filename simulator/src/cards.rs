//! The cards file: JSON lines of {card_id, balance_id, customer_id, pan,
//! expiry (YYMM), cvc2, pin (or null), currency}, written by `antaca provision`
//! (on the database, with card numbers) or `simulator provision` (over the API).
//! Over the API the number and CVC2 are read through the full-card route, which
//! answers only inside JWE. A line without them (an older file) names a card for
//! HTTP use only; ISO 8583 clients need the numbers.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, ensure};

/// One line of the cards file, as written.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CardLine {
    #[serde(default)]
    pub card_id: Option<i64>,
    #[serde(default)]
    pub balance_id: Option<i64>,
    /// The owner, for the partner's `/secure/customers/{id}/…` routes.
    #[serde(default)]
    pub customer_id: Option<i64>,
    pub pan: Option<String>,
    /// YYMM.
    pub expiry: String,
    pub cvc2: Option<String>,
    pub pin: Option<String>,
    /// ISO 4217 numeric.
    pub currency: u16,
}

/// A card an ISO 8583 client can use: its number is known.
#[derive(Debug, Clone)]
pub struct Card {
    pub pan: String,
    /// YYMM.
    pub expiry: String,
    pub cvc2: String,
    pub pin: Option<String>,
    /// ISO 4217 numeric.
    pub currency: u16,
    pub card_id: Option<i64>,
    pub balance_id: Option<i64>,
    pub customer_id: Option<i64>,
}

impl Card {
    /// The card's (customer, card, balance) ids, when the file has them.
    pub fn api_ids(&self) -> Option<(i64, i64, i64)> {
        Some((self.customer_id?, self.card_id?, self.balance_id?))
    }
}

pub fn read(path: &Path) -> anyhow::Result<Vec<Card>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the cards file {}", path.display()))?;
    let cards = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let line_number = index + 1;
            let card: CardLine =
                serde_json::from_str(line).with_context(|| format!("{} line {line_number}", path.display()))?;
            let (Some(pan), Some(cvc2)) = (card.pan, card.cvc2) else {
                anyhow::bail!(
                    "{} line {line_number}: no card number (a file provisioned over the API has none until \
                     the API delivers card data encrypted; use `antaca provision` for ISO 8583 cards)",
                    path.display()
                );
            };
            ensure!(
                pan.len() >= 12 && pan.bytes().all(|byte| byte.is_ascii_digit()),
                "{} line {line_number}: the PAN is not 12 to 19 digits",
                path.display()
            );
            ensure!(
                card.expiry.len() == 4 && cvc2.len() == 3,
                "{} line {line_number}: expiry must be YYMM and cvc2 three digits",
                path.display()
            );
            Ok(Card {
                pan,
                expiry: card.expiry,
                cvc2,
                pin: card.pin,
                currency: card.currency,
                card_id: card.card_id,
                balance_id: card.balance_id,
                customer_id: card.customer_id,
            })
        })
        .collect::<anyhow::Result<Vec<Card>>>()?;
    ensure!(!cards.is_empty(), "{} holds no cards", path.display());
    Ok(cards)
}

/// Writes the lines to a new owner-only file (it may hold card numbers and PINs).
pub fn write(path: &Path, cards: &[CardLine]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    // An existing file keeps its mode through open(); narrow it as well.
    #[cfg(unix)]
    file.set_permissions(<std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(
        0o600,
    ))?;
    let mut writer = std::io::BufWriter::new(file);
    for card in cards {
        serde_json::to_writer(&mut writer, card)?;
        writer.write_all(b"\n")?;
    }
    writer.flush()?;
    Ok(())
}
