//! Our hand-written JWE against an independent implementation (josekit, on
//! OpenSSL): what josekit encrypts to our key we decrypt, and what we encrypt
//! to a client's key josekit decrypts, for RSA-OAEP and RSA-OAEP-256 with
//! A256GCM, with and without a `kid`, over several payload sizes.

use antaca::crypto::jwe::{JweError, KeyAlgorithm, PlatformKey, PlatformKeys, RecipientKey};
use josekit::jwe::alg::rsaes::RsaesJweAlgorithm;
use josekit::jwe::{JweHeader, RSA_OAEP, RSA_OAEP_256};

fn algorithms() -> [(KeyAlgorithm, RsaesJweAlgorithm); 2] {
    [
        (KeyAlgorithm::RsaOaep, RSA_OAEP),
        (KeyAlgorithm::RsaOaep256, RSA_OAEP_256),
    ]
}

fn payloads() -> Vec<Vec<u8>> {
    vec![
        br#"{"pin":"1234"}"#.to_vec(),
        Vec::new(),
        serde_json::json!({"cardNo": "5399990012345678", "cvv": "123", "pad": "x".repeat(5_000)})
            .to_string()
            .into_bytes(),
    ]
}

#[test]
fn josekit_jwe_decrypts_with_ours() {
    let (platform, _) = PlatformKey::generate().unwrap();
    let public_pem = platform.public_pem();
    let kid = platform.kid().to_owned();
    let keys = PlatformKeys::new(platform, Vec::new());
    for (ours, theirs) in algorithms() {
        let encrypter = theirs.encrypter_from_pem(public_pem.as_bytes()).unwrap();
        for with_kid in [false, true] {
            for payload in payloads() {
                let mut header = JweHeader::new();
                header.set_content_encryption("A256GCM");
                if with_kid {
                    header.set_key_id(&kid);
                }
                let compact = josekit::jwe::serialize_compact(&payload, &header, &encrypter).unwrap();
                assert!(compact.starts_with("eyJ"), "{compact}");
                let opened = keys.decrypt(&compact, 0).unwrap_or_else(|error| {
                    panic!("{} from josekit: {error}", ours.name());
                });
                assert_eq!(opened, payload, "{}", ours.name());
            }
        }
    }
}

#[test]
fn our_jwe_decrypts_with_josekit() {
    let (client, client_private_pem) = PlatformKey::generate().unwrap();
    let recipient = RecipientKey::from_header(&client.public_der_base64()).unwrap();
    for (ours, theirs) in algorithms() {
        let decrypter = theirs.decrypter_from_pem(client_private_pem.as_bytes()).unwrap();
        for kid in [None, Some("client-key-1")] {
            for payload in payloads() {
                let compact = recipient.encrypt(&payload, ours, kid).unwrap();
                let (opened, header) = josekit::jwe::deserialize_compact(&compact, &decrypter)
                    .unwrap_or_else(|error| panic!("{} to josekit: {error}", ours.name()));
                assert_eq!(opened, payload, "{}", ours.name());
                assert_eq!(header.algorithm(), Some(ours.name()));
                assert_eq!(header.content_encryption(), Some("A256GCM"));
                assert_eq!(header.key_id(), kid);
            }
        }
    }
}

#[test]
fn josekit_jwe_under_another_key_or_algorithm_is_refused() {
    let (platform, _) = PlatformKey::generate().unwrap();
    let keys = PlatformKeys::new(platform, Vec::new());
    let (stranger, _) = PlatformKey::generate().unwrap();
    let mut header = JweHeader::new();
    header.set_content_encryption("A256GCM");
    let to_stranger = RSA_OAEP_256
        .encrypter_from_pem(stranger.public_pem().as_bytes())
        .unwrap();
    let compact = josekit::jwe::serialize_compact(b"{}", &header, &to_stranger).unwrap();
    assert_eq!(keys.decrypt(&compact, 0), Err(JweError::CannotDecrypt));

    // A128GCM is a fine JWE, but not one we accept: refused at the header, before any key is used.
    let mut other_enc = JweHeader::new();
    other_enc.set_content_encryption("A128GCM");
    let to_us = RSA_OAEP_256
        .encrypter_from_pem(keys.current().public_pem().as_bytes())
        .unwrap();
    let compact = josekit::jwe::serialize_compact(b"{}", &other_enc, &to_us).unwrap();
    assert!(matches!(keys.decrypt(&compact, 0), Err(JweError::Invalid(_))));
}
