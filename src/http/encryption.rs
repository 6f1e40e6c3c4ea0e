//! The JWE channel over HTTP, as the product describes it:
//! - the client sends its RSA public key (base64) in `Public-Key`, and
//!   `Encrypted-Request: true` (request and response encrypted) or
//!   `Encrypt-Response: true` (response only; GET and body-less POST);
//! - an encrypted body is `{"payload": "<compact JWE>"}` made with the
//!   platform's key ([`EncryptedJson`]);
//! - a 2xx answer other than 204 goes out as `{"payload": "<JWE>"}`,
//!   RSA-OAEP-256 + A256GCM to the client's key ([`Sealed`]); errors are plain JSON.
//!
//! Errors: `ENCRYPTION_REQUIRED` (a route that needs the channel got
//! plaintext or no key), `INVALID_PUBLIC_KEY`, `INVALID_PAYLOAD` (not
//! `{"payload": string}`, not a compact JWE, or a header outside the
//! allow-list), `CANT_DECRYPT_PAYLOAD` (every failure after the header
//! check, one path: see [`crate::crypto::jwe`]).
//!
//! The platform's key pair comes from `[jwe]`; without a configured file a
//! development key is generated into `jwe.dev_directory` at first start, like
//! the development TLS certificates.

use std::path::Path;

use anyhow::Context;
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::crypto::jwe::{ENC_A256GCM, PublicJwk};
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Api;
use super::error::ApiError;
use crate::config::JweConfig;
use crate::crypto::jwe::{JweError, KeyAlgorithm, PlatformKey, PlatformKeys, RecipientKey};

/// The platform's public key, open like `/health` (no client certificate needed).
pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(platform_public_key))
        .routes(routes!(platform_jwks))
}

pub const PUBLIC_KEY: &str = "public-key";
pub const ENCRYPTED_REQUEST: &str = "encrypted-request";
pub const ENCRYPT_RESPONSE: &str = "encrypt-response";

/// The development key's file name in `jwe.dev_directory`.
pub const DEV_KEY_FILE: &str = "platform-key.pem";

/// The platform's keys from the config: the configured files, or the development key (generated at first start).
pub fn load_platform_keys(config: &JweConfig) -> anyhow::Result<PlatformKeys> {
    let current = if config.private_key_path.as_os_str().is_empty() {
        development_key(&config.dev_directory, &config.key_id)?
    } else {
        read_key(&config.private_key_path, &config.key_id).context("key `jwe.private_key_path`")?
    };
    let mut previous = Vec::new();
    if let Some(valid_until) = config.previous_valid_until_ms()? {
        let key = read_key(&config.previous_private_key_path, &config.previous_key_id)
            .context("key `jwe.previous_private_key_path`")?;
        anyhow::ensure!(
            key.kid() != current.kid(),
            "keys `jwe.key_id` and `jwe.previous_key_id`: the two keys need different key ids"
        );
        previous.push((key, valid_until));
    }
    tracing::info!(
        kid = current.kid(),
        previous = previous.len(),
        "JWE platform key loaded"
    );
    Ok(PlatformKeys::new(current, previous))
}

fn read_key(path: &Path, kid: &str) -> anyhow::Result<PlatformKey> {
    let pem = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    PlatformKey::from_pkcs8_pem(&pem, kid)
        .map_err(|error| anyhow::anyhow!("{}: {error} (PEM, PKCS#8 `PRIVATE KEY`)", path.display()))
}

