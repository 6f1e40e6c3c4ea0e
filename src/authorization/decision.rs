//! Decisions: pure, synchronous functions of a request, a card's facts and
//! the time. No locks, no I/O, no clock of their own — `now` is passed in, so
//! every rule here is tested directly and replayed deterministically.

use chrono::Datelike;
use rust_decimal::Decimal;

use super::ActionCode;
use super::request::{Processing, Request};
use crate::crypto::CardKeys;
use crate::crypto::pin_block::ZonePinKey;
use crate::state::{CardKind, CardStatus, LockReason, TimestampMs};

/// The action code a card lock answers (network-interface.md, "Card lock reasons").
pub fn lock_action(reason: LockReason) -> ActionCode {
    match reason {
        LockReason::Lost => ActionCode::LostCardPickUp,
        LockReason::Stolen => ActionCode::StolenCardPickUp,
        LockReason::PendingQuery => ActionCode::DoNotHonour,
        LockReason::Consolidation => ActionCode::NotSufficientFunds,
        LockReason::Inactive => ActionCode::CardNotActive,
        LockReason::PinTriesExceeded | LockReason::OfflinePinTriesExceeded => ActionCode::PinTriesExceeded,
        LockReason::SuspectedFraud => ActionCode::SuspectedFraud,
        LockReason::Replaced => ActionCode::InvalidCardNumber,
    }
}

/// What the decision needs to know of a card.
#[derive(Debug, Clone, Copy)]
pub struct CardFacts<'a> {
    pub kind: CardKind,
    pub status: CardStatus,
    /// YYMM.
    pub expiry: &'a str,
    pub pin_tries: u32,
    pub cvc_encrypted: &'a [u8],
    pub pin_verification: Option<&'a [u8; 32]>,
}

/// The keys and limits card checks use.
#[derive(Debug, Clone, Copy)]
pub struct CardSecrets<'a> {
    pub keys: &'a CardKeys,
    pub zone_pin_key: &'a ZonePinKey,
    pub pin_tries_max: u32,
}

/// The outcome of the card checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardVerdict {
    /// Go on to funding. `reset_pin_tries`: a correct PIN after wrong ones.
    Pass {
        reset_pin_tries: bool,
    },
    Decline(ActionCode),
    /// A wrong PIN: the card's tries become `tries`; at the limit it locks (1006), else 1017.
    WrongPin {
        tries: u32,
        locks: bool,
    },
}

/// YYMM of a moment (UTC).
pub fn year_month(now: TimestampMs) -> u16 {
    let moment = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
    ((moment.year() % 100) * 100 + moment.month() as i32) as u16
}

/// Card checks in the contract's order: status, activation, expiry, CVC2, PIN.
pub fn check_card(
    request: &Request<'_>,
    card: &CardFacts<'_>,
    now: TimestampMs,
    secrets: &CardSecrets<'_>,
) -> CardVerdict {
    match card.status {
        CardStatus::Active => {}
        CardStatus::Locked(reason) => return CardVerdict::Decline(lock_action(reason)),
        CardStatus::Ordered | CardStatus::Linked => return CardVerdict::Decline(ActionCode::CardNotActive),
        CardStatus::Removed => return CardVerdict::Decline(ActionCode::InvalidCardNumber),
    }
    debug_assert!(card.kind == CardKind::Virtual || card.status == CardStatus::Active);
    let card_expiry: u16 = card.expiry.parse().unwrap_or(0);
    if year_month(now) > card_expiry || request.expiry.is_some_and(|expiry| expiry != card_expiry) {
        return CardVerdict::Decline(ActionCode::ExpiredCard);
    }
    if let Some(cvc2) = request.cvc2 {
        let matches = secrets
            .keys
            .decrypt(card.cvc_encrypted)
            .is_ok_and(|stored| crate::crypto::secrets_equal(&stored, &cvc2));
        if !matches {
            return CardVerdict::Decline(ActionCode::SuspectedCounterfeit);
        }
    }
    let Some(pin_block) = request.pin_block else {
        return CardVerdict::Pass { reset_pin_tries: false };
    };
    let pan = request.pan.unwrap_or_default().as_bytes();
    let correct = match (card.pin_verification, secrets.zone_pin_key.decrypt_pin(&pin_block, pan)) {
        (Some(verification), Ok(pin)) => secrets.keys.pin_matches(pan, pin.as_bytes(), verification),
        // No PIN set, or a block that is not format 0 under our key: a wrong PIN.
        _ => false,
    };
    if correct {
        return CardVerdict::Pass {
            reset_pin_tries: card.pin_tries > 0,
        };
    }
    let tries = card.pin_tries + 1;
    CardVerdict::WrongPin {
        tries,
        locks: tries >= secrets.pin_tries_max,
    }
}

