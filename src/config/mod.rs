//! Loads and validates the agent's YAML configuration.
//!
//! One file configures everything: the token key, the tail inputs, the OTLP
//! receiver, the detectors and the exporter. Every field has a default, so an
//! empty file is a valid configuration, and the embedded default
//! (`config/default.yaml`, compiled in) is what `hush run` uses without
//! `--config`.
//!
//! Values that need more than a type check (glob patterns, socket addresses,
//! endpoint URLs, key ids) are parsed while the YAML is read. So every mistake
//! is reported with its line, its column and the name of the field. Unknown fields are rejected rather than ignored: a misspelled
//! option that silently keeps its default is how personal data leaks.
//!
//! The configuration never holds the token key itself, only where to read it.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod exporter;

pub use exporter::{
    BatchConfig, ClientIdentityFiles, Compression, EndpointUrl, ExporterConfig, HeaderConfig,
    HeaderName, HeaderValueSource, MIN_DISK_QUEUE_BYTES, OtlpExporterConfig, Protocol, QueueConfig,
    RetryConfig, TlsConfig,
};
/// Largest joined record, in bytes: the byte limit of one tail batch, which
/// keeps a request well under the 4 MiB that common gRPC servers accept.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// The embedded default configuration, used when no `--config` is given.
pub const DEFAULT_YAML: &str = include_str!("../../config/default.yaml");

/// A configuration file that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read config file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// The whole agent configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the agent's state: tail checkpoints.
    pub data_dir: PathBuf,
    pub key: KeyConfig,
    pub tail: TailConfig,
    pub otlp_receiver: OtlpReceiverConfig,
    pub detect: DetectConfig,
    pub exporter: ExporterConfig,
    pub telemetry: TelemetryConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("/var/lib/hush"),
            key: KeyConfig::default(),
            tail: TailConfig::default(),
            otlp_receiver: OtlpReceiverConfig::default(),
            detect: DetectConfig::default(),
            exporter: ExporterConfig::default(),
            telemetry: TelemetryConfig::default(),
        }
    }
}

/// The token key's source: a file or an environment variable. The key
/// never appears in the configuration itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyConfig {
    /// File holding the key, as written by `hush keygen`.
    pub file: Option<PathBuf>,
    /// Environment variable holding the key text; read when `file` is unset.
    pub env: String,
    /// Key id rendered into every token, so that tokens made under a rotated
    /// key can be distinguished.
    pub id: KeyId,
}

impl Default for KeyConfig {
    fn default() -> Self {
        KeyConfig {
            file: None,
            env: "HUSH_KEY".to_string(),
            id: KeyId("k1".to_string()),
        }
    }
}

/// A key id: 1 to 8 lower-case ASCII letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct KeyId(String);

impl KeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for KeyId {
    type Error = String;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        let valid_chars = id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if id.is_empty() || id.len() > 8 || !valid_chars {
            return Err(format!(
                "invalid key id {id:?}: expected 1 to 8 lower-case letters or digits"
            ));
        }
        Ok(KeyId(id))
    }
}

/// The read position of files found for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// Read a file found for the first time from its first byte.
    Beginning,
    /// Read only what is appended after the file was found.
    End,
}

