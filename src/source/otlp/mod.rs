//! Receives OTLP logs, traces and metrics over gRPC (`grpc`) and HTTP
//! (`http`) and hands them to the pipeline.
//!
//! A request gets its response only after its batch was redacted and
//! accepted by the downstream. So a success means the data arrived, and a
//! client that got an error can retry without the agent having kept a copy. Both receivers share one [`Intake`]: the bearer-token
//! check, the bound on request bytes held by requests in progress, and the
//! mapping of pipeline results to the OTLP specification's answers:
//!
//! | outcome | gRPC | HTTP |
//! | --- | --- | --- |
//! | accepted, some records dropped by redaction | `OK` with partial success | 200 with partial success |
//! | queue full, byte bound reached, shutting down | `UNAVAILABLE` | 503 with `Retry-After` |
//! | request too large | `RESOURCE_EXHAUSTED` | 413 |
//! | malformed request | `INVALID_ARGUMENT` | 400 |
//! | downstream rejected the batch as invalid | `INVALID_ARGUMENT` | 400 |
//! | missing or wrong bearer token | `UNAUTHENTICATED` | 401 |
//!
//! The receivers never log or count a value taken from a request, nor the
//! client's address.

mod body;
mod grpc;
mod http;
mod signal;
mod tls;

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Semaphore;

pub use self::grpc::GrpcReceiver;
pub use self::http::HttpReceiver;
use crate::config::{ListenAddress, OtlpReceiverConfig, ReceiverAuthConfig};
use crate::pipeline::{Delivered, DeliveryError, Payload, Pipeline};
use crate::telemetry::Metrics;

/// The state both receivers share.
#[derive(Clone)]
pub(crate) struct Intake {
    pipeline: Pipeline,
    metrics: Arc<Metrics>,
    /// Permits are bytes of request bodies held by requests in progress.
    in_flight_bytes: Arc<Semaphore>,
    max_request_bytes: usize,
    bearer_token: Option<Arc<BearerToken>>,
}

impl Intake {
    fn new(settings: &ReceiverSettings, pipeline: Pipeline) -> Intake {
        Intake {
            metrics: pipeline.metrics().clone(),
            pipeline,
            in_flight_bytes: Arc::new(Semaphore::new(settings.max_in_flight_bytes)),
            max_request_bytes: settings.max_request_bytes,
            bearer_token: settings.bearer_token.clone(),
        }
    }

    /// Counts a new request and checks its `authorization` header against
    /// the configured token. Every request passes when no token is
    /// configured.
    fn admit(&self, headers: &::http::HeaderMap) -> bool {
        Metrics::inc(&self.metrics.otlp_requests_total);
        let Some(expected) = &self.bearer_token else {
            return true;
        };
        let presented = headers
            .get(::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_credential);
        let accepted = presented.is_some_and(|token| expected.matches(token));
        if !accepted {
            Metrics::inc(&self.metrics.otlp_requests_unauthenticated_total);
            self.count_rejected();
        }
        accepted
    }

    /// Hands a decoded request to the pipeline, failing at once when its
    /// queue is full.
    async fn submit(&self, payload: Payload) -> Result<Delivered, DeliveryError> {
        let result = self.pipeline.try_deliver(payload).await;
        match &result {
            Ok(delivered) if delivered.dropped_records > 0 => {
                tracing::warn!(
                    dropped_records = delivered.dropped_records,
                    "records whose redaction failed were dropped from an OTLP request"
                );
            }
            Ok(_) => {}
            Err(DeliveryError::QueueFull) => self.count_throttled(),
            Err(_) => Metrics::inc(&self.metrics.otlp_requests_rejected_total),
        }
        result
    }

    fn count_throttled(&self) {
        Metrics::inc(&self.metrics.otlp_requests_throttled_total);
        Metrics::inc(&self.metrics.otlp_requests_rejected_total);
    }

    fn count_rejected(&self) {
        Metrics::inc(&self.metrics.otlp_requests_rejected_total);
    }
}

