//! The agent's own counters, and the logging set-up.
//!
//! Counters are plain relaxed atomics grouped in one struct, so the hot path
//! pays one atomic add per event and nothing else. They count records,
//! bytes and failures; they never carry a value taken from a record, so no
//! personal data can reach the agent's metrics. Log messages follow the same
//! rule: they name files, peers and counts, never record content.
//!
//! Log style: lower-case messages without a trailing period, with context in
//! `tracing` fields (`path = %path.display()`, `error = %err`).

mod server;

use std::fmt;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

pub use server::MetricsServer;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::redact::Redactor;

/// The redactor applied to values the agent writes into its own logs, such
/// as file paths, which can name a person (`/var/log/app/alice@example.com.log`).
static LOG_REDACTOR: OnceLock<Arc<Redactor>> = OnceLock::new();

/// Sets the redactor for the agent's own log fields; the first call wins.
pub fn set_log_redactor(redactor: Arc<Redactor>) {
    let _ = LOG_REDACTOR.set(redactor);
}

/// A path for a log field, shown with its personal data replaced by tokens.
/// Before [`set_log_redactor`] is called it shows `[path withheld]`, so an
/// early log line cannot leak either.
pub struct LogPath<'a>(pub &'a Path);

impl fmt::Display for LogPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(redactor) = LOG_REDACTOR.get() else {
            return f.write_str("[path withheld]");
        };
        let text = self.0.to_string_lossy();
        f.write_str(&redactor.redact(&text))
    }
}

/// Text for a log field that can contain paths or other personal data, such
/// as a library's error message, shown redacted like [`LogPath`]. Before
/// [`set_log_redactor`] is called it shows `[text withheld]`.
pub struct LogText<'a>(pub &'a str);

impl fmt::Display for LogText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(redactor) = LOG_REDACTOR.get() else {
            return f.write_str("[text withheld]");
        };
        f.write_str(&redactor.redact(self.0))
    }
}

/// Declares the counters once, so the struct, its Prometheus names and its
/// help texts cannot drift apart.
macro_rules! counters {
    ($( $field:ident => $help:literal, )*) => {
        /// Monotonic counters of the whole agent.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $( #[doc = $help] pub $field: AtomicU64, )*
            /// Current levels, such as the size of the delivery queue.
            pub gauges: Gauges,
        }

        impl Metrics {
            /// Renders every counter in the Prometheus text exposition
            /// format, version 0.0.4, with the `hush_` prefix.
            pub fn render_prometheus(&self) -> String {
                let mut out = String::new();
                $(
                    let name = concat!("hush_", stringify!($field));
                    let _ = writeln!(out, "# HELP {name} {}", $help);
                    let _ = writeln!(out, "# TYPE {name} counter");
                    let _ = writeln!(out, "{name} {}", self.$field.load(Ordering::Relaxed));
                )*
                self.gauges.render_prometheus(&mut out);
                out
            }

            /// Lists every counter with its current value, for logs and tests.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                let mut values = vec![ $( (stringify!($field), self.$field.load(Ordering::Relaxed)), )* ];
                values.extend(self.gauges.snapshot());
                values
            }
        }
    };
}

/// Declares the gauges: values that go up and down, set rather than added
/// to.
macro_rules! gauges {
    ($( $field:ident => $help:literal, )*) => {
        /// Current levels of the whole agent.
        #[derive(Debug, Default)]
        pub struct Gauges {
            $( #[doc = $help] pub $field: AtomicU64, )*
        }

        impl Gauges {
            fn render_prometheus(&self, out: &mut String) {
                $(
                    let name = concat!("hush_", stringify!($field));
                    let _ = writeln!(out, "# HELP {name} {}", $help);
                    let _ = writeln!(out, "# TYPE {name} gauge");
                    let _ = writeln!(out, "{name} {}", self.$field.load(Ordering::Relaxed));
                )*
            }

            fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![ $( (stringify!($field), self.$field.load(Ordering::Relaxed)), )* ]
            }
        }
    };
}

