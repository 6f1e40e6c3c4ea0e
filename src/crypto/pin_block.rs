//! ISO 9564-1 format 0 PIN blocks under a triple-DES zone PIN key.
//!
//! Format 0: the clear block is `0 ‖ PIN length ‖ PIN digits ‖ F padding`
//! XOR `0000 ‖ the 12 rightmost PAN digits excluding the check digit`.

use des::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::{TdesEde2, TdesEde3};

/// A zone PIN key: double-length (2-key) or triple-length (3-key) 3DES.
#[derive(Clone)]
pub enum ZonePinKey {
    Double(TdesEde2),
    Triple(TdesEde3),
}

impl std::fmt::Debug for ZonePinKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ZonePinKey(redacted)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PinBlockError {
    #[error("the zone PIN key must be 16 or 24 bytes")]
    KeyLength,
    #[error("the PAN is too short for a format 0 PIN block")]
    Pan,
    #[error("the PIN block is not a valid format 0 block")]
    Format,
    #[error("a PIN must be 4 to 12 digits")]
    Pin,
}

/// A clear PIN, 4 to 12 digits, kept on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ClearPin {
    digits: [u8; 12],
    len: u8,
}

impl std::fmt::Debug for ClearPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClearPin(redacted)")
    }
}

impl ClearPin {
    pub fn new(pin: &[u8]) -> Result<ClearPin, PinBlockError> {
        if !(4..=12).contains(&pin.len()) || !pin.iter().all(u8::is_ascii_digit) {
            return Err(PinBlockError::Pin);
        }
        let mut digits = [0u8; 12];
        digits[..pin.len()].copy_from_slice(pin);
        Ok(ClearPin {
            digits,
            len: pin.len() as u8,
        })
    }

    /// The PIN's ASCII digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[..self.len as usize]
    }
}

impl ZonePinKey {
    pub fn new(key: &[u8]) -> Result<ZonePinKey, PinBlockError> {
        match key.len() {
            16 => TdesEde2::new_from_slice(key).map(ZonePinKey::Double),
            24 => TdesEde3::new_from_slice(key).map(ZonePinKey::Triple),
            _ => return Err(PinBlockError::KeyLength),
        }
        .map_err(|_| PinBlockError::KeyLength)
    }

    fn decrypt(&self, block: &mut [u8; 8]) {
        let block: &mut des::cipher::Block<TdesEde3> = block.into();
        match self {
            ZonePinKey::Double(cipher) => cipher.decrypt_block(block),
            ZonePinKey::Triple(cipher) => cipher.decrypt_block(block),
        }
    }

    fn encrypt(&self, block: &mut [u8; 8]) {
        let block: &mut des::cipher::Block<TdesEde3> = block.into();
        match self {
            ZonePinKey::Double(cipher) => cipher.encrypt_block(block),
            ZonePinKey::Triple(cipher) => cipher.encrypt_block(block),
        }
    }

    /// Decrypts a format 0 PIN block for `pan` and returns the clear PIN.
    pub fn decrypt_pin(&self, encrypted: &[u8; 8], pan: &[u8]) -> Result<ClearPin, PinBlockError> {
        let mut block = *encrypted;
        self.decrypt(&mut block);
        let pan_field = pan_field(pan)?;
        for (byte, pan_byte) in block.iter_mut().zip(pan_field) {
            *byte ^= pan_byte;
        }
        let nibble = |index: usize| {
            if index.is_multiple_of(2) {
                block[index / 2] >> 4
            } else {
                block[index / 2] & 0x0F
            }
        };
        let length = nibble(1) as usize;
        if nibble(0) != 0 || !(4..=12).contains(&length) {
            return Err(PinBlockError::Format);
        }
        let mut digits = [0u8; 12];
        for (index, digit) in digits.iter_mut().enumerate().take(length) {
            let value = nibble(2 + index);
            if value > 9 {
                return Err(PinBlockError::Format);
            }
            *digit = b'0' + value;
        }
        if (2 + length..16).any(|index| nibble(index) != 0x0F) {
            return Err(PinBlockError::Format);
        }
        Ok(ClearPin {
            digits,
            len: length as u8,
        })
    }

