//! TLS for the receivers (rustls with the ring provider): loads the server
//! certificate, its key and the optional client CA from PEM files, and turns
//! accepted TCP connections into TLS streams.
//!
//! Handshakes run in their own tasks with a time limit, so a client that
//! connects and sends nothing cannot hold up the accept loop. A failed
//! handshake (no client certificate, wrong CA, plaintext client) closes
//! that connection and is logged without the peer's address.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig, crypto};
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use crate::config::ReceiverTlsConfig;

/// Time a client has to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections whose handshake finished and that the server has not
/// taken yet.
const HANDSHAKEN_BACKLOG: usize = 64;

/// The loaded certificate material, from which each receiver builds its
/// own server configuration (they differ in ALPN protocols).
pub(crate) struct TlsSettings {
    certificates: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<Arc<RootCertStore>>,
}

impl TlsSettings {
    pub(crate) fn load(config: &ReceiverTlsConfig) -> anyhow::Result<TlsSettings> {
        let certificates = read_certificates(&config.cert_file, "cert_file")?;
        let key = PrivateKeyDer::from_pem_file(&config.key_file).with_context(|| {
            format!(
                "failed to read a private key from otlp_receiver.tls.key_file {}",
                config.key_file.display()
            )
        })?;
        let client_roots = match &config.client_ca_file {
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for certificate in read_certificates(path, "client_ca_file")? {
                    roots.add(certificate).with_context(|| {
                        format!(
                            "invalid CA certificate in otlp_receiver.tls.client_ca_file {}",
                            path.display()
                        )
                    })?;
                }
                Some(Arc::new(roots))
            }
            None => None,
        };

        let settings = TlsSettings {
            certificates,
            key,
            client_roots,
        };
        // Build once now, so a key that does not match its certificate is
        // reported at startup.
        settings.server_config(&[])?;
        Ok(settings)
    }

    /// Builds a rustls server configuration offering `alpn` protocols.
    pub(crate) fn server_config(&self, alpn: &[&[u8]]) -> anyhow::Result<Arc<ServerConfig>> {
        let provider = Arc::new(crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("failed to set the TLS protocol versions")?;
        let builder = match &self.client_roots {
            Some(roots) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider)
                    .build()
                    .context("failed to build the client certificate verifier")?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(self.certificates.clone(), self.key.clone_key())
            .context("the TLS certificate and key do not form a valid pair")?;
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

fn read_certificates(path: &Path, field: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .with_context(|| {
            format!(
                "failed to read certificates from otlp_receiver.tls.{field} {}",
                path.display()
            )
        })?;
    if certificates.is_empty() {
        anyhow::bail!(
            "otlp_receiver.tls.{field} {} contains no PEM certificate",
            path.display()
        );
    }
    Ok(certificates)
}

/// Accepts connections on `listener` and completes their TLS handshakes,
/// handing each finished one to the returned channel, until `shutdown` is
/// cancelled.
pub(crate) fn accept_tls(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    shutdown: CancellationToken,
) -> mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)> {
    let (handshaken, connections) = mpsc::channel(HANDSHAKEN_BACKLOG);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = shutdown.cancelled() => return,
            };
            let (stream, peer) = match accepted {
                Ok(connection) => connection,
                Err(err) => {
                    // Running out of file descriptors is the usual cause;
                    // waiting lets some connections close.
                    tracing::warn!(error = %err, "failed to accept an OTLP connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let acceptor = acceptor.clone();
            let handshaken = handshaken.clone();
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                match handshake.await {
                    Ok(Ok(stream)) => {
                        let _ = handshaken.send((stream, peer)).await;
                    }
                    Ok(Err(err)) => {
                        tracing::warn!(error = %err, "TLS handshake with an OTLP client failed")
                    }
                    Err(_) => tracing::warn!(
                        timeout_s = HANDSHAKE_TIMEOUT.as_secs(),
                        "TLS handshake with an OTLP client timed out"
                    ),
                }
            });
        }
    });
    connections
}
