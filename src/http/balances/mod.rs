//! Balances: a user's (opened, read with its cards and reloaded by the partner; opened and read by
//! the app), a corporation's (`/secure/balances`), and the partner's own credit and deposit balances.
//! - [`users`]: user balances on `/secure` and `/customers/me`;
//! - [`corporate`]: corporate balances on `/secure`;
//! - [`partners`]: partner credit and deposit balances, thresholds, the balance summary.
//!
//! A user's balance is found through its user first (another partner's user answers
//! `USER_NOT_FOUND`, exactly like an unknown one), then `BALANCE_NOT_FOUND`. Money is integer minor
//! units with the balance's ISO 4217 code.

pub mod corporate;
pub mod partners;
pub mod users;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::balances::{self, BalanceError};
use crate::http::Api;
use crate::http::cards::{CardResponse, visible_cards};
use crate::http::dto::time;
use crate::http::error::ApiError;
use crate::state::{Balance, BalanceId, BalanceKind, BalanceState, CustomerId, Owner, ProgramEntry, Scope};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .merge(users::routes())
        .merge(corporate::routes())
        .merge(partners::routes())
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenBalanceRequest {
    /// ISO 4217 alphabetic code; one of the partner's program currencies.
    #[schema(example = "EUR")]
    pub currency: String,
    /// The card program the balance works under (its funding model, its cards). Optional when the
    /// partner runs one program in the currency; otherwise, when left out, the balance is bound by
    /// the first reload or card that names one.
    pub program_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReloadRequest {
    /// Minor units of the balance's currency (e.g. cents), positive.
    #[schema(example = 10000)]
    pub amount: i64,
    /// The card program whose funding model applies; needed only when the partner runs several
    /// programs in the balance's currency and the balance has no card yet.
    pub program_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BalanceStatusDto {
    Active,
    Blocked,
    Closed,
}

/// A user balance with its cards (removed cards are not listed).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BalanceResponse {
    pub balance_id: i64,
    /// ISO 4217 alphabetic code; every amount below is in its minor units.
    #[schema(example = "EUR")]
    pub currency: String,
    /// Booked money.
    pub ledger: i64,
    /// Held by open authorizations.
    pub held: i64,
    /// What may be spent: ledger − held.
    pub available: i64,
    pub status: BalanceStatusDto,
    /// The card program the balance works under, once bound.
    pub program_id: Option<String>,
    pub created_at: String,
    pub cards: Vec<CardResponse>,
}

pub(crate) fn balance_response(api: &Api, balance: &Balance) -> BalanceResponse {
    BalanceResponse {
        balance_id: balance.id,
        currency: balance.currency.clone(),
        ledger: balance.ledger,
        held: balance.held,
        available: balance.available(),
        status: match balance.state {
            BalanceState::Active => BalanceStatusDto::Active,
            BalanceState::Blocked => BalanceStatusDto::Blocked,
            BalanceState::Closed => BalanceStatusDto::Closed,
        },
        program_id: balance.program_id.clone(),
        created_at: time(balance.created_at),
        cards: visible_cards(api, balance.id).iter().map(CardResponse::from).collect(),
    }
}

/// A balance of this user (anything else, including another user's, is `BALANCE_NOT_FOUND`).
pub(crate) fn user_balance(api: &Api, customer_id: CustomerId, balance_id: BalanceId) -> Result<Balance, ApiError> {
    api.state
        .balance(balance_id)
        .map(|cell| cell.snapshot())
        .filter(|balance| balance.kind == BalanceKind::User && balance.owner == Owner::Customer(customer_id))
        .ok_or(ApiError::NotFound("balance"))
}

pub(crate) fn user_balances(api: &Api, customer_id: CustomerId) -> Vec<BalanceResponse> {
    api.state
        .balances()
        .iter()
        .filter(|balance| balance.kind == BalanceKind::User && balance.owner == Owner::Customer(customer_id))
        .map(|balance| balance_response(api, balance))
        .collect()
}

/// A corporate balance of the caller's partner (anything else is `BALANCE_NOT_FOUND`).
pub(crate) fn corporate_balance(api: &Api, scope: Scope<'_>, balance_id: BalanceId) -> Result<Balance, ApiError> {
    api.state
        .balance(balance_id)
        .map(|cell| cell.snapshot())
        .filter(|balance| {
            balance.kind == BalanceKind::Corporate
                && matches!(balance.owner, Owner::Corporation(_))
                && scope.allows(&balance.partner_id)
        })
        .ok_or(ApiError::NotFound("balance"))
}

/// The program a new balance is bound to: the one asked for (the partner's, in the currency), or the
/// partner's only program in the currency; `None` when the partner runs several and none was named.
pub(crate) fn program_at_opening(
    api: &Api,
    partner_id: &str,
    currency: &str,
    requested: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let candidates: Vec<String> = api
        .state
        .programs()
        .iter()
        .filter(|entry| entry.program.partner_id == partner_id && entry.program.currency == currency)
        .map(|entry| entry.program.id.clone())
        .collect();
    if candidates.is_empty() {
        return Err(ApiError::validation(
            "currency",
            "is not the currency of any card program of the partner",
        ));
    }
    match requested {
        Some(requested) if candidates.iter().any(|id| id == requested) => Ok(Some(requested.to_owned())),
        Some(_) => Err(ApiError::validation(
            "programId",
            "no program of the partner in this currency",
        )),
        None if candidates.len() == 1 => Ok(candidates.into_iter().next()),
        None => Ok(None),
    }
}

/// The program a balance works under: the one it was bound to at opening, else its cards' program
/// once it has one; otherwise the one asked for, or the partner's only program in its currency.
pub(crate) fn program_for(api: &Api, balance: &Balance, requested: Option<&str>) -> Result<ProgramEntry, ApiError> {
    let of_cards = balance.program_id.clone().or_else(|| {
        api.state
            .cards_of_balance(balance.id)
            .first()
            .map(|card| card.program_id.clone())
    });
    let candidates: Vec<ProgramEntry> = api
        .state
        .programs()
        .iter()
        .filter(|entry| entry.program.partner_id == balance.partner_id && entry.program.currency == balance.currency)
        .map(|entry| entry.as_ref().clone())
        .collect();
    let chosen = match (of_cards, requested) {
        (Some(bound), Some(requested)) if bound != requested => {
            return Err(ApiError::validation(
                "programId",
                format!("the balance works under program {bound}"),
            ));
        }
        (Some(bound), _) => candidates.into_iter().find(|entry| entry.program.id == bound),
        (None, Some(requested)) => candidates.into_iter().find(|entry| entry.program.id == requested),
        (None, None) if candidates.len() > 1 => {
            return Err(ApiError::validation(
                "programId",
                format!("is required: the partner runs several programs in {}", balance.currency),
            ));
        }
        (None, None) => candidates.into_iter().next(),
    };
    chosen.ok_or_else(|| ApiError::validation("programId", "no program of the partner in the balance's currency"))
}

/// Reloads a user or corporate balance under its program's funding model.
pub(crate) async fn reload_balance(api: &Api, balance: &Balance, request: &ReloadRequest) -> Result<(), ApiError> {
    let balance_id = balance.id;
    if request.amount <= 0 {
        return Err(BalanceError::InvalidAmount.into());
    }
    let program = program_for(api, balance, request.program_id.as_deref())?;
    balances::reload(&api.state, &program, balance_id, request.amount).await?;
    Ok(())
}
