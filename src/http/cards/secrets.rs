//! Sensitive card data, only over the JWE channel ([`crate::http::encryption`]):
//! - full card data (PAN, expiry, CVC2) for the user and the partner, never the admin panel;
//! - CVV reset of virtual cards (user, admin panel: the admin sees no card data);
//! - set PIN (user; 4 to 6 digits, kept only as the keyed verification value);
//! - corporate physical cards ordered with a PIN (`/secure/cards/physical_with_pin`);
//! - a card just issued, answered with its full data inside JWE when the client asks (`created_card`).
//!
//! Each of these refuses plaintext with `ENCRYPTION_REQUIRED`, after the tenant check (another
//! partner's card is `CARD_NOT_FOUND`, whatever the headers).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cards::{self, CardRequest, IssuedCard, SET_PIN_DIGITS};
use crate::http::Api;
use crate::http::auth::permission::ManageCards;
use crate::http::auth::{Authorized, CustomerSession, PartnerIdentity};
use crate::http::balances::{corporate_balance, program_for};
use crate::http::cards::{CardResponse, user_card};
use crate::http::corporations::approved_corporation;
use crate::http::customers::user;
use crate::http::encryption::{ClientEncryption, EncryptedBody, EncryptedJson, Sealed};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiPath;
use crate::state::{CardId, CardKind, Owner};
use chrono::{Datelike, NaiveDate};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(me_full_card))
        .routes(routes!(secure_full_card))
        .routes(routes!(me_reset_cvv))
        .routes(routes!(admin_reset_cvv))
        .routes(routes!(me_set_pin))
        .routes(routes!(secure_order_physical_card_with_pin))
}

/// A card with its full data: only ever sent inside JWE.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FullCardResponse {
    #[serde(flatten)]
    pub card: CardResponse,
    /// The full PAN.
    #[schema(example = "5399990012345678")]
    pub card_no: String,
    /// The CVC2.
    #[schema(example = "123")]
    pub cvv: String,
    /// The expiry as the last day of its month, YYYY-MM-DD.
    #[schema(example = "2029-11-30")]
    pub exp: String,
}

impl std::fmt::Debug for FullCardResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FullCardResponse")
            .field("card", &self.card)
            .finish_non_exhaustive()
    }
}

/// A PIN to set (inside the JWE).
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPinRequest {
    /// 4 to 6 digits.
    #[schema(example = "1234")]
    pub pin: String,
}

impl std::fmt::Debug for SetPinRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetPinRequest(redacted)")
    }
}

/// A corporate physical card ordered with its PIN (inside the JWE).
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorporatePhysicalWithPinRequest {
    /// The corporation (KYB approved).
    pub dc_corporation_id: i64,
    /// The corporation's balance the card spends from.
    pub balance_id: i64,
    /// The card program (as for virtual cards).
    pub program_id: Option<String>,
    /// 4 to 6 digits.
    #[schema(example = "1234")]
    pub pin: String,
}

impl std::fmt::Debug for CorporatePhysicalWithPinRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorporatePhysicalWithPinRequest")
            .field("dc_corporation_id", &self.dc_corporation_id)
            .field("balance_id", &self.balance_id)
            .finish_non_exhaustive()
    }
}

/// YYMM → the last day of that month, YYYY-MM-DD.
fn expiry_date(yymm: &str) -> String {
    let parsed =
        (yymm.get(..2).and_then(|yy| yy.parse::<i32>().ok())).zip(yymm.get(2..4).and_then(|mm| mm.parse::<u32>().ok()));
    let Some((yy, mm)) = parsed else {
        return String::new();
    };
    let (next_year, next_month) = if mm >= 12 { (2001 + yy, 1) } else { (2000 + yy, mm + 1) };
    NaiveDate::from_ymd_opt(next_year, next_month, 1)
        .and_then(|first| first.pred_opt())
        .map(|last| format!("{:04}-{:02}-{:02}", last.year(), last.month(), last.day()))
        .unwrap_or_default()
}

fn full(card: CardResponse, data: IssuedCard) -> FullCardResponse {
    FullCardResponse {
        card,
        exp: expiry_date(&data.expiry),
        card_no: data.pan,
        cvv: data.cvc2,
    }
}

