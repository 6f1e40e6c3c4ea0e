//! Cards: issuing (PAN, expiry, CVC2), locking and unlocking, activation, PINs.
//!
//! PANs come from the program's BIN, a CSPRNG and the Luhn check digit, and
//! are unique; they are stored only encrypted and as a keyed hash. Every
//! operation is one durable submission; card updates wait for a card update
//! already in flight, so updates commit in the order they were decided.

pub mod personalization;

use chrono::{Datelike, Months};
use rand::RngExt;

use crate::crypto::pin_block::ClearPin;
use crate::state::{
    BalanceKind, BalanceState, Card, CardCell, CardId, CardKind, CardStatus, CardUpdate, Change, IdKind, JournalError,
    LockReason, Release, State, Submission,
};

/// Digits of the PANs Antaca issues.
pub const PAN_LENGTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("card not found")]
    NotFound,
    #[error("balance not found or not usable for cards")]
    Balance,
    #[error("program not found")]
    Program,
    #[error("the balance's currency is not the program's")]
    CurrencyMismatch,
    #[error("no free card number left in the program's BIN range")]
    NumbersExhausted,
    #[error("the card was locked with an irreversible reason")]
    Irreversible,
    #[error("the card is not in a state that allows this")]
    InvalidState,
    #[error("a PIN must be 4 to 12 digits")]
    InvalidPin,
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A card just issued: the only moment its full data leaves the platform
/// in clear, to be delivered encrypted by the caller. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCard {
    pub card_id: CardId,
    pub pan: String,
    /// YYMM.
    pub expiry: String,
    pub cvc2: String,
}

impl std::fmt::Debug for IssuedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCard")
            .field("card_id", &self.card_id)
            .field("pan", &crate::crypto::mask_pan(&self.pan))
            .finish_non_exhaustive()
    }
}

/// The Luhn check digit of `digits` (ASCII).
pub fn luhn_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(index, digit)| {
            let value = u32::from(digit - b'0');
            if index % 2 == 0 {
                let doubled = value * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                value
            }
        })
        .sum();
    b'0' + ((10 - sum % 10) % 10) as u8
}

pub fn luhn_valid(pan: &[u8]) -> bool {
    pan.len() >= 2
        && pan.iter().all(u8::is_ascii_digit)
        && luhn_check_digit(&pan[..pan.len() - 1]) == pan[pan.len() - 1]
}

/// Options of a new card.
#[derive(Debug, Clone, Default)]
pub struct CardRequest {
    pub kind: Option<CardKind>,
    /// A PIN to set at issue (physical cards "with PIN").
    pub pin: Option<String>,
}

/// Issues a card on a balance under a program. Virtual cards are active at
/// once; physical cards start `Ordered` and must be linked and activated.
pub async fn issue(
    state: &State,
    balance_id: i64,
    program_id: &str,
    request: CardRequest,
) -> Result<IssuedCard, CardError> {
    issue_with(state, balance_id, program_id, request, |_| Vec::new()).await
}

/// As [`issue`], committing `also(card_id)` in the same submission as the card (e.g. the record of
/// the asynchronous request it answers: both are stored, or neither).
pub async fn issue_with(
    state: &State,
    balance_id: i64,
    program_id: &str,
    request: CardRequest,
    also: impl FnOnce(CardId) -> Vec<Change>,
) -> Result<IssuedCard, CardError> {
    let program = state.program(program_id).ok_or(CardError::Program)?;
    let balance = state.balance(balance_id).ok_or(CardError::Balance)?;
    if !matches!(balance.kind, BalanceKind::User | BalanceKind::Corporate)
        || balance.lock().state != BalanceState::Active
    {
        return Err(CardError::Balance);
    }
    if balance.currency != program.program.currency {
        return Err(CardError::CurrencyMismatch);
    }
    let pin = request
        .pin
        .as_deref()
        .map(|pin| ClearPin::new(pin.as_bytes()))
        .transpose()
        .map_err(|_| CardError::InvalidPin)?;
    // Held until the card is committed and in memory: another issue under way cannot take this
    // number meanwhile (a duplicate would fail the whole group commit, other people's changes too).
    let (pan, _pan_reservation) = unused_pan(state, &program.program.bin)?;
    let now = state.now_ms();
    let expiry = expiry_yymm(now, program.program.validity_months);
    let cvc2 = format!("{:03}", rand::rng().random_range(0..1000u16));
    let kind = request.kind.unwrap_or(CardKind::Virtual);
    let keys = state.keys();
    let card = Card {
        id: state.next_id(IdKind::Card),
        balance_id,
        program_id: program_id.to_owned(),
        kind,
        status: if kind == CardKind::Virtual {
            CardStatus::Active
        } else {
            CardStatus::Ordered
        },
        pan_hash: keys.pan_hash(pan.as_bytes()),
        pan_encrypted: keys.encrypt(pan.as_bytes()),
        pan_first6: pan[..6].to_owned(),
        pan_last4: pan[pan.len() - 4..].to_owned(),
        expiry: expiry.clone(),
        cvc_encrypted: keys.encrypt(cvc2.as_bytes()),
        pin_verification: pin.map(|pin| keys.pin_verification(pan.as_bytes(), pin.as_bytes())),
        pin_tries: 0,
        created_at: now,
    };
    let card_id = card.id;
    let mut submission = Submission::default();
    submission.push(Change::InsertCard(card));
    for change in also(card_id) {
        submission.push(change);
    }
    crate::fees::events::charge_event(
        state,
        &mut submission,
        &program,
        &balance,
        crate::fees::FeeType::CardCreation,
        Some(card_id),
    );
    state.submit(submission).await?;
    Ok(IssuedCard {
        card_id,
        pan,
        expiry,
        cvc2,
    })
}

