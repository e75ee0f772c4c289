//! The agent's commands, kept apart from argument parsing: building the
//! redactor from a configuration, running the daemon, and filtering lines.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, KeyConfig};
use crate::detect::{DictionarySpec, Engine, EngineOptions, SensitiveKeySpec};
use crate::pipeline::{DeliveryOptions, Pipeline};
use crate::redact::Redactor;
use crate::redact::otlp::OtlpOptions;
use crate::sink::Sink;
use crate::source::otlp::{GrpcReceiver, HttpReceiver, ReceiverSettings};
use crate::telemetry::{Metrics, MetricsServer};
use crate::token::{Key, Tokenizer};

/// Reads the token key from the file or environment variable the
/// configuration names.
///
/// # Errors
///
/// Fails when no key is configured, with a message that explains how to make
/// one, or when the key file or variable contains no valid key. The key itself
/// never appears in an error.
pub fn load_key(config: &KeyConfig) -> anyhow::Result<Key> {
    let id = config.id.as_str();
    if let Some(path) = &config.file {
        return Key::from_file(path, id)
            .with_context(|| format!("failed to load the token key from {}", path.display()));
    }

    match std::env::var(&config.env) {
        Ok(text) if !text.trim().is_empty() => Key::from_text(&text, id).with_context(|| {
            format!(
                "the environment variable {} holds no valid token key",
                config.env
            )
        }),
        _ => bail!(
            "no token key configured: make one with `hush keygen --out /etc/hush/token.key` and \
             set key.file to that path, or export {}=\"$(hush keygen)\"",
            config.env
        ),
    }
}

/// Reads what `run` reads at start besides the detector settings: the token
/// key, the receivers' TLS and token files, and the exporter's TLS
/// certificates and header values, from files or environment variables.
/// Binds no port and connects to nothing.
///
/// # Errors
///
/// Fails with the message `run` would give, naming the file or variable.
pub fn check_environment(config: &Config) -> anyhow::Result<()> {
    load_key(&config.key)?;
    ReceiverSettings::load(&config.otlp_receiver)?;

    // tonic starts a lazy channel's task on the current runtime, so the
    // exporter is built inside one.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async { Sink::from_config(&config.exporter).map(drop) })
}

/// Builds the detection engine a configuration describes: the built-in pack
/// minus the disabled kinds, plus the configured word lists, sensitive keys
/// and allow lists. `hush validate` runs this too, so a missing word list
/// or an unknown kind is reported before the agent is started.
pub fn build_engine(config: &Config) -> anyhow::Result<Engine> {
    let options = EngineOptions {
        disabled_kinds: config.detect.disable.clone(),
        dictionaries: config
            .detect
            .dictionaries
            .iter()
            .map(|dictionary| DictionarySpec {
                kind: dictionary.kind.clone(),
                path: dictionary.path.clone(),
            })
            .collect(),
        sensitive_keys: config
            .detect
            .sensitive_keys
            .iter()
            .map(|key| SensitiveKeySpec {
                key: key.key.clone(),
                kind: key.kind.clone(),
            })
            .collect(),
        allow_values: config.detect.allow.values.clone(),
        allow_patterns: config
            .detect
            .allow
            .patterns
            .iter()
            .map(|pattern| pattern.as_str().to_string())
            .collect(),
    };
    Engine::builtin(&options).context("failed to build the detectors")
}

/// Builds the redactor a configuration describes: its engine, the token
/// key and the OTLP redaction options.
pub fn build_redactor(config: &Config) -> anyhow::Result<Redactor> {
    let key = load_key(&config.key)?;
    let engine = build_engine(config)?;
    let otlp_options = OtlpOptions {
        redact_span_names: config.otlp_receiver.redact_span_names,
    };
    Ok(Redactor::new(engine, Tokenizer::new(key)).with_otlp_options(otlp_options))
}

