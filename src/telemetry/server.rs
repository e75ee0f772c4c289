//! Serves the agent's metrics and health over HTTP: `GET /metrics` in the
//! Prometheus text format, and `GET /healthz`.
//!
//! The metrics carry counts and detector kind names only, never a value
//! taken from a record.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use super::Metrics;
use crate::redact::Redactor;

/// The content type of the Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct Sources {
    metrics: Arc<Metrics>,
    redactor: Arc<Redactor>,
}

/// A bound metrics listener, ready to serve.
pub struct MetricsServer {
    listener: tokio::net::TcpListener,
}

impl MetricsServer {
    /// Binds `address`, so that a port in use is reported at startup.
    pub async fn bind(address: SocketAddr) -> anyhow::Result<MetricsServer> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| {
                format!(
                    "failed to listen for metrics on {address}; set telemetry.listen to a free \
                     address, or to null to turn the metrics endpoint off"
                )
            })?;
        Ok(MetricsServer { listener })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled.
    pub async fn serve(
        self,
        metrics: Arc<Metrics>,
        redactor: Arc<Redactor>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let app = Router::new()
            .route("/metrics", get(render_metrics))
            .route("/healthz", get(|| async { "ok\n" }))
            .with_state(Sources { metrics, redactor });
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .context("the metrics server failed")
    }
}

async fn render_metrics(State(sources): State<Sources>) -> impl IntoResponse {
    let mut text = sources.metrics.render_prometheus();
    render_hits(&mut text, &sources.redactor);
    ([(CONTENT_TYPE, PROMETHEUS_TEXT)], text)
}

fn render_hits(text: &mut String, redactor: &Redactor) {
    let name = "hush_redaction_hits_total";
    let _ = writeln!(
        text,
        "# HELP {name} Values replaced by a token, by detector kind."
    );
    let _ = writeln!(text, "# TYPE {name} counter");
    for (kind, count) in redactor.hit_counts() {
        let _ = writeln!(text, "{name}{{kind=\"{}\"}} {count}", escape_label(&kind));
    }
}

/// Escapes a label value as the text format requires.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_escaping() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape_label("EMAIL"), "EMAIL");
    }
}
