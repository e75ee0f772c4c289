//! The `exporter` section: where redacted records go, how they are batched,
//! retried and queued, and how the downstream connection is secured.
//!
//! Fields that depend on each other (a TLS section needs an `https://`
//! endpoint, a disk queue needs `max_bytes`) are checked while the section
//! is read, so the error names the field and the line like any other
//! mistake. Header values and key files are only named here; they are read
//! when the sink is built, and their content never appears in an error or
//! a log line.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::at_least;

/// The destination of redacted records, and how they get there.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExporterConfig {
    /// The downstream OTLP collector; without one, redacted records are
    /// written to standard output as JSON, one document per batch.
    pub otlp: Option<OtlpExporterConfig>,
    pub batch: BatchConfig,
    pub retry: RetryConfig,
    pub queue: QueueConfig,
}

/// The wire protocol of the downstream, named as `OTEL_EXPORTER_OTLP_PROTOCOL`
/// names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Protocol {
    /// OTLP/gRPC: the `Export` methods of the logs, trace and metrics
    /// services.
    #[default]
    #[serde(rename = "grpc")]
    Grpc,
    /// OTLP/HTTP with protobuf bodies, posted to `/v1/logs`, `/v1/traces`
    /// and `/v1/metrics` under the endpoint.
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

/// Compression of request bodies sent downstream. The default is none, as
/// in the OpenTelemetry SDKs (`OTEL_EXPORTER_OTLP_COMPRESSION`), because a
/// gRPC server without gzip support rejects every compressed request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    Gzip,
    #[default]
    None,
}

/// An OTLP downstream.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "OtlpExporterFields")]
pub struct OtlpExporterConfig {
    /// URL of the downstream, such as `http://127.0.0.1:4317`. For
    /// `http/protobuf` it is the base URL that the signal paths are
    /// appended to.
    pub endpoint: EndpointUrl,
    pub protocol: Protocol,
    pub compression: Compression,
    /// Time allowed for one export call, in milliseconds.
    pub timeout_ms: u64,
    /// Client TLS settings; only allowed with an `https://` endpoint.
    pub tls: Option<TlsConfig>,
    /// Headers (gRPC metadata) sent with every export call.
    pub headers: Vec<HeaderConfig>,
}

impl OtlpExporterConfig {
    /// Returns a plain-text gRPC downstream with default settings.
    pub fn grpc(endpoint: EndpointUrl) -> OtlpExporterConfig {
        OtlpExporterConfig {
            endpoint,
            protocol: Protocol::Grpc,
            compression: Compression::None,
            timeout_ms: default_export_timeout_ms(),
            tls: None,
            headers: Vec::new(),
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// The fields of [`OtlpExporterConfig`] as written, before the checks that
/// span several of them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OtlpExporterFields {
    endpoint: EndpointUrl,
    #[serde(default)]
    protocol: Protocol,
    #[serde(default)]
    compression: Compression,
    #[serde(default = "default_export_timeout_ms", deserialize_with = "timeout_ms")]
    timeout_ms: u64,
    #[serde(default)]
    tls: Option<TlsConfig>,
    #[serde(default)]
    headers: Vec<HeaderConfig>,
}

impl TryFrom<OtlpExporterFields> for OtlpExporterConfig {
    type Error = String;

    fn try_from(fields: OtlpExporterFields) -> Result<Self, Self::Error> {
        // Certificates given for a plain-text endpoint would be ignored,
        // and the user would believe the connection is encrypted.
        if fields.tls.is_some() && !fields.endpoint.is_https() {
            return Err(format!(
                "invalid exporter.otlp.tls: the endpoint {} is not https://; use an https:// \
                 endpoint or remove the tls section",
                fields.endpoint.as_str()
            ));
        }
        let mut names: Vec<&str> = Vec::new();
        for header in &fields.headers {
            if names.contains(&header.name.as_str()) {
                return Err(format!(
                    "invalid exporter.otlp.headers: the header {:?} is listed twice",
                    header.name.as_str()
                ));
            }
            names.push(header.name.as_str());
        }
        Ok(OtlpExporterConfig {
            endpoint: fields.endpoint,
            protocol: fields.protocol,
            compression: fields.compression,
            timeout_ms: fields.timeout_ms,
            tls: fields.tls,
            headers: fields.headers,
        })
    }
}

fn default_export_timeout_ms() -> u64 {
    10_000
}

fn timeout_ms<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    at_least(deserializer, "timeout_ms", 1, "millisecond")
}

/// Client TLS settings. Without `ca_file`, the system's root certificates
/// are trusted.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "TlsFields")]
pub struct TlsConfig {
    /// PEM file of the certificate authorities that sign the downstream's
    /// certificate, trusted instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// PEM files of the client certificate chain and its private key, for
    /// downstreams that require client authentication.
    pub client_identity: Option<ClientIdentityFiles>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentityFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFields {
    #[serde(default)]
    ca_file: Option<PathBuf>,
    #[serde(default)]
    cert_file: Option<PathBuf>,
    #[serde(default)]
    key_file: Option<PathBuf>,
}

impl TryFrom<TlsFields> for TlsConfig {
    type Error = String;