/// Runs the daemon until SIGINT or SIGTERM: tails files, receives OTLP,
/// redacts, and exports.
pub async fn run_agent(config: Config) -> anyhow::Result<()> {
    // Before any port is bound, so a client that sees the port open can
    // already stop the agent cleanly.
    let mut signals = StopSignals::install()?;
    let redactor = Arc::new(build_redactor(&config)?);
    crate::telemetry::set_log_redactor(redactor.clone());
    let metrics = Arc::new(Metrics::default());
    let sink = Sink::from_config(&config.exporter)?;
    let receiver_settings = Arc::new(ReceiverSettings::load(&config.otlp_receiver)?);
    let grpc_receiver = match config.otlp_receiver.grpc {
        Some(address) => Some(GrpcReceiver::bind(address).await?),
        None => None,
    };
    let http_receiver = match config.otlp_receiver.http {
        Some(address) => Some(HttpReceiver::bind(address).await?),
        None => None,
    };
    let metrics_server = match config.telemetry.listen {
        Some(address) => Some(MetricsServer::bind(address.0).await?),
        None => None,
    };
    let shutdown = CancellationToken::new();

    let options = DeliveryOptions::from_config(&config.exporter, &config.data_dir);
    let (pipeline, exporter) = Pipeline::start(
        sink,
        &options,
        redactor.clone(),
        metrics.clone(),
        shutdown.clone(),
    )?;
    let mut tasks = tokio::task::JoinSet::new();
    let grpc_address = match grpc_receiver {
        Some(receiver) => {
            let address = receiver.local_addr()?;
            let settings = receiver_settings.clone();
            tasks.spawn(receiver.serve(settings, pipeline.clone(), shutdown.clone()));
            Some(address)
        }
        None => None,
    };
    let http_address = match http_receiver {
        Some(receiver) => {
            let address = receiver.local_addr()?;
            let settings = receiver_settings.clone();
            tasks.spawn(receiver.serve(settings, pipeline.clone(), shutdown.clone()));
            Some(address)
        }
        None => None,
    };
    let metrics_address = match metrics_server {
        Some(server) => {
            let address = server.local_addr()?;
            tasks.spawn(server.serve(metrics.clone(), redactor.clone(), shutdown.clone()));
            Some(address)
        }
        None => None,
    };
    let tail_patterns = config.tail.include_pattern_count();
    if tail_patterns > 0 {
        tasks.spawn(crate::source::tail::run(
            config.tail.clone(),
            config.data_dir.clone(),
            pipeline.clone(),
            shutdown.clone(),
        ));
    }
    drop(pipeline);
    tracing::info!(
        otlp_grpc = ?grpc_address,
        otlp_http = ?http_address,
        otlp_tls = config.otlp_receiver.tls.is_some(),
        otlp_auth = config.otlp_receiver.auth.is_some(),
        metrics = ?metrics_address,
        tail_patterns,
        exporter = config.exporter.otlp.as_ref().map_or("stdout", |otlp| otlp.endpoint.as_str()),
        key_id = config.key.id.as_str(),
        "hush started"
    );

    let mut failure = wait_for_stop(&mut tasks, &shutdown, &mut signals).await;
    shutdown.cancel();
    while let Some(finished) = tasks.join_next().await {
        log_task_end(finished);
    }
    if let Ok(Err(message)) = exporter.await {
        failure = failure.or(Some(anyhow::anyhow!(message)));
    }

    log_counters(&metrics, &redactor);
    match failure {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// Waits for a stop signal, or for a source to fail, which stops the agent
/// too: running without one of the configured inputs would lose its data.
async fn wait_for_stop(
    tasks: &mut tokio::task::JoinSet<anyhow::Result<()>>,
    shutdown: &CancellationToken,
    signals: &mut StopSignals,
) -> Option<anyhow::Error> {
    loop {
        tokio::select! {
            _ = signals.interrupt.recv() => {
                tracing::info!(signal = "SIGINT", "stopping");
                return None;
            }
            _ = signals.terminate.recv() => {
                tracing::info!(signal = "SIGTERM", "stopping");
                return None;
            }
            // The exporter stops the agent when its sink failed for good.
            () = shutdown.cancelled() => return None,
            // With no source left (or none configured), only a signal
            // stops the agent, so this branch must not be polled.
            finished = tasks.join_next(), if !tasks.is_empty() => match finished {
                None => continue,
                Some(Ok(Ok(()))) => continue,
                Some(Ok(Err(err))) => return Some(err),
                Some(Err(join_error)) => {
                    return Some(anyhow::anyhow!("a source task failed: {join_error}"));
                }
            },
        }
    }
}

/// The signals that stop the agent, listened to from before it reports
/// that it started, so a stop request is never lost to the default action.
struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> anyhow::Result<StopSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())
                .context("failed to install the SIGINT handler")?,
            terminate: signal(SignalKind::terminate())
                .context("failed to install the SIGTERM handler")?,
        })
    }
}

