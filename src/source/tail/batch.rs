//! Builds the OTLP log batch sent for tailed lines, and remembers how far
//! each file's offset may advance once the batch is acknowledged.
//!
//! One batch is one `ExportLogsServiceRequest` with one `ResourceLogs`
//! (attribute `host.name`), one `ScopeLogs` named `hush.tail`, and one
//! `LogRecord` per line, with the OpenTelemetry semantic-convention
//! attributes `log.file.path` and `log.file.name`. The line's own time is
//! unknown without parsing it, so `time_unix_nano` is 0 and
//! `observed_time_unix_nano` is when the line was read.

use std::ffi::CStr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::file::FileId;
use crate::pipeline::Payload;

/// Instrumentation scope name of every record the tail source makes.
pub const SCOPE_NAME: &str = "hush.tail";

/// Attribute values shared by all records of one file, built once.
#[derive(Debug, Clone)]
pub struct FileAttributes {
    path: String,
    name: String,
}

impl FileAttributes {
    pub fn new(path: &Path) -> FileAttributes {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        FileAttributes {
            path: path.to_string_lossy().into_owned(),
            name,
        }
    }
}

/// Records collected for one batch, and the offset each file reaches once
/// the batch is acknowledged.
#[derive(Debug, Default)]
pub struct Batch {
    records: Vec<LogRecord>,
    /// Last end offset per file, in the order files were first added.
    offsets: Vec<(FileId, u64)>,
    invalid_utf8: u64,
    /// Bytes of line text in `records`.
    body_bytes: usize,
}

/// Line bytes after which a batch takes no more lines. It keeps a batch of
/// long lines well under the 4 MiB default request limit of common gRPC
/// servers (grpc-go, tonic), which would otherwise reject it as too large
/// on every retry.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

impl Batch {
    pub fn with_capacity(lines: usize) -> Batch {
        Batch {
            records: Vec::with_capacity(lines),
            ..Batch::default()
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Reports whether the batch has `max_lines` lines or
    /// [`MAX_BATCH_BYTES`] of line text.
    pub fn is_full(&self, max_lines: usize) -> bool {
        self.records.len() >= max_lines || self.body_bytes >= MAX_BATCH_BYTES
    }

    /// Lines in this batch that were converted lossily from invalid UTF-8.
    pub fn invalid_utf8_count(&self) -> u64 {
        self.invalid_utf8
    }

    /// Files with lines in this batch, and the offset just past their last
    /// line.
    pub fn offsets(&self) -> &[(FileId, u64)] {
        &self.offsets
    }

    /// Adds one line of the file `id`, which ends at `end_offset`.
    pub fn push(
        &mut self,
        id: FileId,
        attributes: &FileAttributes,
        body: String,
        invalid_utf8: bool,
        end_offset: u64,
        observed_unix_nanos: u64,
    ) {
        self.body_bytes += body.len();
        self.records.push(LogRecord {
            observed_time_unix_nano: observed_unix_nanos,
            body: Some(string_value(body)),
            attributes: vec![
                string_attribute("log.file.path", attributes.path.clone()),
                string_attribute("log.file.name", attributes.name.clone()),
            ],
            ..LogRecord::default()
        });
        if invalid_utf8 {
            self.invalid_utf8 += 1;
        }

        match self.offsets.iter_mut().find(|(file, _)| *file == id) {
            Some((_, offset)) => *offset = end_offset,
            None => self.offsets.push((id, end_offset)),
        }
    }

    /// Returns the line texts, for tests.
    #[cfg(test)]
    pub fn bodies(&self) -> Vec<String> {
        self.records
            .iter()
            .map(
                |record| match record.body.as_ref().and_then(|body| body.value.as_ref()) {
                    Some(Value::StringValue(text)) => text.clone(),
                    other => panic!("expected a string body, got {other:?}"),
                },
            )
            .collect()
    }

    /// Wraps the records in an OTLP request.
    pub fn into_payload(self, resource: &Resource) -> Payload {
        let scope_logs = ScopeLogs {
            scope: Some(InstrumentationScope {
                name: SCOPE_NAME.to_string(),
                ..InstrumentationScope::default()
            }),
            log_records: self.records,
            ..ScopeLogs::default()
        };
        Payload::Logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(resource.clone()),
                scope_logs: vec![scope_logs],
                ..ResourceLogs::default()
            }],
        })
    }
}