/// The answer of a card just created: the masked card in plaintext, or, when
/// the client asked for an encrypted answer, its full data inside JWE.
pub(crate) fn created_card(api: &Api, encryption: &ClientEncryption, card: CardResponse) -> Result<Response, ApiError> {
    match encryption.reply_to() {
        None => Ok((StatusCode::CREATED, axum::Json(card)).into_response()),
        Some(key) => {
            let data = cards::reveal(&api.state, card.card_id)?;
            Ok(Sealed {
                status: StatusCode::CREATED,
                value: full(card, data),
                reply_to: key.clone(),
            }
            .into_response())
        }
    }
}

fn pin_digits(pin: &str) -> Result<(), ApiError> {
    if SET_PIN_DIGITS.contains(&pin.len()) && pin.bytes().all(|byte| byte.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::validation("pin", "must be 4 to 6 digits"))
    }
}

/// A card the admin's scope covers (another partner's: `CARD_NOT_FOUND`).
fn admin_card(api: &Api, scope: crate::state::Scope<'_>, card_id: CardId) -> Result<crate::state::Card, ApiError> {
    let card = api
        .state
        .card(card_id)
        .map(|cell| cell.lock().card.clone())
        .filter(|card| card.status != crate::state::CardStatus::Removed)
        .ok_or(ApiError::NotFound("card"))?;
    let partner = api
        .state
        .balance(card.balance_id)
        .map(|cell| cell.snapshot().partner_id)
        .ok_or(ApiError::NotFound("card"))?;
    if !scope.allows(&partner) {
        return Err(ApiError::NotFound("card"));
    }
    Ok(card)
}

/// The card's full data (PAN, expiry, CVC2), encrypted to the `Public-Key`. Needs `Encrypt-Response: true`.
#[utoipa::path(
    get, path = "/customers/me/cards/{cardId}", tag = "encryption",
    security(("session" = [])),
    params(
        ("cardId" = i64, Path, description = "The card's id"),
        ("Public-Key" = String, Header, description = "The client's RSA public key, base64 SubjectPublicKeyInfo"),
        ("Encrypt-Response" = bool, Header, description = "true"),
    ),
    responses(
        (status = 200, description = "`{\"payload\": \"<JWE>\"}`; the plaintext is a FullCardResponse", body = EncryptedBody),
        (status = 400, description = "ENCRYPTION_REQUIRED, INVALID_PUBLIC_KEY", body = ErrorBody),
        (status = 401, description = "SESSION_REQUIRED, SESSION_INVALID or SESSION_EXPIRED", body = ErrorBody),
        (status = 404, description = "CARD_NOT_FOUND", body = ErrorBody),
    )
)]
async fn me_full_card(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(card_id): ApiPath<i64>,
    encryption: ClientEncryption,
) -> Result<Sealed<FullCardResponse>, ApiError> {
    let card = user_card(&api, session.customer_id, card_id)?;
    let reply_to = encryption.require()?;
    let data = cards::reveal(&api.state, card_id)?;
    Ok(Sealed {
        status: StatusCode::OK,
        value: full(CardResponse::from(&card), data),
        reply_to,
    })
}

/// A user's card with its full data (PAN, expiry, CVC2), encrypted to the `Public-Key`.
#[utoipa::path(
    get, path = "/secure/customers/{userId}/cards/{cardId}", tag = "encryption",
    security(("clientCertificate" = [])),
    params(
        ("userId" = i64, Path, description = "The user's id"),
        ("cardId" = i64, Path, description = "The card's id"),
        ("Public-Key" = String, Header, description = "The client's RSA public key, base64 SubjectPublicKeyInfo"),
        ("Encrypt-Response" = bool, Header, description = "true"),
    ),
    responses(
        (status = 200, description = "`{\"payload\": \"<JWE>\"}`; the plaintext is a FullCardResponse", body = EncryptedBody),
        (status = 400, description = "ENCRYPTION_REQUIRED, INVALID_PUBLIC_KEY", body = ErrorBody),
        (status = 404, description = "USER_NOT_FOUND or CARD_NOT_FOUND", body = ErrorBody),
    )
)]
async fn secure_full_card(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath((customer_id, card_id)): ApiPath<(i64, i64)>,
    encryption: ClientEncryption,
) -> Result<Sealed<FullCardResponse>, ApiError> {
    user(&api, partner.scope(), customer_id)?;
    let card = user_card(&api, customer_id, card_id)?;
    let reply_to = encryption.require()?;
    let data = cards::reveal(&api.state, card_id)?;
    Ok(Sealed {
        status: StatusCode::OK,
        value: full(CardResponse::from(&card), data),
        reply_to,
    })
}