    /// Builds the encrypted format 0 PIN block of `pin` for `pan` (what a terminal or the network sends).
    pub fn encrypt_pin(&self, pin: &ClearPin, pan: &[u8]) -> Result<[u8; 8], PinBlockError> {
        let mut nibbles = [0x0Fu8; 16];
        nibbles[0] = 0;
        nibbles[1] = pin.len;
        for (slot, digit) in nibbles[2..].iter_mut().zip(pin.as_bytes()) {
            *slot = digit - b'0';
        }
        let mut block = [0u8; 8];
        for (index, byte) in block.iter_mut().enumerate() {
            *byte = nibbles[2 * index] << 4 | nibbles[2 * index + 1];
        }
        for (byte, pan_byte) in block.iter_mut().zip(pan_field(pan)?) {
            *byte ^= pan_byte;
        }
        self.encrypt(&mut block);
        Ok(block)
    }
}

/// `0000` followed by the 12 rightmost PAN digits excluding the check digit, packed.
fn pan_field(pan: &[u8]) -> Result<[u8; 8], PinBlockError> {
    if pan.len() < 13 || !pan.iter().all(u8::is_ascii_digit) {
        return Err(PinBlockError::Pan);
    }
    let digits = &pan[pan.len() - 13..pan.len() - 1];
    let mut field = [0u8; 8];
    for (index, pair) in digits.chunks(2).enumerate() {
        field[2 + index] = (pair[0] - b'0') << 4 | (pair[1] - b'0');
    }
    Ok(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A published ISO 9564 format 0 example: PIN 1234, PAN 4111111111111111,
    /// clear block 041234FFFFFFFFFF XOR 0000111111111111 = 041225EEEEEEEEEE.
    #[test]
    fn format_0_clear_block_matches_the_standard_example() {
        assert_eq!(
            pan_field(b"4111111111111111").unwrap(),
            [0, 0, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11]
        );
        // With a key whose halves are equal, 2-key 3DES is single DES; check
        // the round trip and the clear block through decrypt.
        let key = ZonePinKey::new(&hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap()).unwrap();
        let pin = ClearPin::new(b"1234").unwrap();
        let encrypted = key.encrypt_pin(&pin, b"4111111111111111").unwrap();
        let mut clear = encrypted;
        key.decrypt(&mut clear);
        assert_eq!(hex::encode_upper(clear), "041225EEEEEEEEEE");
        assert_eq!(key.decrypt_pin(&encrypted, b"4111111111111111").unwrap(), pin);
    }

    #[test]
    fn tdes_matches_a_known_vector() {
        // Single-DES known answer (key 0123456789ABCDEF, plaintext 4E6F772069732074 → 3FA40E8A984D4815),
        // run through 2-key 3DES with K1 = K2, which reduces to single DES.
        let key = ZonePinKey::new(&hex::decode("0123456789ABCDEF0123456789ABCDEF").unwrap()).unwrap();
        let mut block: [u8; 8] = hex::decode("4E6F772069732074").unwrap().try_into().unwrap();
        key.encrypt(&mut block);
        assert_eq!(hex::encode_upper(block), "3FA40E8A984D4815");
    }

    #[test]
    fn wrong_key_or_pan_does_not_yield_the_pin() {
        let key = ZonePinKey::new(&[0x11; 16]).unwrap();
        let other = ZonePinKey::new(&[0x22; 16]).unwrap();
        let pin = ClearPin::new(b"9876").unwrap();
        let encrypted = key.encrypt_pin(&pin, b"5399990012345678").unwrap();
        assert_ne!(other.decrypt_pin(&encrypted, b"5399990012345678").ok(), Some(pin));
        // The check digit is not part of the block; any other PAN digit is.
        assert_eq!(key.decrypt_pin(&encrypted, b"5399990012345670").ok(), Some(pin));
        assert_ne!(key.decrypt_pin(&encrypted, b"5399990012345778").ok(), Some(pin));
        assert_eq!(ClearPin::new(b"12"), Err(PinBlockError::Pin));
    }
}
