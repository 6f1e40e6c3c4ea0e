//! JSON Web Encryption (RFC 7516), compact serialization, for the API's
//! sensitive payloads: `alg` RSA-OAEP-256 or RSA-OAEP, `enc` A256GCM, nothing else.
//!
//! Written by hand on purpose: it is small, and no maintained Rust JOSE crate
//! does RSA-OAEP-256 + A256GCM without OpenSSL (josekit needs OpenSSL; biscuit
//! and jwt-simple have no RSA-OAEP-256). RSA is aws-lc-rs (constant-time, the
//! provider rustls already uses; never `rsa` 0.9, RUSTSEC-2023-0071) and the
//! content is `aes-gcm`. josekit checks us in the interop tests.
//!
//! Decryption has one failure path once the protected header passed the
//! allow-list: whatever is wrong (unknown key id, undecodable or unwrappable
//! key, wrong CEK size, bad IV or tag, altered ciphertext) continues with a
//! random content key and fails at the GCM tag, with the same error
//! ([`JweError::CannotDecrypt`]), so that neither the answer nor its timing
//! tells an RSA failure from a GCM one (RFC 7516 §11.5, no padding oracle).
//! The header's `alg` and `enc` are only matched against the allow-list; they
//! never choose an algorithm freely.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, general_purpose};
use sha2::{Digest, Sha256};

/// base64url that also accepts padding some clients add.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const CEK_BYTES: usize = 32;
const IV_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
/// Smallest RSA key accepted, ours or a client's.
pub const RSA_BITS_MIN: usize = 2048;

/// The content encryption algorithm; A256GCM is the only one.
pub const ENC_A256GCM: &str = "A256GCM";

/// The key management algorithms accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSAES OAEP, SHA-1 and MGF1 with SHA-1 (RFC 7518 §4.3).
    RsaOaep,
    /// RSAES OAEP, SHA-256 and MGF1 with SHA-256.
    RsaOaep256,
}