/// Log files to tail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TailConfig {
    /// Glob patterns of files to read with `format` and `multiline`. Empty
    /// (and no `sources`) disables tailing.
    pub include: Vec<GlobPattern>,
    /// Glob patterns of files never to read, whichever list includes them.
    pub exclude: Vec<GlobPattern>,
    /// Line layout of the files of `include`.
    pub format: LogFormat,
    /// Joining of continuation lines for the files of `include`; `None`
    /// makes every line a record of its own.
    pub multiline: Option<MultilineConfig>,
    /// More groups of files, each with its own format and multiline
    /// settings. A file is read with the first group here that includes it
    /// and does not exclude it, and with the top-level settings only when no
    /// group takes it.
    pub sources: Vec<TailSourceConfig>,
    /// The start position of files seen for the first time. Files with a
    /// checkpoint always resume from it.
    pub start_at: StartAt,
    /// How often followed files are checked for new data and truncation, in
    /// milliseconds. Without working file system events, the directories
    /// are listed again this often too.
    #[serde(deserialize_with = "poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Whether file system events (inotify on Linux) announce new, renamed
    /// and deleted files. Turn it off where events do not arrive, such as on
    /// network file systems; the directories are then listed every
    /// `poll_interval_ms`.
    pub watch: bool,
    /// How often the directories are listed again while file system events
    /// work, in milliseconds, as a fallback for missed events.
    #[serde(deserialize_with = "rescan_interval_ms")]
    pub rescan_interval_ms: u64,
    /// Maximum number of files kept open at once. Over it, the file idle
    /// longest, with every line read and acknowledged, is closed and opened
    /// again by identity when it grows. When no file is idle, new files wait,
    /// and the directories are listed every `poll_interval_ms` until they
    /// are opened.
    #[serde(deserialize_with = "max_open_files")]
    pub max_open_files: usize,
    /// How long a file that was renamed away or deleted stays open after
    /// its last new data, in milliseconds, for the lines its writer adds
    /// before it reopens the new file.
    pub rotate_wait_ms: u64,
    /// Maximum line length passed on whole, in bytes. A longer line is split into
    /// several records, and each split is counted.
    #[serde(deserialize_with = "max_line_bytes")]
    pub max_line_bytes: usize,
    /// Maximum number of records in one batch sent downstream; a joined
    /// multiline record counts once.
    #[serde(deserialize_with = "max_batch_lines")]
    pub max_batch_lines: usize,
    /// How long a last line without a newline waits to be completed before
    /// it is sent as it is, in milliseconds. The same wait applies to a
    /// CRI or Docker line whose runtime wrote only its first parts.
    pub partial_line_timeout_ms: u64,
}

impl Default for TailConfig {
    fn default() -> Self {
        TailConfig {
            include: Vec::new(),
            exclude: Vec::new(),
            format: LogFormat::Auto,
            multiline: None,
            sources: Vec::new(),
            start_at: StartAt::Beginning,
            poll_interval_ms: 250,
            watch: true,
            rescan_interval_ms: 10_000,
            max_open_files: 512,
            rotate_wait_ms: 5000,
            max_line_bytes: 64 * 1024,
            max_batch_lines: 1000,
            partial_line_timeout_ms: 1000,
        }
    }
}

impl TailConfig {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn partial_line_timeout(&self) -> Duration {
        Duration::from_millis(self.partial_line_timeout_ms)
    }

    pub fn rescan_interval(&self) -> Duration {
        Duration::from_millis(self.rescan_interval_ms)
    }

    pub fn rotate_wait(&self) -> Duration {
        Duration::from_millis(self.rotate_wait_ms)
    }

    /// Counts the include patterns of the top level and of every source;
    /// with none, tailing is off.
    pub fn include_pattern_count(&self) -> usize {
        let in_sources: usize = self.sources.iter().map(|source| source.include.len()).sum();
        self.include.len() + in_sources
    }
}

/// A group of files read with the same format and multiline settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailSourceConfig {
    /// Glob patterns of the files of this group; at least one.
    #[serde(deserialize_with = "source_include")]
    pub include: Vec<GlobPattern>,
    /// Glob patterns of files this group leaves to the next group.
    #[serde(default)]
    pub exclude: Vec<GlobPattern>,
    #[serde(default)]
    pub format: LogFormat,
    #[serde(default)]
    pub multiline: Option<MultilineConfig>,
}

/// The layout of the lines of a tailed file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Chosen per file from its first line: `docker` or `cri` when the line
    /// parses as one, otherwise `raw`. In the kubelet's layout
    /// (`.../pods/<namespace>_<pod>_<uid>/<container>/<n>.log`) the choice
    /// waits for the first line that parses, because those files are never
    /// raw.
    #[default]
    Auto,
    /// Each line is a record as it is.
    Raw,
    /// The CRI log format of containerd and CRI-O:
    /// `<RFC 3339 time> <stdout|stderr> <P|F> <text>`.
    Cri,
    /// Docker's json-file format:
    /// `{"log":"text\n","stream":"stdout","time":"<RFC 3339 time>"}`.
    Docker,
}

