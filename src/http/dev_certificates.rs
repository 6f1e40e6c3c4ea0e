//! Development certificates, generated at first start when no production file
//! is configured: a development CA, a server certificate for localhost and
//! 127.0.0.1 signed by it, and a client certificate per configured partner
//! whose subject CN (and OU) names the partner. Existing files are kept, so
//! certificates handed to a partner's developers stay valid across restarts.
//!
//! The CA also signs partners' client certificates: as in the product, the
//! platform signs what partners present, so the name in the certificate is
//! one the platform put there.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::tls::CertificateFiles;

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca-key.pem";
pub const SERVER_CERT: &str = "server.pem";
pub const SERVER_KEY: &str = "server-key.pem";

/// A certificate and its private key, PEM.
#[derive(Clone)]
pub struct Pair {
    pub certificate_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair").finish_non_exhaustive()
    }
}

/// The file names of a partner's client certificate and key.
pub fn partner_files(directory: &Path, partner: &str) -> (PathBuf, PathBuf) {
    (
        directory.join(format!("partner-{partner}.pem")),
        directory.join(format!("partner-{partner}-key.pem")),
    )
}

/// Makes sure the directory holds the CA, the server certificate and one
/// client certificate per partner, generating whatever is missing; logs where they are.
pub fn ensure(directory: &Path, partners: &BTreeSet<String>) -> anyhow::Result<CertificateFiles> {
    fs::create_dir_all(directory).with_context(|| format!("creating {}", directory.display()))?;
    let (ca_cert, ca_key) = (directory.join(CA_CERT), directory.join(CA_KEY));
    let ca = if ca_cert.exists() && ca_key.exists() {
        Pair {
            certificate_pem: fs::read_to_string(&ca_cert)?,
            key_pem: fs::read_to_string(&ca_key)?,
        }
    } else {
        let ca = new_ca("Antaca development CA")?;
        write(&ca_cert, &ca.certificate_pem, false)?;
        write(&ca_key, &ca.key_pem, true)?;
        ca
    };
    let (server_cert, server_key) = (directory.join(SERVER_CERT), directory.join(SERVER_KEY));
    if !(server_cert.exists() && server_key.exists()) {
        let server = issue_server_certificate(&ca)?;
        write(&server_cert, &server.certificate_pem, false)?;
        write(&server_key, &server.key_pem, true)?;
    }
    for partner in partners {
        anyhow::ensure!(
            !partner.is_empty()
                && partner
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte)),
            "partner {partner:?}: only letters, digits, '-', '_' and '.' fit a file name"
        );
        let (certificate, key) = partner_files(directory, partner);
        if !(certificate.exists() && key.exists()) {
            let client = issue_client_certificate(&ca, partner)?;
            write(&certificate, &client.certificate_pem, false)?;
            write(&key, &client.key_pem, true)?;
        }
        tracing::info!(
            partner = %partner,
            certificate = %certificate.display(),
            key = %key.display(),
            "DEVELOPMENT partner client certificate"
        );
    }
    tracing::warn!(
        ca = %ca_cert.display(),
        server_certificate = %server_cert.display(),
        "DEVELOPMENT certificates in use (tls.server_cert_path, tls.server_key_path and tls.partner_ca_path are empty)"
    );
    Ok(CertificateFiles {
        server_cert,
        server_key,
        partner_ca: ca_cert,
    })
}

/// A new self-signed CA.
pub fn new_ca(name: &str) -> anyhow::Result<Pair> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(name, None);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let certificate = params.self_signed(&key)?;
    Ok(Pair {
        certificate_pem: certificate.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A server certificate for localhost, 127.0.0.1 and ::1.
pub fn issue_server_certificate(ca: &Pair) -> anyhow::Result<Pair> {
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()])?;
    params.distinguished_name = distinguished_name("localhost", None);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    sign(params, ca)
}

/// A client certificate naming `partner` in both CN and OU, so either
/// `tls.partner_name_from` setting finds it.
pub fn issue_client_certificate(ca: &Pair, partner: &str) -> anyhow::Result<Pair> {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(partner, Some(partner));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    sign(params, ca)
}

fn sign(params: CertificateParams, ca: &Pair) -> anyhow::Result<Pair> {
    let ca_key = KeyPair::from_pem(&ca.key_pem).context("the CA's private key")?;
    let issuer = Issuer::from_ca_cert_pem(&ca.certificate_pem, ca_key).context("the CA certificate")?;
    let key = KeyPair::generate()?;
    let certificate = params.signed_by(&key, &issuer)?;
    Ok(Pair {
        certificate_pem: certificate.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn distinguished_name(common_name: &str, unit: Option<&str>) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Antaca development");
    if let Some(unit) = unit {
        name.push(DnType::OrganizationalUnitName, unit);
    }
    name.push(DnType::CommonName, common_name);
    name
}

/// Writes a PEM file; private keys readable by the owner only.
fn write(path: &Path, contents: &str, private: bool) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PartnerNameFrom;

    #[test]
    fn a_client_certificate_names_its_partner_in_cn_and_ou() {
        let ca = new_ca("test CA").unwrap();
        let client = issue_client_certificate(&ca, "dev-partner").unwrap();
        let der = rustls_pki_types::CertificateDer::from_pem_slice(client.certificate_pem.as_bytes()).unwrap();
        use rustls_pki_types::pem::PemObject;
        for from in [PartnerNameFrom::Cn, PartnerNameFrom::Ou] {
            assert_eq!(
                super::super::tls::partner_name(&der, from).as_deref(),
                Some("dev-partner")
            );
        }
    }

    #[test]
    fn ensure_generates_once_and_keeps_what_exists() {
        let directory = std::env::temp_dir().join(format!("antaca-dev-certs-{}", uuid::Uuid::new_v4().simple()));
        let partners: BTreeSet<String> = ["dev-partner".to_owned()].into();
        let files = ensure(&directory, &partners).unwrap();
        let first = fs::read_to_string(&files.server_cert).unwrap();
        super::super::tls::load(&files).expect("the generated files make a rustls config");
        ensure(&directory, &partners).unwrap();
        assert_eq!(
            fs::read_to_string(&files.server_cert).unwrap(),
            first,
            "kept, not regenerated"
        );
        assert!(partner_files(&directory, "dev-partner").0.exists());
        fs::remove_dir_all(&directory).unwrap();
    }
}
