//! A JWE client as a partner or app would be: its own RSA key pair, the
//! platform's public key fetched from the public endpoint, encrypted bodies
//! and decrypted answers.

use antaca::crypto::jwe::{KeyAlgorithm, PlatformKey, PlatformKeys, RecipientKey};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::http::Api;

pub struct JweClient {
    /// The client's own key pair (answers are encrypted to it).
    own: PlatformKeys,
    pub public_key_header: String,
    /// The platform's key, from `GET /encryption/public-key`.
    pub platform: RecipientKey,
    pub platform_kid: String,
}

impl JweClient {
    /// Fetches the platform key anonymously, as a new client would.
    pub async fn new(api: &Api) -> JweClient {
        let (status, key) = api
            .call(&api.anonymous, Method::GET, "/encryption/public-key", None, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{key}");
        let platform = RecipientKey::from_header(key["pem"].as_str().unwrap()).unwrap();
        let (own, _) = PlatformKey::generate().unwrap();
        JweClient {
            public_key_header: own.public_der_base64(),
            own: PlatformKeys::new(own, Vec::new()),
            platform,
            platform_kid: key["kid"].as_str().unwrap().to_owned(),
        }
    }

    /// `{"payload": JWE}` of `plaintext` to the platform's key.
    pub fn seal(&self, plaintext: &Value, algorithm: KeyAlgorithm) -> Value {
        let jwe = self
            .platform
            .encrypt(plaintext.to_string().as_bytes(), algorithm, Some(&self.platform_kid))
            .unwrap();
        json!({ "payload": jwe })
    }

    /// The plaintext of an encrypted answer.
    pub fn open(&self, answer: &Value) -> Value {
        let payload = answer["payload"]
            .as_str()
            .unwrap_or_else(|| panic!("not encrypted: {answer}"));
        serde_json::from_slice(&self.own.decrypt(payload, 0).expect("the answer decrypts with our key")).unwrap()
    }

    /// Sends a request with the JWE headers: `encrypted_request` sets `Encrypted-Request: true` (a
    /// body given is sent as is), otherwise `Encrypt-Response: true`.
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors Api::call with the JWE switch; tests read it inline"
    )]
    pub async fn call(
        &self,
        api: &Api,
        client: &reqwest::Client,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        encrypted_request: bool,
    ) -> (StatusCode, Value) {
        let mut request = client
            .request(method, api.url(path))
            .header("Public-Key", &self.public_key_header);
        request = if encrypted_request {
            request.header("Encrypted-Request", "true")
        } else {
            request.header("Encrypt-Response", "true")
        };
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the request is answered");
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}
