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
    pub database: DatabaseConfig,
    pub journal: JournalConfig,
    pub authorization: AuthorizationConfig,
    pub crypto: CryptoConfig,
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
    pub lookup_key: HexKey,
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

pub use crate::state::FundingModel;

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
            ("database.connections_max", u64::from(self.database.connections_max)),
            ("journal.batch_max", u64::from(self.journal.batch_max)),
            ("journal.queue_max", u64::from(self.journal.queue_max)),
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
        if !(self.database.url.starts_with("sqlite:") || self.database.url.starts_with("postgres")) {
            return Err(ConfigError(
                "key `database.url` must start with sqlite: or postgres://".into(),
            ));
        }
        self.validate_programs()
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
            if crate::money::Currency::from_code(&program.currency).is_none() {
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
