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
    /// Glob patterns of files to read. Empty disables tailing.
    pub include: Vec<GlobPattern>,
    /// Glob patterns of files never to read, even when included.
    pub exclude: Vec<GlobPattern>,
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
    /// again by identity when it grows. When no file is idle, new files wait.
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
    /// Maximum number of lines in one batch sent downstream.
    #[serde(deserialize_with = "max_batch_lines")]
    pub max_batch_lines: usize,
    /// How long a last line without a newline waits to be completed before
    /// it is sent as it is, in milliseconds.
    pub partial_line_timeout_ms: u64,
}

impl Default for TailConfig {
    fn default() -> Self {
        TailConfig {
            include: Vec::new(),
            exclude: Vec::new(),
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

/// The OTLP receiver.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpReceiverConfig {
    /// Address the OTLP/gRPC server listens on; `null` disables it.
    pub grpc: Option<ListenAddress>,
    /// Largest request accepted, in bytes; larger requests are rejected
    /// with `RESOURCE_EXHAUSTED`.
    pub max_request_bytes: usize,
}

impl Default for OtlpReceiverConfig {
    fn default() -> Self {
        OtlpReceiverConfig {
            grpc: Some(ListenAddress(SocketAddr::from(([127, 0, 0, 1], 4317)))),
            max_request_bytes: 16 * 1024 * 1024,
        }
    }
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

/// The destination of redacted records.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExporterConfig {
    /// The downstream OTLP/gRPC collector; without one, redacted records are
    /// written to standard output as JSON, one document per batch.
    pub otlp: Option<OtlpExporterConfig>,
}

/// An OTLP/gRPC downstream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpExporterConfig {
    /// URL of the downstream, such as `http://127.0.0.1:4317`.
    pub endpoint: EndpointUrl,
    /// Time allowed for one export call, in milliseconds.
    #[serde(default = "default_export_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_export_timeout_ms() -> u64 {
    10_000
}

/// An `http://` URL with a host and a port.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct EndpointUrl(String);

impl EndpointUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EndpointUrl {
    type Error = String;

    fn try_from(url: String) -> Result<Self, Self::Error> {
        // The exporter has no TLS yet; accepting https:// would send
        // plaintext to a downstream the user believes is encrypted.
        if url.starts_with("https://") {
            return Err(format!(
                "unsupported endpoint {url:?}: the exporter does not support TLS yet; use \
                 http://HOST:PORT, and put a TLS-terminating proxy on the same host if the \
                 downstream is remote"
            ));
        }
        let authority = url
            .strip_prefix("http://")
            .map(|rest| rest.split('/').next().unwrap_or(""));
        // The port is what follows the last `:`, which also works for a
        // bracketed IPv6 host such as `[::1]:4317`.
        let valid = authority.is_some_and(|authority| {
            authority.rsplit_once(':').is_some_and(|(host, port)| {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                !host.is_empty() && port.parse::<u16>().is_ok_and(|port| port > 0)
            })
        });
        match authority {
            Some(_) if valid => Ok(EndpointUrl(url)),
            _ => Err(format!(
                "invalid endpoint {url:?}: expected http://HOST:PORT, such as \
                 http://127.0.0.1:4317"
            )),
        }
    }
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

        serde_saphyr::from_str(text).map_err(|err| ConfigError::Invalid {
            origin: origin.to_string(),
            message: err.to_string(),
        })
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
    fn https_endpoint_rejected() {
        let message = invalid_message("exporter:\n  otlp:\n    endpoint: https://collector:4317\n");
        assert!(message.contains("does not support TLS"), "{message}");
        assert!(message.contains("line 3"), "{message}");
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
    fn null_receiver_disables_it() {
        let config = Config::from_yaml("otlp_receiver:\n  grpc: null\n", "t.yaml").unwrap();
        assert!(config.otlp_receiver.grpc.is_none());
    }
}
