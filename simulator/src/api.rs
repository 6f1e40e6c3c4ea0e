//! The lifecycle API as a partner's server and an operator use it: HTTPS with
//! the partner's client certificate (rustls with aws-lc-rs, the switch's own
//! TLS stack), JSON bodies, the stable error codes.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail, ensure};
use reqwest::{Method, StatusCode};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use serde_json::{Value, json};

/// Where the API is and the partner's credentials (`--api --cert --key --ca`).
#[derive(Debug, Clone)]
pub struct ApiOptions {
    pub url: String,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    /// An administrator allowed to create operators (the operator records partner loads).
    pub admin_user: String,
    pub admin_password: String,
}

/// A partner's connection to the API.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    /// Presents the partner's client certificate (`/secure`, `/lifecycle/v1`).
    partner: reqwest::Client,
    /// Trusts the CA only (`/admin`, bearer tokens).
    plain: reqwest::Client,
    admin_user: String,
    admin_password: String,
    /// This run's own RSA key pair: full card data is answered encrypted to it (JWE).
    jwe: Arc<antaca::crypto::jwe::PlatformKeys>,
    /// Its public half, base64 DER, for the `Public-Key` header.
    jwe_public: String,
}

/// A non-2xx answer: its status and stable code.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiFailure {}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardView {
    pub card_id: i64,
    pub expiry: String,
    pub status: String,
    pub lock_reason: Option<u8>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceView {
    pub ledger: i64,
    pub available: i64,
    #[serde(default)]
    pub cards: Vec<CardView>,
}

fn tls_config(options: &ApiOptions, with_identity: bool) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&options.ca).with_context(|| format!("reading {}", options.ca.display()))? {
        roots.add(ca.with_context(|| format!("a certificate in {}", options.ca.display()))?)?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    if !with_identity {
        return Ok(builder.with_no_client_auth());
    }
    let chain = CertificateDer::pem_file_iter(&options.cert)
        .with_context(|| format!("reading {}", options.cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("a certificate in {}", options.cert.display()))?;
    let key =
        PrivateKeyDer::from_pem_file(&options.key).with_context(|| format!("reading {}", options.key.display()))?;
    Ok(builder.with_client_auth_cert(chain, key)?)
}

fn client(config: rustls::ClientConfig) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .timeout(std::time::Duration::from_secs(30))
        .build()?)
}

impl Api {
    pub fn new(options: &ApiOptions) -> anyhow::Result<Api> {
        let (own_key, _) = antaca::crypto::jwe::PlatformKey::generate().context("generating the run's RSA key")?;
        let jwe_public = own_key.public_der_base64();
        Ok(Api {
            jwe: Arc::new(antaca::crypto::jwe::PlatformKeys::new(own_key, Vec::new())),
            jwe_public,
            base: options.url.trim_end_matches('/').to_owned(),
            partner: client(tls_config(options, true)?)?,
            plain: client(tls_config(options, false)?)?,
            admin_user: options.admin_user.clone(),
            admin_password: options.admin_password.clone(),
        })
    }

    /// One request; a non-2xx answer becomes an [`ApiFailure`] error. With `bearer`
    /// (empty: none, as for the login), the request goes without the client certificate.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> anyhow::Result<Value> {
        let client = if bearer.is_some() { &self.plain } else { &self.partner };
        let mut request = client.request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = bearer.filter(|token| !token.is_empty()) {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("{method} {path}: the body"))?;
        if !status.is_success() {
            let error: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Err(ApiFailure {
                status,
                code: error["code"].as_str().unwrap_or("?").to_owned(),
                message: error["message"].as_str().unwrap_or(&text).to_owned(),
            })
            .with_context(|| format!("{method} {path}"));
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: not JSON"))
    }

    async fn partner(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        self.call(method, path, body, None).await
    }

    /// A KYC-verified user of the partner (the partner's own KYC flag).
    pub async fn verified_user(&self, external_id: &str) -> anyhow::Result<i64> {
        let user = self
            .partner(
                Method::POST,
                "/lifecycle/v1/users",
                Some(json!({"externalId": external_id, "email": format!("{external_id}@example.com")})),
            )
            .await?;
        let user_id = user["userId"].as_i64().context("no userId")?;
        self.partner(
            Method::PUT,
            &format!("/lifecycle/v1/users/{user_id}/kyc"),
            Some(json!({"kycStatus": "VERIFIED"})),
        )
        .await?;
        Ok(user_id)
    }

    pub async fn open_balance(&self, user_id: i64, currency: &str, program: &str) -> anyhow::Result<i64> {
        let balance = self
            .partner(
                Method::POST,
                &format!("/secure/customers/{user_id}/balances"),
                Some(json!({"currency": currency, "programId": program})),
            )
            .await?;
        balance["balanceId"].as_i64().context("no balanceId")
    }

    pub async fn reload(&self, user_id: i64, balance_id: i64, amount: i64) -> anyhow::Result<BalanceView> {
        let balance = self
            .partner(
                Method::POST,
                &format!("/secure/customers/{user_id}/balances/{balance_id}/reload"),
                Some(json!({"amount": amount})),
            )
            .await?;
        Ok(serde_json::from_value(balance)?)
    }

    pub async fn balance(&self, user_id: i64, balance_id: i64) -> anyhow::Result<BalanceView> {
        let balance = self
            .partner(
                Method::GET,
                &format!("/secure/customers/{user_id}/balances/{balance_id}"),
                None,
            )
            .await?;
        Ok(serde_json::from_value(balance)?)
    }

