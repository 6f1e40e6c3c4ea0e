//! User balances and cards on the partner's server channel (`/secure`, client
//! certificate) and the user's app (`/customers/me`, session token): open a
//! balance, read it with its cards, reload it (partner only), issue virtual
//! cards, lock, unlock, remove and list cards.
//!
//! Every route checks first that the user is the caller's (another partner's
//! user answers `USER_NOT_FOUND`, exactly like an unknown one), then that the
//! balance or card is that user's (`BALANCE_NOT_FOUND`, `CARD_NOT_FOUND`).
//! Money is integer minor units with the balance's ISO 4217 code.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Api;
use super::auth::permission::{IssueCards, ManageCards};
use super::auth::{Authorized, CustomerSession, PartnerIdentity};
use super::card_secrets;
use super::dto::time;
use super::encryption::ClientEncryption;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::balances::{self, BalanceError};
use crate::cards::{self, CardError, CardRequest};
use crate::state::{
    Balance, BalanceId, BalanceKind, BalanceState, Card, CardId, CardKind, CardStatus, CustomerId, KycStatus,
    LockReason, Owner, ProgramEntry, Scope,
};
use axum::response::Response;

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(secure_open_balance, secure_list_balances))
        .routes(routes!(secure_get_balance))
        .routes(routes!(secure_reload_balance))
        .routes(routes!(secure_issue_virtual_card))
        .routes(routes!(secure_list_cards))
        .routes(routes!(secure_lock_card))
        .routes(routes!(secure_unlock_card))
        .routes(routes!(secure_remove_card))
        .routes(routes!(me_open_balance, me_list_balances))
        .routes(routes!(me_get_balance))
        .routes(routes!(me_issue_virtual_card))
        .routes(routes!(me_list_cards))
        .routes(routes!(me_lock_card))
        .routes(routes!(me_unlock_card))
        .routes(routes!(me_remove_card))
        .routes(routes!(admin_issue_virtual_card))
        .routes(routes!(secure_open_corporate_balance))
        .routes(routes!(secure_get_corporate_balance))
        .routes(routes!(secure_reload_corporate_balance))
        .routes(routes!(secure_issue_corporate_virtual_card))
        .routes(routes!(secure_order_physical_card))
        .routes(routes!(secure_activate_card))
        .routes(routes!(me_order_physical_card))
        .routes(routes!(me_activate_card))
        .routes(routes!(admin_order_physical_card))
        .routes(routes!(admin_activate_card))
        .routes(routes!(admin_lock_card))
        .routes(routes!(admin_unlock_card))
        .routes(routes!(admin_remove_card))
}

