//! The application on port 0 over real TLS ([`Api`]), with clients holding the development
//! partner's certificate, a second partner's, one naming no configured partner, and none; and the
//! TLS client configuration for tests that speak TLS on a raw socket.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use antaca::config::{Config, FundingModel, ProgramConfig};
use antaca::http::dev_certificates::{self, Pair};
use reqwest::{Method, StatusCode};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

use crate::support::app::TestApp;

pub const PARTNER: &str = "dev-partner";
pub const OTHER_PARTNER: &str = "other-partner";
pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "test-admin-password";
pub const SESSION_TTL_MS: i64 = 600_000;

/// A running application (its [`TestApp`], reached through `Deref`) and its HTTPS clients.
pub struct Api {
    pub app: TestApp,
    /// `https://127.0.0.1:<port>`.
    pub base: String,
    pub certificates: PathBuf,
    /// dev-partner's certificate (generated at first start).
    pub partner: reqwest::Client,
    /// other-partner's certificate, issued by the test with the development CA.
    pub other: reqwest::Client,
    /// No client certificate.
    pub anonymous: reqwest::Client,
    /// Signed by the development CA, naming a partner that is not configured.
    pub stranger: reqwest::Client,
    directory: tempfile::TempDir,
}

impl Deref for Api {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// The repository's config with a second partner's program, certificates in `directory`, and a known
/// bootstrap administrator.
pub fn config(database_url: &str, directory: &Path, overrides: &[(&str, &str)]) -> Config {
    let certificates = directory.join("tls");
    let jwe = directory.join("jwe");
    let mut environment = vec![
        ("ANTACA__TLS__DEV_DIRECTORY", certificates.to_str().unwrap()),
        ("ANTACA__JWE__DEV_DIRECTORY", jwe.to_str().unwrap()),
        ("ANTACA__ADMIN__BOOTSTRAP_USERNAME", ADMIN),
        ("ANTACA__ADMIN__BOOTSTRAP_PASSWORD", ADMIN_PASSWORD),
        ("ANTACA__HTTP__BODY_BYTES_MAX", "16384"),
    ];
    environment.extend_from_slice(overrides);
    let mut config = crate::support::app::test_config(database_url, &environment);
    config.programs.push(ProgramConfig {
        id: "other-credit-eur".into(),
        partner: OTHER_PARTNER.into(),
        bin: "53999902".into(),
        currency: "EUR".into(),
        funding: FundingModel::PartnerCredit,
        validity_months: 36,
    });
    config
}

impl Api {
    pub async fn start(database_url: &str) -> Api {
        let directory = tempfile::tempdir().unwrap();
        Self::start_in(database_url, directory, &[]).await
    }

    /// Starts on a database and certificate directory used before (a restart), with config overrides.
    pub async fn start_in(database_url: &str, directory: tempfile::TempDir, overrides: &[(&str, &str)]) -> Api {
        Self::start_configured(database_url, directory, overrides, |_| {}).await
    }

    /// As [`Api::start_in`], with the config changed by `configure` (sections the environment cannot
    /// set, such as `[[webhooks]]`).
    pub async fn start_configured(
        database_url: &str,
        directory: tempfile::TempDir,
        overrides: &[(&str, &str)],
        configure: impl FnOnce(&mut Config),
    ) -> Api {
        let mut config = config(database_url, directory.path(), overrides);
        configure(&mut config);
        let app = TestApp::spawn(config).await;
        let base = format!("https://127.0.0.1:{}", app.http_address.port());
        let certificates = app.config.tls.dev_directory.clone();
        let ca = ca(&certificates);
        let (cert, key) = dev_certificates::partner_files(&certificates, PARTNER);
        let partner_pair = Pair {
            certificate_pem: std::fs::read_to_string(cert).unwrap(),
            key_pem: std::fs::read_to_string(key).unwrap(),
        };
        // The test issues the second partner's certificate itself, as the platform would sign a CSR.
        let other_pair = dev_certificates::issue_client_certificate(&ca, OTHER_PARTNER).unwrap();
        let stranger_pair = dev_certificates::issue_client_certificate(&ca, "stranger").unwrap();
        Api {
            partner: client(&certificates, Some(&partner_pair)),
            other: client(&certificates, Some(&other_pair)),
            anonymous: client(&certificates, None),
            stranger: client(&certificates, Some(&stranger_pair)),
            app,
            base,
            certificates,
            directory,
        }
    }

    /// Stops the server; returns the directory so a restart finds the same certificates.
    pub async fn stop(self) -> tempfile::TempDir {
        self.app.stop().await;
        self.directory
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request; answers the status and the JSON body (`Null` when empty or not JSON).
    pub async fn call(
        &self,
        client: &reqwest::Client,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = client.request(method, self.url(path));
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

    pub async fn partner_get(&self, path: &str) -> (StatusCode, Value) {
        self.call(&self.partner, Method::GET, path, None, None).await
    }

    pub async fn partner_post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(&self.partner, Method::POST, path, None, Some(body)).await
    }

    /// Signs an administrator in: its session token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                &self.anonymous,
                Method::POST,
                "/admin/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["sessionToken"].as_str().unwrap().to_owned()
    }

    pub async fn root(&self) -> String {
        self.login(ADMIN, ADMIN_PASSWORD).await
    }

    /// Creates an administration panel user as the bootstrap admin and signs it in.
    pub async fn admin_with(&self, username: &str, role: &str, partner: Option<&str>) -> String {
        let root = self.root().await;
        let password = format!("{username}-password-1");
        let (status, body) = self
            .call(
                &self.anonymous,
                Method::POST,
                "/admin/users",
                Some(&root),
                Some(json!({"username": username, "password": password, "role": role, "partnerId": partner})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.login(username, &password).await
    }
}

fn ca(directory: &Path) -> Pair {
    Pair {
        certificate_pem: std::fs::read_to_string(directory.join(dev_certificates::CA_CERT)).unwrap(),
        key_pem: std::fs::read_to_string(directory.join(dev_certificates::CA_KEY)).unwrap(),
    }
}

/// A client trusting the development CA, presenting `identity` when given.
pub fn client(directory: &Path, identity: Option<&Pair>) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(directory, identity))
        .build()
        .unwrap()
}

/// The rustls configuration of [`client`] (for tests that speak TLS on a raw socket).
pub fn tls_config(directory: &Path, identity: Option<&Pair>) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let ca = CertificateDer::from_pem_file(directory.join(dev_certificates::CA_CERT)).unwrap();
    roots.add(ca).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    match identity {
        Some(pair) => {
            let chain = vec![CertificateDer::from_pem_slice(pair.certificate_pem.as_bytes()).unwrap()];
            let key = PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    }
}