/// A random, Luhn-valid PAN in the BIN that no card has and no other issue under way has chosen,
/// with the reservation that keeps it so.
fn unused_pan(state: &State, bin: &str) -> Result<(String, crate::state::Reservation), CardError> {
    let mut rng = rand::rng();
    for _ in 0..64 {
        let mut digits: Vec<u8> = bin.bytes().collect();
        while digits.len() < PAN_LENGTH - 1 {
            digits.push(b'0' + rng.random_range(0..10u8));
        }
        let check = luhn_check_digit(&digits);
        digits.push(check);
        let pan = String::from_utf8(digits).expect("digits are ASCII");
        if state.card_by_pan(pan.as_bytes()).is_some() {
            continue;
        }
        // Keyed by the look-up hash, so no card number sits in the reservation set.
        let key = format!("pan:{}", hex::encode(state.keys().pan_hash(pan.as_bytes())));
        if let Some(reservation) = state.reserve(key) {
            return Ok((pan, reservation));
        }
    }
    Err(CardError::NumbersExhausted)
}

/// YYMM of the last month of validity: `validity_months` after issue.
fn expiry_yymm(now_ms: i64, validity_months: u32) -> String {
    let issued = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    let expires = issued
        .checked_add_months(Months::new(validity_months))
        .unwrap_or(issued);
    format!("{:02}{:02}", expires.year() % 100, expires.month())
}

/// Applies `change` to a card's latest state as one durable update, waiting
/// first for any update of the card still in flight.
async fn update_card(
    state: &State,
    card_id: CardId,
    change: impl Fn(&CardUpdate) -> Result<Option<CardUpdate>, CardError>,
) -> Result<(), CardError> {
    let cell: std::sync::Arc<CardCell> = state.card(card_id).ok_or(CardError::NotFound)?;
    loop {
        let changed = cell.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let submission = {
            let mut entry = cell.lock();
            if entry.pending.is_some() {
                None
            } else {
                let Some(update) = change(&entry.latest_update())? else {
                    return Ok(());
                };
                entry.pending = Some(update.clone());
                let mut submission = Submission::default();
                submission
                    .push(Change::UpdateCard(update))
                    .release(Release::Card(cell.clone()));
                Some(submission)
            }
        };
        match submission {
            Some(submission) => return Ok(state.submit(submission).await?),
            None => changed.await,
        }
    }
}

/// Locks a card with a reason; a card locked irreversibly stays as it is.
pub async fn lock(state: &State, card_id: CardId, reason: LockReason) -> Result<(), CardError> {
    update_card(state, card_id, |current| match current.status {
        CardStatus::Locked(existing) if existing.is_irreversible() => Err(CardError::Irreversible),
        CardStatus::Removed => Err(CardError::InvalidState),
        _ => Ok(Some(CardUpdate {
            status: CardStatus::Locked(reason),
            ..current.clone()
        })),
    })
    .await
}

/// Unlocks a card locked for a reversible reason.
pub async fn unlock(state: &State, card_id: CardId) -> Result<(), CardError> {
    update_card(state, card_id, |current| match current.status {
        CardStatus::Locked(reason) if reason.is_irreversible() => Err(CardError::Irreversible),
        // PIN-tries locks clear the counter with the lock.
        CardStatus::Locked(_) => Ok(Some(CardUpdate {
            status: CardStatus::Active,
            pin_tries: 0,
            ..current.clone()
        })),
        CardStatus::Active => Ok(None),
        _ => Err(CardError::InvalidState),
    })
    .await
}