/// Gives one of the user's virtual cards a new CVC2 (the one the switch checks from now on); the answer
/// is the card's full data, encrypted.
#[utoipa::path(
    post, path = "/customers/me/cards/{cardId}/cvv", tag = "encryption",
    security(("session" = [])),
    params(
        ("cardId" = i64, Path, description = "The card's id"),
        ("Public-Key" = String, Header, description = "The client's RSA public key, base64 SubjectPublicKeyInfo"),
        ("Encrypt-Response" = bool, Header, description = "true"),
    ),
    responses(
        (status = 200, description = "`{\"payload\": \"<JWE>\"}`; the plaintext is a FullCardResponse with the new CVC2", body = EncryptedBody),
        (status = 400, description = "ENCRYPTION_REQUIRED, INVALID_PUBLIC_KEY", body = ErrorBody),
        (status = 404, description = "CARD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CARD_STATE_INVALID (not a virtual card), CARD_LOCK_IRREVERSIBLE", body = ErrorBody),
    )
)]
async fn me_reset_cvv(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(card_id): ApiPath<i64>,
    encryption: ClientEncryption,
) -> Result<Sealed<FullCardResponse>, ApiError> {
    user_card(&api, session.customer_id, card_id)?;
    let reply_to = encryption.require()?;
    let data = cards::reset_cvc2(&api.state, card_id).await?;
    let card = user_card(&api, session.customer_id, card_id)?;
    Ok(Sealed {
        status: StatusCode::OK,
        value: full(CardResponse::from(&card), data),
        reply_to,
    })
}

/// Gives a virtual card a new CVC2. Roles: Admin, Manager, Employee. The admin panel never sees card
/// data: the (encrypted) answer is the masked card.
#[utoipa::path(
    post, path = "/admin/cards/{cardId}/cvv", tag = "encryption",
    security(("session" = [])),
    params(
        ("cardId" = i64, Path, description = "The card's id"),
        ("Public-Key" = String, Header, description = "The client's RSA public key, base64 SubjectPublicKeyInfo"),
        ("Encrypt-Response" = bool, Header, description = "true"),
    ),
    responses(
        (status = 200, description = "`{\"payload\": \"<JWE>\"}`; the plaintext is a CardResponse", body = EncryptedBody),
        (status = 400, description = "ENCRYPTION_REQUIRED, INVALID_PUBLIC_KEY", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "CARD_NOT_FOUND (also another partner's, for a partner's administrator)", body = ErrorBody),
        (status = 409, description = "CARD_STATE_INVALID (not a virtual card), CARD_LOCK_IRREVERSIBLE", body = ErrorBody),
    )
)]
async fn admin_reset_cvv(
    State(api): State<Api>,
    session: Authorized<ManageCards>,
    ApiPath(card_id): ApiPath<i64>,
    encryption: ClientEncryption,
) -> Result<Sealed<CardResponse>, ApiError> {
    admin_card(&api, session.scope(), card_id)?;
    let reply_to = encryption.require()?;
    cards::reset_cvc2(&api.state, card_id).await?;
    let card = admin_card(&api, session.scope(), card_id)?;
    Ok(Sealed {
        status: StatusCode::OK,
        value: CardResponse::from(&card),
        reply_to,
    })
}