// ---------------------------------------------------------------- bodies

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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualCardRequest {
    /// The user's balance the card spends from (it cannot be moved later).
    pub balance_id: i64,
    /// The card program; needed only when the partner runs several programs in the balance's
    /// currency and the balance has no card yet.
    pub program_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LockRequest {
    /// The lock reason code: 1 lost, 2 stolen, 3 pending query, 4 consolidation, 5 inactive,
    /// 6 PIN tries exceeded, 7 suspected fraud, 8 replaced, 11 offline PIN tries exceeded.
    /// 1, 2, 5 and 8 can never be unlocked.
    #[schema(example = 7)]
    pub reason: u8,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BalanceStatusDto {
    Active,
    Blocked,
    Closed,
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

fn balance_response(api: &Api, balance: &Balance) -> BalanceResponse {
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

/// The cards a balance shows: not removed, and physical cards once linked (personalised).
fn visible_cards(api: &Api, balance_id: BalanceId) -> Vec<Card> {
    api.state
        .cards_of_balance(balance_id)
        .into_iter()
        .filter(|card| !matches!(card.status, CardStatus::Removed | CardStatus::Ordered))
        .collect()
}

// ---------------------------------------------------------------- errors

impl From<BalanceError> for ApiError {
    fn from(error: BalanceError) -> Self {
        match error {
            BalanceError::NotFound => ApiError::NotFound("balance"),
            BalanceError::UnknownCurrency(_) => ApiError::validation("currency", error.to_string()),
            BalanceError::InvalidAmount => ApiError::validation("amount", "must be a positive number of minor units"),
            BalanceError::NotActive => ApiError::conflict("BALANCE_NOT_ACTIVE", error.to_string()),
            BalanceError::InsufficientFunds => ApiError::conflict(
                "PARTNER_FUNDS_INSUFFICIENT",
                "the partner credit balance has insufficient funds; nothing was changed",
            ),
            BalanceError::CurrencyMismatch => ApiError::conflict("CURRENCY_MISMATCH", error.to_string()),
            BalanceError::AlreadyExists => ApiError::conflict("PARTNER_BALANCE_EXISTS", error.to_string()),
            BalanceError::Busy => ApiError::conflict("BUSY", error.to_string()),
            BalanceError::Journal(error) => error.into(),
        }
    }
}

impl From<CardError> for ApiError {
    fn from(error: CardError) -> Self {
        match error {
            CardError::NotFound => ApiError::NotFound("card"),
            CardError::Balance => ApiError::conflict("BALANCE_NOT_ACTIVE", error.to_string()),
            CardError::Program => ApiError::validation("programId", "no such program of the partner"),
            CardError::CurrencyMismatch => ApiError::conflict("CURRENCY_MISMATCH", error.to_string()),
            CardError::NumbersExhausted => ApiError::conflict("CARD_NUMBERS_EXHAUSTED", error.to_string()),
            CardError::Irreversible => ApiError::conflict("CARD_LOCK_IRREVERSIBLE", error.to_string()),
            CardError::InvalidState => ApiError::conflict("CARD_STATE_INVALID", error.to_string()),
            CardError::InvalidPin => ApiError::validation("pin", error.to_string()),
            CardError::Journal(error) => error.into(),
        }
    }
}

// ---------------------------------------------------------------- operations

/// The user, if the caller may see it.
pub(super) fn user(api: &Api, scope: Scope<'_>, customer_id: CustomerId) -> Result<crate::state::Customer, ApiError> {
    Ok(crate::customers::get(&api.state, scope, customer_id)?)
}

/// A balance of this user (anything else, including another user's, is `BALANCE_NOT_FOUND`).
fn user_balance(api: &Api, customer_id: CustomerId, balance_id: BalanceId) -> Result<Balance, ApiError> {
    api.state
        .balance(balance_id)
        .map(|cell| cell.snapshot())
        .filter(|balance| balance.kind == BalanceKind::User && balance.owner == Owner::Customer(customer_id))
        .ok_or(ApiError::NotFound("balance"))
}

/// A card of this user that was not removed.
pub(super) fn user_card(api: &Api, customer_id: CustomerId, card_id: CardId) -> Result<Card, ApiError> {
    let card = api
        .state
        .card(card_id)
        .map(|cell| cell.lock().card.clone())
        .filter(|card| card.status != CardStatus::Removed)
        .ok_or(ApiError::NotFound("card"))?;
    user_balance(api, customer_id, card.balance_id).map_err(|_| ApiError::NotFound("card"))?;
    Ok(card)
}

fn user_balances(api: &Api, customer_id: CustomerId) -> Vec<BalanceResponse> {
    api.state
        .balances()
        .iter()
        .filter(|balance| balance.kind == BalanceKind::User && balance.owner == Owner::Customer(customer_id))
        .map(|balance| balance_response(api, balance))
        .collect()
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

/// Opens a zero balance for a KYC-verified user in one of the partner's program currencies.
async fn open_balance(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    request: &OpenBalanceRequest,
) -> Result<BalanceResponse, ApiError> {
    let customer = user(api, scope, customer_id)?;
    if customer.kyc_status != KycStatus::Verified {
        return Err(ApiError::conflict(
            "KYC_NOT_VERIFIED",
            "the user must be KYC-verified before a balance is opened",
        ));
    }
    let currency = request.currency.trim().to_ascii_uppercase();
    let program = program_at_opening(api, &customer.partner_id, &currency, request.program_id.as_deref())?;
    let balance = balances::open_under(
        &api.state,
        BalanceKind::User,
        Owner::Customer(customer_id),
        &customer.partner_id,
        &currency,
        program.as_deref(),
    )
    .await?;
    Ok(balance_response(api, &balance))
}

/// The program a new balance is bound to: the one asked for (the partner's, in the currency), or the
/// partner's only program in the currency; `None` when the partner runs several and none was named.
fn program_at_opening(
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
pub(super) fn program_for(api: &Api, balance: &Balance, requested: Option<&str>) -> Result<ProgramEntry, ApiError> {
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

/// Reloads a user balance: under the partner-credit model the partner credit balance pays (all or
/// nothing); under the partner-deposit model the partner's load is recorded.
async fn reload(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    balance_id: BalanceId,
    request: &ReloadRequest,
) -> Result<BalanceResponse, ApiError> {
    user(api, scope, customer_id)?;
    let balance = user_balance(api, customer_id, balance_id)?;
    reload_balance(api, &balance, request).await?;
    Ok(balance_response(api, &user_balance(api, customer_id, balance_id)?))
}

/// Reloads a user or corporate balance under its program's funding model.
async fn reload_balance(api: &Api, balance: &Balance, request: &ReloadRequest) -> Result<(), ApiError> {
    let balance_id = balance.id;
    if request.amount <= 0 {
        return Err(BalanceError::InvalidAmount.into());
    }
    let program = program_for(api, balance, request.program_id.as_deref())?;
    balances::reload(&api.state, &program, balance_id, request.amount).await?;
    Ok(())
}

/// What a virtual card request needs: the caller's user, KYC-verified, the user's balance, and the
/// program the card will be of.
pub(super) fn check_virtual(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    request: &VirtualCardRequest,
) -> Result<(Balance, ProgramEntry), ApiError> {
    let customer = user(api, scope, customer_id)?;
    let balance = user_balance(api, customer_id, request.balance_id)?;
    if customer.kyc_status != KycStatus::Verified {
        return Err(ApiError::conflict(
            "KYC_NOT_VERIFIED",
            "the user must be KYC-verified before a card is issued",
        ));
    }
    let program = program_for(api, &balance, request.program_id.as_deref())?;
    Ok((balance, program))
}

pub(super) async fn issue_virtual(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    request: &VirtualCardRequest,
) -> Result<CardResponse, ApiError> {
    let (balance, program) = check_virtual(api, scope, customer_id, request)?;
    let issued = cards::issue(
        &api.state,
        balance.id,
        &program.program.id,
        CardRequest {
            kind: Some(CardKind::Virtual),
            pin: None,
        },
    )
    .await?;
    let card = user_card(api, customer_id, issued.card_id)?;
    Ok(CardResponse::from(&card))
}

async fn lock(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    card_id: CardId,
    request: &LockRequest,
) -> Result<CardResponse, ApiError> {
    user(api, scope, customer_id)?;
    user_card(api, customer_id, card_id)?;
    let reason = LockReason::from_code(request.reason)
        .ok_or_else(|| ApiError::validation("reason", "must be one of 1, 2, 3, 4, 5, 6, 7, 8, 11"))?;
    cards::lock(&api.state, card_id, reason).await?;
    Ok(CardResponse::from(&user_card(api, customer_id, card_id)?))
}

async fn unlock(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    card_id: CardId,
) -> Result<CardResponse, ApiError> {
    user(api, scope, customer_id)?;
    user_card(api, customer_id, card_id)?;
    cards::unlock(&api.state, card_id).await?;
    Ok(CardResponse::from(&user_card(api, customer_id, card_id)?))
}

async fn remove(api: &Api, scope: Scope<'_>, customer_id: CustomerId, card_id: CardId) -> Result<StatusCode, ApiError> {
    user(api, scope, customer_id)?;
    user_card(api, customer_id, card_id)?;
    cards::remove(&api.state, card_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

type Created<T> = (StatusCode, axum::Json<T>);

// ---------------------------------------------------------------- /secure

/// Opens a balance at zero for a KYC-verified user, in one of the partner's program currencies.
#[utoipa::path(
    post, path = "/secure/customers/{customerId}/balances", tag = "secure",
    security(("clientCertificate" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    request_body = OpenBalanceRequest,
    responses(
        (status = 201, description = "Opened", body = BalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (currency)", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED", body = ErrorBody),
    )
)]
async fn secure_open_balance(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(customer_id): ApiPath<i64>,
    ApiJson(request): ApiJson<OpenBalanceRequest>,
) -> Result<Created<BalanceResponse>, ApiError> {
    let balance = open_balance(&api, partner.scope(), customer_id, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(balance)))
}

/// The user's balances with their cards.
#[utoipa::path(
    get, path = "/secure/customers/{customerId}/balances", tag = "secure",
    security(("clientCertificate" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The balances", body = Vec<BalanceResponse>),
        (status = 404, description = "USER_NOT_FOUND", body = ErrorBody),
    )
)]
async fn secure_list_balances(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(customer_id): ApiPath<i64>,
) -> Result<axum::Json<Vec<BalanceResponse>>, ApiError> {
    user(&api, partner.scope(), customer_id)?;
    Ok(axum::Json(user_balances(&api, customer_id)))
}

/// A balance of the user with its cards.
#[utoipa::path(
    get, path = "/secure/customers/{customerId}/balances/{balanceId}", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("balanceId" = i64, Path, description = "The balance's id"),
    ),
    responses(
        (status = 200, description = "The balance", body = BalanceResponse),
        (status = 404, description = "USER_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
    )
)]
async fn secure_get_balance(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, balance_id)): ApiPath<(i64, i64)>,
) -> Result<axum::Json<BalanceResponse>, ApiError> {
    user(&api, partner.scope(), customer_id)?;
    let balance = user_balance(&api, customer_id, balance_id)?;
    Ok(axum::Json(balance_response(&api, &balance)))
}

/// Reloads a user balance. Partner-credit programs charge the partner credit balance first: when it
/// is short, 409 `PARTNER_FUNDS_INSUFFICIENT` and nothing changes. Partner-deposit programs record
/// the partner's load.
#[utoipa::path(
    post, path = "/secure/customers/{customerId}/balances/{balanceId}/reload", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("balanceId" = i64, Path, description = "The balance's id"),
    ),
    request_body = ReloadRequest,
    responses(
        (status = 200, description = "Reloaded: the balance now", body = BalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (amount, programId)", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "PARTNER_FUNDS_INSUFFICIENT, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn secure_reload_balance(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, balance_id)): ApiPath<(i64, i64)>,
    ApiJson(request): ApiJson<ReloadRequest>,
) -> Result<axum::Json<BalanceResponse>, ApiError> {
    Ok(axum::Json(
        reload(&api, partner.scope(), customer_id, balance_id, &request).await?,
    ))
}

/// Issues a virtual card on a balance of the user: active at once. The answer shows the masked
/// PAN, expiry and id only.
#[utoipa::path(
    post, path = "/secure/customers/{customerId}/cards/virtual", tag = "secure",
    security(("clientCertificate" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    request_body = VirtualCardRequest,
    responses(
        (status = 201, description = "Issued. With `Public-Key` and `Encrypt-Response: true`, the answer is \
            `{\"payload\": \"<JWE>\"}` whose plaintext is a `FullCardResponse` (PAN, CVC2, expiry): card data \
            leaves only inside JWE", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (programId)", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn secure_issue_virtual_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(customer_id): ApiPath<i64>,
    encryption: ClientEncryption,
    ApiJson(request): ApiJson<VirtualCardRequest>,
) -> Result<Response, ApiError> {
    let card = issue_virtual(&api, partner.scope(), customer_id, &request).await?;
    card_secrets::created_card(&api, &encryption, card)
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

/// Locks a card with a reason code; the switch declines its very next authorization.
#[utoipa::path(
    post, path = "/secure/customers/{userId}/cards/{cardId}/lock", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("userId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    request_body = LockRequest,
    responses(
        (status = 200, description = "Locked", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (reason)", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE: already locked for good", body = ErrorBody),
    )
)]
async fn secure_lock_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
    ApiJson(request): ApiJson<LockRequest>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(
        lock(&api, partner.scope(), customer_id, card_id, &request).await?,
    ))
}

/// Unlocks a card locked for a reversible reason.
#[utoipa::path(
    post, path = "/secure/customers/{userId}/cards/{cardId}/unlock", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("userId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    responses(
        (status = 200, description = "Unlocked", body = CardResponse),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE (reasons 1, 2, 5, 8), CARD_STATE_INVALID", body = ErrorBody),
    )
)]
async fn secure_unlock_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(unlock(&api, partner.scope(), customer_id, card_id).await?))
}

