//! The application on port 0, spawned one way for every test: the repository's config.toml with
//! listeners on port 0, an injected [`ManualClock`], and the run task on the test's runtime.

use std::net::SocketAddr;
use std::sync::Arc;

use antaca::app::Application;
use antaca::config::Config;
use antaca::crypto::pin_block::ZonePinKey;
use antaca::state::{ManualClock, State};
use tokio_util::sync::CancellationToken;

use crate::support::iso::Client;

pub const CREDIT_PROGRAM: &str = "dev-credit-eur";
pub const DEPOSIT_PROGRAM: &str = "dev-deposit-eur";
pub const EUR: u16 = 978;

/// The repository's config.toml with listeners on port 0, the given
/// database, and `overrides` (environment-style keys, e.g. `ANTACA__NETWORK__IDLE_TIMEOUT_S`).
pub fn test_config(database_url: &str, overrides: &[(&str, &str)]) -> Config {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut environment = vec![
        ("ANTACA__NETWORK__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("ANTACA__HTTP__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("ANTACA__DATABASE__URL".to_owned(), database_url.to_owned()),
        (
            "ANTACA__NETWORK__SPEC_PATH".to_owned(),
            format!("{root}/specs/iso8583_2003_ascii.yaml"),
        ),
    ];
    // Development certificates go to a directory of the test's own, not the repository's data/:
    // tests run in parallel, and two generating into one directory would overwrite each other.
    let certificates = std::env::temp_dir().join(format!("antaca-test-tls-{}", uuid::Uuid::new_v4().simple()));
    environment.push((
        "ANTACA__TLS__DEV_DIRECTORY".to_owned(),
        certificates.display().to_string(),
    ));
    // Likewise the development JWE key.
    environment.push((
        "ANTACA__JWE__DEV_DIRECTORY".to_owned(),
        certificates.join("jwe").display().to_string(),
    ));
    environment.extend(
        overrides
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
    );
    Config::load_with_env(std::path::Path::new(&format!("{root}/config.toml")), environment)
        .expect("the repository's config.toml loads")
}

/// A running application: the ISO 8583 listener, the HTTPS listener, and the state behind them.
pub struct TestApp {
    /// The ISO 8583 switch's TCP address.
    pub address: SocketAddr,
    /// The HTTPS API's address.
    pub http_address: SocketAddr,
    /// The database the application serves (to read the store beside it).
    pub database_url: String,
    pub state: State,
    pub switch: antaca::authorization::Switch,
    pub clock: Arc<ManualClock>,
    pub config: Config,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    pub async fn start(database_url: &str) -> TestApp {
        Self::start_with(database_url, &[]).await
    }

    pub async fn start_with(database_url: &str, overrides: &[(&str, &str)]) -> TestApp {
        Self::spawn(test_config(database_url, overrides)).await
    }

    /// Builds the application from `config` on a manual clock set to now and runs it.
    pub async fn spawn(config: Config) -> TestApp {
        antaca::telemetry::init_logging(&antaca::config::LogConfig {
            level: "warn".to_owned(),
            format: antaca::config::LogFormat::Text,
        });
        let clock = Arc::new(ManualClock::new(chrono::Utc::now().timestamp_millis()));
        let application = Application::build_with_clock(&config, clock.clone())
            .await
            .expect("the application builds");
        let address = application.network_address();
        let http_address = application.http_address();
        let state = application.state().clone();
        let switch = application.switch().clone();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(application.run(shutdown.clone()));
        TestApp {
            address,
            http_address,
            database_url: config.database.url.clone(),
            state,
            switch,
            clock,
            config,
            shutdown,
            task,
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("the server task ends")
            .expect("the server stops cleanly");
    }

    /// A raw ISO 8583 client connected to the switch.
    pub async fn connect(&self) -> Client {
        Client::connect(self.address).await
    }

    pub fn zone_pin_key(&self) -> ZonePinKey {
        ZonePinKey::new(self.config.authorization.zone_pin_key.bytes()).unwrap()
    }

    pub fn available(&self, balance_id: i64) -> i64 {
        self.state.balance(balance_id).unwrap().snapshot().available()
    }
}
