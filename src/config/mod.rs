//! Configuration: `config.toml` layered with `ANTACA__<SECTION>__<KEY>` environment variables.
//!
//! Every section denies unknown keys, so a typo stops start-up with a message
//! naming the key (the binary exits with code 2). Keys carry their unit in
//! their name (`_s`, `_us`, `_bytes`, `_max`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub network: NetworkConfig,
    pub http: HttpConfig,
    pub tls: TlsConfig,
    pub session: SessionConfig,
    pub admin: AdminConfig,
    pub kyc: KycConfig,
    #[serde(default)]
    pub cards: CardsConfig,
    #[serde(default)]
    pub notifications: NotificationsConfig,
    /// Where each partner's notifications are delivered (none: they wait in the outbox).
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    pub fees: FeesConfig,
    pub database: DatabaseConfig,
    pub journal: JournalConfig,
    pub authorization: AuthorizationConfig,
    pub crypto: CryptoConfig,
    #[serde(default)]
    pub jwe: JweConfig,
    pub log: LogConfig,
    #[serde(default)]
    pub programs: Vec<ProgramConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    pub listen: SocketAddr,
    pub spec_path: PathBuf,
    pub connections_max: u32,
    pub in_flight_per_connection_max: u32,
    pub idle_timeout_s: u64,
    pub message_bytes_max: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    pub body_bytes_max: u32,
    pub request_timeout_s: u64,
    pub handshake_timeout_s: u64,
    pub header_timeout_s: u64,
}

/// Certificates of the HTTPS listener. All three paths empty: development
/// certificates, generated into `dev_directory` at first start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub server_cert_path: PathBuf,
    pub server_key_path: PathBuf,
    pub partner_ca_path: PathBuf,
    pub partner_name_from: PartnerNameFrom,
    pub dev_directory: PathBuf,
}

impl TlsConfig {
    /// No production file is configured: generate and use development certificates.
    pub fn is_development(&self) -> bool {
        [&self.server_cert_path, &self.server_key_path, &self.partner_ca_path]
            .iter()
            .all(|path| path.as_os_str().is_empty())
    }
}

/// Which subject attribute of a partner's client certificate names the partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartnerNameFrom {
    /// Common name (CN).
    Cn,
    /// Organizational unit (OU).
    Ou,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    pub ttl_s: u64,
    pub retention_s: u64,
}

/// Card issuing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardsConfig {
    /// How long the built-in (simulated) personalisation center takes to make a physical card.
    pub personalization_delay_s: u64,
}

/// Fees (schedules and FX rates are data, changed through the admin API).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeesConfig {
    /// How often the periodic-fee scheduler looks for ended periods to charge.
    pub periodic_interval_s: u64,
}

impl Default for FeesConfig {
    fn default() -> Self {
        FeesConfig {
            periodic_interval_s: 300,
        }
    }
}

impl Default for CardsConfig {
    fn default() -> Self {
        CardsConfig {
            personalization_delay_s: 2,
        }
    }
}

/// Delivery of outbox notifications as webhooks: retries back off exponentially with jitter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    /// The wait before the first retry; each further retry waits up to twice as long.
    pub retry_base_ms: u64,
    /// The longest wait between two attempts (the backoff's bound).
    pub retry_max_ms: u64,
    /// An attempt not answered within this time has failed.
    pub request_timeout_ms: u64,
    /// Webhook requests in flight at once.
    pub in_flight_max: u32,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig {
            retry_base_ms: 1_000,
            retry_max_ms: 300_000,
            request_timeout_ms: 10_000,
            in_flight_max: 16,
        }
    }
}

/// A partner's webhook: its URL and the secret its notifications are signed with (HMAC-SHA256).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub partner: String,
    /// `https://…` (`http://` only for a loopback address, in development and tests).
    pub url: String,
    pub secret: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub bootstrap_username: String,
    pub bootstrap_password: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KycConfig {
    pub minimum_age_years: u32,
}