/// A billing amount converted into the balance's currency with the platform's rate table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    /// The billing amount and its ISO 4217 numeric currency.
    pub original: (i64, u16),
    /// Units of the balance currency per unit of the billing currency.
    pub rate: Decimal,
}

/// What to charge, in minor units of the balance's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charged {
    pub amount: i64,
    pub conversion: Option<Conversion>,
}

/// The amount to charge in the balance's currency, or the decline. A billing currency other than
/// the balance's is converted at `rate(billing currency)` (the rate table at `now`); no rate: 1015.
pub fn charged_amount(
    request: &Request<'_>,
    balance_currency: u16,
    rate: impl FnOnce(u16) -> Option<Decimal>,
) -> Result<Charged, ActionCode> {
    let (amount, currency) = request.charged().ok_or(ActionCode::MessageError)?;
    let needs_amount = matches!(
        request.processing,
        Some(Processing::Purchase | Processing::CashWithdrawal | Processing::Refund)
    );
    if needs_amount && amount == 0 {
        return Err(ActionCode::InvalidAmount);
    }
    let amount = i64::try_from(amount).map_err(|_| ActionCode::InvalidAmount)?;
    if currency == balance_currency {
        return Ok(Charged {
            amount,
            conversion: None,
        });
    }
    let rate = rate(currency).ok_or(ActionCode::FunctionNotSupported)?;
    let converted = convert_at(amount, currency, balance_currency, rate).ok_or(ActionCode::InvalidAmount)?;
    Ok(Charged {
        amount: converted,
        conversion: Some(Conversion {
            original: (amount, currency),
            rate,
        }),
    })
}