    pub async fn virtual_card(&self, user_id: i64, balance_id: i64) -> anyhow::Result<CardView> {
        let card = self
            .partner(
                Method::POST,
                &format!("/secure/customers/{user_id}/cards/virtual"),
                Some(json!({"balanceId": balance_id})),
            )
            .await?;
        Ok(serde_json::from_value(card)?)
    }

    pub async fn physical_card(&self, user_id: i64, balance_id: i64, pin: &str) -> anyhow::Result<CardView> {
        let card = self
            .partner(
                Method::POST,
                &format!("/secure/customers/{user_id}/cards/physical"),
                Some(json!({"balanceId": balance_id, "pin": pin})),
            )
            .await?;
        Ok(serde_json::from_value(card)?)
    }

    pub async fn cards(&self, user_id: i64) -> anyhow::Result<Vec<CardView>> {
        let cards = self
            .partner(Method::GET, &format!("/secure/customers/{user_id}/cards"), None)
            .await?;
        Ok(serde_json::from_value(cards)?)
    }

    pub async fn activate(&self, user_id: i64, card_id: i64) -> anyhow::Result<CardView> {
        self.card_action(user_id, card_id, "activate", None).await
    }

    pub async fn lock(&self, user_id: i64, card_id: i64, reason: u8) -> anyhow::Result<CardView> {
        self.card_action(user_id, card_id, "lock", Some(json!({"reason": reason})))
            .await
    }

    pub async fn unlock(&self, user_id: i64, card_id: i64) -> anyhow::Result<CardView> {
        self.card_action(user_id, card_id, "unlock", None).await
    }

    async fn card_action(
        &self,
        user_id: i64,
        card_id: i64,
        action: &str,
        body: Option<Value>,
    ) -> anyhow::Result<CardView> {
        let card = self
            .partner(
                Method::POST,
                &format!("/secure/customers/{user_id}/cards/{card_id}/{action}"),
                body,
            )
            .await?;
        Ok(serde_json::from_value(card)?)
    }

    /// The card's number and CVC2, read as a partner must: `GET /secure/customers/{userId}/cards/{cardId}`
    /// with `Encrypt-Response: true` and this run's public key in `Public-Key`; the answer is a
    /// compact JWE to that key.
    pub async fn full_card(&self, user_id: i64, card_id: i64) -> anyhow::Result<(String, String)> {
        let path = format!("/secure/customers/{user_id}/cards/{card_id}");
        let response = self
            .partner
            .get(format!("{}{path}", self.base))
            .header("Public-Key", &self.jwe_public)
            .header("Encrypt-Response", "true")
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = response.status();
        let answer: Value = response.json().await.with_context(|| format!("GET {path}: the body"))?;
        ensure!(status.is_success(), "GET {path}: {status} {answer}");
        let payload = answer["payload"].as_str().context("the card data is not encrypted")?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as i64);
        let plain = self
            .jwe
            .decrypt(payload, now_ms)
            .map_err(|error| anyhow::anyhow!("GET {path}: {error}"))?;
        let card: Value = serde_json::from_slice(&plain).context("the decrypted card data")?;
        let pan = card["cardNo"].as_str().context("no cardNo")?.to_owned();
        let cvc2 = card["cvv"].as_str().context("no cvv")?.to_owned();
        Ok((pan, cvc2))
    }

    /// Records a bank transfer of `amount` into the partner's credit balance in
    /// `currency`, as an operator (the only role allowed to): the administrator
    /// creates a one-off operator for this run and logs in as it.
    pub async fn fund_partner_credit(&self, currency: &str, amount: i64) -> anyhow::Result<()> {
        let admin = self.login(&self.admin_user, &self.admin_password).await?;
        let nonce = crate::wire::run_nonce();
        let username = format!("simulator.operator.{nonce}");
        let password = format!("simulator-{nonce:016x}-{:016x}", random_u64());
        self.call(
            Method::POST,
            "/admin/users",
            Some(json!({"username": username, "password": password, "role": "OPERATOR"})),
            Some(&admin),
        )
        .await
        .context("creating an operator (the administrator must be a platform Admin)")?;
        let operator = self.login(&username, &password).await?;
        let balances = self.partner(Method::GET, "/secure/partner/balances", None).await?;
        let Some(credit) = balances.as_array().into_iter().flatten().find(|balance| {
            balance["kind"].as_str() == Some("CREDIT") && balance["currency"].as_str() == Some(currency)
        }) else {
            bail!("the partner has no {currency} credit balance");
        };
        let partner_id = credit["partnerId"].as_str().context("no partnerId")?;
        let balance_id = credit["balanceId"].as_i64().context("no balanceId")?;
        self.call(
            Method::POST,
            &format!("/admin/partners/{partner_id}/balances/{balance_id}/load"),
            Some(json!({"amount": amount})),
            Some(&operator),
        )
        .await?;
        Ok(())
    }

    async fn login(&self, username: &str, password: &str) -> anyhow::Result<String> {
        let session = self
            .call(
                Method::POST,
                "/admin/login",
                Some(json!({"username": username, "password": password})),
                Some(""),
            )
            .await
            .with_context(|| format!("logging in as {username}"))?;
        Ok(session["sessionToken"].as_str().context("no sessionToken")?.to_owned())
    }
}

/// The failure's stable code, when `error` is an API answer.
pub fn failure_code(error: &anyhow::Error) -> Option<&str> {
    error.downcast_ref::<ApiFailure>().map(|failure| failure.code.as_str())
}

fn random_u64() -> u64 {
    use rand::RngExt;
    rand::rng().random()
}