/// Returns the credential of an `authorization: Bearer CREDENTIAL` value;
/// the scheme is matched ignoring ASCII case, as RFC 9110 requires.
fn bearer_credential(value: &str) -> Option<&str> {
    let (scheme, credential) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credential.trim())
}

/// The configured bearer token, kept as its SHA-256 digest so that
/// comparing it with a presented token takes the same time wherever the
/// two differ.
pub(crate) struct BearerToken {
    digest: [u8; 32],
}

impl BearerToken {
    fn new(token: &str) -> BearerToken {
        BearerToken {
            digest: digest(token),
        }
    }

    fn matches(&self, presented: &str) -> bool {
        let presented = digest(presented);
        // XOR-fold rather than `==`, which may stop at the first
        // difference.
        self.digest
            .iter()
            .zip(presented.iter())
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
    }
}

fn digest(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

/// The receiver settings that need files or the environment read: the TLS
/// configuration and the bearer token, loaded once for both receivers.
pub struct ReceiverSettings {
    max_request_bytes: usize,
    max_in_flight_bytes: usize,
    tls: Option<tls::TlsSettings>,
    bearer_token: Option<Arc<BearerToken>>,
}

impl ReceiverSettings {
    /// Reads the certificate, key and token files the configuration names.
    ///
    /// # Errors
    ///
    /// Fails with the path and the reason when a file is missing or contains
    /// no valid PEM, or when the token is empty. The token never appears in
    /// an error.
    pub fn load(config: &OtlpReceiverConfig) -> anyhow::Result<ReceiverSettings> {
        let tls = match &config.tls {
            Some(tls) => Some(tls::TlsSettings::load(tls)?),
            None => None,
        };
        let bearer_token = match &config.auth {
            Some(auth) => Some(Arc::new(load_bearer_token(auth)?)),
            None => None,
        };
        Ok(ReceiverSettings {
            max_request_bytes: config.max_request_bytes,
            max_in_flight_bytes: config.max_in_flight_bytes,
            tls,
            bearer_token,
        })
    }
}

/// Binds a receiver's listener, rather than when it starts serving, so
/// that a port already in use is reported before the agent logs that it
/// started.
async fn bind_listener(
    address: ListenAddress,
    protocol: &str,
    field: &str,
) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address.0)
        .await
        .with_context(|| {
            format!(
                "failed to listen for {protocol} on {}; set {field} to a free address, or to \
                 null to turn the receiver off",
                address.0
            )
        })
}

fn load_bearer_token(auth: &ReceiverAuthConfig) -> anyhow::Result<BearerToken> {
    let token = match (&auth.bearer_token_file, &auth.bearer_token_env) {
        (Some(path), _) => std::fs::read_to_string(path).with_context(|| {
            format!(
                "failed to read otlp_receiver.auth.bearer_token_file {}",
                path.display()
            )
        })?,
        (None, Some(name)) => std::env::var(name).with_context(|| {
            format!(
                "the environment variable {name} named by otlp_receiver.auth.bearer_token_env \
                 is not set or not valid UTF-8"
            )
        })?,
        (None, None) => anyhow::bail!(
            "otlp_receiver.auth sets neither bearer_token_file nor bearer_token_env; set one, \
             or remove the auth section to accept clients without a token"
        ),
    };
    let token = token.trim();
    if token.is_empty() {
        anyhow::bail!(
            "the OTLP receiver bearer token is empty; put the token in the file or variable"
        );
    }
    Ok(BearerToken::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_credential_parsed() {
        assert_eq!(bearer_credential("Bearer abc"), Some("abc"));
        assert_eq!(bearer_credential("bearer  abc "), Some("abc"));
        assert_eq!(bearer_credential("Basic abc"), None);
        assert_eq!(bearer_credential("Bearerabc"), None);
    }

    #[test]
    fn bearer_token_compared() {
        let token = BearerToken::new("s3cret");
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre"));
        assert!(!token.matches(""));
    }
}