/// A secret given as text (a password). Its `Debug` never shows it.
#[derive(Clone, Default, Deserialize)]
#[serde(from = "String")]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Secret(text)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} chars, redacted)", self.0.chars().count())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub connections_max: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    pub batch_max: u32,
    pub batch_wait_us: u64,
    pub queue_max: u32,
    pub commits_in_flight_max: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationConfig {
    pub hold_ttl_s: u64,
    pub hold_expiry_interval_s: u64,
    pub duplicate_retention_s: u64,
    pub pin_tries_max: u32,
    pub zone_pin_key: HexKey,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CryptoConfig {
    pub data_key: HexKey,
    /// The id stored with everything `data_key` seals (1..=255).
    #[serde(default = "default_data_key_id")]
    pub data_key_id: u8,
    /// Keys rotated out that still decrypt what they sealed: `ID:HEX,ID:HEX` (empty: none).
    #[serde(default)]
    pub retired_data_keys: Secret,
    pub lookup_key: HexKey,
}

fn default_data_key_id() -> u8 {
    crate::crypto::DEFAULT_DATA_KEY_ID
}

impl CryptoConfig {
    /// `retired_data_keys` parsed: (id, key) pairs.
    pub fn retired(&self) -> Result<Vec<(u8, Vec<u8>)>, ConfigError> {
        let refused = || {
            ConfigError("key `crypto.retired_data_keys` must be `ID:HEX,...` with ids 1..=255 and 32-byte keys".into())
        };
        self.retired_data_keys
            .expose()
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let (id, key) = entry.split_once(':').ok_or_else(refused)?;
                let id: u8 = id.trim().parse().map_err(|_| refused())?;
                let key = hex::decode(key.trim()).map_err(|_| refused())?;
                if id == 0 || key.len() != 32 {
                    return Err(refused());
                }
                Ok((id, key))
            })
            .collect()
    }
}

/// The platform's RSA key pair(s) for JWE. `private_key_path` empty: a
/// development key is generated into `dev_directory` at first start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JweConfig {
    pub private_key_path: PathBuf,
    pub key_id: String,
    pub previous_private_key_path: PathBuf,
    pub previous_key_id: String,
    /// RFC 3339 instant after which the previous key no longer decrypts.
    pub previous_key_valid_until: String,
    pub dev_directory: PathBuf,
}

impl Default for JweConfig {
    fn default() -> Self {
        JweConfig {
            private_key_path: PathBuf::new(),
            key_id: String::new(),
            previous_private_key_path: PathBuf::new(),
            previous_key_id: String::new(),
            previous_key_valid_until: String::new(),
            dev_directory: PathBuf::from("data/jwe"),
        }
    }
}

