//! Runs the `hush` command line as a user would: `redact`, `validate` and
//! `keygen`, with good and bad input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn hush() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hush"));
    command.env_remove("HUSH_KEY").env("RUST_LOG", "warn");
    command
}

fn run_with_stdin(mut command: Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hush");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("wait for hush")
}

/// Writes `yaml` to `dir/name` and runs `hush validate --no-environment`
/// on it, which checks what does not depend on the machine.
fn validate_yaml(dir: &std::path::Path, name: &str, yaml: &str) -> Output {
    validate_yaml_with(dir, name, yaml, &["--no-environment"])
}

/// Writes `yaml` to `dir/name` and runs `hush validate` with `options`,
/// without HUSH_KEY in the environment.
fn validate_yaml_with(dir: &std::path::Path, name: &str, yaml: &str, options: &[&str]) -> Output {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write config");
    hush()
        .args(["validate", "--config"])
        .arg(&path)
        .args(options)
        .env_remove("HUSH_KEY")
        .output()
        .expect("run validate")
}

/// Writes a configuration with no tail input, no receiver and no metrics
/// endpoint into `dir` and returns its path.
fn write_sourceless_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("hush.yaml");
    let yaml = format!(
        "data_dir: {}\notlp_receiver: {{ grpc: null, http: null }}\ntelemetry: {{ listen: null }}\n",
        dir.join("state").display()
    );
    std::fs::write(&path, yaml).expect("write config");
    path
}

fn redact(input: &[u8]) -> Output {
    let mut command = hush();
    command.arg("redact").env("HUSH_KEY", KEY);
    run_with_stdin(command, input)
}

#[test]
fn redact_keeps_line_count_and_order() {
    let input = b"first alice@example.com\nno personal data here\r\nthird 10.0.0.1\nlast";
    let output = redact(input);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let text = String::from_utf8(output.stdout).expect("UTF-8 output");
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.len(), 4, "{text:?}");
    assert!(lines[0].starts_with("first "), "{text:?}");
    assert!(!lines[0].contains("alice@example.com"), "{text:?}");
    assert_eq!(lines[1], "no personal data here\r", "clean line changed");
    assert!(lines[2].starts_with("third "), "{text:?}");
    assert!(!lines[2].contains("10.0.0.1"), "{text:?}");
    assert_eq!(lines[3], "last");
}

#[test]
fn redact_twice_changes_nothing() {
    let input = b"user bob@example.com from 192.0.2.1 password=hunter2 card 4111 1111 1111 1111\n";
    let once = redact(input);
    assert!(once.status.success());
    let twice = redact(&once.stdout);
    assert!(twice.status.success());
    assert_eq!(
        String::from_utf8_lossy(&once.stdout),
        String::from_utf8_lossy(&twice.stdout)
    );
    assert_ne!(once.stdout, input.to_vec(), "nothing was redacted");
}

#[test]
fn redact_same_value_same_token() {
    let output = redact(b"a@example.com\nA@Example.com\n");
    let text = String::from_utf8(output.stdout).expect("UTF-8 output");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], lines[1], "e-mail case changed the token");
}

#[test]
fn redact_invalid_utf8_line_passes() {
    let output = redact(b"bad \xff byte carol@example.com\nnext\n");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("output is valid UTF-8");
    assert!(text.starts_with("bad \u{fffd} byte "), "{text:?}");
    assert!(!text.contains("carol@example.com"));
    assert!(text.ends_with("\nnext\n"));
}

#[test]
fn redact_unreadable_file_fails() {
    let output = hush()
        .args(["redact", "/nonexistent/hush-test.log"])
        .env("HUSH_KEY", KEY)
        .output()
        .expect("run hush");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/hush-test.log"), "{stderr}");
}

#[test]
fn redact_without_key_fails_and_says_how() {
    let output = run_with_stdin(
        {
            let mut command = hush();
            command.arg("redact");
            command
        },
        b"x\n",
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("hush keygen"), "{stderr}");
    assert!(output.stdout.is_empty(), "output written without a key");
}

#[test]
fn redact_bad_key_fails_without_echoing_it() {
    let secret = "not-a-key-but-a-secret-looking-value";
    let mut command = hush();
    command.arg("redact").env("HUSH_KEY", secret);
    let output = run_with_stdin(command, b"x\n");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HUSH_KEY"), "{stderr}");
    assert!(
        !stderr.contains(secret),
        "the key text was printed: {stderr}"
    );
}

#[test]
fn redact_key_file_matches_env_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key_path = dir.path().join("token.key");
    std::fs::write(&key_path, format!("{KEY}\n")).expect("write key");

    let mut command = hush();
    command.arg("redact").arg("--key-file").arg(&key_path);
    let from_file = run_with_stdin(command, b"dave@example.com\n");
    let from_env = redact(b"dave@example.com\n");
    assert!(
        from_file.status.success(),
        "{}",
        String::from_utf8_lossy(&from_file.stderr)
    );
    assert_eq!(from_file.stdout, from_env.stdout);
}

