//! Typed requests: a decoded message checked against the contract.
//!
//! Parsing validates formats and mandatory fields; a problem is the
//! `FieldRef` of the offending field (answered 9100). What the message means
//! (declines) is decided later, in `decision`.

use crate::iso8583::{FieldRef, Message};
use crate::state::TransactionId;

/// What kind of message this is (the MTI without its repeat digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageClass {
    /// 2100: place a hold.
    Authorization,
    /// 2120: the network approved on our behalf; record the hold.
    AuthorizationAdvice,
    /// 2200: post at once.
    Financial,
    /// 2220: completion of an earlier authorization.
    FinancialAdvice,
    /// 2304: card stop list.
    FileUpdate,
    /// 2420: reversal.
    Reversal,
    /// 2804: sign-on, sign-off, echo.
    NetworkManagement,
}

impl MessageClass {
    pub fn from_mti(mti: u16) -> Option<(MessageClass, bool)> {
        let repeat = mti % 10 == 1;
        let class = match mti - u16::from(repeat) {
            2100 => MessageClass::Authorization,
            2120 => MessageClass::AuthorizationAdvice,
            2200 => MessageClass::Financial,
            2220 => MessageClass::FinancialAdvice,
            2304 => MessageClass::FileUpdate,
            2420 => MessageClass::Reversal,
            2804 => MessageClass::NetworkManagement,
            _ => return None,
        };
        Some((class, repeat))
    }
}

/// DE 3 digits 1–2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processing {
    Purchase,
    CashWithdrawal,
    Refund,
    BalanceInquiry,
    /// Any other transaction type (answered 1015).
    Unsupported,
}

/// DE 56: the transaction a completion or reversal refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Original {
    pub mti: u16,
    pub transaction: TransactionId,
}

/// A request the switch can decide on.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub class: MessageClass,
    pub mti: u16,
    pub repeat: bool,
    pub transaction: Option<TransactionId>,
    pub pan: Option<&'a str>,
    pub processing: Option<Processing>,
    /// DE 4, minor units of DE 49.
    pub amount: Option<u64>,
    pub currency: Option<u16>,
    /// DE 6 and DE 51, when the network converted.
    pub billing: Option<(u64, u16)>,
    /// DE 14, YYMM.
    pub expiry: Option<u16>,
    pub merchant_category: Option<u16>,
    /// DE 22 digits 1–2: point of service entry mode (81 = e-commerce).
    pub entry_mode: Option<u8>,
    /// DE 24; see [`function_code`] for the values the contract names.
    pub function_code: Option<u16>,
    pub cvc2: Option<[u8; 3]>,
    pub lock_reason: Option<u8>,
    pub pin_block: Option<[u8; 8]>,
    pub original: Option<Original>,
    pub file_update_code: Option<u8>,
}

impl Request<'_> {
    /// The amount and currency to charge: cardholder billing when present, else the transaction's.
    pub fn charged(&self) -> Option<(u64, u16)> {
        self.billing.or(match (self.amount, self.currency) {
            (Some(amount), Some(currency)) => Some((amount, currency)),
            _ => None,
        })
    }
}

/// Parses a decoded message of a known class; an error names the field.
pub fn parse<'a>(message: &Message<'a>, class: MessageClass, repeat: bool) -> Result<Request<'a>, FieldRef> {
    message.validate().map_err(|error| error.field)?;
    check_mandatory(message, class)?;
    let number = |position: usize| number(message, position);
    let (cvc2, lock_reason) = parse_private_data(message)?;
    let billing = match (number(6)?, number(51)?) {
        (Some(amount), Some(currency)) => Some((amount, currency as u16)),
        (None, None) => None,
        (Some(_), None) => return Err(FieldRef::De(51)),
        (None, Some(_)) => return Err(FieldRef::De(6)),
    };
    let transaction = parse_transaction(message)?;
    let original = message.value(56).map(|value| parse_original(value.wire)).transpose()?;
    // A completion or reversal naming itself as its original would wait for its own answer.
    if let (Some(original), Some(transaction)) = (original, transaction)
        && original.transaction == transaction
    {
        return Err(FieldRef::De(56));
    }
    let expiry = parse_expiry(message)?;
    Ok(Request {
        class,
        mti: message.mti(),
        repeat,
        transaction,
        pan: match message.str(2) {
            Some(pan) if pan.len() < 12 => return Err(FieldRef::De(2)),
            pan => pan,
        },
        processing: message.str(3).map(parse_processing),
        amount: number(4)?,
        currency: number(49)?.map(|code| code as u16),
        billing,
        expiry,
        merchant_category: number(26)?.map(|code| code as u16),
        entry_mode: parse_entry_mode(message)?,
        function_code: number(24)?.map(|code| code as u16),
        cvc2,
        lock_reason,
        pin_block: message.raw(52).and_then(|block| block.try_into().ok()),
        original,
        file_update_code: message.raw(91).and_then(|code| code.first().copied()),
    })
}

/// The fields the contract makes mandatory for each class; the first missing one is the error.
fn check_mandatory(message: &Message<'_>, class: MessageClass) -> Result<(), FieldRef> {
    let mandatory: &[usize] = match class {
        MessageClass::Authorization | MessageClass::AuthorizationAdvice | MessageClass::Financial => {
            &[2, 3, 4, 11, 12, 32, 49]
        }
        MessageClass::FinancialAdvice => &[2, 4, 11, 12, 32, 49, 56],
        MessageClass::Reversal => &[4, 11, 12, 24, 32, 56],
        MessageClass::FileUpdate => &[2, 11, 48, 91],
        MessageClass::NetworkManagement => &[11, 24],
    };
    match mandatory.iter().find(|&&position| !message.has(position)) {
        Some(&missing) => Err(FieldRef::De(missing as u8)),
        None => Ok(()),
    }
}

