//! TLS of the HTTPS listener: rustls on aws-lc-rs (the tree's one crypto
//! provider), the server certificate, and the partner CA.
//!
//! A client certificate is optional at the TLS level, so `/health`,
//! `/metrics`, the mobile channel and the admin panel work without one; when
//! one is presented it must chain to the partner CA, or the handshake fails.
//! The channels that need a partner (`/secure`, `/lifecycle/v1`) ask for the
//! verified certificate per request (`auth::PartnerIdentity`), which names
//! the partner by its subject CN or OU (`tls.partner_name_from`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rustls::RootCertStore;
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::dev_certificates;
use crate::config::{PartnerNameFrom, TlsConfig};

/// The PEM files the listener uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFiles {
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub partner_ca: PathBuf,
}

/// The listener's rustls configuration: the configured files, or development
/// certificates generated (once) for every configured partner.
pub fn server_config(config: &TlsConfig, partners: &BTreeSet<String>) -> anyhow::Result<Arc<ServerConfig>> {
    let files = if config.is_development() {
        dev_certificates::ensure(&config.dev_directory, partners)
            .with_context(|| format!("development certificates in {}", config.dev_directory.display()))?
    } else {
        CertificateFiles {
            server_cert: config.server_cert_path.clone(),
            server_key: config.server_key_path.clone(),
            partner_ca: config.partner_ca_path.clone(),
        }
    };
    load(&files)
}

/// Builds the rustls configuration from PEM files.
pub fn load(files: &CertificateFiles) -> anyhow::Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain = certificates(&files.server_cert).context("key `tls.server_cert_path`")?;
    let key = PrivateKeyDer::from_pem_file(&files.server_key)
        .with_context(|| format!("reading a private key from {}", files.server_key.display()))
        .context("key `tls.server_key_path`")?;
    let mut roots = RootCertStore::empty();
    for ca in certificates(&files.partner_ca).context("key `tls.partner_ca_path`")? {
        roots
            .add(ca)
            .with_context(|| format!("a CA certificate in {}", files.partner_ca.display()))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .context("the partner CA bundle (key `tls.partner_ca_path`)")?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .context("the server certificate does not match its key")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing the PEM certificates in {}", path.display()))?;
    anyhow::ensure!(!certificates.is_empty(), "{} holds no certificate", path.display());
    Ok(certificates)
}

/// The partner a (verified) client certificate names: its subject's first CN
/// or OU. `None` when the certificate has none or does not parse.
pub fn partner_name(certificate_der: &[u8], from: PartnerNameFrom) -> Option<String> {
    let (_, certificate) = x509_parser::parse_x509_certificate(certificate_der).ok()?;
    let subject = certificate.subject();
    let first = match from {
        PartnerNameFrom::Cn => subject.iter_common_name().next(),
        PartnerNameFrom::Ou => subject.iter_organizational_unit().next(),
    };
    let name = first?.as_str().ok()?.trim();
    (!name.is_empty()).then(|| name.to_owned())
}