impl KeyAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::RsaOaep => "RSA-OAEP",
            KeyAlgorithm::RsaOaep256 => "RSA-OAEP-256",
        }
    }

    /// The allow-list: anything else (RSA1_5, `dir`, ECDH-ES, AES key wrap, ...) is refused.
    pub fn from_name(name: &str) -> Option<KeyAlgorithm> {
        match name {
            "RSA-OAEP" => Some(KeyAlgorithm::RsaOaep),
            "RSA-OAEP-256" => Some(KeyAlgorithm::RsaOaep256),
            _ => None,
        }
    }

    fn oaep(self) -> &'static OaepAlgorithm {
        match self {
            KeyAlgorithm::RsaOaep => &OAEP_SHA1_MGF1SHA1,
            KeyAlgorithm::RsaOaep256 => &OAEP_SHA256_MGF1SHA256,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JweError {
    /// Not a compact JWE, or a protected header that is not JSON or names an
    /// algorithm outside the allow-list. Says which, for the client's developer.
    #[error("the payload is not an acceptable compact JWE: {0}")]
    Invalid(&'static str),
    /// Everything after the header check: one error, one path.
    #[error("the payload could not be decrypted")]
    CannotDecrypt,
    #[error("the key is not an RSA key of at least 2048 bits in the expected encoding")]
    Key,
}

/// The protected header fields we read; others (`typ`, `cty`, ...) are ignored.
#[derive(serde::Deserialize)]
struct ProtectedHeader {
    alg: String,
    enc: String,
    kid: Option<String>,
    /// Compression is refused (it would open a compression side channel).
    zip: Option<serde_json::Value>,
    /// Extensions we do not understand must be refused (RFC 7516 §4.1.13).
    crit: Option<serde_json::Value>,
}

/// One of the platform's RSA key pairs with its key id.
pub struct PlatformKey {
    kid: String,
    decrypting: OaepPrivateDecryptingKey,
    /// SubjectPublicKeyInfo DER.
    public_der: Vec<u8>,
}

impl std::fmt::Debug for PlatformKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl PlatformKey {
    /// From PKCS#8 DER. `kid` empty: the RFC 7638 thumbprint of the public key.
    pub fn from_pkcs8_der(der: &[u8], kid: &str) -> Result<PlatformKey, JweError> {
        let private = PrivateDecryptingKey::from_pkcs8(der).map_err(|_| JweError::Key)?;
        if private.key_size_bits() < RSA_BITS_MIN {
            return Err(JweError::Key);
        }
        let public_der = private
            .public_key()
            .as_der()
            .map_err(|_| JweError::Key)?
            .as_ref()
            .to_vec();
        let decrypting = OaepPrivateDecryptingKey::new(private).map_err(|_| JweError::Key)?;
        let mut key = PlatformKey {
            kid: kid.to_owned(),
            decrypting,
            public_der,
        };
        if key.kid.is_empty() {
            key.kid = key.jwk().thumbprint();
        }
        Ok(key)
    }

    /// From a PEM `PRIVATE KEY` (PKCS#8) file's text.
    pub fn from_pkcs8_pem(pem: &str, kid: &str) -> Result<PlatformKey, JweError> {
        let der = pem_decode(pem, "PRIVATE KEY").ok_or(JweError::Key)?;
        PlatformKey::from_pkcs8_der(&der, kid)
    }

    /// A new 2048-bit key pair and its PKCS#8 PEM (development keys).
    pub fn generate() -> Result<(PlatformKey, String), JweError> {
        let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).map_err(|_| JweError::Key)?;
        let der = private.as_der().map_err(|_| JweError::Key)?;
        let pem = pem_encode(der.as_ref(), "PRIVATE KEY");
        Ok((PlatformKey::from_pkcs8_der(der.as_ref(), "")?, pem))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    pub fn public_pem(&self) -> String {
        pem_encode(&self.public_der, "PUBLIC KEY")
    }

    /// The public key's SubjectPublicKeyInfo DER, base64 (what a `Public-Key` header carries).
    pub fn public_der_base64(&self) -> String {
        STANDARD.encode(&self.public_der)
    }

    /// The public key as a JWK (`kty` RSA, `use` enc, `alg` RSA-OAEP-256, with `kid`).
    pub fn jwk(&self) -> PublicJwk {
        let (n, e) = rsa_components(&self.public_der).unwrap_or_default();
        PublicJwk {
            kty: "RSA".into(),
            kid: self.kid.clone(),
            use_: "enc".into(),
            alg: KeyAlgorithm::RsaOaep256.name().into(),
            n: URL_SAFE_NO_PAD.encode(n),
            e: URL_SAFE_NO_PAD.encode(e),
        }
    }

    /// The public half, to encrypt to this key (tests, tools).
    pub fn recipient(&self) -> RecipientKey {
        RecipientKey::from_spki_der(&self.public_der).expect("our own public key is valid")
    }
}

/// A public RSA key as a JWK.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PublicJwk {
    #[schema(example = "RSA")]
    pub kty: String,
    pub kid: String,
    #[serde(rename = "use")]
    #[schema(example = "enc")]
    pub use_: String,
    #[schema(example = "RSA-OAEP-256")]
    pub alg: String,
    /// Modulus, base64url.
    pub n: String,
    /// Public exponent, base64url.
    pub e: String,
}

impl PublicJwk {
    /// RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order, base64url.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, self.e, self.n);
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// The modulus and exponent of an RSA SubjectPublicKeyInfo, big-endian, no leading zero.
fn rsa_components(spki_der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    use x509_parser::prelude::FromDer;
    let (_, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der).ok()?;
    match info.parsed().ok()? {
        x509_parser::public_key::PublicKey::RSA(rsa) => {
            let strip = |bytes: &[u8]| {
                let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
                bytes[first..].to_vec()
            };
            Some((strip(rsa.modulus), strip(rsa.exponent)))
        }
        _ => None,
    }
}

/// The platform's keys: the current one (encrypt to it) and, during a
/// rotation, previous ones that still decrypt until their grace period ends.
#[derive(Debug)]
pub struct PlatformKeys {
    current: PlatformKey,
    /// With the instant (Unix ms) after which each stops decrypting.
    previous: Vec<(PlatformKey, i64)>,
}

impl PlatformKeys {
    pub fn new(current: PlatformKey, previous: Vec<(PlatformKey, i64)>) -> PlatformKeys {
        PlatformKeys { current, previous }
    }

    pub fn current(&self) -> &PlatformKey {
        &self.current
    }

    /// The keys a client may encrypt to at `now_ms`: the current one first.
    pub fn published(&self, now_ms: i64) -> Vec<&PlatformKey> {
        std::iter::once(&self.current)
            .chain(
                self.previous
                    .iter()
                    .filter(|(_, until)| now_ms < *until)
                    .map(|(key, _)| key),
            )
            .collect()
    }

    /// Decrypts a compact JWE made with one of our keys. With a `kid`, that key
    /// only; without, each usable key in turn (OAEP's own check tells them apart).
    pub fn decrypt(&self, compact: &str, now_ms: i64) -> Result<Vec<u8>, JweError> {
        let parts: Vec<&str> = compact.trim().split('.').collect();
        let [header_b64, key_b64, iv_b64, ciphertext_b64, tag_b64] = parts[..] else {
            return Err(JweError::Invalid("a compact JWE has five dot-separated parts"));
        };
        let header = URL_SAFE_LENIENT
            .decode(header_b64)
            .map_err(|_| JweError::Invalid("the protected header is not base64url"))?;
        let header: ProtectedHeader =
            serde_json::from_slice(&header).map_err(|_| JweError::Invalid("the protected header is not valid JSON"))?;
        let algorithm =
            KeyAlgorithm::from_name(&header.alg).ok_or(JweError::Invalid("alg must be RSA-OAEP-256 or RSA-OAEP"))?;
        if header.enc != ENC_A256GCM {
            return Err(JweError::Invalid("enc must be A256GCM"));
        }
        if header.zip.is_some() || header.crit.is_some() {
            return Err(JweError::Invalid("zip and crit are not supported"));
        }

        // From here on: one path, one error.
        let candidates: Vec<&PlatformKey> = self
            .published(now_ms)
            .into_iter()
            .filter(|key| header.kid.as_deref().is_none_or(|kid| kid == key.kid))
            .collect();
        let encrypted_key = URL_SAFE_LENIENT.decode(key_b64).unwrap_or_default();
        let iv = URL_SAFE_LENIENT.decode(iv_b64).unwrap_or_default();
        let ciphertext = URL_SAFE_LENIENT.decode(ciphertext_b64);
        let tag = URL_SAFE_LENIENT.decode(tag_b64).unwrap_or_default();
        let shapes_ok = iv.len() == IV_BYTES && tag.len() == TAG_BYTES && ciphertext.is_ok();

        let mut cek = [0u8; CEK_BYTES];
        rand::fill(&mut cek);
        let mut unwrapped = vec![0u8; 1024];
        let mut found = false;
        for key in candidates {
            if let Ok(plain) = key
                .decrypting
                .decrypt(algorithm.oaep(), &encrypted_key, &mut unwrapped, None)
                && plain.len() == CEK_BYTES
                && !found
            {
                cek.copy_from_slice(plain);
                found = true;
            }
        }
        unwrapped.fill(0);

        let mut nonce = [0u8; IV_BYTES];
        if iv.len() == IV_BYTES {
            nonce.copy_from_slice(&iv);
        }
        let mut sealed = ciphertext.unwrap_or_default();
        sealed.extend_from_slice(&tag);
        let cipher = Aes256Gcm::new_from_slice(&cek).map_err(|_| JweError::CannotDecrypt)?;
        cek.fill(0);
        let opened = cipher.decrypt(
            &nonce.into(),
            Payload {
                msg: &sealed,
                aad: header_b64.as_bytes(),
            },
        );
        match opened {
            Ok(plaintext) if shapes_ok && found => Ok(plaintext),
            _ => Err(JweError::CannotDecrypt),
        }
    }
}

/// A client's RSA public key, to encrypt its responses to.
#[derive(Debug, Clone)]
pub struct RecipientKey {
    key: std::sync::Arc<OaepPublicEncryptingKey>,
}

impl RecipientKey {
    /// From SubjectPublicKeyInfo DER (what Java's `PublicKey.getEncoded()` gives).
    pub fn from_spki_der(der: &[u8]) -> Result<RecipientKey, JweError> {
        let public = PublicEncryptingKey::from_der(der).map_err(|_| JweError::Key)?;
        if public.key_size_bits() < RSA_BITS_MIN {
            return Err(JweError::Key);
        }
        Ok(RecipientKey {
            key: std::sync::Arc::new(OaepPublicEncryptingKey::new(public).map_err(|_| JweError::Key)?),
        })
    }

    /// From a `Public-Key` header: base64 of the SubjectPublicKeyInfo DER, or
    /// base64 of a PEM `PUBLIC KEY` (both seen in the wild), or a bare PEM.
    pub fn from_header(value: &str) -> Result<RecipientKey, JweError> {
        let value = value.trim();
        if value.starts_with("-----BEGIN") {
            return pem_decode(value, "PUBLIC KEY")
                .ok_or(JweError::Key)
                .and_then(|der| RecipientKey::from_spki_der(&der));
        }
        let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        let decoded = general_purpose::STANDARD
            .decode(&compact)
            .or_else(|_| URL_SAFE_LENIENT.decode(&compact))
            .map_err(|_| JweError::Key)?;
        if decoded.starts_with(b"-----BEGIN") {
            let text = std::str::from_utf8(&decoded).map_err(|_| JweError::Key)?;
            return pem_decode(text, "PUBLIC KEY")
                .ok_or(JweError::Key)
                .and_then(|der| RecipientKey::from_spki_der(&der));
        }
        RecipientKey::from_spki_der(&decoded)
    }

    /// Encrypts `plaintext` to this key: compact JWE, `enc` A256GCM, with `kid` in the header if given.
    pub fn encrypt(&self, plaintext: &[u8], algorithm: KeyAlgorithm, kid: Option<&str>) -> Result<String, JweError> {
        let header = match kid {
            Some(kid) => serde_json::json!({"alg": algorithm.name(), "enc": ENC_A256GCM, "kid": kid}),
            None => serde_json::json!({"alg": algorithm.name(), "enc": ENC_A256GCM}),
        };
        let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
        let mut cek = [0u8; CEK_BYTES];
        rand::fill(&mut cek);
        let mut iv = [0u8; IV_BYTES];
        rand::fill(&mut iv);
        let mut wrapped = vec![0u8; self.key.ciphertext_size()];
        let wrapped = self
            .key
            .encrypt(algorithm.oaep(), &cek, &mut wrapped, None)
            .map_err(|_| JweError::Key)?
            .to_vec();
        let cipher = Aes256Gcm::new_from_slice(&cek).map_err(|_| JweError::Key)?;
        cek.fill(0);
        let sealed = cipher
            .encrypt(
                &iv.into(),
                Payload {
                    msg: plaintext,
                    aad: header_b64.as_bytes(),
                },
            )
            .map_err(|_| JweError::Key)?;
        let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_BYTES);
        Ok(format!(
            "{header_b64}.{}.{}.{}.{}",
            URL_SAFE_NO_PAD.encode(wrapped),
            URL_SAFE_NO_PAD.encode(iv),
            URL_SAFE_NO_PAD.encode(ciphertext),
            URL_SAFE_NO_PAD.encode(tag)
        ))
    }
}

/// PEM with 64-character lines.
pub fn pem_encode(der: &[u8], label: &str) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// The DER of the first PEM block labelled `label`.
pub fn pem_decode(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (PlatformKeys, RecipientKey) {
        let (key, _) = PlatformKey::generate().unwrap();
        let recipient = key.recipient();
        (PlatformKeys::new(key, Vec::new()), recipient)
    }

    #[test]
    fn round_trips_with_both_algorithms() {
        let (keys, recipient) = keys();
        for algorithm in [KeyAlgorithm::RsaOaep, KeyAlgorithm::RsaOaep256] {
            let jwe = recipient.encrypt(br#"{"pin":"1234"}"#, algorithm, None).unwrap();
            assert_eq!(keys.decrypt(&jwe, 0).unwrap(), br#"{"pin":"1234"}"#);
        }
    }

    #[test]
    fn header_problems_are_invalid_and_everything_after_is_one_error() {
        let (keys, recipient) = keys();
        let jwe = recipient.encrypt(b"{}", KeyAlgorithm::RsaOaep256, None).unwrap();
        let parts: Vec<&str> = jwe.split('.').collect();
        assert!(matches!(keys.decrypt("a.b.c", 0), Err(JweError::Invalid(_))));
        for header in [
            r#"{"alg":"RSA1_5","enc":"A256GCM"}"#,
            r#"{"alg":"dir","enc":"A256GCM"}"#,
            r#"{"alg":"ECDH-ES","enc":"A256GCM"}"#,
            r#"{"alg":"RSA-OAEP-256","enc":"A128CBC-HS256"}"#,
            r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","zip":"DEF"}"#,
        ] {
            let forged = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), parts[1..].join("."));
            assert!(
                matches!(keys.decrypt(&forged, 0), Err(JweError::Invalid(_))),
                "{header}"
            );
        }
        let mut altered_key = parts.clone();
        let mut wrapped = URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
        wrapped[10] ^= 1;
        let wrapped = URL_SAFE_NO_PAD.encode(wrapped);
        altered_key[1] = &wrapped;
        let mut altered_tag = parts.clone();
        altered_tag[4] = "AAAAAAAAAAAAAAAAAAAAAA";
        let mut bad_base64 = parts.clone();
        bad_base64[1] = "!!!";
        let mut wrong_kid = parts.clone();
        let kid_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"nope"}"#);
        wrong_kid[0] = &kid_header;
        for forged in [altered_key, altered_tag, bad_base64, wrong_kid] {
            assert_eq!(keys.decrypt(&forged.join("."), 0), Err(JweError::CannotDecrypt));
        }
    }

    #[test]
    fn a_previous_key_decrypts_until_its_grace_period_ends() {
        let (old, _) = PlatformKey::generate().unwrap();
        let (new, _) = PlatformKey::generate().unwrap();
        let old_recipient = old.recipient();
        let old_kid = old.kid().to_owned();
        let keys = PlatformKeys::new(new, vec![(old, 1_000)]);
        let jwe = old_recipient
            .encrypt(b"{}", KeyAlgorithm::RsaOaep256, Some(&old_kid))
            .unwrap();
        assert_eq!(keys.decrypt(&jwe, 999).unwrap(), b"{}");
        assert_eq!(keys.decrypt(&jwe, 1_000), Err(JweError::CannotDecrypt));
        let without_kid = old_recipient.encrypt(b"{}", KeyAlgorithm::RsaOaep, None).unwrap();
        assert_eq!(keys.decrypt(&without_kid, 0).unwrap(), b"{}");
        assert_eq!(keys.published(0).len(), 2);
        assert_eq!(keys.published(1_000).len(), 1);
    }

    #[test]
    fn public_key_headers_and_jwk() {
        let (key, pem) = PlatformKey::generate().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let reloaded = PlatformKey::from_pkcs8_pem(&pem, "").unwrap();
        assert_eq!(reloaded.kid(), key.kid(), "the default kid is the thumbprint");
        assert!(RecipientKey::from_header(&key.public_der_base64()).is_ok());
        assert!(RecipientKey::from_header(&STANDARD.encode(key.public_pem())).is_ok());
        assert!(RecipientKey::from_header(&key.public_pem()).is_ok());
        assert!(RecipientKey::from_header("bm90IGEga2V5").is_err());
        let jwk = key.jwk();
        assert_eq!(jwk.e, "AQAB");
        assert_eq!(URL_SAFE_NO_PAD.decode(&jwk.n).unwrap().len(), 256);
    }
}