/// Removes a card for good: it is declined from now on and cannot be restored.
#[utoipa::path(
    delete, path = "/secure/customers/{userId}/cards/{cardId}", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("userId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND (also once removed)", body = ErrorBody),
    )
)]
async fn secure_remove_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    remove(&api, partner.scope(), customer_id, card_id).await
}

// ---------------------------------------------------------------- /customers/me

/// Opens a balance at zero for the (KYC-verified) user.
#[utoipa::path(
    post, path = "/customers/me/balances", tag = "mobile",
    security(("session" = [])),
    request_body = OpenBalanceRequest,
    responses(
        (status = 201, description = "Opened", body = BalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (currency)", body = ErrorBody),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED", body = ErrorBody),
    )
)]
async fn me_open_balance(
    State(api): State<Api>,
    session: CustomerSession,
    ApiJson(request): ApiJson<OpenBalanceRequest>,
) -> Result<Created<BalanceResponse>, ApiError> {
    let balance = open_balance(&api, session.scope(), session.customer_id, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(balance)))
}

/// The user's balances with their cards.
#[utoipa::path(
    get, path = "/customers/me/balances", tag = "mobile",
    security(("session" = [])),
    responses(
        (status = 200, description = "The balances", body = Vec<BalanceResponse>),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
    )
)]
async fn me_list_balances(
    State(api): State<Api>,
    session: CustomerSession,
) -> Result<axum::Json<Vec<BalanceResponse>>, ApiError> {
    Ok(axum::Json(user_balances(&api, session.customer_id)))
}

