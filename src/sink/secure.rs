//! Reads what a downstream connection needs besides its address: TLS
//! certificates and keys, and the values of configured headers.
//!
//! Everything is read once, when the sink is built, so a missing file is
//! reported at startup. Errors name the header, file or variable, never a
//! value: header values are often credentials.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{HeaderConfig, HeaderValueSource, TlsConfig};

/// A header ready to send. `Debug` withholds the value.
pub(super) struct Header {
    pub name: String,
    pub value: String,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Header({}: <withheld>)", self.name)
    }
}

/// Reads the value of every configured header.
pub(super) fn load_headers(headers: &[HeaderConfig]) -> anyhow::Result<Vec<Header>> {
    headers.iter().map(load_header).collect()
}

fn load_header(header: &HeaderConfig) -> anyhow::Result<Header> {
    let name = header.name.as_str();
    let (value, origin) = match &header.value {
        HeaderValueSource::Inline(value) => (value.clone(), "the configuration".to_string()),
        HeaderValueSource::File(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "failed to read the value of header {name} from {}",
                    path.display()
                )
            })?;
            let value = text.strip_suffix('\n').unwrap_or(&text);
            let value = value.strip_suffix('\r').unwrap_or(value);
            (value.to_string(), path.display().to_string())
        }
        HeaderValueSource::Env(variable) => {
            let value = std::env::var(variable).map_err(|_| {
                anyhow::anyhow!(
                    "the environment variable {variable} for header {name} is not set or not \
                     valid UTF-8"
                )
            })?;
            (value, format!("the environment variable {variable}"))
        }
    };

    // Visible ASCII, spaces and tabs: what both HTTP header values and
    // gRPC ASCII metadata accept.
    let valid = !value.is_empty()
        && value
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    if !valid {
        anyhow::bail!(
            "invalid value of header {name} from {origin}: it must be non-empty printable ASCII"
        );
    }
    Ok(Header {
        name: name.to_string(),
        value,
    })
}

/// TLS certificates and keys read from the configured files, as PEM.
pub(super) struct TlsFiles {
    pub ca_pem: Option<Vec<u8>>,
    pub identity_pem: Option<(Vec<u8>, Vec<u8>)>,
}

/// Reads and checks the configured PEM files.
pub(super) fn load_tls(config: &TlsConfig) -> anyhow::Result<TlsFiles> {
    let ca_pem = match &config.ca_file {
        Some(path) => {
            let pem = read_pem(path, "CA certificate")?;
            certificates(&pem, path)?;
            Some(pem)
        }
        None => None,
    };
    let identity_pem = match &config.client_identity {
        Some(files) => {
            let cert = read_pem(&files.cert_file, "client certificate")?;
            certificates(&cert, &files.cert_file)?;
            let key = read_pem(&files.key_file, "client key")?;
            private_key(&key, &files.key_file)?;
            Some((cert, key))
        }
        None => None,
    };
    Ok(TlsFiles {
        ca_pem,
        identity_pem,
    })
}

fn read_pem(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("failed to read the {what} {}", path.display()))
}

fn certificates(pem: &[u8], path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("invalid PEM certificate in {}", path.display()))?;
    if certificates.is_empty() {
        anyhow::bail!("no PEM certificate found in {}", path.display());
    }
    Ok(certificates)
}

fn private_key(pem: &[u8], path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem)
        .with_context(|| format!("no valid PEM private key found in {}", path.display()))
}

/// Builds the rustls client configuration for OTLP/HTTP: the configured CA
/// or the system roots, and the client certificate when one is set.
pub(super) fn rustls_config(files: &TlsFiles) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    match &files.ca_pem {
        Some(pem) => {
            for certificate in certificates(pem, Path::new("exporter.otlp.tls.ca_file"))? {
                roots
                    .add(certificate)
                    .context("invalid CA certificate in exporter.otlp.tls.ca_file")?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                anyhow::bail!(
                    "no system root certificates found; set exporter.otlp.tls.ca_file to the \
                     CA that signs the downstream's certificate"
                );
            }
        }
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("failed to set up TLS")?
        .with_root_certificates(roots);
    let mut config = match &files.identity_pem {
        Some((cert, key)) => {
            let chain = certificates(cert, Path::new("exporter.otlp.tls.cert_file"))?;
            let key = private_key(key, Path::new("exporter.otlp.tls.key_file"))?;
            builder
                .with_client_auth_cert(chain, key)
                .context("the client certificate and key in exporter.otlp.tls do not match")?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