/// Builds the resource of every batch: `host.name` when the OS reports one.
pub fn host_resource() -> Resource {
    let attributes = hostname()
        .map(|name| vec![string_attribute("host.name", name)])
        .unwrap_or_default();
    Resource {
        attributes,
        ..Resource::default()
    }
}

/// Returns the time now in nanoseconds since the Unix epoch, or 0 if the
/// clock is before it.
pub fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0)
}

fn hostname() -> Option<String> {
    let mut buffer = [0u8; 256];
    // SAFETY: the pointer and length describe `buffer`, which outlives the
    // call; gethostname writes at most that many bytes.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result != 0 {
        return None;
    }
    // POSIX leaves truncated names without a terminating NUL, and such a
    // name is not worth reporting.
    let name = CStr::from_bytes_until_nul(&buffer).ok()?;
    let name = name.to_string_lossy().into_owned();
    (!name.is_empty()).then_some(name)
}

fn string_value(text: String) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(text)),
    }
}

fn string_attribute(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(string_value(value)),
        ..KeyValue::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_of(value: &Option<AnyValue>) -> &str {
        match value.as_ref().and_then(|value| value.value.as_ref()) {
            Some(Value::StringValue(text)) => text,
            other => panic!("expected a string value, got {other:?}"),
        }
    }

    #[test]
    fn batch_full_by_lines_or_bytes() {
        let id = FileId { dev: 1, inode: 2 };
        let attributes = FileAttributes::new(Path::new("/var/log/app.log"));
        let mut batch = Batch::with_capacity(2);
        batch.push(
            id,
            &attributes,
            "x".repeat(MAX_BATCH_BYTES / 2),
            false,
            1,
            1,
        );
        assert!(!batch.is_full(10));
        assert!(batch.is_full(1), "one line is the line limit");

        batch.push(
            id,
            &attributes,
            "x".repeat(MAX_BATCH_BYTES / 2),
            false,
            2,
            1,
        );
        assert!(batch.is_full(10), "the byte limit was reached");
    }

    #[test]
    fn batch_builds_one_resource_and_scope() {
        let id = FileId { dev: 1, inode: 2 };
        let attributes = FileAttributes::new(Path::new("/var/log/app.log"));
        let mut batch = Batch::with_capacity(2);
        batch.push(id, &attributes, "first".to_string(), false, 6, 11);
        batch.push(id, &attributes, "second".to_string(), true, 13, 12);

        assert_eq!(batch.offsets(), &[(id, 13)]);
        assert_eq!(batch.invalid_utf8_count(), 1);
        let Payload::Logs(request) = batch.into_payload(&Resource::default()) else {
            panic!("expected logs");
        };

        assert_eq!(request.resource_logs.len(), 1);
        let scopes = &request.resource_logs[0].scope_logs;
        assert_eq!(scopes.len(), 1);
        assert_eq!(scopes[0].scope.as_ref().unwrap().name, SCOPE_NAME);
        let records = &scopes[0].log_records;
        assert_eq!(records.len(), 2);
        assert_eq!(string_of(&records[1].body), "second");
        assert_eq!(records[1].time_unix_nano, 0);
        assert_eq!(records[1].observed_time_unix_nano, 12);
        assert_eq!(records[0].attributes[0].key, "log.file.path");
        assert_eq!(
            string_of(&records[0].attributes[0].value),
            "/var/log/app.log"
        );
        assert_eq!(records[0].attributes[1].key, "log.file.name");
        assert_eq!(string_of(&records[0].attributes[1].value), "app.log");
    }

    #[test]
    fn offsets_kept_per_file() {
        let first = FileId { dev: 1, inode: 2 };
        let second = FileId { dev: 1, inode: 3 };
        let attributes = FileAttributes::new(Path::new("a.log"));
        let mut batch = Batch::default();

        batch.push(first, &attributes, String::new(), false, 1, 0);
        batch.push(second, &attributes, String::new(), false, 5, 0);
        batch.push(first, &attributes, String::new(), false, 2, 0);

        assert_eq!(batch.offsets(), &[(first, 2), (second, 5)]);
    }
}
