//! Partners and their card programs (BIN, currency, funding model).

use super::*;

/// How a card program's spend is secured (the seed's "Partner Balances").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundingModel {
    /// The user balance is held by the platform; reloads charge the partner credit balance.
    PartnerCredit,
    /// Each authorization charges the partner deposit balance and locks the user's funds.
    PartnerDeposit,
}

/// A partner (tenant): the institution using the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub created_at: TimestampMs,
}

/// A card program: BIN, currency, funding model, card validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub id: String,
    pub partner_id: String,
    pub bin: String,
    /// ISO 4217 alphabetic code.
    pub currency: String,
    pub funding: FundingModel,
    pub validity_months: u32,
}