/// A balance of the user with its cards.
#[utoipa::path(
    get, path = "/customers/me/balances/{balanceId}", tag = "mobile",
    security(("session" = [])),
    params(("balanceId" = i64, Path, description = "The balance's id")),
    responses(
        (status = 200, description = "The balance", body = BalanceResponse),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
        (status = 404, description = "BALANCE_NOT_FOUND", body = ErrorBody),
    )
)]
async fn me_get_balance(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(balance_id): ApiPath<i64>,
) -> Result<axum::Json<BalanceResponse>, ApiError> {
    let balance = user_balance(&api, session.customer_id, balance_id)?;
    Ok(axum::Json(balance_response(&api, &balance)))
}

/// Issues a virtual card on a balance of the user.
#[utoipa::path(
    post, path = "/customers/me/cards/virtual", tag = "mobile",
    security(("session" = [])),
    request_body = VirtualCardRequest,
    responses(
        (status = 201, description = "Issued. With `Public-Key` and `Encrypt-Response: true`, the answer is \
            `{\"payload\": \"<JWE>\"}` whose plaintext is a `FullCardResponse` (PAN, CVC2, expiry): card data \
            leaves only inside JWE", body = CardResponse),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
        (status = 404, description = "BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn me_issue_virtual_card(
    State(api): State<Api>,
    session: CustomerSession,
    encryption: ClientEncryption,
    ApiJson(request): ApiJson<VirtualCardRequest>,
) -> Result<Response, ApiError> {
    let card = issue_virtual(&api, session.scope(), session.customer_id, &request).await?;
    card_secrets::created_card(&api, &encryption, card)
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

/// Locks one of the user's cards with a reason code.
#[utoipa::path(
    post, path = "/customers/me/cards/{cardId}/lock", tag = "mobile",
    security(("session" = [])),
    params(("cardId" = i64, Path, description = "The card's id")),
    request_body = LockRequest,
    responses(
        (status = 200, description = "Locked", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (reason)", body = ErrorBody),
        (status = 404, description = "CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE: already locked for good", body = ErrorBody),
    )
)]
async fn me_lock_card(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(card_id): ApiPath<i64>,
    ApiJson(request): ApiJson<LockRequest>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(
        lock(&api, session.scope(), session.customer_id, card_id, &request).await?,
    ))
}