/// Removes a card for good: it can never be used, unlocked or restored.
pub async fn remove(state: &State, card_id: CardId) -> Result<(), CardError> {
    update_card(state, card_id, |current| match current.status {
        CardStatus::Removed => Err(CardError::NotFound),
        _ => Ok(Some(CardUpdate {
            status: CardStatus::Removed,
            ..current.clone()
        })),
    })
    .await
}

/// Links an ordered physical card (personalised) to its user.
pub async fn link(state: &State, card_id: CardId) -> Result<(), CardError> {
    update_card(state, card_id, |current| match current.status {
        CardStatus::Ordered => Ok(Some(CardUpdate {
            status: CardStatus::Linked,
            ..current.clone()
        })),
        _ => Err(CardError::InvalidState),
    })
    .await
}

/// Activates a linked physical card.
pub async fn activate(state: &State, card_id: CardId) -> Result<(), CardError> {
    update_card(state, card_id, |current| match current.status {
        CardStatus::Linked => Ok(Some(CardUpdate {
            status: CardStatus::Active,
            ..current.clone()
        })),
        CardStatus::Active => Ok(None),
        _ => Err(CardError::InvalidState),
    })
    .await
}

/// Digits of a PIN a cardholder sets.
pub const SET_PIN_DIGITS: std::ops::RangeInclusive<usize> = 4..=6;

/// Sets a card's PIN, 4 to 6 digits (stored only as its keyed verification
/// value, which the switch checks DE 52 against); resets the tries.
pub async fn set_pin(state: &State, card_id: CardId, pin: &str) -> Result<(), CardError> {
    if !SET_PIN_DIGITS.contains(&pin.len()) {
        return Err(CardError::InvalidPin);
    }
    let pin = ClearPin::new(pin.as_bytes()).map_err(|_| CardError::InvalidPin)?;
    let cell = state.card(card_id).ok_or(CardError::NotFound)?;
    let pan_encrypted = cell.lock().card.pan_encrypted.clone();
    let pan = state
        .keys()
        .decrypt(&pan_encrypted)
        .map_err(|_| CardError::InvalidState)?;
    let verification = state.keys().pin_verification(&pan, pin.as_bytes());
    update_card(state, card_id, |current| match current.status {
        CardStatus::Removed => Err(CardError::InvalidState),
        _ => Ok(Some(CardUpdate {
            pin_verification: Some(verification),
            pin_tries: 0,
            ..current.clone()
        })),
    })
    .await
}

/// A card's full data (PAN, expiry, CVC2), decrypted for delivery over JWE.
pub fn reveal(state: &State, card_id: CardId) -> Result<IssuedCard, CardError> {
    let card = state.card(card_id).ok_or(CardError::NotFound)?.lock().card.clone();
    if card.status == CardStatus::Removed {
        return Err(CardError::NotFound);
    }
    let keys = state.keys();
    let clear = |sealed: &[u8]| {
        keys.decrypt(sealed)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(CardError::InvalidState)
    };
    Ok(IssuedCard {
        card_id,
        pan: clear(&card.pan_encrypted)?,
        expiry: card.expiry,
        cvc2: clear(&card.cvc_encrypted)?,
    })
}

/// Gives a virtual card a new random CVC2: the one the switch checks from the
/// moment this returns. Returns the card's full data with it.
pub async fn reset_cvc2(state: &State, card_id: CardId) -> Result<IssuedCard, CardError> {
    let cvc2 = format!("{:03}", rand::rng().random_range(0..1000u16));
    let sealed = state.keys().encrypt(cvc2.as_bytes());
    let cell = state.card(card_id).ok_or(CardError::NotFound)?;
    if cell.lock().card.kind != CardKind::Virtual {
        return Err(CardError::InvalidState);
    }
    update_card(state, card_id, |current| match current.status {
        CardStatus::Removed => Err(CardError::NotFound),
        CardStatus::Locked(reason) if reason.is_irreversible() => Err(CardError::Irreversible),
        _ => Ok(Some(CardUpdate {
            cvc_encrypted: sealed.clone(),
            ..current.clone()
        })),
    })
    .await?;
    let mut card = reveal(state, card_id)?;
    card.cvc2 = cvc2;
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_digits_match_known_numbers() {
        assert!(luhn_valid(b"4111111111111111"));
        assert!(luhn_valid(b"5555555555554444"));
        assert!(!luhn_valid(b"5555555555554445"));
        assert_eq!(luhn_check_digit(b"7992739871"), b'3');
    }

    #[test]
    fn expiry_is_validity_months_after_issue() {
        // 2026-11-24
        assert_eq!(expiry_yymm(1_795_521_600_000, 36), "2911");
        assert_eq!(expiry_yymm(1_795_521_600_000, 2), "2701");
    }
}