/// `amount` minor units of `from` in minor units of `to` at `rate` (ISO 4217 numeric codes).
pub fn convert_at(amount: i64, from: u16, to: u16, rate: Decimal) -> Option<i64> {
    let from = crate::domain::money::Currency::from_numeric(from)?;
    let to = crate::domain::money::Currency::from_numeric(to)?;
    crate::domain::fees::fx::convert(amount, &from, &to, rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization::request::MessageClass;
    use crate::crypto::pin_block::ClearPin;

    const PAN: &str = "5399990012345678";
    // 2026-11-24T12:00:00Z
    const NOW: TimestampMs = 1_795_521_600_000;

    fn request() -> Request<'static> {
        Request {
            class: MessageClass::Authorization,
            mti: 2100,
            repeat: false,
            transaction: None,
            pan: Some(PAN),
            processing: Some(Processing::Purchase),
            amount: Some(1000),
            currency: Some(978),
            billing: None,
            expiry: None,
            merchant_category: None,
            entry_mode: None,
            function_code: Some(crate::authorization::request::function_code::ORIGINAL_AUTHORIZATION),
            cvc2: None,
            lock_reason: None,
            pin_block: None,
            original: None,
            file_update_code: None,
        }
    }

    struct Fixture {
        keys: CardKeys,
        zpk: ZonePinKey,
        cvc: Vec<u8>,
        pin: [u8; 32],
    }

    fn fixture() -> Fixture {
        let keys = CardKeys::new(&[1; 32], &[2; 32]).unwrap();
        let cvc = keys.encrypt(b"123");
        let pin = keys.pin_verification(PAN.as_bytes(), b"4321");
        Fixture {
            keys,
            zpk: ZonePinKey::new(&[3; 16]).unwrap(),
            cvc,
            pin,
        }
    }

    fn facts(fixture: &Fixture, status: CardStatus, tries: u32) -> CardFacts<'_> {
        CardFacts {
            kind: CardKind::Virtual,
            status,
            expiry: "2811",
            pin_tries: tries,
            cvc_encrypted: &fixture.cvc,
            pin_verification: Some(&fixture.pin),
        }
    }

    fn check(fixture: &Fixture, request: &Request<'_>, status: CardStatus, tries: u32) -> CardVerdict {
        let secrets = CardSecrets {
            keys: &fixture.keys,
            zone_pin_key: &fixture.zpk,
            pin_tries_max: 3,
        };
        check_card(request, &facts(fixture, status, tries), NOW, &secrets)
    }

    #[test]
    fn every_lock_reason_answers_its_action_code() {
        let fixture = fixture();
        let table = [
            (1, "2008"),
            (2, "2009"),
            (3, "1000"),
            (4, "1016"),
            (5, "1018"),
            (6, "1006"),
            (7, "1002"),
            (8, "1011"),
            (11, "1006"),
        ];
        for (code, action) in table {
            let reason = LockReason::from_code(code).unwrap();
            let verdict = check(&fixture, &request(), CardStatus::Locked(reason), 0);
            assert_eq!(
                verdict,
                CardVerdict::Decline(ActionCode::from_code(action.as_bytes()).unwrap()),
                "{code}"
            );
        }
    }

    #[test]
    fn inactive_expired_and_counterfeit_are_declined() {
        let fixture = fixture();
        assert_eq!(
            check(&fixture, &request(), CardStatus::Linked, 0),
            CardVerdict::Decline(ActionCode::CardNotActive)
        );
        let mut wrong_expiry = request();
        wrong_expiry.expiry = Some(2812);
        assert_eq!(
            check(&fixture, &wrong_expiry, CardStatus::Active, 0),
            CardVerdict::Decline(ActionCode::ExpiredCard)
        );
        let secrets = CardSecrets {
            keys: &fixture.keys,
            zone_pin_key: &fixture.zpk,
            pin_tries_max: 3,
        };
        let mut expired = facts(&fixture, CardStatus::Active, 0);
        expired.expiry = "2610";
        assert_eq!(
            check_card(&request(), &expired, NOW, &secrets),
            CardVerdict::Decline(ActionCode::ExpiredCard)
        );
        expired.expiry = "2611";
        assert_eq!(
            check_card(&request(), &expired, NOW, &secrets),
            CardVerdict::Pass { reset_pin_tries: false }
        );
        let mut bad_cvc = request();
        bad_cvc.cvc2 = Some(*b"124");
        assert_eq!(
            check(&fixture, &bad_cvc, CardStatus::Active, 0),
            CardVerdict::Decline(ActionCode::SuspectedCounterfeit)
        );
        bad_cvc.cvc2 = Some(*b"123");
        assert_eq!(
            check(&fixture, &bad_cvc, CardStatus::Active, 0),
            CardVerdict::Pass { reset_pin_tries: false }
        );
    }

    #[test]
    fn pin_tries_count_up_to_the_lock_and_reset_on_success() {
        let fixture = fixture();
        let mut wrong = request();
        wrong.pin_block = Some(
            fixture
                .zpk
                .encrypt_pin(&ClearPin::new(b"0000").unwrap(), PAN.as_bytes())
                .unwrap(),
        );
        assert_eq!(
            check(&fixture, &wrong, CardStatus::Active, 0),
            CardVerdict::WrongPin { tries: 1, locks: false }
        );
        assert_eq!(
            check(&fixture, &wrong, CardStatus::Active, 2),
            CardVerdict::WrongPin { tries: 3, locks: true }
        );
        let mut right = request();
        right.pin_block = Some(
            fixture
                .zpk
                .encrypt_pin(&ClearPin::new(b"4321").unwrap(), PAN.as_bytes())
                .unwrap(),
        );
        assert_eq!(
            check(&fixture, &right, CardStatus::Active, 2),
            CardVerdict::Pass { reset_pin_tries: true }
        );
        assert_eq!(
            check(&fixture, &right, CardStatus::Active, 0),
            CardVerdict::Pass { reset_pin_tries: false }
        );
    }

    #[test]
    fn amounts_need_a_value_and_a_rate_for_another_currency() {
        let mut request = request();
        let no_rate = |_| None;
        let same = |amount| {
            Ok(Charged {
                amount,
                conversion: None,
            })
        };
        assert_eq!(charged_amount(&request, 978, no_rate), same(1000));
        assert_eq!(
            charged_amount(&request, 840, no_rate),
            Err(ActionCode::FunctionNotSupported)
        );
        // 10.00 EUR at 1.0815 USD per EUR = 10.815 USD → 10.82 (half to even: 1081.5 → 1082).
        let converted = charged_amount(&request, 840, |from| (from == 978).then(|| Decimal::new(10815, 4)));
        assert_eq!(
            converted,
            Ok(Charged {
                amount: 1082,
                conversion: Some(Conversion {
                    original: (1000, 978),
                    rate: Decimal::new(10815, 4)
                })
            })
        );
        request.billing = Some((1100, 840));
        assert_eq!(charged_amount(&request, 840, no_rate), same(1100));
        request.billing = None;
        request.amount = Some(0);
        assert_eq!(charged_amount(&request, 978, no_rate), Err(ActionCode::InvalidAmount));
        request.processing = Some(Processing::BalanceInquiry);
        assert_eq!(charged_amount(&request, 978, no_rate), same(0));
    }
}
