//! Sensitive card data over JWE end to end: the public key endpoint, create-card answers carrying card
//! data only inside JWE, full card data, set PIN checked by the switch over TCP (DE 52), CVV reset
//! checked by the switch (DE 48 CVC2), the admin's CVV reset without card data, a corporate physical
//! card with its PIN, and every refusal: ENCRYPTION_REQUIRED, INVALID_PUBLIC_KEY, INVALID_PAYLOAD,
//! CANT_DECRYPT_PAYLOAD (one answer for every decryption failure).

use antaca::crypto::jwe::KeyAlgorithm;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Api;
use crate::support::Tx;
use crate::support::{JweClient, funded_user, zone_pin_key};

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or("")
}

/// A funded user's virtual card, created with `Encrypt-Response`: the sealed answer and what it opens to.
struct SealedCard {
    user: i64,
    token: String,
    card: i64,
    pan: String,
    cvv: String,
    sealed: Value,
    created: Value,
}

async fn virtual_card(api: &Api, jwe: &JweClient, external_id: &str) -> SealedCard {
    let (user, token, balance) = funded_user(api, external_id).await;
    let (status, sealed) = jwe
        .call(
            api,
            &api.anonymous,
            Method::POST,
            "/customers/me/cards/virtual",
            Some(&token),
            Some(json!({"balanceId": balance})),
            false,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sealed}");
    let created = jwe.open(&sealed);
    SealedCard {
        user,
        token,
        card: created["cardId"].as_i64().unwrap(),
        pan: created["cardNo"].as_str().unwrap().to_owned(),
        cvv: created["cvv"].as_str().unwrap().to_owned(),
        sealed,
        created,
    }
}

/// Posts `body` to the card's set-PIN route as an encrypted request (`Encrypted-Request: true`).
async fn post_pin(api: &Api, jwe: &JweClient, card: &SealedCard, body: Value) -> (StatusCode, Value) {
    let pin_path = format!("/customers/me/cards/{}/pin", card.card);
    jwe.call(
        api,
        &api.anonymous,
        Method::POST,
        &pin_path,
        Some(&card.token),
        Some(body),
        true,
    )
    .await
}

/// A well-sealed set-PIN payload split into its five compact-serialisation parts.
fn sealed_pin_parts(jwe: &JweClient) -> Vec<String> {
    let good = jwe.seal(&json!({"pin": "2580"}), KeyAlgorithm::RsaOaep256);
    good["payload"]
        .as_str()
        .unwrap()
        .split('.')
        .map(str::to_owned)
        .collect()
}

crate::support::on_every_store!(the_jwks_endpoint_publishes_the_platform_key, over_https);
async fn the_jwks_endpoint_publishes_the_platform_key(api: &Api) {
    let jwe = JweClient::new(api).await;
    let (status, jwks) = api
        .call(&api.anonymous, Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jwks["keys"][0]["kid"].as_str(), Some(jwe.platform_kid.as_str()));
    assert_eq!(jwks["keys"][0]["alg"], json!("RSA-OAEP-256"));
}

crate::support::on_every_store!(
    a_card_created_with_encrypt_response_carries_its_data_only_inside_jwe,
    over_https
);
async fn a_card_created_with_encrypt_response_carries_its_data_only_inside_jwe(api: &Api) {
    let jwe = JweClient::new(api).await;
    let SealedCard {
        pan,
        cvv,
        sealed,
        created,
        ..
    } = virtual_card(api, &jwe, "crm-jwe").await;
    assert!(antaca::cards::luhn_valid(pan.as_bytes()) && pan.starts_with("53999900"));
    assert_eq!(cvv.len(), 3);
    assert_eq!(
        created["maskedPan"].as_str().unwrap(),
        format!("{}******{}", &pan[..6], &pan[12..])
    );
    assert!(!sealed.to_string().contains(&pan));
    api.state.check_invariants().expect("the state's invariants hold");
}

crate::support::on_every_store!(
    full_card_data_is_refused_in_plaintext_without_a_key_or_with_a_bad_key,
    over_https
);
async fn full_card_data_is_refused_in_plaintext_without_a_key_or_with_a_bad_key(api: &Api) {
    let jwe = JweClient::new(api).await;
    let card = virtual_card(api, &jwe, "crm-jwe").await;
    let path = format!("/customers/me/cards/{}", card.card);
    let (status, body) = api
        .call(&api.anonymous, Method::GET, &path, Some(&card.token), None)
        .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "ENCRYPTION_REQUIRED"));
    let no_key = api
        .anonymous
        .get(api.url(&path))
        .bearer_auth(&card.token)
        .header("Encrypt-Response", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&no_key.json::<Value>().await.unwrap()), "ENCRYPTION_REQUIRED");
    let bad_key = api
        .anonymous
        .get(api.url(&path))
        .bearer_auth(&card.token)
        .header("Public-Key", "bm90IGEga2V5")
        .header("Encrypt-Response", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&bad_key.json::<Value>().await.unwrap()), "INVALID_PUBLIC_KEY");
}

