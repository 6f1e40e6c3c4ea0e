//! Card data cryptography: at rest (AES-256-GCM), look-up hashes and PIN
//! verification values (HMAC-SHA256), ISO 9564 PIN blocks (triple-DES), and
//! the API's JSON Web Encryption ([`jwe`]).
//!
//! Keys come from the config (`[crypto]`, `[jwe]`, `authorization.zone_pin_key`);
//! none is in the code. Nothing here logs or formats a PAN, PIN or key.
//!
//! Data at rest carries the id of the key that sealed it (`key id ‖ nonce ‖
//! ciphertext ‖ tag`), so after a rotation (`crypto.data_key_id` and
//! `crypto.retired_data_keys`) what the old key sealed stays readable.

pub mod jwe;
pub mod pin_block;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle_compare::constant_time_eq;

type HmacSha256 = Hmac<Sha256>;

const NONCE_BYTES: usize = 12;

/// The card data keys: encryption at rest (the current key, and retired keys
/// that only decrypt), and the keyed hash for look-ups.
#[derive(Clone)]
pub struct CardKeys {
    data_key_id: u8,
    data: Aes256Gcm,
    retired: Vec<(u8, Aes256Gcm)>,
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
    #[error("a data key id is used twice")]
    DuplicateKeyId,
}

/// The data key id of [`CardKeys::new`].
pub const DEFAULT_DATA_KEY_ID: u8 = 1;

impl CardKeys {
    /// One data key, with id [`DEFAULT_DATA_KEY_ID`].
    pub fn new(data_key: &[u8], lookup_key: &[u8]) -> Result<Self, CryptoError> {
        Self::with_rotation(DEFAULT_DATA_KEY_ID, data_key, &[], lookup_key)
    }

    /// The current data key with its id, and retired keys (id, key) that still decrypt.
    pub fn with_rotation(
        data_key_id: u8,
        data_key: &[u8],
        retired: &[(u8, &[u8])],
        lookup_key: &[u8],
    ) -> Result<Self, CryptoError> {
        let data = Aes256Gcm::new_from_slice(data_key).map_err(|_| CryptoError::KeyLength)?;
        let mut ids = std::collections::HashSet::from([data_key_id]);
        let retired = retired
            .iter()
            .map(|(id, key)| {
                if !ids.insert(*id) {
                    return Err(CryptoError::DuplicateKeyId);
                }
                Ok((*id, Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::KeyLength)?))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let lookup = <HmacSha256 as KeyInit>::new_from_slice(lookup_key).map_err(|_| CryptoError::KeyLength)?;
        Ok(Self {
            data_key_id,
            data,
            retired,
            lookup,
        })
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

    /// Encrypts card data under the current key (key id ‖ nonce ‖ ciphertext ‖ tag),
    /// with a fresh random nonce. The key id is authenticated as associated data.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::fill(&mut nonce);
        let key_id = [self.data_key_id];
        let sealed = self
            .data
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad: &key_id,
                },
            )
            .expect("AES-GCM encryption of a short buffer cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        out.push(self.data_key_id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts data sealed under the current key or a retired one, by its key id.
    pub fn decrypt(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let Some((&key_id, rest)) = sealed.split_first() else {
            return Err(CryptoError::Decrypt);
        };
        if rest.len() < NONCE_BYTES {
            return Err(CryptoError::Decrypt);
        }
        let key = if key_id == self.data_key_id {
            &self.data
        } else {
            self.retired
                .iter()
                .find(|(id, _)| *id == key_id)
                .map(|(_, key)| key)
                .ok_or(CryptoError::Decrypt)?
        };
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| CryptoError::Decrypt)?;
        key.decrypt(
            &nonce.into(),
            Payload {
                msg: ciphertext,
                aad: &[key_id],
            },
        )
        .map_err(|_| CryptoError::Decrypt)
    }

    /// The id of the key new data is sealed under.
    pub fn data_key_id(&self) -> u8 {
        self.data_key_id
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
    fn data_sealed_under_a_retired_key_stays_readable() {
        let before = CardKeys::with_rotation(1, &[7u8; 32], &[], &[9u8; 32]).unwrap();
        let sealed_before = before.encrypt(b"5399990012345678");
        let after = CardKeys::with_rotation(2, &[8u8; 32], &[(1, &[7u8; 32])], &[9u8; 32]).unwrap();
        assert_eq!(after.decrypt(&sealed_before).unwrap(), b"5399990012345678");
        let sealed_after = after.encrypt(b"123");
        assert_eq!(sealed_after[0], 2, "new data is sealed under the current key");
        assert_eq!(before.decrypt(&sealed_after), Err(CryptoError::Decrypt));
        let mut relabelled = sealed_before.clone();
        relabelled[0] = 2;
        assert_eq!(
            after.decrypt(&relabelled),
            Err(CryptoError::Decrypt),
            "the key id is authenticated"
        );
        assert_eq!(
            CardKeys::with_rotation(1, &[7u8; 32], &[(1, &[8u8; 32])], &[9u8; 32]).err(),
            Some(CryptoError::DuplicateKeyId)
        );
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
