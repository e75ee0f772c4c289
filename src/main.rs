//! The `hush` command line: parses arguments and calls into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use hush::app;
use hush::config::{Config, GlobPattern};
use hush::token::Key;

#[derive(Parser)]
#[command(
    name = "hush",
    version,
    about = "Replaces personal data in logs and OTLP telemetry with stable keyed tokens"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent: tail files, receive OTLP, redact, and export.
    Run {
        /// Configuration file (YAML). Without it, the embedded default is
        /// used: tail /var/log, receive OTLP/gRPC on 127.0.0.1:4317 and
        /// OTLP/HTTP on 127.0.0.1:4318, print to standard output.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Tail files matching this glob instead of the configured ones
        /// (tail.include and tail.sources), read with the top-level
        /// tail.format and tail.multiline; repeat for several patterns.
        #[arg(long = "tail", value_name = "GLOB")]
        tail: Vec<String>,
        /// Directory for checkpoints, instead of the configured data_dir.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// File holding the token key, instead of the configured key source.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
    },
    /// Redact lines from files (or standard input) to standard output.
    Redact {
        /// Configuration file whose key and detector settings to use.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// File holding the token key, instead of the configured key source.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// Print the number of lines and the hits per kind to standard error.
        #[arg(long)]
        stats: bool,
        /// Files to read, in order; standard input when none is given.
        files: Vec<PathBuf>,
    },
    /// Check a configuration file and name the field and line of any mistake.
    Validate {
        /// Configuration file (YAML) to check.
        #[arg(long, short)]
        config: PathBuf,
        /// Check the syntax, the detector settings and the word lists only,
        /// not the key, TLS, token and header files and environment
        /// variables, for a machine other than the one the agent runs on.
        #[arg(long)]
        no_environment: bool,
    },
    /// Generate a new random token key and print it, or write it to a file
    /// readable by its owner only.
    Keygen {
        /// File to create (mode 0600); an existing file is never overwritten.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    install_panic_hook();
    hush::telemetry::init_logging();

    let cli = Cli::parse();
    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hush: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run {
            config,
            tail,
            data_dir,
            key_file,
        } => {
            let mut config = load_config(config.as_deref())?;
            if !tail.is_empty() {
                config.tail.sources.clear();
                config.tail.include = tail
                    .into_iter()
                    .map(GlobPattern::try_from)
                    .collect::<Result<_, _>>()
                    .map_err(|message| anyhow::anyhow!("--tail: {message}"))?;
            }
            if let Some(data_dir) = data_dir {
                config.data_dir = data_dir;
            }
            if let Some(key_file) = key_file {
                config.key.file = Some(key_file);
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("failed to start the async runtime")?;
            runtime.block_on(app::run_agent(config))
        }
        Command::Redact {
            config,
            key_file,
            stats,
            files,
        } => {
            let mut config = load_config(config.as_deref())?;
            if let Some(key_file) = key_file {
                config.key.file = Some(key_file);
            }
            let redactor = app::build_redactor(&config)?;
            let summary = app::redact_lines(&redactor, &files, &mut std::io::stdout())?;
            if stats {
                print_stats(&summary, &redactor);
            }
            Ok(())
        }
        Command::Validate {
            config: path,
            no_environment,
        } => {
            let config = Config::load(&path)?;
            app::build_engine(&config)
                .with_context(|| format!("invalid detector settings in {}", path.display()))?;
            if !no_environment {
                app::check_environment(&config).with_context(|| {
                    format!(
                        "{} is valid, but the agent could not start with it here (use \
                         --no-environment to skip this check on another machine)",
                        path.display()
                    )
                })?;
            }
            println!("{}: valid", path.display());
            Ok(())
        }
        Command::Keygen { out } => keygen(out),
    }
}

fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    match path {
        Some(path) => Ok(Config::load(path)?),
        None => Ok(Config::embedded_default()),
    }
}

fn print_stats(summary: &app::RedactSummary, redactor: &hush::redact::Redactor) {
    eprintln!(
        "lines={} bytes={} invalid_utf8={}",
        summary.lines, summary.bytes, summary.lines_invalid_utf8
    );
    for (kind, count) in redactor.hit_counts() {
        if count > 0 {
            eprintln!("hits {kind}={count}");
        }
    }
}

fn keygen(out: Option<PathBuf>) -> anyhow::Result<()> {
    let key = Key::generate("k1");
    let text = key.to_text();
    let Some(path) = out else {
        print!("{text}");
        return Ok(());
    };
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        && !parent.is_dir()
    {
        anyhow::bail!(
            "failed to create the key file {}: the directory {} does not exist",
            path.display(),
            parent.display()
        );
    }

    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| {
            format!(
                "failed to create the key file {} (an existing key is never overwritten)",
                path.display()
            )
        })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("failed to write {}", path.display()))?;
    eprintln!("wrote a new token key to {}", path.display());
    Ok(())
}

/// Replaces the default panic hook, whose message can quote the text being
/// processed (a string slicing panic prints the string), with one that
/// prints only where the panic happened. A panic while redacting a record
/// is caught and the record replaced; this keeps its content out of the
/// agent's own output as well.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|location| format!("{}:{}", location.file(), location.line()))
            .unwrap_or_else(|| "an unknown location".to_string());
        eprintln!(
            "hush: internal error at {location}; the message is withheld because it may quote record data"
        );
    }));
}