    fn try_from(fields: TlsFields) -> Result<Self, Self::Error> {
        let client_identity = match (fields.cert_file, fields.key_file) {
            (Some(cert_file), Some(key_file)) => Some(ClientIdentityFiles {
                cert_file,
                key_file,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(
                    "invalid exporter.otlp.tls: cert_file is set but key_file is \
                            missing; a client certificate needs both"
                        .to_string(),
                );
            }
            (None, Some(_)) => {
                return Err(
                    "invalid exporter.otlp.tls: key_file is set but cert_file is \
                            missing; a client certificate needs both"
                        .to_string(),
                );
            }
        };
        Ok(TlsConfig {
            ca_file: fields.ca_file,
            client_identity,
        })
    }
}

/// A header sent with every export call. Its value comes from exactly one
/// of `value`, `value_file` and `value_env`.
#[derive(Clone, Deserialize)]
#[serde(try_from = "HeaderFields")]
pub struct HeaderConfig {
    pub name: HeaderName,
    pub value: HeaderValueSource,
}

/// A header name: lower-case ASCII letters, digits, `-`, `_` and `.`, as
/// gRPC metadata requires.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct HeaderName(String);

impl HeaderName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HeaderName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        let valid = !name.is_empty()
            && name.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
            });
        if !valid {
            return Err(format!(
                "invalid header name {name:?}: expected lower-case letters, digits, '-', '_' \
                 or '.', such as authorization"
            ));
        }
        // These are set by the exporter itself; a second value would make
        // the request invalid.
        let reserved = [
            "content-type",
            "content-encoding",
            "content-length",
            "te",
            "host",
        ];
        if reserved.contains(&name.as_str()) || name.starts_with("grpc-") {
            return Err(format!(
                "invalid header name {name:?}: the exporter sets this header itself"
            ));
        }
        Ok(HeaderName(name))
    }
}

/// The source of a header's value.
#[derive(Clone, PartialEq, Eq)]
pub enum HeaderValueSource {
    /// The value written in the configuration.
    Inline(String),
    /// A file whose content, without a trailing newline, is the value.
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

// Header values are often credentials, so they never reach a log line or a
// panic message through `{:?}`.
impl fmt::Debug for HeaderValueSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderValueSource::Inline(_) => f.write_str("Inline(<withheld>)"),
            HeaderValueSource::File(path) => f.debug_tuple("File").field(path).finish(),
            HeaderValueSource::Env(name) => f.debug_tuple("Env").field(name).finish(),
        }
    }
}

impl fmt::Debug for HeaderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderConfig")
            .field("name", &self.name)
            .field("value", &self.value)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderFields {
    name: HeaderName,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    value_file: Option<PathBuf>,
    #[serde(default)]
    value_env: Option<String>,
}

impl TryFrom<HeaderFields> for HeaderConfig {
    type Error = String;

    fn try_from(fields: HeaderFields) -> Result<Self, Self::Error> {
        let name = fields.name.as_str().to_string();
        let value = match (fields.value, fields.value_file, fields.value_env) {
            (Some(value), None, None) => HeaderValueSource::Inline(value),
            (None, Some(path), None) => HeaderValueSource::File(path),
            (None, None, Some(variable)) if !variable.is_empty() => {
                HeaderValueSource::Env(variable)
            }
            _ => {
                return Err(format!(
                    "invalid exporter.otlp.headers entry {name:?}: set exactly one of value, \
                     value_file and value_env"
                ));
            }
        };
        Ok(HeaderConfig {
            name: fields.name,
            value,
        })
    }
}