crate::support::on_every_store!(full_card_data_is_given_to_the_app_inside_jwe, over_https);
async fn full_card_data_is_given_to_the_app_inside_jwe(api: &Api) {
    let jwe = JweClient::new(api).await;
    let card = virtual_card(api, &jwe, "crm-jwe").await;
    let path = format!("/customers/me/cards/{}", card.card);
    let (status, sealed) = jwe
        .call(api, &api.anonymous, Method::GET, &path, Some(&card.token), None, false)
        .await;
    assert_eq!(status, StatusCode::OK, "{sealed}");
    let full = jwe.open(&sealed);
    assert_eq!(
        (full["cardNo"].as_str(), full["cvv"].as_str()),
        (Some(card.pan.as_str()), Some(card.cvv.as_str()))
    );
    let expiry = full["expiry"].as_str().unwrap();
    assert!(
        full["exp"]
            .as_str()
            .unwrap()
            .starts_with(&format!("20{}-{}-", &expiry[..2], &expiry[2..]))
    );
}

crate::support::on_every_store!(
    the_partner_reads_full_card_data_and_another_partner_gets_what_an_unknown_card_gets,
    over_https
);
async fn the_partner_reads_full_card_data_and_another_partner_gets_what_an_unknown_card_gets(api: &Api) {
    let jwe = JweClient::new(api).await;
    let card = virtual_card(api, &jwe, "crm-jwe").await;
    let secure_path = format!("/secure/customers/{}/cards/{}", card.user, card.card);
    let (status, sealed) = jwe
        .call(api, &api.partner, Method::GET, &secure_path, None, None, false)
        .await;
    assert_eq!(status, StatusCode::OK, "{sealed}");
    assert_eq!(jwe.open(&sealed)["cardNo"].as_str(), Some(card.pan.as_str()));
    let (crossing_status, crossing) = jwe
        .call(api, &api.other, Method::GET, &secure_path, None, None, false)
        .await;
    let (unknown_status, unknown) = jwe
        .call(
            api,
            &api.other,
            Method::GET,
            "/secure/customers/999999/cards/999999",
            None,
            None,
            false,
        )
        .await;
    assert_eq!((crossing_status, &crossing), (unknown_status, &unknown));
    assert_eq!(crossing_status, StatusCode::NOT_FOUND);
}

crate::support::on_every_store!(set_pin_refuses_plaintext_and_a_body_that_is_no_jwe_envelope, over_https);
async fn set_pin_refuses_plaintext_and_a_body_that_is_no_jwe_envelope(api: &Api) {
    let jwe = JweClient::new(api).await;
    let card = virtual_card(api, &jwe, "crm-jwe").await;
    let pin_path = format!("/customers/me/cards/{}/pin", card.card);
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::POST,
            &pin_path,
            Some(&card.token),
            Some(json!({"pin": "2580"})),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "ENCRYPTION_REQUIRED"));
    let (status, body) = post_pin(api, &jwe, &card, json!({"pin": "2580"})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_PAYLOAD"),
        "{body}"
    );
}