/// A numeric field's value, if present; not a number is an error naming it.
fn number(message: &Message<'_>, position: usize) -> Result<Option<u64>, FieldRef> {
    match message.value(position) {
        None => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or(FieldRef::De(position as u8)),
    }
}

/// DE 32 + DE 11 + DE 12, when all three are there.
fn parse_transaction(message: &Message<'_>) -> Result<Option<TransactionId>, FieldRef> {
    Ok(match (message.value(32), number(message, 11)?, number(message, 12)?) {
        (Some(acquirer), Some(stan), Some(local_time)) => Some(TransactionId {
            acquirer: acquirer.as_u64().ok_or(FieldRef::De(32))?,
            acquirer_digits: acquirer.logical_len() as u8,
            stan: stan as u32,
            local_time,
        }),
        _ => None,
    })
}

/// DE 14, YYMM with a month from 01 to 12.
fn parse_expiry(message: &Message<'_>) -> Result<Option<u16>, FieldRef> {
    let expiry = number(message, 14)?.map(|yymm| yymm as u16);
    if let Some(yymm) = expiry
        && !(1..=12).contains(&(yymm % 100))
    {
        return Err(FieldRef::De(14));
    }
    Ok(expiry)
}

/// DE 22 digits 1–2, the entry mode.
fn parse_entry_mode(message: &Message<'_>) -> Result<Option<u8>, FieldRef> {
    match message.str(22) {
        Some(mode) => Ok(Some(
            mode.get(..2)
                .and_then(|digits| digits.parse().ok())
                .ok_or(FieldRef::De(22))?,
        )),
        None => Ok(None),
    }
}

fn parse_processing(code: &str) -> Processing {
    match code.get(..2) {
        Some("00") => Processing::Purchase,
        Some("01") => Processing::CashWithdrawal,
        Some("20") => Processing::Refund,
        Some("30") => Processing::BalanceInquiry,
        _ => Processing::Unsupported,
    }
}

/// DE 48 subelements: tag n2, length n2, value. Tag 92 = CVC2 (n3), 93 = lock reason (n2).
fn parse_private_data(message: &Message<'_>) -> Result<(Option<[u8; 3]>, Option<u8>), FieldRef> {
    let malformed = FieldRef::De(48);
    let Some(mut rest) = message.raw(48) else {
        return Ok((None, None));
    };
    let (mut cvc2, mut lock_reason) = (None, None);
    while !rest.is_empty() {
        if rest.len() < 4 || !rest[..4].iter().all(u8::is_ascii_digit) {
            return Err(malformed);
        }
        let tag = (rest[0] - b'0') * 10 + (rest[1] - b'0');
        let length = usize::from((rest[2] - b'0') * 10 + (rest[3] - b'0'));
        let value = rest.get(4..4 + length).ok_or(malformed)?;
        match tag {
            92 => {
                let digits: [u8; 3] = value.try_into().map_err(|_| malformed)?;
                if !digits.iter().all(u8::is_ascii_digit) {
                    return Err(malformed);
                }
                cvc2 = Some(digits);
            }
            93 => {
                if value.is_empty() || value.len() > 2 || !value.iter().all(u8::is_ascii_digit) {
                    return Err(malformed);
                }
                lock_reason = Some(value.iter().fold(0u8, |acc, digit| acc * 10 + (digit - b'0')));
            }
            _ => {}
        }
        rest = &rest[4 + length..];
    }
    Ok((cvc2, lock_reason))
}

/// DE 56: original MTI n4, STAN n6, DE 12 n12, then DE 32 as LL + digits.
fn parse_original(wire: &[u8]) -> Result<Original, FieldRef> {
    let malformed = FieldRef::De(56);
    let digits = |range: std::ops::Range<usize>| -> Result<u64, FieldRef> {
        let slice = wire.get(range).ok_or(malformed)?;
        std::str::from_utf8(slice)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or(malformed)
    };
    let mti = digits(0..4)? as u16;
    let stan = digits(4..10)? as u32;
    let local_time = digits(10..22)?;
    let acquirer_digits = digits(22..24)? as usize;
    if acquirer_digits == 0 || acquirer_digits > 11 || wire.len() != 24 + acquirer_digits {
        return Err(malformed);
    }
    let acquirer = digits(24..24 + acquirer_digits)?;
    Ok(Original {
        mti,
        transaction: TransactionId {
            acquirer,
            acquirer_digits: acquirer_digits as u8,
            stan,
            local_time,
        },
    })
}

/// DE 24 function codes, as the contract names them.
pub mod function_code {
    /// 2100: an original authorization.
    pub const ORIGINAL_AUTHORIZATION: u16 = 100;
    /// 2420: the whole original is reversed.
    pub const FULL_REVERSAL: u16 = 400;
    /// 2420: the original is reversed down to DE 4 (what remains).
    pub const PARTIAL_REVERSAL: u16 = 401;
    /// 2804 network management.
    pub const SIGN_ON: u16 = 801;
    pub const SIGN_OFF: u16 = 802;
    pub const ECHO_TEST: u16 = 831;
}
