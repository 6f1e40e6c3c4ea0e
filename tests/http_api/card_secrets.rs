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

crate::support::on_every_store!(card_data_pin_and_cvv_over_jwe_with_the_switch_checking_them, over_https);
async fn card_data_pin_and_cvv_over_jwe_with_the_switch_checking_them(api: &Api) {
    let jwe = JweClient::new(api).await;
    let (status, jwks) = api
        .call(&api.anonymous, Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jwks["keys"][0]["kid"].as_str(), Some(jwe.platform_kid.as_str()));
    assert_eq!(jwks["keys"][0]["alg"], json!("RSA-OAEP-256"));

    let (user, token, balance) = funded_user(api, "crm-jwe").await;

    // Created with Encrypt-Response: the card's full data, inside JWE only.
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
    let card = created["cardId"].as_i64().unwrap();
    let pan = created["cardNo"].as_str().unwrap().to_owned();
    let cvv = created["cvv"].as_str().unwrap().to_owned();
    assert!(antaca::cards::luhn_valid(pan.as_bytes()) && pan.starts_with("53999900"));
    assert_eq!(cvv.len(), 3);
    assert_eq!(
        created["maskedPan"].as_str().unwrap(),
        format!("{}******{}", &pan[..6], &pan[12..])
    );
    assert!(!sealed.to_string().contains(&pan));

    // Full card data: refused in plaintext, with no key, with a bad key; given inside JWE.
    let path = format!("/customers/me/cards/{card}");
    let (status, body) = api.call(&api.anonymous, Method::GET, &path, Some(&token), None).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "ENCRYPTION_REQUIRED"));
    let no_key = api
        .anonymous
        .get(api.url(&path))
        .bearer_auth(&token)
        .header("Encrypt-Response", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&no_key.json::<Value>().await.unwrap()), "ENCRYPTION_REQUIRED");
    let bad_key = api
        .anonymous
        .get(api.url(&path))
        .bearer_auth(&token)
        .header("Public-Key", "bm90IGEga2V5")
        .header("Encrypt-Response", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&bad_key.json::<Value>().await.unwrap()), "INVALID_PUBLIC_KEY");
    let (status, sealed) = jwe
        .call(api, &api.anonymous, Method::GET, &path, Some(&token), None, false)
        .await;
    assert_eq!(status, StatusCode::OK, "{sealed}");
    let full = jwe.open(&sealed);
    assert_eq!(
        (full["cardNo"].as_str(), full["cvv"].as_str()),
        (Some(pan.as_str()), Some(cvv.as_str()))
    );
    let expiry = full["expiry"].as_str().unwrap();
    assert!(
        full["exp"]
            .as_str()
            .unwrap()
            .starts_with(&format!("20{}-{}-", &expiry[..2], &expiry[2..]))
    );

    // The partner reads it too; another partner gets exactly what an unknown card gets.
    let secure_path = format!("/secure/customers/{user}/cards/{card}");
    let (status, sealed) = jwe
        .call(api, &api.partner, Method::GET, &secure_path, None, None, false)
        .await;
    assert_eq!(status, StatusCode::OK, "{sealed}");
    assert_eq!(jwe.open(&sealed)["cardNo"].as_str(), Some(pan.as_str()));
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

    // Set PIN: plaintext refused, envelopes and headers checked, every decryption failure one answer.
    let pin_path = format!("/customers/me/cards/{card}/pin");
    let (status, body) = api
        .call(
            &api.anonymous,
            Method::POST,
            &pin_path,
            Some(&token),
            Some(json!({"pin": "2580"})),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "ENCRYPTION_REQUIRED"));
    let (status, body) = jwe
        .call(
            api,
            &api.anonymous,
            Method::POST,
            &pin_path,
            Some(&token),
            Some(json!({"pin": "2580"})),
            true,
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_PAYLOAD"),
        "{body}"
    );
    let good = jwe.seal(&json!({"pin": "2580"}), KeyAlgorithm::RsaOaep256);
    let parts: Vec<String> = good["payload"]
        .as_str()
        .unwrap()
        .split('.')
        .map(str::to_owned)
        .collect();
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
        let (status, body) = jwe
            .call(
                api,
                &api.anonymous,
                Method::POST,
                &pin_path,
                Some(&token),
                Some(refused),
                true,
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "INVALID_PAYLOAD"),
            "{body}"
        );
    }
    let altered = |index: usize| {
        let mut bytes = URL_SAFE_NO_PAD.decode(&parts[index]).unwrap();
        bytes[0] ^= 1;
        let mut forged = parts.clone();
        forged[index] = URL_SAFE_NO_PAD.encode(bytes);
        json!({"payload": forged.join(".")})
    };
    let mut failures = Vec::new();
    for index in 1..=4 {
        let (status, body) = jwe
            .call(
                api,
                &api.anonymous,
                Method::POST,
                &pin_path,
                Some(&token),
                Some(altered(index)),
                true,
            )
            .await;
        failures.push((status, body));
    }
    assert_eq!(failures[0].0, StatusCode::BAD_REQUEST);
    assert_eq!(code(&failures[0].1), "CANT_DECRYPT_PAYLOAD");
    assert!(
        failures.iter().all(|failure| failure == &failures[0]),
        "key, IV, ciphertext and tag failures answer alike: {failures:?}"
    );
    let (status, body) = jwe
        .call(
            api,
            &api.anonymous,
            Method::POST,
            &pin_path,
            Some(&token),
            Some(jwe.seal(&json!({"pin": "12345678"}), KeyAlgorithm::RsaOaep256)),
            true,
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"));
    assert!(!body.to_string().contains("12345678"), "{body}");

    // The switch: the PIN set over JWE is what DE 52 is checked against; a wrong one counts, a new PIN resets.
    let key = zone_pin_key();
    let mut switch = api.connect().await;
    for (pin, algorithm) in [("2580", KeyAlgorithm::RsaOaep256), ("918273", KeyAlgorithm::RsaOaep)] {
        let (status, body) = jwe
            .call(
                api,
                &api.anonymous,
                Method::POST,
                &pin_path,
                Some(&token),
                Some(jwe.seal(&json!({ "pin": pin }), algorithm)),
                true,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        assert_eq!(api.state.card(card).unwrap().lock().card.pin_tries, 0);
        let wrong = switch
            .exchange(&Tx::authorization(&pan, 100).with_pin(&key, &pan, "0000"))
            .await;
        assert_ne!(wrong.action(), "0000");
        assert_eq!(api.state.card(card).unwrap().lock().card.pin_tries, 1);
        let right = switch
            .exchange(&Tx::authorization(&pan, 100).with_pin(&key, &pan, pin))
            .await;
        assert_eq!(right.action(), "0000", "the PIN just set is accepted");
    }
    assert_eq!(
        api.state.card(card).unwrap().lock().card.pin_tries,
        0,
        "a correct PIN clears the count"
    );

    // CVV reset: the new CVC2 comes back inside JWE and is the one the switch checks.
    let cvv_path = format!("/customers/me/cards/{card}/cvv");
    let (status, body) = api
        .call(&api.anonymous, Method::POST, &cvv_path, Some(&token), None)
        .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "ENCRYPTION_REQUIRED"));
    let (status, sealed) = jwe
        .call(api, &api.anonymous, Method::POST, &cvv_path, Some(&token), None, false)
        .await;
    assert_eq!(status, StatusCode::OK, "{sealed}");
    let new_cvv = jwe.open(&sealed)["cvv"].as_str().unwrap().to_owned();
    let accepted = switch.exchange(&Tx::authorization(&pan, 100).with_cvc2(&new_cvv)).await;
    assert_eq!(accepted.action(), "0000");
    if new_cvv != cvv {
        let refused = switch.exchange(&Tx::authorization(&pan, 100).with_cvc2(&cvv)).await;
        assert_ne!(refused.action(), "0000", "the old CVC2 no longer passes");
    }

    // The admin panel resets a CVV too, but never sees card data; a partner's admin sees only its cards.
    let root = api.root().await;
    let admin_path = format!("/admin/cards/{card}/cvv");
    let (status, body) = api
        .call(&api.anonymous, Method::POST, &admin_path, Some(&root), None)
        .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "ENCRYPTION_REQUIRED"));
    let (status, sealed) = jwe
        .call(api, &api.anonymous, Method::POST, &admin_path, Some(&root), None, false)
        .await;
    assert_eq!(status, StatusCode::OK, "{sealed}");
    let masked = jwe.open(&sealed);
    assert_eq!(masked["cardId"].as_i64(), Some(card));
    assert!(
        masked.get("cardNo").is_none() && masked.get("cvv").is_none(),
        "{masked}"
    );
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