gauges! {
    queue_batches => "Batches waiting in the delivery queue for the downstream.",
    queue_bytes => "Bytes of segment files the disk queue takes.",
    queue_max_bytes => "Disk space the disk queue may take (exporter.queue.max_bytes); 0 for the memory queue.",
}

counters! {
    tail_lines_total => "Lines read from tailed files.",
    tail_bytes_total => "Bytes read from tailed files.",
    tail_lines_invalid_utf8_total => "Tailed lines that were not valid UTF-8 and were converted lossily.",
    tail_lines_split_total => "Tailed lines longer than tail.max_line_bytes that were split.",
    tail_lines_malformed_total => "Lines of CRI or Docker log files that did not parse and were sent as raw text.",
    tail_multiline_records_cut_total => "Joined multiline records that reached max_lines or max_bytes; the next line started a new record.",
    tail_files_opened_total => "Files opened for tailing.",
    tail_files_rotated_total => "Tailed files that were renamed away, replaced or truncated.",
    tail_read_errors_total => "Errors reading a tailed file or its directory.",
    tail_files_parked_total => "Idle tailed files closed to stay under tail.max_open_files; each is opened again when it changes.",
    tail_lines_dropped_total => "Tailed records in batches the downstream rejected; they are skipped, not sent again.",
    otlp_requests_total => "OTLP export requests received.",
    otlp_requests_rejected_total => "OTLP export requests answered with an error.",
    otlp_requests_throttled_total => "OTLP export requests answered with a retryable error because the export queue or the in-flight byte bound was full.",
    otlp_requests_unauthenticated_total => "OTLP export requests without the configured bearer token.",
    records_redacted_total => "Log records, spans and metric data points that went through redaction.",
    records_redaction_failed_total => "Records whose redaction failed; they are dropped, never sent.",
    export_batches_total => "Batches accepted by the downstream.",
    export_records_total => "Log records, spans and metric data points accepted by the downstream.",
    export_retries_total => "Export attempts that failed and were retried.",
    export_batches_dropped_total => "Batches the downstream rejected as invalid; they are not retried.",
    export_records_rejected_total => "Records the downstream rejected in a partial success; they are not retried.",
    queue_full_total => "Batches turned away, or held back, because the delivery queue was full.",
    queue_frames_corrupt_total => "Torn or corrupt records found in the disk queue and skipped.",
    queue_write_errors_total => "Failed writes to the disk queue.",
    checkpoint_write_errors_total => "Failed writes of the tail checkpoint file.",
}

impl Metrics {
    /// Sets `gauge` to `value`.
    pub fn set(gauge: &AtomicU64, value: u64) {
        gauge.store(value, Ordering::Relaxed);
    }

    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one to `counter`.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts the log subscriber: human-readable lines on standard error, level
/// from `RUST_LOG` (default `info`). Standard output is kept for data.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only help a person at a terminal; in a file or journald
    // they are noise.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_text_redacted_once_redactor_set() {
        let redactor = Redactor::new(
            crate::detect::Engine::builtin(&Default::default()).unwrap(),
            crate::token::Tokenizer::new(crate::token::Key::generate("k1")),
        );
        set_log_redactor(Arc::new(redactor));
        // A notify error for a directory that could not be watched.
        let message =
            "Permission denied (os error 13) about [\"/var/log/users/alice.smith@example.com\"]";

        let displayed = LogText(message).to_string();

        assert!(!displayed.contains("alice.smith"), "{displayed}");
        assert!(displayed.contains("Permission denied"), "{displayed}");
    }

    #[test]
    fn prometheus_text_lists_counters() {
        let metrics = Metrics::default();
        Metrics::add(&metrics.tail_lines_total, 3);

        let text = metrics.render_prometheus();

        assert!(text.contains("# TYPE hush_tail_lines_total counter\n"));
        assert!(text.contains("\nhush_tail_lines_total 3\n"));
        assert!(text.contains("\nhush_export_batches_total 0\n"));
    }
}
