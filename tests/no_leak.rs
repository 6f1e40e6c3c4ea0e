//! No full PAN, CVC2, PIN or PIN block in any log line or in the database: a
//! whole sensitive-data flow (card issued with its data inside JWE, full card
//! data read, PIN set, CVV reset, authorizations over TCP with the right and a
//! wrong PIN and CVC2, an invalid PIN refused) runs with every log at TRACE
//! captured in a buffer, then the logs, `/metrics` and every row of every
//! table — on SQLite and on PostgreSQL — are searched for them.
//!
//! A 3-digit CVC2 appears by chance in any log (sizes, durations), so for it
//! the search is for the forms a leak would take: a JSON value (`"123"`), a
//! `key=value` or `key: value` field, the raw DE 48 tag (`9203123`). The PAN,
//! the 6-digit PIN and the PIN block are searched for as they are.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use antaca::crypto::jwe::KeyAlgorithm;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::{Column, Connection, Row, TypeInfo, ValueRef};

use crate::support::{Api, Backend, JweClient, TestStore, Tx, funded_user, zone_pin_key};

const PIN: &str = "918273";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The secrets one flow handled.
struct Secrets {
    pan: String,
    cvc2s: Vec<String>,
    pin_block_hex: String,
}

async fn flow(api: &Api, external_id: &str) -> Secrets {
    let jwe = JweClient::new(api).await;
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
    let card = created["cardId"].as_i64().unwrap();
    let pan = created["cardNo"].as_str().unwrap().to_owned();
    let mut cvc2s = vec![created["cvv"].as_str().unwrap().to_owned()];

    let (status, _) = jwe
        .call(
            api,
            &api.partner,
            Method::GET,
            &format!("/secure/customers/{user}/cards/{card}"),
            None,
            None,
            false,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let pin_path = format!("/customers/me/cards/{card}/pin");
    for pin in ["12", "123456789", PIN] {
        let sealed_pin = jwe.seal(&json!({ "pin": pin }), KeyAlgorithm::RsaOaep256);
        jwe.call(
            api,
            &api.anonymous,
            Method::POST,
            &pin_path,
            Some(&token),
            Some(sealed_pin),
            true,
        )
        .await;
    }
    let (status, sealed) = jwe
        .call(
            api,
            &api.anonymous,
            Method::POST,
            &format!("/customers/me/cards/{card}/cvv"),
            Some(&token),
            None,
            false,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    cvc2s.push(jwe.open(&sealed)["cvv"].as_str().unwrap().to_owned());

    let key = zone_pin_key();
    let mut switch = api.connect().await;
    let with_pin = Tx::authorization(&pan, 100).with_pin(&key, &pan, PIN);
    let pin_block_hex = hex::encode_upper(with_pin.get(52).unwrap());
    assert_eq!(switch.exchange(&with_pin).await.action(), "0000");
    let wrong_pin = Tx::authorization(&pan, 100).with_pin(&key, &pan, "000000");
    assert_ne!(switch.exchange(&wrong_pin).await.action(), "0000");
    for cvc2 in &cvc2s {
        switch.exchange(&Tx::authorization(&pan, 100).with_cvc2(cvc2)).await;
    }
    let (_, _) = api.call(&api.anonymous, Method::GET, "/metrics", None, None).await;
    Secrets {
        pan,
        cvc2s,
        pin_block_hex,
    }
}

/// Every row of every table as text: strings quoted, blobs in hex, numbers as they are.
async fn database_text(database: &TestStore) -> String {
    let mut text = String::new();
    match database.backend {
        Backend::Postgres => {
            let mut connection = sqlx::PgConnection::connect(&database.url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            )
            .fetch_all(&mut connection)
            .await
            .unwrap();
            assert!(tables.iter().any(|table| table == "cards"), "{tables:?}");
            for table in tables {
                let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT row_to_json(t)::text FROM \"{table}\" t"
                )))
                .fetch_all(&mut connection)
                .await
                .unwrap();
                for row in rows {
                    text.push_str(&format!("{table}: {row}\n"));
                }
            }
        }
        Backend::Sqlite => {
            let mut connection = sqlx::SqliteConnection::connect(&database.url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(&mut connection)
                .await
                .unwrap();
            assert!(tables.iter().any(|table| table == "cards"), "{tables:?}");
            for table in tables {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM \"{table}\"")))
                    .fetch_all(&mut connection)
                    .await
                    .unwrap();
                for row in rows {
                    text.push_str(&format!("{table}:"));
                    for column in row.columns() {
                        let index = column.ordinal();
                        let raw = row.try_get_raw(index).unwrap();
                        let value = if raw.is_null() {
                            "null".to_owned()
                        } else {
                            match raw.type_info().name() {
                                "TEXT" => format!("\"{}\"", row.get::<String, _>(index)),
                                "BLOB" => format!("\\x{}", hex::encode(row.get::<Vec<u8>, _>(index))),
                                "REAL" => row.get::<f64, _>(index).to_string(),
                                _ => row.get::<i64, _>(index).to_string(),
                            }
                        };
                        text.push_str(&format!(" {}={value}", column.name()));
                    }
                    text.push('\n');
                }
            }
        }
    }
    text
}

/// Where `secrets` show in `text`, if anywhere (the forms a CVC2 leak takes; the rest as they are).
fn leaks(text: &str, secrets: &Secrets) -> Vec<String> {
    let mut found = Vec::new();
    let mut verbatim = vec![
        secrets.pan.clone(),
        hex::encode(secrets.pan.as_bytes()),
        PIN.to_owned(),
        hex::encode(PIN.as_bytes()),
        secrets.pin_block_hex.clone(),
        secrets.pin_block_hex.to_lowercase(),
    ];
    for cvc2 in &secrets.cvc2s {
        verbatim.push(format!("\"{cvc2}\""));
        verbatim.push(format!("9203{cvc2}"));
        for key in ["cvv", "cvc", "cvc2", "CVV", "CVC2", "\"cvv\"", "\"cvc2\""] {
            for separator in ["=", ": ", ":"] {
                verbatim.push(format!("{key}{separator}{cvc2}"));
            }
        }
    }
    for needle in verbatim {
        if let Some(at) = text.find(&needle) {
            let start = text[..at].char_indices().rev().nth(80).map_or(0, |(index, _)| index);
            let end = (at + needle.len() + 80).min(text.len());
            let end = (end..=text.len())
                .find(|index| text.is_char_boundary(*index))
                .unwrap_or(text.len());
            found.push(format!("{needle:?} in …{}…", &text[start..end]));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_card_secret_in_logs_or_the_database() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("this test binary's only subscriber");

    let sqlite = Some(TestStore::sqlite().await);
    let postgres = TestStore::postgres().await;
    for (round, database) in [sqlite, postgres].into_iter().flatten().enumerate() {
        let api = Api::start(&database.url).await;
        let secrets = flow(&api, &format!("crm-leak-{round}")).await;
        api.stop().await;

        let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
        assert!(logs.contains("TRACE"), "the logs are captured at TRACE");
        assert!(
            logs.len() > 10_000,
            "a whole flow logs a lot at TRACE: {} bytes",
            logs.len()
        );
        let in_logs = leaks(&logs, &secrets);
        assert!(in_logs.is_empty(), "secrets in the logs: {in_logs:#?}");

        let rows = database_text(&database).await;
        assert!(rows.contains(&secrets.pan[..6]), "the dump holds the card rows");
        let in_database = leaks(&rows, &secrets);
        assert!(in_database.is_empty(), "secrets in the database: {in_database:#?}");
    }
}