crate::support::on_every_store!(a_corporate_physical_card_ordered_with_its_pin_inside_jwe, over_https);
async fn a_corporate_physical_card_ordered_with_its_pin_inside_jwe(api: &Api) {
    let jwe = JweClient::new(api).await;
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
    let order = json!({"dcCorporationId": corporation, "balanceId": balance, "pin": "4711"});

    let (status, body) = api.partner_post("/secure/cards/physical_with_pin", order.clone()).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "ENCRYPTION_REQUIRED"));
    let mut short = order.clone();
    short["pin"] = json!("47");
    let (status, body) = jwe
        .call(
            api,
            &api.partner,
            Method::POST,
            "/secure/cards/physical_with_pin",
            None,
            Some(jwe.seal(&short, KeyAlgorithm::RsaOaep256)),
            true,
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"));
    let (status, body) = jwe
        .call(
            api,
            &api.other,
            Method::POST,
            "/secure/cards/physical_with_pin",
            None,
            Some(jwe.seal(&order, KeyAlgorithm::RsaOaep256)),
            true,
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "CORPORATION_NOT_FOUND"));

    let (status, sealed) = jwe
        .call(
            api,
            &api.partner,
            Method::POST,
            "/secure/cards/physical_with_pin",
            None,
            Some(jwe.seal(&order, KeyAlgorithm::RsaOaep256)),
            true,
        )
        .await;
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