crate::support::on_every_store!(
    set_pin_refuses_a_jwe_header_of_another_algorithm_or_encryption,
    over_https
);
async fn set_pin_refuses_a_jwe_header_of_another_algorithm_or_encryption(api: &Api) {
    let jwe = JweClient::new(api).await;
    let card = virtual_card(api, &jwe, "crm-jwe").await;
    let parts = sealed_pin_parts(&jwe);
    let forged_header = |header: &str| {
        let mut forged = parts.clone();
        forged[0] = URL_SAFE_NO_PAD.encode(header);
        json!({"payload": forged.join(".")})
    };
    for refused in [
        forged_header(r#"{"alg":"RSA1_5","enc":"A256GCM"}"#),
        forged_header(r#"{"alg":"dir","enc":"A256GCM"}"#),
        forged_header(r#"{"alg":"RSA-OAEP-256","enc":"A128GCM"}"#),
    ] {
        let (status, body) = post_pin(api, &jwe, &card, refused).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "INVALID_PAYLOAD"),
            "{body}"
        );
    }
}

crate::support::on_every_store!(every_decryption_failure_of_set_pin_gets_one_answer, over_https);
async fn every_decryption_failure_of_set_pin_gets_one_answer(api: &Api) {
    let jwe = JweClient::new(api).await;
    let card = virtual_card(api, &jwe, "crm-jwe").await;
    let parts = sealed_pin_parts(&jwe);
    let altered = |index: usize| {
        let mut bytes = URL_SAFE_NO_PAD.decode(&parts[index]).unwrap();
        bytes[0] ^= 1;
        let mut forged = parts.clone();
        forged[index] = URL_SAFE_NO_PAD.encode(bytes);
        json!({"payload": forged.join(".")})
    };
    let mut failures = Vec::new();
    for index in 1..=4 {
        failures.push(post_pin(api, &jwe, &card, altered(index)).await);
    }
    assert_eq!(failures[0].0, StatusCode::BAD_REQUEST);
    assert_eq!(code(&failures[0].1), "CANT_DECRYPT_PAYLOAD");
    assert!(
        failures.iter().all(|failure| failure == &failures[0]),
        "key, IV, ciphertext and tag failures answer alike: {failures:?}"
    );
}

crate::support::on_every_store!(set_pin_refuses_an_invalid_pin_without_echoing_it, over_https);
async fn set_pin_refuses_an_invalid_pin_without_echoing_it(api: &Api) {
    let jwe = JweClient::new(api).await;
    let card = virtual_card(api, &jwe, "crm-jwe").await;
    let sealed = jwe.seal(&json!({"pin": "12345678"}), KeyAlgorithm::RsaOaep256);
    let (status, body) = post_pin(api, &jwe, &card, sealed).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"));
    assert!(!body.to_string().contains("12345678"), "{body}");
}

crate::support::on_every_store!(the_pin_set_over_jwe_is_the_one_the_switch_checks_in_de_52, over_https);
async fn the_pin_set_over_jwe_is_the_one_the_switch_checks_in_de_52(api: &Api) {
    let jwe = JweClient::new(api).await;
    let card = virtual_card(api, &jwe, "crm-jwe").await;
    let (id, pan) = (card.card, card.pan.as_str());
    // A wrong PIN counts, a new PIN resets the count.
    let key = zone_pin_key();
    let mut switch = api.connect().await;
    for (pin, algorithm) in [("2580", KeyAlgorithm::RsaOaep256), ("918273", KeyAlgorithm::RsaOaep)] {
        let (status, body) = post_pin(api, &jwe, &card, jwe.seal(&json!({ "pin": pin }), algorithm)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        assert_eq!(api.state.card(id).unwrap().lock().card.pin_tries, 0);
        let wrong = switch
            .exchange(&Tx::authorization(pan, 100).with_pin(&key, pan, "0000"))
            .await;
        assert_ne!(wrong.action(), "0000");
        assert_eq!(api.state.card(id).unwrap().lock().card.pin_tries, 1);
        let right = switch
            .exchange(&Tx::authorization(pan, 100).with_pin(&key, pan, pin))
            .await;
        assert_eq!(right.action(), "0000", "the PIN just set is accepted");
    }
    assert_eq!(
        api.state.card(id).unwrap().lock().card.pin_tries,
        0,
        "a correct PIN clears the count"
    );
    api.state.check_invariants().expect("the state's invariants hold");
}

crate::support::on_every_store!(
    a_cvv_reset_answers_inside_jwe_with_the_cvc2_the_switch_checks,
    over_https
);
async fn a_cvv_reset_answers_inside_jwe_with_the_cvc2_the_switch_checks(api: &Api) {
    let jwe = JweClient::new(api).await;
    let card = virtual_card(api, &jwe, "crm-jwe").await;
    let mut switch = api.connect().await;
    let cvv_path = format!("/customers/me/cards/{}/cvv", card.card);
    let (status, body) = api
        .call(&api.anonymous, Method::POST, &cvv_path, Some(&card.token), None)
        .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "ENCRYPTION_REQUIRED"));
    let (status, sealed) = jwe
        .call(
            api,
            &api.anonymous,
            Method::POST,
            &cvv_path,
            Some(&card.token),
            None,
            false,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sealed}");
    let new_cvv = jwe.open(&sealed)["cvv"].as_str().unwrap().to_owned();
    let accepted = switch
        .exchange(&Tx::authorization(&card.pan, 100).with_cvc2(&new_cvv))
        .await;
    assert_eq!(accepted.action(), "0000");
    if new_cvv != card.cvv {
        let refused = switch
            .exchange(&Tx::authorization(&card.pan, 100).with_cvc2(&card.cvv))
            .await;
        assert_ne!(refused.action(), "0000", "the old CVC2 no longer passes");
    }
    api.state.check_invariants().expect("the state's invariants hold");
}

