//! Cards, on every channel: the card bodies shared by the routes below, the tenant checks that
//! find a user's or a corporation's card, and the card lists.
//! - [`issue`]: virtual cards (user, corporate, admin panel), synchronous or asynchronous;
//! - [`status`]: lock, unlock and remove (user cards on each channel, corporate cards);
//! - [`physical`]: order and activate physical cards (user and corporate);
//! - [`secrets`]: full card data, CVV reset, set PIN, corporate physical card with PIN (JWE only).
//!
//! A card of another partner, another user's card, a removed card and an unknown id all answer
//! `CARD_NOT_FOUND`, alike.

pub mod issue;
pub mod physical;
pub mod secrets;
pub mod status;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::Api;
use crate::http::auth::{CustomerSession, PartnerIdentity};
use crate::http::balances::user_balance;
use crate::http::customers::user;
use crate::http::dto::time;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiPath;
use crate::state::{BalanceId, BalanceKind, Card, CardId, CardKind, CardStatus, CustomerId, Owner, Scope};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(secure_list_cards))
        .routes(routes!(me_list_cards))
        .merge(issue::routes())
        .merge(status::routes())
        .merge(physical::routes())
        .merge(secrets::routes())
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualCardRequest {
    /// The user's balance the card spends from (it cannot be moved later).
    pub balance_id: i64,
    /// The card program; needed only when the partner runs several programs in the balance's
    /// currency and the balance has no card yet.
    pub program_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CardStatusDto {
    Ordered,
    Linked,
    Active,
    Locked,
    Removed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CardKindDto {
    Virtual,
    Physical,
}

/// A card as it may be shown: never the full PAN or the CVC2.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardResponse {
    pub card_id: i64,
    pub balance_id: i64,
    /// First six and last four digits.
    #[schema(example = "539999******1234")]
    pub masked_pan: String,
    /// YYMM, the last month of validity.
    #[schema(example = "2911")]
    pub expiry: String,
    pub kind: CardKindDto,
    pub status: CardStatusDto,
    /// The lock reason code while `LOCKED`.
    pub lock_reason: Option<u8>,
    pub program_id: String,
    pub created_at: String,
}

impl From<&Card> for CardResponse {
    fn from(card: &Card) -> Self {
        let (status, lock_reason) = match card.status {
            CardStatus::Ordered => (CardStatusDto::Ordered, None),
            CardStatus::Linked => (CardStatusDto::Linked, None),
            CardStatus::Active => (CardStatusDto::Active, None),
            CardStatus::Locked(reason) => (CardStatusDto::Locked, Some(reason.code())),
            CardStatus::Removed => (CardStatusDto::Removed, None),
        };
        CardResponse {
            card_id: card.id,
            balance_id: card.balance_id,
            masked_pan: format!("{}******{}", card.pan_first6, card.pan_last4),
            expiry: card.expiry.clone(),
            kind: match card.kind {
                CardKind::Virtual => CardKindDto::Virtual,
                CardKind::Physical => CardKindDto::Physical,
            },
            status,
            lock_reason,
            program_id: card.program_id.clone(),
            created_at: time(card.created_at),
        }
    }
}

/// The cards a balance shows: not removed, and physical cards once linked (personalised).
pub(crate) fn visible_cards(api: &Api, balance_id: BalanceId) -> Vec<Card> {
    api.state
        .cards_of_balance(balance_id)
        .into_iter()
        .filter(|card| !matches!(card.status, CardStatus::Removed | CardStatus::Ordered))
        .collect()
}

/// A card of this user that was not removed.
pub(crate) fn user_card(api: &Api, customer_id: CustomerId, card_id: CardId) -> Result<Card, ApiError> {
    let card = api
        .state
        .card(card_id)
        .map(|cell| cell.lock().card.clone())
        .filter(|card| card.status != CardStatus::Removed)
        .ok_or(ApiError::NotFound("card"))?;
    user_balance(api, customer_id, card.balance_id).map_err(|_| ApiError::NotFound("card"))?;
    Ok(card)
}

fn user_cards(api: &Api, customer_id: CustomerId) -> Vec<CardResponse> {
    api.state
        .balances()
        .iter()
        .filter(|balance| balance.kind == BalanceKind::User && balance.owner == Owner::Customer(customer_id))
        .flat_map(|balance| visible_cards(api, balance.id))
        .map(|card| CardResponse::from(&card))
        .collect()
}

/// A card on a corporate balance of the caller's partner, not removed.
pub(crate) fn corporate_card(api: &Api, scope: Scope<'_>, card_id: CardId) -> Result<Card, ApiError> {
    let card = api
        .state
        .card(card_id)
        .map(|cell| cell.lock().card.clone())
        .filter(|card| card.status != CardStatus::Removed)
        .ok_or(ApiError::NotFound("card"))?;
    let corporate = api.state.balance(card.balance_id).is_some_and(|balance| {
        balance.kind == BalanceKind::Corporate
            && matches!(balance.owner, Owner::Corporation(_))
            && scope.allows(&balance.partner_id)
    });
    if corporate {
        Ok(card)
    } else {
        Err(ApiError::NotFound("card"))
    }
}

pub(crate) fn card_response(api: &Api, card_id: CardId) -> Result<CardResponse, ApiError> {
    api.state
        .card(card_id)
        .map(|cell| CardResponse::from(&cell.lock().card))
        .ok_or(ApiError::NotFound("card"))
}

/// The user's cards (not removed ones), on every balance.
#[utoipa::path(
    get, path = "/secure/customers/{customerId}/cards", tag = "secure",
    security(("clientCertificate" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The cards", body = Vec<CardResponse>),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
    )
)]
async fn secure_list_cards(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(customer_id): ApiPath<i64>,
) -> Result<axum::Json<Vec<CardResponse>>, ApiError> {
    user(&api, partner.scope(), customer_id)?;
    Ok(axum::Json(user_cards(&api, customer_id)))
}

/// The user's cards (not removed ones).
#[utoipa::path(
    get, path = "/customers/me/cards", tag = "mobile",
    security(("session" = [])),
    responses(
        (status = 200, description = "The cards", body = Vec<CardResponse>),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
    )
)]
async fn me_list_cards(
    State(api): State<Api>,
    session: CustomerSession,
) -> Result<axum::Json<Vec<CardResponse>>, ApiError> {
    Ok(axum::Json(user_cards(&api, session.customer_id)))
}