/// Sets the PIN of one of the user's cards: 4 to 6 digits, inside the JWE (`{"pin": "1234"}`). Stored only
/// as a keyed verification value; resets the wrong-PIN counter; the switch checks DE 52 against it.
#[utoipa::path(
    post, path = "/customers/me/cards/{cardId}/pin", tag = "encryption",
    security(("session" = [])),
    params(
        ("cardId" = i64, Path, description = "The card's id"),
        ("Public-Key" = String, Header, description = "The client's RSA public key, base64 SubjectPublicKeyInfo"),
        ("Encrypted-Request" = bool, Header, description = "true"),
    ),
    request_body(content = EncryptedBody, description = "The plaintext is a SetPinRequest"),
    responses(
        (status = 204, description = "Set"),
        (status = 400, description = "ENCRYPTION_REQUIRED, INVALID_PUBLIC_KEY, INVALID_PAYLOAD, CANT_DECRYPT_PAYLOAD, \
            VALIDATION_FAILED (pin)", body = ErrorBody),
        (status = 404, description = "CARD_NOT_FOUND", body = ErrorBody),
    )
)]
async fn me_set_pin(
    State(api): State<Api>,
    session: CustomerSession,
    ApiPath(card_id): ApiPath<i64>,
    request: EncryptedJson<SetPinRequest>,
) -> Result<StatusCode, ApiError> {
    user_card(&api, session.customer_id, card_id)?;
    let (request, _) = request.open(&api)?;
    pin_digits(&request.pin)?;
    cards::set_pin(&api.state, card_id, &request.pin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Orders a physical card for an employee on a corporate balance, with its PIN set at order time (inside
/// the JWE). `ORDERED` now; linked once personalised; then activated.
#[utoipa::path(
    post, path = "/secure/cards/physical_with_pin", tag = "encryption",
    security(("clientCertificate" = [])),
    params(
        ("Public-Key" = String, Header, description = "The client's RSA public key, base64 SubjectPublicKeyInfo"),
        ("Encrypted-Request" = bool, Header, description = "true"),
    ),
    request_body(content = EncryptedBody, description = "The plaintext is a CorporatePhysicalWithPinRequest"),
    responses(
        (status = 201, description = "Ordered: `{\"payload\": \"<JWE>\"}`; the plaintext is a CardResponse", body = EncryptedBody),
        (status = 400, description = "ENCRYPTION_REQUIRED, INVALID_PUBLIC_KEY, INVALID_PAYLOAD, CANT_DECRYPT_PAYLOAD, \
            VALIDATION_FAILED (pin, programId)", body = ErrorBody),
        (status = 404, description = "CORPORATION_NOT_FOUND or BALANCE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "KYB_NOT_APPROVED, BALANCE_NOT_ACTIVE", body = ErrorBody),
    )
)]
async fn secure_order_physical_card_with_pin(
    State(api): State<Api>,
    partner: PartnerIdentity,
    request: EncryptedJson<CorporatePhysicalWithPinRequest>,
) -> Result<Sealed<CardResponse>, ApiError> {
    let (value, reply_to) = request.open(&api)?;
    let corporation = approved_corporation(&api, partner.scope(), value.dc_corporation_id)?;
    let balance = corporate_balance(&api, partner.scope(), value.balance_id)?;
    if balance.owner != Owner::Corporation(corporation.id) {
        return Err(ApiError::NotFound("balance"));
    }
    pin_digits(&value.pin)?;
    let program = program_for(&api, &balance, value.program_id.as_deref())?;
    let issued = cards::issue(
        &api.state,
        balance.id,
        &program.program.id,
        CardRequest {
            kind: Some(CardKind::Physical),
            pin: Some(value.pin.clone()),
        },
    )
    .await?;
    cards::personalization::order_and_link(api.personalization.as_ref(), &api.state, issued.card_id);
    let card = api
        .state
        .card(issued.card_id)
        .map(|cell| cell.lock().card.clone())
        .ok_or(ApiError::NotFound("card"))?;
    Ok(Sealed {
        status: StatusCode::CREATED,
        value: CardResponse::from(&card),
        reply_to,
    })
}

#[cfg(test)]
mod tests {
    use super::expiry_date;

    #[test]
    fn expiry_is_the_last_day_of_the_month() {
        assert_eq!(expiry_date("2911"), "2029-11-30");
        assert_eq!(expiry_date("2802"), "2028-02-29");
        assert_eq!(expiry_date("2712"), "2027-12-31");
        assert_eq!(expiry_date("x"), "");
    }
}