/// Joining of continuation lines, such as the lines of a stack trace, into
/// the record of the line that starts them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultilineConfig {
    /// Regex (Rust `regex` syntax) that matches the first line of a record;
    /// a line that does not match is joined to the record before it. It is
    /// searched anywhere in the line unless anchored with `^`.
    pub start_pattern: StartPattern,
    /// How long a record waits for another continuation line before it is
    /// sent, in milliseconds.
    #[serde(default = "default_multiline_timeout_ms")]
    pub timeout_ms: u64,
    /// Maximum number of lines in one joined record; the next line starts a
    /// new record.
    #[serde(
        default = "default_multiline_max_lines",
        deserialize_with = "multiline_max_lines"
    )]
    pub max_lines: usize,
    /// Maximum bytes of one joined record; a line that would make it longer
    /// starts a new record.
    #[serde(
        default = "default_multiline_max_bytes",
        deserialize_with = "multiline_max_bytes"
    )]
    pub max_bytes: usize,
}

impl MultilineConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

fn default_multiline_timeout_ms() -> u64 {
    1000
}

// A Java stack trace with its causes is rarely longer than a few hundred
// lines.
fn default_multiline_max_lines() -> usize {
    500
}

fn default_multiline_max_bytes() -> usize {
    256 * 1024
}

/// The compiled start pattern of [`MultilineConfig`], checked for syntax
/// when the configuration is read.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct StartPattern(regex::Regex);

impl StartPattern {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Returns true if `line` starts a new record.
    pub fn is_start(&self, line: &str) -> bool {
        self.0.is_match(line)
    }
}

impl TryFrom<String> for StartPattern {
    type Error = String;

    fn try_from(pattern: String) -> Result<Self, Self::Error> {
        if pattern.is_empty() {
            return Err("invalid start pattern: the pattern is empty".to_string());
        }
        regex::Regex::new(&pattern)
            .map(StartPattern)
            .map_err(|err| format!("invalid start pattern {pattern:?}: {err}"))
    }
}

/// Reads a number of at least `min`, naming `field` in the error.
fn at_least<'de, D, T>(deserializer: D, field: &str, min: T, unit: &str) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + PartialOrd + fmt::Display,
{
    let value = T::deserialize(deserializer)?;
    if value < min {
        return Err(serde::de::Error::custom(format!(
            "invalid {field} {value}: it must be at least {min} {unit}"
        )));
    }
    Ok(value)
}

// Shorter waits only burn CPU on empty polls.
fn poll_interval_ms<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    at_least(deserializer, "poll_interval_ms", 10, "milliseconds")
}

// Pieces shorter than this would cut most values in two, and a value cut in
// two is found by no detector.
fn max_line_bytes<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    at_least(deserializer, "max_line_bytes", 1024, "bytes")
}

fn rescan_interval_ms<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    at_least(deserializer, "rescan_interval_ms", 10, "milliseconds")
}

fn max_open_files<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    at_least(deserializer, "max_open_files", 1, "file")
}

fn max_batch_lines<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    at_least(deserializer, "max_batch_lines", 1, "line")
}

fn multiline_max_lines<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<usize, D::Error> {
    at_least(deserializer, "max_lines", 1, "line")
}

/// Reads `multiline.max_bytes`: at least 1 KiB, like `max_line_bytes`, and
/// at most the batch byte limit, because one record never spans batches.
fn multiline_max_bytes<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<usize, D::Error> {
    let value = at_least(deserializer, "max_bytes", 1024, "bytes")?;
    if value > MAX_RECORD_BYTES {
        return Err(serde::de::Error::custom(format!(
            "invalid max_bytes {value}: it must be at most {MAX_RECORD_BYTES} bytes"
        )));
    }
    Ok(value)
}

/// Reads a source's include list, which must name at least one pattern.
fn source_include<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<GlobPattern>, D::Error> {
    let patterns = Vec::<GlobPattern>::deserialize(deserializer)?;
    if patterns.is_empty() {
        return Err(serde::de::Error::custom(
            "invalid include: a source needs at least one pattern",
        ));
    }
    Ok(patterns)
}