#[test]
fn keygen_writes_private_file_once() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("temp dir");
    let key_path = dir.path().join("new.key");
    let output = hush()
        .args(["keygen", "--out"])
        .arg(&key_path)
        .output()
        .expect("run keygen");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mode = std::fs::metadata(&key_path)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");

    let again = hush()
        .args(["keygen", "--out"])
        .arg(&key_path)
        .output()
        .expect("run keygen again");
    assert!(!again.status.success(), "an existing key was overwritten");

    let mut command = hush();
    command.arg("redact").arg("--key-file").arg(&key_path);
    let output = run_with_stdin(command, b"erin@example.com\n");
    assert!(output.status.success(), "a generated key does not load");
}

#[test]
fn keygen_keys_differ() {
    let first = hush().arg("keygen").output().expect("run keygen");
    let second = hush().arg("keygen").output().expect("run keygen");
    assert!(first.status.success());
    assert_ne!(first.stdout, second.stdout);
}

#[test]
fn validate_names_field_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = "tail:\n  include: ['/var/log/*.log']\n  poll_intervall_ms: 5\n";
    let output = validate_yaml(dir.path(), "bad.yaml", yaml);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("poll_intervall_ms"), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
}

#[test]
fn validate_accepts_example_config() {
    // The example names a word list under /etc; point it at a real file.
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.yaml"))
            .expect("read the example config");
    let dir = tempfile::tempdir().expect("temp dir");
    let words = dir.path().join("customers.txt");
    std::fs::write(&words, "Acme Corporation\nGlobex\n").expect("write word list");
    let config = example.replace("/etc/hush/customers.txt", &words.display().to_string());
    assert_ne!(config, example, "the example no longer names the word list");
    let output = validate_yaml(dir.path(), "example.yaml", &config);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn validate_reports_detector_mistakes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        ("detect:\n  disable: [NOT_A_KIND]\n", "NOT_A_KIND"),
        (
            "detect:\n  dictionaries:\n    - { kind: NAME, path: /nonexistent/words.txt }\n",
            "/nonexistent/words.txt",
        ),
    ];
    for (yaml, expected) in cases {
        let output = validate_yaml(dir.path(), "detect.yaml", yaml);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "accepted: {yaml}");
        assert!(stderr.contains(expected), "{stderr}");
    }
}

#[test]
fn run_without_key_refuses_to_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_sourceless_config(dir.path());

    let output = hush()
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .expect("run hush");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no token key configured"), "{stderr}");
    assert!(stderr.contains("hush keygen"), "{stderr}");
}

#[test]
fn validate_checks_files_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("token.key");
    std::fs::write(&key, "ab".repeat(32)).expect("write key");
    let missing_ca = dir.path().join("missing-ca.pem");
    let config = format!(
        "key: {{ file: {key} }}\n\
         otlp_receiver: {{ grpc: null, http: null }}\n\
         exporter:\n\
         \x20 otlp:\n\
         \x20   endpoint: https://127.0.0.1:4317\n\
         \x20   tls: {{ ca_file: {missing_ca} }}\n",
        key = key.display(),
        missing_ca = missing_ca.display(),
    );

    let output = validate_yaml_with(dir.path(), "tls.yaml", &config, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a missing CA file was accepted");
    assert!(stderr.contains("missing-ca.pem"), "{stderr}");
    assert!(stderr.contains("--no-environment"), "{stderr}");

    let output = validate_yaml(dir.path(), "tls.yaml", &config);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let without_key = "otlp_receiver: { grpc: null, http: null }\n";
    let output = validate_yaml_with(dir.path(), "nokey.yaml", without_key, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a config without a key was accepted"
    );
    assert!(stderr.contains("no token key configured"), "{stderr}");

    let with_key = format!("key: {{ file: {} }}\n{without_key}", key.display());
    let output = validate_yaml_with(dir.path(), "key.yaml", &with_key, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn validate_accepts_daemonset_config() {
    let manifest = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes/daemonset.yaml"
    ))
    .expect("read the DaemonSet manifest");
    let block = manifest
        .split("hush.yaml: |\n")
        .nth(1)
        .expect("the ConfigMap has a hush.yaml block");
    let config: String = block
        .lines()
        .take_while(|line| line.starts_with("    ") || line.is_empty())
        .map(|line| format!("{}\n", line.get(4..).unwrap_or("")))
        .collect();
    assert!(
        config.contains("exporter:"),
        "block not extracted: {config}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let output = validate_yaml(dir.path(), "daemonset.yaml", &config);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn run_without_sources_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_sourceless_config(dir.path());

    let stderr_path = dir.path().join("stderr");
    let stderr = std::fs::File::create(&stderr_path).expect("create stderr file");
    let mut child = hush()
        .args(["run", "--config"])
        .arg(&path)
        .env("HUSH_KEY", KEY)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start hush");

    // The agent logs that it started only after its signal handlers are
    // installed. A signal before that would kill it the default way.
    let started_by = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !std::fs::read_to_string(&stderr_path)
        .unwrap_or_default()
        .contains("hush started")
    {
        assert!(std::time::Instant::now() < started_by, "hush did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill sends a signal to the child started above.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent, 0, "failed to send SIGTERM");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for hush") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("hush with no sources ignored SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "hush exited with {status}");
}