/// Limits for combining queued records into export requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Largest number of log records, spans or metric data points in one
    /// export request. A larger incoming batch is split.
    #[serde(deserialize_with = "max_records")]
    pub max_records: usize,
    /// Largest encoded size of one export request before compression, in
    /// bytes. A larger incoming batch is split; a single record larger than
    /// this is sent alone.
    #[serde(deserialize_with = "max_request_bytes")]
    pub max_bytes: usize,
    /// Maximum time a batch waits for more records before it is sent, in
    /// milliseconds. 0 sends whatever is queued at once.
    pub max_delay_ms: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_records: 1000,
            max_bytes: 2 * 1024 * 1024,
            max_delay_ms: 50,
        }
    }
}

impl BatchConfig {
    pub fn max_delay(&self) -> Duration {
        Duration::from_millis(self.max_delay_ms)
    }
}

fn max_records<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    at_least(deserializer, "max_records", 1, "record")
}

// A smaller request would hold hardly more than the framing of one record.
fn max_request_bytes<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    at_least(deserializer, "max_bytes", 1024, "bytes")
}

/// Waits between export attempts that failed with a retryable error.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RetryFields")]
pub struct RetryConfig {
    /// First wait, in milliseconds; each later wait doubles, up to
    /// `max_backoff_ms`, with up to 50% random jitter added.
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial_backoff_ms: 100,
            max_backoff_ms: 5000,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RetryFields {
    initial_backoff_ms: u64,
    max_backoff_ms: u64,
}

impl Default for RetryFields {
    fn default() -> Self {
        let defaults = RetryConfig::default();
        RetryFields {
            initial_backoff_ms: defaults.initial_backoff_ms,
            max_backoff_ms: defaults.max_backoff_ms,
        }
    }
}

impl TryFrom<RetryFields> for RetryConfig {
    type Error = String;

    fn try_from(fields: RetryFields) -> Result<Self, Self::Error> {
        if fields.initial_backoff_ms == 0 {
            return Err(
                "invalid exporter.retry.initial_backoff_ms 0: it must be at least 1 millisecond"
                    .to_string(),
            );
        }
        if fields.max_backoff_ms < fields.initial_backoff_ms {
            return Err(format!(
                "invalid exporter.retry.max_backoff_ms {}: it must be at least \
                 initial_backoff_ms ({})",
                fields.max_backoff_ms, fields.initial_backoff_ms
            ));
        }
        Ok(RetryConfig {
            initial_backoff_ms: fields.initial_backoff_ms,
            max_backoff_ms: fields.max_backoff_ms,
        })
    }
}

/// The queue in which redacted batches wait for the downstream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "QueueFields")]
pub enum QueueConfig {
    /// Batches wait in memory, and a source is acknowledged only when the
    /// downstream accepted its batch.
    Memory {
        /// Batches waiting for the exporter.
        max_batches: usize,
    },
    /// Batches are written to segment files and a source is acknowledged
    /// once its batch is on disk.
    Disk {
        /// Directory of the segment files; `data_dir/queue` when unset.
        dir: Option<PathBuf>,
        /// Disk space the segment files may take, in bytes.
        max_bytes: u64,
    },
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig::Memory { max_batches: 16 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum QueueKind {
    Memory,
    Disk,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueFields {
    kind: QueueKind,
    #[serde(default)]
    max_batches: Option<usize>,
    #[serde(default)]
    dir: Option<PathBuf>,
    #[serde(default)]
    max_bytes: Option<u64>,
}

/// The smallest disk queue: room for a few batches of the default size.
pub const MIN_DISK_QUEUE_BYTES: u64 = 8 * 1024 * 1024;

impl TryFrom<QueueFields> for QueueConfig {
    type Error = String;

    fn try_from(fields: QueueFields) -> Result<Self, Self::Error> {
        match fields.kind {
            QueueKind::Memory => {
                if fields.dir.is_some() || fields.max_bytes.is_some() {
                    return Err("invalid exporter.queue: dir and max_bytes apply only to \
                                kind: disk"
                        .to_string());
                }
                let max_batches = fields.max_batches.unwrap_or(16);
                if max_batches == 0 {
                    return Err(
                        "invalid exporter.queue.max_batches 0: it must be at least 1".to_string(),
                    );
                }
                Ok(QueueConfig::Memory { max_batches })
            }
            QueueKind::Disk => {
                if fields.max_batches.is_some() {
                    return Err(
                        "invalid exporter.queue: max_batches applies only to kind: memory; \
                         a disk queue is bounded by max_bytes"
                            .to_string(),
                    );
                }
                let Some(max_bytes) = fields.max_bytes else {
                    return Err(
                        "missing exporter.queue.max_bytes: a disk queue needs a size \
                                limit in bytes, such as 1073741824 (1 GiB)"
                            .to_string(),
                    );
                };
                if max_bytes < MIN_DISK_QUEUE_BYTES {
                    return Err(format!(
                        "invalid exporter.queue.max_bytes {max_bytes}: it must be at least \
                         {MIN_DISK_QUEUE_BYTES} bytes"
                    ));
                }
                if fields
                    .dir
                    .as_ref()
                    .is_some_and(|dir| dir.as_os_str().is_empty())
                {
                    return Err("invalid exporter.queue.dir: the path is empty".to_string());
                }
                Ok(QueueConfig::Disk {
                    dir: fields.dir,
                    max_bytes,
                })
            }
        }
    }
}

/// An `http://` or `https://` URL with a host and a port.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct EndpointUrl(String);

impl EndpointUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// Returns the host without brackets, such as `collector` or `::1`.
    pub fn host(&self) -> &str {
        let authority = authority(&self.0).unwrap_or("");
        let host = authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host);
        host.trim_start_matches('[').trim_end_matches(']')
    }
}

/// Returns the `HOST:PORT` part of an `http://` or `https://` URL.
fn authority(url: &str) -> Option<&str> {
    url.strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .map(|rest| rest.split('/').next().unwrap_or(""))
}

impl TryFrom<String> for EndpointUrl {
    type Error = String;