/// A glob pattern checked for syntax when the configuration is read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct GlobPattern(String);

impl GlobPattern {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for GlobPattern {
    type Error = String;

    fn try_from(pattern: String) -> Result<Self, Self::Error> {
        if pattern.is_empty() {
            return Err("invalid glob pattern: the pattern is empty".to_string());
        }
        globset::Glob::new(&pattern)
            .map_err(|err| format!("invalid glob pattern {pattern:?}: {}", err.kind()))?;
        Ok(GlobPattern(pattern))
    }
}

impl fmt::Display for GlobPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The OTLP receivers (gRPC and HTTP) and the redaction choices that only
/// OTLP data has.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpReceiverConfig {
    /// Address the OTLP/gRPC server listens on; `null` disables it.
    pub grpc: Option<ListenAddress>,
    /// Address the OTLP/HTTP server listens on; `null` disables it.
    pub http: Option<ListenAddress>,
    /// Largest request accepted, in bytes, on the wire and after gzip
    /// decompression; larger requests are rejected with `RESOURCE_EXHAUSTED`
    /// (gRPC) or 413 (HTTP).
    #[serde(deserialize_with = "max_request_bytes")]
    pub max_request_bytes: usize,
    /// Request body bytes that all requests in progress may keep in memory
    /// together, counted as received on the wire. A request that would pass
    /// the bound gets `UNAVAILABLE` (gRPC) or 503 (HTTP), both retryable.
    #[serde(deserialize_with = "max_in_flight_bytes")]
    pub max_in_flight_bytes: usize,
    /// Whether span names and span event names are redacted like other
    /// text. Names built from URL paths can carry personal data, so this is
    /// on by default; turn it off to keep names exact for grouping.
    pub redact_span_names: bool,
    /// TLS for both receivers; without it they speak plaintext.
    pub tls: Option<ReceiverTlsConfig>,
    /// Bearer-token authentication for both receivers; without it any
    /// client that reaches the port is accepted.
    pub auth: Option<ReceiverAuthConfig>,
}

impl Default for OtlpReceiverConfig {
    fn default() -> Self {
        OtlpReceiverConfig {
            grpc: Some(ListenAddress(SocketAddr::from(([127, 0, 0, 1], 4317)))),
            http: Some(ListenAddress(SocketAddr::from(([127, 0, 0, 1], 4318)))),
            max_request_bytes: 16 * 1024 * 1024,
            max_in_flight_bytes: 64 * 1024 * 1024,
            redact_span_names: true,
            tls: None,
            auth: None,
        }
    }
}

impl OtlpReceiverConfig {
    /// Checks the limits against each other, which a field-by-field check
    /// cannot do.
    pub fn check(&self) -> Result<(), String> {
        // A gzip request keeps its compressed and its decompressed body.
        let largest_request = self.max_request_bytes.saturating_mul(2);
        if self.max_in_flight_bytes < largest_request {
            return Err(format!(
                "invalid otlp_receiver.max_in_flight_bytes {}: it must be at least twice \
                 max_request_bytes ({}), or a gzip request of the maximum size could never be \
                 accepted",
                self.max_in_flight_bytes, self.max_request_bytes
            ));
        }
        if self.grpc.is_some() && self.grpc == self.http {
            return Err(format!(
                "invalid otlp_receiver: grpc and http both listen on {}; give them different \
                 ports",
                self.grpc
                    .map(|address| address.0.to_string())
                    .unwrap_or_default()
            ));
        }
        Ok(())
    }
}

// Below this, ordinary SDK batches would be rejected.
fn max_request_bytes<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    at_least(deserializer, "max_request_bytes", 1024, "bytes")
}

// The bound is kept in a semaphore whose permits are counted in `u32`.
fn max_in_flight_bytes<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<usize, D::Error> {
    let value = at_least(deserializer, "max_in_flight_bytes", 1024, "bytes")?;
    if value > u32::MAX as usize {
        return Err(serde::de::Error::custom(format!(
            "invalid max_in_flight_bytes {value}: it must be at most {} bytes",
            u32::MAX
        )));
    }
    Ok(value)
}