/// The development key in `directory`, generated (readable by the owner only) if missing.
fn development_key(directory: &Path, kid: &str) -> anyhow::Result<PlatformKey> {
    let path = directory.join(DEV_KEY_FILE);
    if path.exists() {
        return read_key(&path, kid).context("the development JWE key (key `jwe.dev_directory`)");
    }
    std::fs::create_dir_all(directory).with_context(|| format!("creating {}", directory.display()))?;
    let (key, pem) = PlatformKey::generate().map_err(|error| anyhow::anyhow!("generating the JWE key: {error}"))?;
    // Written whole under a name of its own, then linked into place (which fails if the file
    // exists): two processes starting together on one directory never read half a key, and the
    // one that loses uses the winner's.
    let staging = directory.join(format!("{DEV_KEY_FILE}.{}", uuid::Uuid::new_v4().simple()));
    write_private(&staging, &pem)?;
    let linked = std::fs::hard_link(&staging, &path);
    let _ = std::fs::remove_file(&staging);
    match linked {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return read_key(&path, kid).context("the development JWE key (key `jwe.dev_directory`)");
        }
        Err(error) => return Err(error).with_context(|| format!("creating {}", path.display())),
    }
    tracing::warn!(path = %path.display(), "generated a DEVELOPMENT JWE key; configure jwe.private_key_path in production");
    if kid.is_empty() { Ok(key) } else { read_key(&path, kid) }
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// What the client's headers ask for. A `Public-Key` that is present but not
/// an RSA key of at least 2048 bits is refused (`INVALID_PUBLIC_KEY`).
#[derive(Debug, Clone)]
pub struct ClientEncryption {
    pub public_key: Option<RecipientKey>,
    pub encrypted_request: bool,
    pub encrypt_response: bool,
}

impl ClientEncryption {
    /// The key to encrypt the answer to, when the client asked for an encrypted answer.
    pub fn reply_to(&self) -> Option<&RecipientKey> {
        if self.encrypted_request || self.encrypt_response {
            self.public_key.as_ref()
        } else {
            None
        }
    }

    /// The key to encrypt the answer to, for a route whose answer must be encrypted.
    pub fn require(&self) -> Result<RecipientKey, ApiError> {
        self.reply_to().cloned().ok_or(ApiError::EncryptionRequired)
    }
}

fn flag(parts: &Parts, name: &'static str) -> Result<bool, ApiError> {
    match parts.headers.get(name).map(|value| value.to_str().map(str::trim)) {
        None => Ok(false),
        Some(Ok(value)) if value.eq_ignore_ascii_case("true") => Ok(true),
        Some(Ok(value)) if value.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(ApiError::validation(name, "must be true or false")),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientEncryption {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let public_key = match parts.headers.get(PUBLIC_KEY) {
            None => None,
            Some(value) => {
                let text = value.to_str().map_err(|_| ApiError::InvalidPublicKey)?;
                Some(RecipientKey::from_header(text).map_err(|_| ApiError::InvalidPublicKey)?)
            }
        };
        Ok(ClientEncryption {
            public_key,
            encrypted_request: flag(parts, ENCRYPTED_REQUEST)?,
            encrypt_response: flag(parts, ENCRYPT_RESPONSE)?,
        })
    }
}

/// The body of every encrypted request and answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EncryptedBody {
    /// Compact JWE. Requests: `alg` RSA-OAEP-256 or RSA-OAEP to the platform's key, `enc` A256GCM.
    /// Answers: RSA-OAEP-256 + A256GCM to the key in the request's `Public-Key` header.
    pub payload: String,
}

/// An encrypted JSON body (`Encrypted-Request: true`), read but not yet
/// opened: [`EncryptedJson::open`] checks the headers and decrypts, so that a
/// handler can answer its tenant checks (404) first, whatever was sent.
#[derive(Debug)]
pub struct EncryptedJson<T> {
    encryption: Result<ClientEncryption, ApiError>,
    /// The body was sent as JSON (`Content-Type: application/json`).
    json: bool,
    body: axum::body::Bytes,
    body_type: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> FromRequest<Api> for EncryptedJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, api: &Api) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let encryption = ClientEncryption::from_request_parts(&mut parts, api).await;
        let json = super::extract::is_json(&parts.headers);
        let body = axum::body::Bytes::from_request(Request::from_parts(parts, body), api)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        Ok(EncryptedJson {
            encryption,
            json,
            body,
            body_type: std::marker::PhantomData,
        })
    }
}

impl<T: DeserializeOwned> EncryptedJson<T> {
    /// The decrypted body and the client's key for the answer.
    pub fn open(self, api: &Api) -> Result<(T, RecipientKey), ApiError> {
        let reply_to = match self.encryption? {
            ClientEncryption {
                encrypted_request: true,
                public_key: Some(key),
                ..
            } => key,
            _ => return Err(ApiError::EncryptionRequired),
        };
        if !self.json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let envelope: EncryptedBody = serde_json::from_slice(&self.body)
            .map_err(|_| ApiError::InvalidPayload("the body must be {\"payload\": \"<compact JWE>\"}".into()))?;
        let plaintext = api
            .platform_keys
            .decrypt(&envelope.payload, api.state.now_ms())
            .map_err(|error| match error {
                JweError::Invalid(reason) => ApiError::InvalidPayload(reason.into()),
                JweError::CannotDecrypt | JweError::Key => ApiError::CantDecryptPayload,
            })?;
        Ok((decrypted_json(&plaintext)?, reply_to))
    }
}