impl JweConfig {
    /// The end of the previous key's grace period (Unix ms), when one is configured.
    pub fn previous_valid_until_ms(&self) -> Result<Option<i64>, ConfigError> {
        if self.previous_private_key_path.as_os_str().is_empty() {
            return Ok(None);
        }
        chrono::DateTime::parse_from_rfc3339(self.previous_key_valid_until.trim())
            .map(|instant| Some(instant.timestamp_millis()))
            .map_err(|_| {
                ConfigError(
                    "key `jwe.previous_key_valid_until` must be an RFC 3339 instant when \
                     `jwe.previous_private_key_path` is set"
                        .into(),
                )
            })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

pub use crate::domain::FundingModel;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramConfig {
    pub id: String,
    pub partner: String,
    pub bin: String,
    pub currency: String,
    pub funding: FundingModel,
    pub validity_months: u32,
}

/// Webhooks go over TLS; plain HTTP only to this machine (development, tests).
fn webhook_url_allowed(url: &str) -> bool {
    if url.starts_with("https://") {
        return url.len() > "https://".len();
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Key material given in hex. Its `Debug` never shows the bytes.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct HexKey(Vec<u8>);

impl HexKey {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for HexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HexKey({} bytes, redacted)", self.0.len())
    }
}

impl TryFrom<String> for HexKey {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        hex::decode(text.trim())
            .map(HexKey)
            .map_err(|_| "not a hex string".to_owned())
    }
}

/// A configuration problem, worded to name the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads `path`, then the environment, and validates the result.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// As `load`, with the environment given (tests pass their own).
    pub fn load_with_env(
        path: &Path,
        environment: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        if !path.exists() {
            return Err(ConfigError(format!("file {} not found", path.display())));
        }
        let overrides: config::Map<String, String> = environment
            .into_iter()
            .filter(|(key, _)| key.starts_with("ANTACA__"))
            .collect();
        let loaded = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("ANTACA")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .source(Some(overrides)),
            )
            .build()
            .map_err(|error| ConfigError(error.to_string()))?;
        let config: Config = loaded
            .try_deserialize()
            .map_err(|error| ConfigError(error.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("network.connections_max", u64::from(self.network.connections_max)),
            (
                "network.in_flight_per_connection_max",
                u64::from(self.network.in_flight_per_connection_max),
            ),
            ("network.idle_timeout_s", self.network.idle_timeout_s),
            ("http.body_bytes_max", u64::from(self.http.body_bytes_max)),
            ("http.request_timeout_s", self.http.request_timeout_s),
            ("http.handshake_timeout_s", self.http.handshake_timeout_s),
            ("http.header_timeout_s", self.http.header_timeout_s),
            ("session.ttl_s", self.session.ttl_s),
            ("database.connections_max", u64::from(self.database.connections_max)),
            ("journal.batch_max", u64::from(self.journal.batch_max)),
            ("journal.queue_max", u64::from(self.journal.queue_max)),
            (
                "journal.commits_in_flight_max",
                u64::from(self.journal.commits_in_flight_max),
            ),
            ("authorization.hold_ttl_s", self.authorization.hold_ttl_s),
            (
                "authorization.hold_expiry_interval_s",
                self.authorization.hold_expiry_interval_s,
            ),
            (
                "authorization.pin_tries_max",
                u64::from(self.authorization.pin_tries_max),
            ),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(ConfigError(format!("key `{key}` must be greater than 0")));
        }
        if !(64..=65_535).contains(&self.network.message_bytes_max) {
            return Err(ConfigError(
                "key `network.message_bytes_max` must be within 64..=65535".into(),
            ));
        }
        self.validate_keys()?;
        self.jwe.previous_valid_until_ms()?;
        if self.jwe.private_key_path.as_os_str().is_empty() && self.jwe.dev_directory.as_os_str().is_empty() {
            return Err(ConfigError(
                "key `jwe.dev_directory` must name a directory when `jwe.private_key_path` is empty".into(),
            ));
        }
        if !(self.database.url.starts_with("sqlite:") || self.database.url.starts_with("postgres")) {
            return Err(ConfigError(
                "key `database.url` must start with sqlite: or postgres://".into(),
            ));
        }
        self.validate_tls()?;
        self.validate_admin()?;
        self.validate_notifications()?;
        self.validate_programs()
    }

    /// The zone PIN key, the card data and look-up keys and their ids.
    fn validate_keys(&self) -> Result<(), ConfigError> {
        if ![16, 24].contains(&self.authorization.zone_pin_key.bytes().len()) {
            return Err(ConfigError(
                "key `authorization.zone_pin_key` must be a 16- or 24-byte 3DES key in hex".into(),
            ));
        }
        for (key, value) in [
            ("crypto.data_key", &self.crypto.data_key),
            ("crypto.lookup_key", &self.crypto.lookup_key),
        ] {
            if value.bytes().len() != 32 {
                return Err(ConfigError(format!("key `{key}` must be 32 bytes in hex")));
            }
        }
        if self.crypto.data_key_id == 0 {
            return Err(ConfigError("key `crypto.data_key_id` must be within 1..=255".into()));
        }
        if self
            .crypto
            .retired()?
            .iter()
            .any(|(id, _)| *id == self.crypto.data_key_id)
        {
            return Err(ConfigError(
                "key `crypto.retired_data_keys` reuses the id of `crypto.data_key_id`".into(),
            ));
        }
        Ok(())
    }

    fn validate_notifications(&self) -> Result<(), ConfigError> {
        let notifications = &self.notifications;
        for (key, value) in [
            ("notifications.retry_base_ms", notifications.retry_base_ms),
            ("notifications.request_timeout_ms", notifications.request_timeout_ms),
            ("notifications.in_flight_max", u64::from(notifications.in_flight_max)),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("key `{key}` must be greater than 0")));
            }
        }
        if notifications.retry_max_ms < notifications.retry_base_ms {
            return Err(ConfigError(
                "key `notifications.retry_max_ms` must be at least `notifications.retry_base_ms`".into(),
            ));
        }
        let partners = self.partners();
        let mut seen = std::collections::HashSet::new();
        for (index, webhook) in self.webhooks.iter().enumerate() {
            let key = |name: &str| format!("key `webhooks[{index}].{name}`");
            if !partners.contains(&webhook.partner) {
                return Err(ConfigError(format!(
                    "{} {:?} is not the partner of a configured program",
                    key("partner"),
                    webhook.partner
                )));
            }
            if !seen.insert(webhook.partner.as_str()) {
                return Err(ConfigError(format!(
                    "{} {:?} has two webhooks",
                    key("partner"),
                    webhook.partner
                )));
            }
            if !webhook_url_allowed(&webhook.url) {
                return Err(ConfigError(format!(
                    "{} must be https://…, or http:// to a loopback address",
                    key("url")
                )));
            }
            if webhook.secret.expose().len() < 16 {
                return Err(ConfigError(format!("{} must be at least 16 characters", key("secret"))));
            }
        }
        Ok(())
    }

    fn validate_tls(&self) -> Result<(), ConfigError> {
        let tls = &self.tls;
        if tls.is_development() {
            if tls.dev_directory.as_os_str().is_empty() {
                return Err(ConfigError(
                    "key `tls.dev_directory` must name a directory when no certificate file is configured".into(),
                ));
            }
            return Ok(());
        }
        // Half a production set would silently mix development and real certificates.
        for (key, path) in [
            ("tls.server_cert_path", &tls.server_cert_path),
            ("tls.server_key_path", &tls.server_key_path),
            ("tls.partner_ca_path", &tls.partner_ca_path),
        ] {
            if path.as_os_str().is_empty() {
                return Err(ConfigError(format!(
                    "key `{key}` is empty but other tls paths are set: give all three or none"
                )));
            }
        }
        Ok(())
    }

    fn validate_admin(&self) -> Result<(), ConfigError> {
        let password = self.admin.bootstrap_password.expose();
        if !password.is_empty() && password.chars().count() < 12 {
            return Err(ConfigError(
                "key `admin.bootstrap_password` must be at least 12 characters (or empty)".into(),
            ));
        }
        if !password.is_empty() && self.admin.bootstrap_username.trim().is_empty() {
            return Err(ConfigError("key `admin.bootstrap_username` must not be empty".into()));
        }
        if !(16..=120).contains(&self.kyc.minimum_age_years) {
            return Err(ConfigError(
                "key `kyc.minimum_age_years` must be within 16..=120".into(),
            ));
        }
        Ok(())
    }

    /// The partners of the configured programs: the tenants a client certificate may name.
    pub fn partners(&self) -> std::collections::BTreeSet<String> {
        self.programs.iter().map(|program| program.partner.clone()).collect()
    }

    fn validate_programs(&self) -> Result<(), ConfigError> {
        let mut ids = std::collections::HashSet::new();
        for (index, program) in self.programs.iter().enumerate() {
            let key = |name: &str| format!("key `programs[{index}].{name}`");
            if !ids.insert(program.id.as_str()) {
                return Err(ConfigError(format!("{} {:?} is used twice", key("id"), program.id)));
            }
            if !(6..=11).contains(&program.bin.len()) || !program.bin.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConfigError(format!("{} must be 6 to 11 digits", key("bin"))));
            }
            if crate::domain::money::Currency::from_code(&program.currency).is_none() {
                return Err(ConfigError(format!(
                    "{} {:?} is not a known ISO 4217 code",
                    key("currency"),
                    program.currency
                )));
            }
            if !(1..=120).contains(&program.validity_months) {
                return Err(ConfigError(format!(
                    "{} must be within 1..=120",
                    key("validity_months")
                )));
            }
        }
        Ok(())
    }

    /// The SQLite file's directory, when the store is SQLite (created at start-up).
    pub fn sqlite_directory(&self) -> Option<PathBuf> {
        let path = self
            .database
            .url
            .strip_prefix("sqlite://")
            .or_else(|| self.database.url.strip_prefix("sqlite:"))?;
        let path = path.split('?').next()?;
        if path == ":memory:" || path.is_empty() {
            return None;
        }
        Path::new(path).parent().map(Path::to_path_buf)
    }
}

#[cfg(test)]
mod tests {
    use super::webhook_url_allowed;

    #[test]
    fn webhooks_go_over_tls_except_to_this_machine() {
        for allowed in [
            "https://partner.example/hook",
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://[::1]:9000/hook",
        ] {
            assert!(webhook_url_allowed(allowed), "{allowed}");
        }
        for refused in [
            "http://partner.example/hook",
            "http://10.0.0.1/hook",
            "ftp://partner.example",
            "https://",
            "",
        ] {
            assert!(!webhook_url_allowed(refused), "{refused}");
        }
    }
}