/// The receivers' server certificate, and the CA that client certificates
/// must chain to when clients must present one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverTlsConfig {
    /// PEM file with the server certificate, followed by its chain.
    pub cert_file: PathBuf,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// PEM file with the CA certificates that client certificates must
    /// chain to. When set, a client without a valid certificate is refused
    /// during the handshake.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
}

/// The source of the bearer token that clients must send as
/// `authorization: Bearer TOKEN`. Like the token key, the token itself
/// never appears in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverAuthConfig {
    /// File holding the token; surrounding whitespace is ignored.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// Environment variable holding the token; read when
    /// `bearer_token_file` is unset.
    #[serde(default)]
    pub bearer_token_env: Option<String>,
}

/// A socket address to listen on, such as `127.0.0.1:4317`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ListenAddress(pub SocketAddr);

impl TryFrom<String> for ListenAddress {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse().map(ListenAddress).map_err(|_| {
            format!("invalid listen address {text:?}: expected IP:PORT, such as 127.0.0.1:4317")
        })
    }
}

/// Detector selection and extra word lists.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Kind names of built-in detectors to turn off, such as `PHONE`.
    pub disable: Vec<String>,
    /// Word lists whose terms are replaced wherever they occur as words.
    pub dictionaries: Vec<DictionaryConfig>,
    /// Field names whose whole value is replaced, whatever it looks like,
    /// in addition to the built-in list.
    pub sensitive_keys: Vec<SensitiveKeyConfig>,
    /// Values and patterns never to redact.
    pub allow: AllowConfig,
}

/// Values and patterns never to redact, even when a detector finds them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllowConfig {
    /// Exact values, matched as written or ignoring ASCII case.
    pub values: Vec<String>,
    /// Regex patterns (Rust `regex` syntax) matched against each found
    /// value; anchor them (`^...$`) to match the whole value.
    pub patterns: Vec<AllowPattern>,
}

/// A regex pattern checked for syntax when the configuration is read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct AllowPattern(String);

impl AllowPattern {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AllowPattern {
    type Error = String;

    fn try_from(pattern: String) -> Result<Self, Self::Error> {
        regex::Regex::new(&pattern)
            .map_err(|err| format!("invalid allow pattern {pattern:?}: {err}"))?;
        Ok(AllowPattern(pattern))
    }
}

/// A field name whose whole value is personal data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensitiveKeyConfig {
    /// Field name, such as `customer.loyalty_id`; ASCII case and `-`/`_`
    /// are ignored, and a key matches a field's last dotted segments.
    pub key: String,
    /// Kind name shown in the token, such as `USER`.
    pub kind: String,
}

/// A word list: one term a line, matched case-insensitively on word
/// boundaries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DictionaryConfig {
    /// Kind name shown in the tokens of this list's terms, such as `NAME`.
    pub kind: String,
    /// Path of the word list file.
    pub path: PathBuf,
}

/// The agent's own metrics and health endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Address serving `/metrics` (Prometheus text format) and `/healthz`;
    /// `null` disables it.
    pub listen: Option<ListenAddress>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            listen: Some(ListenAddress(SocketAddr::from(([127, 0, 0, 1], 9464)))),
        }
    }
}

impl Config {
    /// Parses a configuration from YAML text. `origin` names the text in
    /// error messages, such as the file path.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        // An empty document is a valid, all-default configuration, but the
        // YAML parser reads it as null rather than as an empty mapping.
        if text.lines().all(|line| {
            let line = line.trim();
            line.is_empty() || line.starts_with('#') || line == "---"
        }) {
            return Ok(Config::default());
        }