/// Parses a decrypted body. serde's messages quote the offending value (a
/// PIN, say), so only field names go into the error.
fn decrypted_json<T: DeserializeOwned>(plaintext: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(plaintext).map_err(|error| {
        if !error.is_data() {
            return ApiError::InvalidPayload("the decrypted payload is not JSON".into());
        }
        let message = error.to_string();
        if let Some(name) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            return ApiError::validation(name, "is required");
        }
        if let Some(name) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        {
            return ApiError::validation(name, "is not a field of this request");
        }
        ApiError::validation("payload", "a field of the decrypted body has the wrong type")
    })
}

/// An answer sent as JWE to the client's key (2xx; a 204 has no body to encrypt).
#[derive(Debug)]
pub struct Sealed<T> {
    pub status: StatusCode,
    pub value: T,
    pub reply_to: RecipientKey,
}

impl<T: Serialize> IntoResponse for Sealed<T> {
    fn into_response(self) -> Response {
        if self.status == StatusCode::NO_CONTENT {
            return StatusCode::NO_CONTENT.into_response();
        }
        let sealed = serde_json::to_vec(&self.value)
            .map_err(|error| ApiError::internal(format!("serializing an answer: {error}")))
            .and_then(|plaintext| {
                self.reply_to
                    .encrypt(&plaintext, KeyAlgorithm::RsaOaep256, None)
                    .map_err(|error| ApiError::internal(format!("encrypting an answer: {error}")))
            });
        match sealed {
            Ok(payload) => (self.status, Json(EncryptedBody { payload })).into_response(),
            Err(error) => error.into_response(),
        }
    }
}

// ---------------------------------------------------------------- the platform's key

/// The platform's current public key: encrypt requests to it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformPublicKey {
    /// Key id; also in `jwk.kid`. A JWE may name it in its header's `kid`.
    pub kid: String,
    /// Key management algorithms accepted: RSA-OAEP-256 (recommended) or RSA-OAEP.
    pub algorithms: Vec<String>,
    /// Content encryption: A256GCM only.
    #[schema(example = "A256GCM")]
    pub enc: String,
    /// SubjectPublicKeyInfo, PEM.
    pub pem: String,
    /// SubjectPublicKeyInfo DER, base64.
    pub public_key: String,
    pub jwk: PublicJwk,
}

/// The keys a client may encrypt to (during a rotation, the previous one too, until its grace period ends).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JwkSet {
    pub keys: Vec<PublicJwk>,
}

/// The platform's current public key (PEM, base64 DER, JWK) and its `kid`. No client certificate needed.
#[utoipa::path(
    get, path = "/encryption/public-key", tag = "encryption",
    responses((status = 200, description = "The key to encrypt requests to", body = PlatformPublicKey))
)]
async fn platform_public_key(State(api): State<Api>) -> axum::Json<PlatformPublicKey> {
    let key = api.platform_keys.current();
    axum::Json(PlatformPublicKey {
        kid: key.kid().to_owned(),
        algorithms: vec![
            KeyAlgorithm::RsaOaep256.name().to_owned(),
            KeyAlgorithm::RsaOaep.name().to_owned(),
        ],
        enc: ENC_A256GCM.to_owned(),
        pem: key.public_pem(),
        public_key: key.public_der_base64(),
        jwk: key.jwk(),
    })
}

/// The platform's public keys as a JWK set (the current key first). No client certificate needed.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "encryption",
    responses((status = 200, description = "The keys", body = JwkSet))
)]
async fn platform_jwks(State(api): State<Api>) -> axum::Json<JwkSet> {
    let keys = api
        .platform_keys
        .published(api.state.now_ms())
        .into_iter()
        .map(|key| key.jwk())
        .collect();
    axum::Json(JwkSet { keys })
}
