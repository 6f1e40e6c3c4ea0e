//! Card data cryptography: at rest (AES-256-GCM), look-up hashes and PIN
//! verification values (HMAC-SHA256), and ISO 9564 PIN blocks (triple-DES).
//!
//! Keys come from the config (`[crypto]`, `authorization.zone_pin_key`); none
//! is in the code. Nothing here logs or formats a PAN, PIN or key.

pub mod pin_block;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle_compare::constant_time_eq;

type HmacSha256 = Hmac<Sha256>;

const NONCE_BYTES: usize = 12;

/// The card data keys: encryption at rest, and the keyed hash for look-ups.
#[derive(Clone)]
pub struct CardKeys {
    data: Aes256Gcm,
    /// Pre-keyed HMAC state, cloned per use (the key schedule is done once).
    lookup: HmacSha256,
}

impl std::fmt::Debug for CardKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardKeys(redacted)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("key of the wrong length")]
    KeyLength,
    #[error("encrypted data could not be decrypted (wrong key or altered)")]
    Decrypt,
}

impl CardKeys {
    pub fn new(data_key: &[u8], lookup_key: &[u8]) -> Result<Self, CryptoError> {
        let data = Aes256Gcm::new_from_slice(data_key).map_err(|_| CryptoError::KeyLength)?;
        let lookup = <HmacSha256 as KeyInit>::new_from_slice(lookup_key).map_err(|_| CryptoError::KeyLength)?;
        Ok(Self { data, lookup })
    }

    /// The keyed hash under which a card is found by its PAN.
    pub fn pan_hash(&self, pan: &[u8]) -> [u8; 32] {
        let mut mac = self.lookup.clone();
        mac.update(b"pan:");
        mac.update(pan);
        mac.finalize().into_bytes().into()
    }

    /// The PIN verification value stored for a card: a keyed hash of PAN and PIN.
    pub fn pin_verification(&self, pan: &[u8], pin: &[u8]) -> [u8; 32] {
        let mut mac = self.lookup.clone();
        mac.update(b"pin:");
        mac.update(pan);
        mac.update(b":");
        mac.update(pin);
        mac.finalize().into_bytes().into()
    }

    /// True when `pin` is the card's PIN (constant-time comparison).
    pub fn pin_matches(&self, pan: &[u8], pin: &[u8], verification: &[u8; 32]) -> bool {
        constant_time_eq(&self.pin_verification(pan, pin), verification)
    }

    /// Encrypts card data (nonce ‖ ciphertext ‖ tag), with a fresh random nonce.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::fill(&mut nonce);
        let sealed = self
            .data
            .encrypt(&nonce.into(), plaintext)
            .expect("AES-GCM encryption of a short buffer cannot fail");
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn decrypt(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_BYTES {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| CryptoError::Decrypt)?;
        self.data
            .decrypt(&nonce.into(), ciphertext)
            .map_err(|_| CryptoError::Decrypt)
    }
}

/// Constant-time equality, so comparing secrets leaks no timing.
mod subtle_compare {
    pub fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
        if left.len() != right.len() {
            return false;
        }
        let difference = left.iter().zip(right).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(difference) == 0
    }
}

pub use subtle_compare::constant_time_eq as secrets_equal;

/// Masks a PAN for logs: first 6 and last 4 digits at most.
pub fn mask_pan(pan: &str) -> String {
    if pan.len() < 13 {
        return "*".repeat(pan.len());
    }
    format!("{}{}{}", &pan[..6], "*".repeat(pan.len() - 10), &pan[pan.len() - 4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> CardKeys {
        CardKeys::new(&[7u8; 32], &[9u8; 32]).unwrap()
    }

    #[test]
    fn encryption_round_trips_and_detects_tampering() {
        let keys = keys();
        let sealed = keys.encrypt(b"5399990012345678");
        assert_eq!(keys.decrypt(&sealed).unwrap(), b"5399990012345678");
        let mut altered = sealed.clone();
        altered[20] ^= 1;
        assert_eq!(keys.decrypt(&altered), Err(CryptoError::Decrypt));
        assert_ne!(keys.encrypt(b"same"), keys.encrypt(b"same"), "nonces are fresh");
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2 with our domain prefix removed: check the primitive itself.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let expected = hex::decode("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843").unwrap();
        assert_eq!(mac.finalize().into_bytes().as_slice(), expected.as_slice());
    }

    #[test]
    fn pin_verification_is_keyed_and_checked() {
        let keys = keys();
        let value = keys.pin_verification(b"5399990012345678", b"1234");
        assert!(keys.pin_matches(b"5399990012345678", b"1234", &value));
        assert!(!keys.pin_matches(b"5399990012345678", b"1235", &value));
        assert!(!keys.pin_matches(b"5399990012345679", b"1234", &value));
        let other = CardKeys::new(&[7u8; 32], &[8u8; 32]).unwrap();
        assert_ne!(other.pin_verification(b"5399990012345678", b"1234"), value);
    }

    #[test]
    fn masks_keep_at_most_first_six_and_last_four() {
        assert_eq!(mask_pan("5399990012345678"), "539999******5678");
        assert_eq!(mask_pan("123"), "***");
    }
}