crate::support::on_every_store!(the_admin_resets_a_cvv_without_seeing_card_data, over_https);
async fn the_admin_resets_a_cvv_without_seeing_card_data(api: &Api) {
    let jwe = JweClient::new(api).await;
    let card = virtual_card(api, &jwe, "crm-jwe").await;
    let root = api.root().await;
    let admin_path = format!("/admin/cards/{}/cvv", card.card);
    let (status, body) = api
        .call(&api.anonymous, Method::POST, &admin_path, Some(&root), None)
        .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "ENCRYPTION_REQUIRED"));
    let (status, sealed) = jwe
        .call(api, &api.anonymous, Method::POST, &admin_path, Some(&root), None, false)
        .await;
    assert_eq!(status, StatusCode::OK, "{sealed}");
    let masked = jwe.open(&sealed);
    assert_eq!(masked["cardId"].as_i64(), Some(card.card));
    assert!(
        masked.get("cardNo").is_none() && masked.get("cvv").is_none(),
        "{masked}"
    );
}

crate::support::on_every_store!(another_partners_admin_cannot_reset_a_cvv, over_https);
async fn another_partners_admin_cannot_reset_a_cvv(api: &Api) {
    let jwe = JweClient::new(api).await;
    let card = virtual_card(api, &jwe, "crm-jwe").await;
    let admin_path = format!("/admin/cards/{}/cvv", card.card);
    let other_admin = api
        .admin_with("other-employee", "EMPLOYEE", Some("other-partner"))
        .await;
    let (status, body) = jwe
        .call(
            api,
            &api.anonymous,
            Method::POST,
            &admin_path,
            Some(&other_admin),
            None,
            false,
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "CARD_NOT_FOUND"));
    api.state.check_invariants().expect("the state's invariants hold");
}

/// An approved dev-partner corporation with a funded-program balance: the order of a physical card
/// with PIN 4711 on it.
async fn physical_card_order(api: &Api) -> Value {
    let corporation = api.corporation("Pins Ltd").await;
    let root = api.root().await;
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::POST,
            &format!("/admin/corporations/{corporation}/approve"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api
        .partner_post(
            "/secure/balances",
            json!({"dcCorporationId": corporation, "currency": "EUR", "programId": "dev-credit-eur"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let balance = body["balanceId"].as_i64().unwrap();
    json!({"dcCorporationId": corporation, "balanceId": balance, "pin": "4711"})
}

/// Orders a physical card with its PIN as `client`, the order sealed to the platform's key.
async fn order_sealed(api: &Api, jwe: &JweClient, client: &reqwest::Client, order: &Value) -> (StatusCode, Value) {
    jwe.call(
        api,
        client,
        Method::POST,
        "/secure/cards/physical_with_pin",
        None,
        Some(jwe.seal(order, KeyAlgorithm::RsaOaep256)),
        true,
    )
    .await
}

crate::support::on_every_store!(a_physical_card_with_pin_is_refused_in_plaintext, over_https);
async fn a_physical_card_with_pin_is_refused_in_plaintext(api: &Api) {
    let order = physical_card_order(api).await;
    let (status, body) = api.partner_post("/secure/cards/physical_with_pin", order).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "ENCRYPTION_REQUIRED"));
}

crate::support::on_every_store!(a_physical_card_with_a_short_pin_is_refused, over_https);
async fn a_physical_card_with_a_short_pin_is_refused(api: &Api) {
    let jwe = JweClient::new(api).await;
    let mut short = physical_card_order(api).await;
    short["pin"] = json!("47");
    let (status, body) = order_sealed(api, &jwe, &api.partner, &short).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"));
}

crate::support::on_every_store!(
    another_partner_cannot_order_a_physical_card_for_the_corporation,
    over_https
);
async fn another_partner_cannot_order_a_physical_card_for_the_corporation(api: &Api) {
    let jwe = JweClient::new(api).await;
    let order = physical_card_order(api).await;
    let (status, body) = order_sealed(api, &jwe, &api.other, &order).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "CORPORATION_NOT_FOUND"));
}

crate::support::on_every_store!(a_corporate_physical_card_ordered_with_its_pin_inside_jwe, over_https);
async fn a_corporate_physical_card_ordered_with_its_pin_inside_jwe(api: &Api) {
    let jwe = JweClient::new(api).await;
    let order = physical_card_order(api).await;
    let (status, sealed) = order_sealed(api, &jwe, &api.partner, &order).await;
    assert_eq!(status, StatusCode::CREATED, "{sealed}");
    let card = jwe.open(&sealed);
    assert_eq!(
        (&card["kind"], &card["status"]),
        (&json!("PHYSICAL"), &json!("ORDERED"))
    );
    let stored = api
        .state
        .card(card["cardId"].as_i64().unwrap())
        .unwrap()
        .lock()
        .card
        .clone();
    let pan = api.state.keys().decrypt(&stored.pan_encrypted).unwrap();
    let verification = stored.pin_verification.expect("the PIN is set at order time");
    assert!(api.state.keys().pin_matches(&pan, b"4711", &verification));
}