/// Unlocks one of the user's cards locked for a reversible reason.
#[utoipa::path(
    post, path = "/customers/me/cards/{cardId}/unlock", tag = "mobile",
    security(("session" = [])),
    params(("cardId" = i64, Path, description = "The card's id")),
    responses(
        (status = 200, description = "Unlocked", body = CardResponse),
        (status = 404, description = "CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE (reasons 1, 2, 5, 8), CARD_STATE_INVALID", body = ErrorBody),
    )
)]
async fn me_unlock_card(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(card_id): ApiPath<i64>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(
        unlock(&api, session.scope(), session.customer_id, card_id).await?,
    ))
}

/// Removes one of the user's cards for good.
#[utoipa::path(
    delete, path = "/customers/me/cards/{cardId}", tag = "mobile",
    security(("session" = [])),
    params(("cardId" = i64, Path, description = "The card's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "CARD_NOT_FOUND (also once removed)", body = ErrorBody),
    )
)]
async fn me_remove_card(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(card_id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    remove(&api, session.scope(), session.customer_id, card_id).await
}

// ---------------------------------------------------------------- /admin

/// Issues a virtual card to a user on one of the user's balances. Roles: Admin, Manager.
#[utoipa::path(
    post, path = "/admin/customers/{customerId}/cards/virtual", tag = "admin",
    security(("session" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    request_body = VirtualCardRequest,
    responses(
        (status = 201, description = "Issued", body = CardResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND (also another partner's, for a partner's administrator) \
            or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn admin_issue_virtual_card(
    State(api): State<Api>,
    session: Authorized<IssueCards>,
    ApiPath(customer_id): ApiPath<i64>,
    ApiJson(request): ApiJson<VirtualCardRequest>,
) -> Result<Created<CardResponse>, ApiError> {
    let card = issue_virtual(&api, session.scope(), customer_id, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(card)))
}

// ---------------------------------------------------------------- corporate (/secure)

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorporateBalanceRequest {
    /// The corporation (KYB approved).
    pub dc_corporation_id: i64,
    /// ISO 4217 alphabetic code; one of the partner's program currencies.
    #[schema(example = "EUR")]
    pub currency: String,
    /// The card program the balance works under (as for user balances).
    pub program_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorporateCardRequest {
    /// The corporation whose balance the card spends from.
    pub dc_corporation_id: i64,
    /// The corporation's balance.
    pub balance_id: i64,
    /// The card program; needed only when the partner runs several programs in the balance's
    /// currency and the balance has no card yet.
    pub program_id: Option<String>,
}

/// A corporation of the caller's partner, approved by KYB.
pub(super) fn approved_corporation(
    api: &Api,
    scope: Scope<'_>,
    corporation_id: i64,
) -> Result<crate::state::Corporation, ApiError> {
    let corporation = crate::corporations::get(&api.state, scope, corporation_id)?;
    if corporation.kyb_status != crate::state::KybStatus::Approved {
        return Err(ApiError::conflict(
            "KYB_NOT_APPROVED",
            "the corporation must be approved (KYB) first",
        ));
    }
    Ok(corporation)
}

/// A corporate balance of the caller's partner (anything else is `BALANCE_NOT_FOUND`).
pub(super) fn corporate_balance(api: &Api, scope: Scope<'_>, balance_id: BalanceId) -> Result<Balance, ApiError> {
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

/// Opens a corporate balance at zero for an approved corporation (`dcCorporationId`).
#[utoipa::path(
    post, path = "/secure/balances", tag = "secure",
    security(("clientCertificate" = [])),
    request_body = CorporateBalanceRequest,
    responses(
        (status = 201, description = "Opened", body = BalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (currency)", body = ErrorBody),
        (status = 404, description = "CORPORATION_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYB_NOT_APPROVED", body = ErrorBody),
    )
)]
async fn secure_open_corporate_balance(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiJson(request): ApiJson<CorporateBalanceRequest>,
) -> Result<Created<BalanceResponse>, ApiError> {
    let corporation = approved_corporation(&api, partner.scope(), request.dc_corporation_id)?;
    let currency = request.currency.trim().to_ascii_uppercase();
    let program = program_at_opening(&api, &corporation.partner_id, &currency, request.program_id.as_deref())?;
    let balance = balances::open_under(
        &api.state,
        BalanceKind::Corporate,
        Owner::Corporation(corporation.id),
        &corporation.partner_id,
        &currency,
        program.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(balance_response(&api, &balance))))
}

/// A corporate balance with its cards.
#[utoipa::path(
    get, path = "/secure/balances/{balanceId}", tag = "secure",
    security(("clientCertificate" = [])),
    params(("balanceId" = i64, Path, description = "The corporate balance's id")),
    responses(
        (status = 200, description = "The balance", body = BalanceResponse),
        (status = 404, description = "BALANCE_NOT_FOUND", body = ErrorBody),
    )
)]
async fn secure_get_corporate_balance(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(balance_id): ApiPath<i64>,
) -> Result<axum::Json<BalanceResponse>, ApiError> {
    let balance = corporate_balance(&api, partner.scope(), balance_id)?;
    Ok(axum::Json(balance_response(&api, &balance)))
}

/// Reloads a corporate balance, as a user balance is reloaded (partner credit charged, or the
/// partner's deposit-model load recorded).
#[utoipa::path(
    post, path = "/secure/balances/{balanceId}/reload", tag = "secure",
    security(("clientCertificate" = [])),
    params(("balanceId" = i64, Path, description = "The corporate balance's id")),
    request_body = ReloadRequest,
    responses(
        (status = 200, description = "Reloaded: the balance now", body = BalanceResponse),
        (status = 400, description = "VALIDATION_FAILED (amount, programId)", body = ErrorBody),
        (status = 404, description = "BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "PARTNER_FUNDS_INSUFFICIENT, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn secure_reload_corporate_balance(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(balance_id): ApiPath<i64>,
    ApiJson(request): ApiJson<ReloadRequest>,
) -> Result<axum::Json<BalanceResponse>, ApiError> {
    let balance = corporate_balance(&api, partner.scope(), balance_id)?;
    reload_balance(&api, &balance, &request).await?;
    let balance = corporate_balance(&api, partner.scope(), balance_id)?;
    Ok(axum::Json(balance_response(&api, &balance)))
}

/// Issues a virtual card for an employee on a corporate balance of the corporation.
#[utoipa::path(
    post, path = "/secure/cards/virtual", tag = "secure",
    security(("clientCertificate" = [])),
    request_body = CorporateCardRequest,
    responses(
        (status = 201, description = "Issued. With `Public-Key` and `Encrypt-Response: true`, the answer is \
            `{\"payload\": \"<JWE>\"}` whose plaintext is a `FullCardResponse` (PAN, CVC2, expiry): card data \
            leaves only inside JWE", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (programId)", body = ErrorBody),
        (status = 404, description = "CORPORATION_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYB_NOT_APPROVED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn secure_issue_corporate_virtual_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    encryption: ClientEncryption,
    ApiJson(request): ApiJson<CorporateCardRequest>,
) -> Result<Response, ApiError> {
    let corporation = approved_corporation(&api, partner.scope(), request.dc_corporation_id)?;
    let balance = corporate_balance(&api, partner.scope(), request.balance_id)?;
    if balance.owner != Owner::Corporation(corporation.id) {
        return Err(ApiError::NotFound("balance"));
    }
    let program = program_for(&api, &balance, request.program_id.as_deref())?;
    let issued = cards::issue(
        &api.state,
        balance.id,
        &program.program.id,
        CardRequest {
            kind: Some(CardKind::Virtual),
            pin: None,
        },
    )
    .await?;
    let card = api
        .state
        .card(issued.card_id)
        .map(|cell| cell.lock().card.clone())
        .ok_or(ApiError::NotFound("card"))?;
    card_secrets::created_card(&api, &encryption, CardResponse::from(&card))
}

// ---------------------------------------------------------------- physical cards

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhysicalCardRequest {
    /// The user's balance the card spends from.
    pub balance_id: i64,
    /// The card program (as for virtual cards).
    pub program_id: Option<String>,
    /// A PIN to set at issue, 4 to 12 digits (a card "with PIN").
    pub pin: Option<String>,
}

/// Orders a physical card: `ORDERED` now; linked to the user and balance once the personalisation
/// center reports it made (visible, `LINKED`); spends only once activated.
async fn order_physical(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    request: &PhysicalCardRequest,
) -> Result<CardResponse, ApiError> {
    let virtual_request = VirtualCardRequest {
        balance_id: request.balance_id,
        program_id: request.program_id.clone(),
    };
    let (balance, program) = check_virtual(api, scope, customer_id, &virtual_request)?;
    let issued = cards::issue(
        &api.state,
        balance.id,
        &program.program.id,
        CardRequest {
            kind: Some(CardKind::Physical),
            pin: request.pin.clone(),
        },
    )
    .await?;
    let card_id = issued.card_id;
    cards::personalization::order_and_link(api.personalization.as_ref(), &api.state, card_id);
    Ok(CardResponse::from(&user_card(api, customer_id, card_id)?))
}

async fn activate(
    api: &Api,
    scope: Scope<'_>,
    customer_id: CustomerId,
    card_id: CardId,
) -> Result<CardResponse, ApiError> {
    user(api, scope, customer_id)?;
    user_card(api, customer_id, card_id)?;
    cards::activate(&api.state, card_id).await?;
    Ok(CardResponse::from(&user_card(api, customer_id, card_id)?))
}

/// Orders a physical card for the user (`ORDERED`; `LINKED` once personalised; then activate it).
#[utoipa::path(
    post, path = "/secure/customers/{customerId}/cards/physical", tag = "secure",
    security(("clientCertificate" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    request_body = PhysicalCardRequest,
    responses(
        (status = 201, description = "Ordered", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (programId, pin)", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn secure_order_physical_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(customer_id): ApiPath<i64>,
    ApiJson(request): ApiJson<PhysicalCardRequest>,
) -> Result<Created<CardResponse>, ApiError> {
    let card = order_physical(&api, partner.scope(), customer_id, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(card)))
}

/// Activates a linked physical card.
#[utoipa::path(
    post, path = "/secure/customers/{userId}/cards/{cardId}/activate", tag = "secure",
    security(("clientCertificate" = [])),
    params(
        ("userId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    responses(
        (status = 200, description = "Active", body = CardResponse),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_STATE_INVALID (not personalised yet, locked)", body = ErrorBody),
    )
)]
async fn secure_activate_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(activate(&api, partner.scope(), customer_id, card_id).await?))
}

/// Orders a physical card for the user.
#[utoipa::path(
    post, path = "/customers/me/cards/physical", tag = "mobile",
    security(("session" = [])),
    request_body = PhysicalCardRequest,
    responses(
        (status = 201, description = "Ordered", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (programId, pin)", body = ErrorBody),
        (status = 404, description = "BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn me_order_physical_card(
    State(api): State<Api>,
    session: CustomerSession,
    ApiJson(request): ApiJson<PhysicalCardRequest>,
) -> Result<Created<CardResponse>, ApiError> {
    let card = order_physical(&api, session.scope(), session.customer_id, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(card)))
}

/// Activates one of the user's linked physical cards.
#[utoipa::path(
    post, path = "/customers/me/cards/{cardId}/activate", tag = "mobile",
    security(("session" = [])),
    params(("cardId" = i64, Path, description = "The card's id")),
    responses(
        (status = 200, description = "Active", body = CardResponse),
        (status = 404, description = "CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_STATE_INVALID (not personalised yet, locked)", body = ErrorBody),
    )
)]
async fn me_activate_card(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(card_id): ApiPath<i64>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(
        activate(&api, session.scope(), session.customer_id, card_id).await?,
    ))
}

/// Orders a physical card for a user. Roles: Admin, Manager, Employee.
#[utoipa::path(
    post, path = "/admin/customers/{customerId}/cards/physical", tag = "admin",
    security(("session" = [])),
    params(("customerId" = i64, Path, description = "The user's id")),
    request_body = PhysicalCardRequest,
    responses(
        (status = 201, description = "Ordered", body = CardResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND (also another partner's, for a partner's administrator) \
            or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYC_NOT_VERIFIED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn admin_order_physical_card(
    State(api): State<Api>,
    session: Authorized<ManageCards>,
    ApiPath(customer_id): ApiPath<i64>,
    ApiJson(request): ApiJson<PhysicalCardRequest>,
) -> Result<Created<CardResponse>, ApiError> {
    let card = order_physical(&api, session.scope(), customer_id, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(card)))
}

/// Activates a user's linked physical card. Roles: Admin, Manager, Employee.
#[utoipa::path(
    post, path = "/admin/customers/{customerId}/cards/{cardId}/activate", tag = "admin",
    security(("session" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    responses(
        (status = 200, description = "Active", body = CardResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_STATE_INVALID (not personalised yet, locked)", body = ErrorBody),
    )
)]
async fn admin_activate_card(
    State(api): State<Api>,
    session: Authorized<ManageCards>,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(activate(&api, session.scope(), customer_id, card_id).await?))
}

/// Locks a user's card with a reason code (the administration panel). Roles: Admin, Manager, Employee.
#[utoipa::path(
    post, path = "/admin/customers/{customerId}/cards/{cardId}/lock", tag = "admin",
    security(("session" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    request_body = LockRequest,
    responses(
        (status = 200, description = "Locked", body = CardResponse),
        (status = 400, description = "VALIDATION_FAILED (reason)", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE: already locked for good", body = ErrorBody),
    )
)]
async fn admin_lock_card(
    State(api): State<Api>,
    session: Authorized<ManageCards>,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
    ApiJson(request): ApiJson<LockRequest>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(
        lock(&api, session.scope(), customer_id, card_id, &request).await?,
    ))
}

/// Unlocks a user's card locked for a reversible reason. Roles: Admin, Manager, Employee.
#[utoipa::path(
    post, path = "/admin/customers/{customerId}/cards/{cardId}/unlock", tag = "admin",
    security(("session" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    responses(
        (status = 200, description = "Unlocked", body = CardResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_LOCK_IRREVERSIBLE (reasons 1, 2, 5, 8), CARD_STATE_INVALID", body = ErrorBody),
    )
)]
async fn admin_unlock_card(
    State(api): State<Api>,
    session: Authorized<ManageCards>,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
) -> Result<axum::Json<CardResponse>, ApiError> {
    Ok(axum::Json(unlock(&api, session.scope(), customer_id, card_id).await?))
}

/// Removes a user's card for good. Roles: Admin, Manager, Employee.
#[utoipa::path(
    delete, path = "/admin/customers/{customerId}/cards/{cardId}", tag = "admin",
    security(("session" = [])),
    params(
        ("customerId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND (also once removed)", body = ErrorBody),
    )
)]
async fn admin_remove_card(
    State(api): State<Api>,
    session: Authorized<ManageCards>,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    remove(&api, session.scope(), customer_id, card_id).await
}