    fn try_from(url: String) -> Result<Self, Self::Error> {
        // The port is what follows the last `:`, which also works for a
        // bracketed IPv6 host such as `[::1]:4317`.
        let valid = authority(&url).is_some_and(|authority| {
            authority.rsplit_once(':').is_some_and(|(host, port)| {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                !host.is_empty() && port.parse::<u16>().is_ok_and(|port| port > 0)
            })
        });
        let no_query = !url.contains('?') && !url.contains('#');
        if valid && no_query {
            Ok(EndpointUrl(url))
        } else {
            Err(format!(
                "invalid endpoint {url:?}: expected http://HOST:PORT or https://HOST:PORT, \
                 optionally followed by a path, such as http://127.0.0.1:4317"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn exporter(yaml: &str) -> ExporterConfig {
        Config::from_yaml(yaml, "t.yaml").unwrap().exporter
    }

    fn invalid_message(yaml: &str) -> String {
        match Config::from_yaml(yaml, "t.yaml") {
            Ok(config) => panic!("expected an error, got {config:?}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn defaults_are_grpc_memory_queue() {
        let config = exporter("exporter:\n  otlp:\n    endpoint: http://127.0.0.1:4317\n");
        let otlp = config.otlp.unwrap();

        assert_eq!(otlp.protocol, Protocol::Grpc);
        assert_eq!(otlp.compression, Compression::None);
        assert_eq!(otlp.timeout_ms, 10_000);
        assert_eq!(config.queue, QueueConfig::Memory { max_batches: 16 });
        assert_eq!(config.batch.max_records, 1000);
    }

    #[test]
    fn full_http_section_parses() {
        let config = exporter(
            "exporter:\n  otlp:\n    endpoint: https://collector.example:4318/otlp\n    \
             protocol: http/protobuf\n    compression: gzip\n    tls:\n      ca_file: /ca.pem\n      \
             cert_file: /c.pem\n      key_file: /k.pem\n    headers:\n      - name: authorization\n        \
             value_file: /token\n      - name: x-tenant\n        value: acme\n  batch:\n    \
             max_records: 10\n    max_bytes: 4096\n    max_delay_ms: 0\n  retry:\n    \
             initial_backoff_ms: 10\n    max_backoff_ms: 20\n  queue:\n    kind: disk\n    \
             max_bytes: 10000000\n",
        );
        let otlp = config.otlp.unwrap();

        assert_eq!(otlp.protocol, Protocol::HttpProtobuf);
        assert_eq!(otlp.compression, Compression::Gzip);
        assert_eq!(otlp.endpoint.host(), "collector.example");
        let tls = otlp.tls.unwrap();
        assert_eq!(tls.ca_file, Some(PathBuf::from("/ca.pem")));
        assert_eq!(
            tls.client_identity.unwrap().key_file,
            PathBuf::from("/k.pem")
        );
        assert_eq!(otlp.headers.len(), 2);
        assert_eq!(
            otlp.headers[0].value,
            HeaderValueSource::File(PathBuf::from("/token"))
        );
        assert_eq!(config.batch.max_delay_ms, 0);
        assert_eq!(config.retry.max_backoff_ms, 20);
        assert_eq!(
            config.queue,
            QueueConfig::Disk {
                dir: None,
                max_bytes: 10_000_000
            }
        );
    }

    #[test]
    fn tls_needs_https_endpoint() {
        let message = invalid_message(
            "exporter:\n  otlp:\n    endpoint: http://127.0.0.1:4317\n    tls:\n      \
             ca_file: /ca.pem\n",
        );
        assert!(message.contains("exporter.otlp.tls"), "{message}");
        assert!(message.contains("line "), "{message}");
    }

    #[test]
    fn client_cert_needs_key() {
        let message = invalid_message(
            "exporter:\n  otlp:\n    endpoint: https://c:4317\n    tls:\n      cert_file: /c.pem\n",
        );
        assert!(message.contains("key_file"), "{message}");
        assert!(message.contains("line "), "{message}");
    }

    #[test]
    fn header_needs_exactly_one_value() {
        let message = invalid_message(
            "exporter:\n  otlp:\n    endpoint: http://c:4317\n    headers:\n      - name: a\n        \
             value: x\n        value_env: A\n",
        );
        assert!(message.contains("exactly one"), "{message}");

        let message = invalid_message(
            "exporter:\n  otlp:\n    endpoint: http://c:4317\n    headers:\n      - name: a\n",
        );
        assert!(message.contains("exactly one"), "{message}");
    }

    #[test]
    fn bad_header_name_named_with_line() {
        let message = invalid_message(
            "exporter:\n  otlp:\n    endpoint: http://c:4317\n    headers:\n      - name: Bad Name\n        \
             value: x\n",
        );
        assert!(message.contains("header name"), "{message}");
        assert!(message.contains("line 5"), "{message}");

        let message = invalid_message(
            "exporter:\n  otlp:\n    endpoint: http://c:4317\n    headers:\n      - name: content-type\n        \
             value: x\n",
        );
        assert!(message.contains("sets this header itself"), "{message}");
    }

    #[test]
    fn inline_header_value_not_in_debug() {
        let config = exporter(
            "exporter:\n  otlp:\n    endpoint: http://c:4317\n    headers:\n      - name: authorization\n        \
             value: Bearer s3cret\n",
        );

        let debug = format!("{config:?}");

        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("authorization"), "{debug}");
    }

    #[test]
    fn unknown_protocol_named_with_line() {
        let message = invalid_message(
            "exporter:\n  otlp:\n    endpoint: http://c:4317\n    protocol: http/json\n",
        );
        assert!(message.contains("http/json"), "{message}");
        assert!(message.contains("line 4"), "{message}");
    }

    #[test]
    fn disk_queue_needs_max_bytes() {
        let message = invalid_message("exporter:\n  queue:\n    kind: disk\n    dir: /q\n");
        assert!(message.contains("max_bytes"), "{message}");
        assert!(message.contains("line "), "{message}");

        let message = invalid_message("exporter:\n  queue:\n    kind: disk\n    max_bytes: 1000\n");
        assert!(message.contains("at least"), "{message}");
    }

    #[test]
    fn memory_queue_rejects_disk_fields() {
        let message = invalid_message("exporter:\n  queue:\n    kind: memory\n    dir: /q\n");
        assert!(message.contains("kind: disk"), "{message}");

        let message = invalid_message("exporter:\n  queue:\n    kind: tape\n");
        assert!(message.contains("tape"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn batch_and_retry_limits_checked() {
        let message = invalid_message("exporter:\n  batch:\n    max_records: 0\n");
        assert!(message.contains("max_records"), "{message}");
        assert!(message.contains("line 3"), "{message}");

        let message = invalid_message(
            "exporter:\n  retry:\n    initial_backoff_ms: 500\n    max_backoff_ms: 100\n",
        );
        assert!(message.contains("max_backoff_ms"), "{message}");
    }

    #[test]
    fn endpoint_forms() {
        for endpoint in [
            "http://:4317",
            "http://collector:notaport",
            "http://collector:0",
            "collector:4317",
            "ftp://collector:21",
            "http://collector:4318/v1?x=1",
        ] {
            assert!(
                EndpointUrl::try_from(endpoint.to_string()).is_err(),
                "{endpoint}"
            );
        }
        for endpoint in [
            "http://127.0.0.1:4317",
            "https://collector:443",
            "http://[::1]:4317",
            "https://collector:4318/prefix/",
        ] {
            assert!(
                EndpointUrl::try_from(endpoint.to_string()).is_ok(),
                "{endpoint}"
            );
        }
        let ipv6 = EndpointUrl::try_from("https://[::1]:4317".to_string()).unwrap();
        assert_eq!(ipv6.host(), "::1");
    }
}