fn log_task_end(finished: Result<anyhow::Result<()>, tokio::task::JoinError>) {
    match finished {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::error!(error = %format!("{err:#}"), "a source stopped with an error")
        }
        Err(err) => tracing::error!(error = %err, "a source task failed"),
    }
}

fn log_counters(metrics: &Metrics, redactor: &Redactor) {
    let counters: Vec<String> = metrics
        .snapshot()
        .into_iter()
        .filter(|(_, value)| *value > 0)
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let hits: Vec<String> = redactor
        .hit_counts()
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(kind, count)| format!("{kind}={count}"))
        .collect();
    tracing::info!(
        counters = %counters.join(" "),
        hits = %hits.join(" "),
        "hush stopped"
    );
}

/// Counts of one `hush redact` run.
#[derive(Debug, Default)]
pub struct RedactSummary {
    pub lines: u64,
    pub bytes: u64,
    pub lines_invalid_utf8: u64,
}

/// Redacts every line of `inputs` (standard input when empty) to `output`,
/// one output line per input line, in order.
///
/// A line that is not valid UTF-8 is converted lossily and counted. CRLF
/// line ends are kept as they were.
pub fn redact_lines(
    redactor: &Redactor,
    inputs: &[PathBuf],
    output: &mut dyn Write,
) -> anyhow::Result<RedactSummary> {
    let mut summary = RedactSummary::default();
    let mut output = BufWriter::with_capacity(64 * 1024, output);
    if inputs.is_empty() {
        let stdin = std::io::stdin();
        redact_reader(redactor, stdin.lock(), &mut output, &mut summary)
            .context("failed to read standard input")?;
    }
    for path in inputs {
        let file = open_input(path)?;
        let reader = std::io::BufReader::with_capacity(256 * 1024, file);
        redact_reader(redactor, reader, &mut output, &mut summary)
            .with_context(|| format!("failed to read {}", path.display()))?;
    }
    output.flush().context("failed to write the output")?;
    Ok(summary)
}

fn open_input(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::open(path).with_context(|| format!("failed to open {}", path.display()))
}

fn redact_reader(
    redactor: &Redactor,
    mut reader: impl BufRead,
    output: &mut impl Write,
    summary: &mut RedactSummary,
) -> anyhow::Result<()> {
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        summary.lines += 1;
        summary.bytes += line.len() as u64;

        let (content, ending) = split_line_ending(&line);
        let text = match std::str::from_utf8(content) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => {
                summary.lines_invalid_utf8 += 1;
                String::from_utf8_lossy(content)
            }
        };
        let redacted = redactor.redact(&text);
        output.write_all(redacted.as_bytes())?;
        output.write_all(ending)?;
    }
}

/// Splits a line into its content and its ending (`\n`, `\r\n` or nothing).
fn split_line_ending(line: &[u8]) -> (&[u8], &[u8]) {
    if line.ends_with(b"\r\n") {
        line.split_at(line.len() - 2)
    } else if line.ends_with(b"\n") {
        line.split_at(line.len() - 1)
    } else {
        (line, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ending_split() {
        assert_eq!(split_line_ending(b"a\r\n"), (&b"a"[..], &b"\r\n"[..]));
        assert_eq!(split_line_ending(b"a\n"), (&b"a"[..], &b"\n"[..]));
        assert_eq!(split_line_ending(b"a"), (&b"a"[..], &b""[..]));
        assert_eq!(split_line_ending(b"a\rb\n"), (&b"a\rb"[..], &b"\n"[..]));
    }

    #[test]
    fn missing_key_message_says_how() {
        let config = KeyConfig {
            file: None,
            env: "HUSH_TEST_KEY_THAT_IS_NOT_SET".to_string(),
            id: KeyConfig::default().id,
        };
        let Err(err) = load_key(&config) else {
            panic!("expected an error for a missing key");
        };
        let message = format!("{err:#}");
        assert!(message.contains("hush keygen"), "{message}");
        assert!(
            message.contains("HUSH_TEST_KEY_THAT_IS_NOT_SET"),
            "{message}"
        );
    }
}