        let config: Config = serde_saphyr::from_str(text).map_err(|err| ConfigError::Invalid {
            origin: origin.to_string(),
            message: err.to_string(),
        })?;
        config
            .otlp_receiver
            .check()
            .map_err(|message| ConfigError::Invalid {
                origin: origin.to_string(),
                message,
            })?;
        Ok(config)
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_yaml(&text, &path.display().to_string())
    }

    /// Returns the embedded default configuration.
    pub fn embedded_default() -> Config {
        Config::from_yaml(DEFAULT_YAML, "(embedded default)")
            .expect("the embedded default configuration is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_message(yaml: &str) -> String {
        match Config::from_yaml(yaml, "test.yaml") {
            Ok(config) => panic!("expected an error, got {config:?}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn embedded_default_parses() {
        let config = Config::embedded_default();
        assert!(config.exporter.otlp.is_none());
        assert!(config.otlp_receiver.grpc.is_some());
    }

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../config/example.yaml");
        let config = Config::from_yaml(text, "example.yaml").unwrap();
        assert!(!config.tail.include.is_empty());
        assert!(config.exporter.otlp.is_some());
    }

    #[test]
    fn empty_file_is_all_defaults() {
        let config = Config::from_yaml("# nothing\n", "empty.yaml").unwrap();
        assert_eq!(config.tail.max_batch_lines, 1000);
        assert_eq!(config.key.id.as_str(), "k1");
    }

    #[test]
    fn unknown_field_named_with_line() {
        let message = invalid_message("tail:\n  include: ['/var/log/*.log']\n  max_lines: 5\n");
        assert!(message.contains("max_lines"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn bad_glob_named_with_line() {
        let message = invalid_message("tail:\n  include:\n    - '/var/log/[*.log'\n");
        assert!(message.contains("/var/log/[*.log"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn bad_listen_address_rejected() {
        let message = invalid_message("otlp_receiver:\n  grpc: localhost\n");
        assert!(message.contains("listen address"), "{message}");
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn bad_endpoint_rejected() {
        let message = invalid_message("exporter:\n  otlp:\n    endpoint: 127.0.0.1:4317\n");
        assert!(message.contains("http://HOST:PORT"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn endpoint_needs_host_and_port() {
        for endpoint in [
            "http://:4317",
            "http://collector:notaport",
            "http://collector:0",
        ] {
            let yaml = format!("exporter:\n  otlp:\n    endpoint: {endpoint}\n");
            let message = invalid_message(&yaml);
            assert!(
                message.contains("http://HOST:PORT"),
                "{endpoint}: {message}"
            );
        }
        let config = Config::from_yaml(
            "exporter:\n  otlp:\n    endpoint: http://[::1]:4317\n",
            "t.yaml",
        )
        .unwrap();
        assert!(config.exporter.otlp.is_some());
    }

    #[test]
    fn tail_limits_rejected_when_zero() {
        for field in [
            "poll_interval_ms",
            "max_batch_lines",
            "max_line_bytes",
            "rescan_interval_ms",
            "max_open_files",
        ] {
            let message = invalid_message(&format!("tail:\n  {field}: 0\n"));
            assert!(
                message.contains(field) || message.contains("at least"),
                "{message}"
            );
            assert!(message.contains("line 2"), "{field}: {message}");
        }
    }

    #[test]
    fn wrong_type_named_with_line() {
        let message = invalid_message("tail:\n  poll_interval_ms: soon\n");
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn bad_key_id_rejected() {
        let message = invalid_message("key:\n  id: Prod-Key\n");
        assert!(message.contains("key id"), "{message}");
    }

    #[test]
    fn bad_allow_pattern_named_with_line() {
        let message = invalid_message("detect:\n  allow:\n    patterns: ['^10\\.(']\n");
        assert!(message.contains("allow pattern"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn tail_sources_parsed() {
        let config = Config::from_yaml(
            "tail:\n\
             \x20 include: ['/var/log/*.log']\n\
             \x20 sources:\n\
             \x20   - include: ['/var/log/pods/*/*/*.log']\n\
             \x20     format: cri\n\
             \x20     multiline:\n\
             \x20       start_pattern: '^\\d{4}-'\n\
             \x20       max_lines: 50\n",
            "t.yaml",
        )
        .unwrap();

        assert_eq!(config.tail.format, LogFormat::Auto);
        assert!(config.tail.multiline.is_none());
        let source = &config.tail.sources[0];
        assert_eq!(source.format, LogFormat::Cri);
        assert!(source.exclude.is_empty());
        let multiline = source.multiline.as_ref().unwrap();
        assert!(multiline.start_pattern.is_start("2024-05-01 x"));
        assert!(!multiline.start_pattern.is_start("\tat x"));
        assert_eq!(multiline.max_lines, 50);
        assert_eq!(multiline.max_bytes, 256 * 1024);
        assert_eq!(multiline.timeout(), Duration::from_secs(1));
        assert_eq!(config.tail.include_pattern_count(), 2);
    }

    #[test]
    fn unknown_format_named_with_line() {
        let message = invalid_message("tail:\n  include: ['/a/*.log']\n  format: json\n");
        assert!(message.contains("json"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn bad_start_pattern_named_with_line() {
        let message = invalid_message("tail:\n  multiline:\n    start_pattern: '^(2024'\n");
        assert!(message.contains("start pattern"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn multiline_needs_start_pattern() {
        let message = invalid_message("tail:\n  multiline:\n    timeout_ms: 10\n");
        assert!(message.contains("start_pattern"), "{message}");
    }

    #[test]
    fn multiline_limits_checked() {
        let cases = [
            ("max_lines: 0", "max_lines"),
            ("max_bytes: 10", "max_bytes"),
            ("max_bytes: 4194304", "at most"),
        ];
        for (setting, expected) in cases {
            let yaml = format!("tail:\n  multiline:\n    start_pattern: x\n    {setting}\n");
            let message = invalid_message(&yaml);
            assert!(message.contains(expected), "{setting}: {message}");
            assert!(message.contains("line 4"), "{setting}: {message}");
        }
    }

    #[test]
    fn source_needs_include() {
        let message = invalid_message("tail:\n  sources:\n    - include: []\n      format: raw\n");
        assert!(message.contains("at least one pattern"), "{message}");
        assert!(message.contains("line 3"), "{message}");

        let message = invalid_message("tail:\n  sources:\n    - format: raw\n");
        assert!(message.contains("include"), "{message}");
    }

    #[test]
    fn unknown_source_field_named_with_line() {
        let message =
            invalid_message("tail:\n  sources:\n    - include: ['/a/*.log']\n      parser: cri\n");
        assert!(message.contains("parser"), "{message}");
        assert!(message.contains("line 4"), "{message}");
    }

    #[test]
    fn receiver_in_flight_bound_below_request_size_rejected() {
        let message = invalid_message(
            "otlp_receiver:\n  max_request_bytes: 4096\n  max_in_flight_bytes: 8191\n",
        );
        assert!(message.contains("max_in_flight_bytes"), "{message}");
    }

    #[test]
    fn receiver_same_port_rejected() {
        let message =
            invalid_message("otlp_receiver:\n  grpc: 127.0.0.1:5000\n  http: 127.0.0.1:5000\n");
        assert!(message.contains("different"), "{message}");
    }

    #[test]
    fn receiver_tls_and_auth_parse() {
        let yaml = "otlp_receiver:\n  tls:\n    cert_file: /c.pem\n    key_file: /k.pem\n  \
                    auth:\n    bearer_token_env: HUSH_OTLP_TOKEN\n";
        let config = Config::from_yaml(yaml, "t.yaml").unwrap();
        let tls = config.otlp_receiver.tls.expect("tls section");
        assert_eq!(tls.cert_file, PathBuf::from("/c.pem"));
        assert!(tls.client_ca_file.is_none());
        let auth = config.otlp_receiver.auth.expect("auth section");
        assert_eq!(auth.bearer_token_env.as_deref(), Some("HUSH_OTLP_TOKEN"));
    }

    #[test]
    fn receiver_tls_without_key_named() {
        let message = invalid_message("otlp_receiver:\n  tls:\n    cert_file: /c.pem\n");
        assert!(message.contains("key_file"), "{message}");
    }

    #[test]
    fn null_receiver_disables_it() {
        let config = Config::from_yaml("otlp_receiver:\n  grpc: null\n", "t.yaml").unwrap();
        assert!(config.otlp_receiver.grpc.is_none());
    }
}
