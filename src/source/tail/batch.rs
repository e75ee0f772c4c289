//! Builds the OTLP log batch sent for tailed records, and remembers how far
//! each file's offset may advance once the batch is acknowledged.
//!
//! One batch is one `ExportLogsServiceRequest`. Records are grouped into one
//! `ResourceLogs` per resource: files of one container share a resource
//! with its Kubernetes attributes (see [`super::kubernetes`]), and all other
//! files share the host's (`host.name`). Each `ResourceLogs` has one
//! `ScopeLogs` named `hush.tail`, and one `LogRecord` per record, with the
//! OpenTelemetry semantic-convention attributes `log.file.path`,
//! `log.file.name`, and `log.iostream` for container lines.
//!
//! `time_unix_nano` is the container runtime's time of a CRI or Docker
//! record, and 0 for a raw line, whose own time is unknown without parsing
//! it. `observed_time_unix_nano` is when the record was read.

use std::ffi::CStr;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::assemble::Record;
use super::file::FileId;
use super::kubernetes::ContainerLog;
use crate::pipeline::Payload;

/// Instrumentation scope name of every record the tail source makes.
pub const SCOPE_NAME: &str = "hush.tail";

/// Attribute values shared by all records of one file, built once.
#[derive(Debug, Clone)]
pub struct FileAttributes {
    path: String,
    name: String,
    resource: Arc<Resource>,
}

impl FileAttributes {
    /// Builds the attributes of the file found at `path`. A container log
    /// gets its own resource: `host` plus the Kubernetes attributes parsed
    /// from its path. Any other file shares `host`.
    pub fn new(path: &Path, host: &Arc<Resource>) -> FileAttributes {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let resource = match ContainerLog::of_file(path) {
            Some(container) => {
                let mut resource = Resource::clone(host);
                resource.attributes.extend(container.resource_attributes());
                Arc::new(resource)
            }
            None => host.clone(),
        };
        FileAttributes {
            path: path.to_string_lossy().into_owned(),
            name,
            resource,
        }
    }
}

/// The records of one resource.
#[derive(Debug)]
struct ResourceGroup {
    resource: Arc<Resource>,
    records: Vec<LogRecord>,
}

/// Records collected for one batch, and the offset each file reaches once
/// the batch is acknowledged.
#[derive(Debug, Default)]
pub struct Batch {
    groups: Vec<ResourceGroup>,
    /// Records in all groups.
    len: usize,
    /// Last end offset per file, in the order files were first added.
    offsets: Vec<(FileId, u64)>,
    invalid_utf8: u64,
    /// Bytes of record text in the batch.
    body_bytes: usize,
}

/// Record bytes after which a batch takes no more records. It keeps a batch
/// of long records well under the 4 MiB default request limit of common
/// gRPC servers (grpc-go, tonic), which would otherwise reject it as too
/// large on every retry.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

impl Batch {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reports whether the batch has `max_lines` records or
    /// [`MAX_BATCH_BYTES`] of record text.
    pub fn is_full(&self, max_lines: usize) -> bool {
        self.len >= max_lines || self.body_bytes >= MAX_BATCH_BYTES
    }

    /// Records in this batch that were converted lossily from invalid UTF-8.
    pub fn invalid_utf8_count(&self) -> u64 {
        self.invalid_utf8
    }

    /// Files with records in this batch, and the offset where reading
    /// resumes after their last record.
    pub fn offsets(&self) -> &[(FileId, u64)] {
        &self.offsets
    }

    /// Adds one record of the file `id`.
    pub fn push(
        &mut self,
        id: FileId,
        attributes: &FileAttributes,
        record: Record,
        observed_unix_nanos: u64,
    ) {
        self.body_bytes += record.body.len();
        self.len += 1;
        if record.invalid_utf8 {
            self.invalid_utf8 += 1;
        }

        let mut record_attributes = vec![
            string_attribute("log.file.path", attributes.path.clone()),
            string_attribute("log.file.name", attributes.name.clone()),
        ];
        if let Some(stream) = record.stream {
            record_attributes.push(string_attribute(
                "log.iostream",
                stream.as_str().to_string(),
            ));
        }
        let log_record = LogRecord {
            time_unix_nano: record.time_unix_nano,
            observed_time_unix_nano: observed_unix_nanos,
            body: Some(string_value(record.body)),
            attributes: record_attributes,
            ..LogRecord::default()
        };
        self.group_of(&attributes.resource).push(log_record);

        match self.offsets.iter_mut().find(|(file, _)| *file == id) {
            Some((_, offset)) => *offset = record.end_offset,
            None => self.offsets.push((id, record.end_offset)),
        }
    }

    /// Returns the records of `resource`, adding a group for it if needed.
    /// Records of one file come in runs, so the last group is checked first.
    fn group_of(&mut self, resource: &Arc<Resource>) -> &mut Vec<LogRecord> {
        let position = self
            .groups
            .iter()
            .rposition(|group| Arc::ptr_eq(&group.resource, resource));
        let index = match position {
            Some(index) => index,
            None => {
                self.groups.push(ResourceGroup {
                    resource: resource.clone(),
                    records: Vec::new(),
                });
                self.groups.len() - 1
            }
        };
        &mut self.groups[index].records
    }

    /// Returns the record texts, for tests.
    #[cfg(test)]
    pub fn bodies(&self) -> Vec<String> {
        self.groups
            .iter()
            .flat_map(|group| &group.records)
            .map(
                |record| match record.body.as_ref().and_then(|body| body.value.as_ref()) {
                    Some(Value::StringValue(text)) => text.clone(),
                    other => panic!("expected a string body, got {other:?}"),
                },
            )
            .collect()
    }

    /// Wraps the records in an OTLP request.
    pub fn into_payload(self) -> Payload {
        let resource_logs = self
            .groups
            .into_iter()
            .map(|group| ResourceLogs {
                resource: Some(Resource::clone(&group.resource)),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: SCOPE_NAME.to_string(),
                        ..InstrumentationScope::default()
                    }),
                    log_records: group.records,
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            })
            .collect();
        Payload::Logs(ExportLogsServiceRequest { resource_logs })
    }
}

/// Builds the host's resource: `host.name` when the OS reports one.
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

/// Builds an attribute with any value.
pub fn attribute(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// Builds an attribute with a string value.
pub fn string_attribute(key: &str, value: String) -> KeyValue {
    attribute(key, Value::StringValue(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tail::format::Stream;

    fn string_of(value: &Option<AnyValue>) -> &str {
        match value.as_ref().and_then(|value| value.value.as_ref()) {
            Some(Value::StringValue(text)) => text,
            other => panic!("expected a string value, got {other:?}"),
        }
    }

    fn record(body: &str, end_offset: u64) -> Record {
        Record {
            body: body.to_string(),
            invalid_utf8: false,
            time_unix_nano: 0,
            stream: None,
            end_offset,
        }
    }

    fn host() -> Arc<Resource> {
        Arc::new(Resource {
            attributes: vec![string_attribute("host.name", "node-1".to_string())],
            ..Resource::default()
        })
    }

    fn requests_of(payload: Payload) -> ExportLogsServiceRequest {
        match payload {
            Payload::Logs(request) => request,
            other => panic!("expected logs, got {other:?}"),
        }
    }

    #[test]
    fn batch_full_by_lines_or_bytes() {
        let id = FileId { dev: 1, inode: 2 };
        let attributes = FileAttributes::new(Path::new("/var/log/app.log"), &host());
        let mut batch = Batch::default();
        batch.push(
            id,
            &attributes,
            record(&"x".repeat(MAX_BATCH_BYTES / 2), 1),
            1,
        );
        assert!(!batch.is_full(10));
        assert!(batch.is_full(1), "one line is the line limit");

        batch.push(
            id,
            &attributes,
            record(&"x".repeat(MAX_BATCH_BYTES / 2), 2),
            1,
        );
        assert!(batch.is_full(10), "the byte limit was reached");
    }

    #[test]
    fn batch_builds_one_resource_and_scope() {
        let id = FileId { dev: 1, inode: 2 };
        let attributes = FileAttributes::new(Path::new("/var/log/app.log"), &host());
        let mut batch = Batch::default();
        batch.push(id, &attributes, record("first", 6), 11);
        let mut second = record("second", 13);
        second.invalid_utf8 = true;
        batch.push(id, &attributes, second, 12);

        assert_eq!(batch.offsets(), &[(id, 13)]);
        assert_eq!(batch.invalid_utf8_count(), 1);
        let request = requests_of(batch.into_payload());

        assert_eq!(request.resource_logs.len(), 1);
        let resource = request.resource_logs[0].resource.as_ref().unwrap();
        assert_eq!(resource.attributes[0].key, "host.name");
        let scopes = &request.resource_logs[0].scope_logs;
        assert_eq!(scopes.len(), 1);
        assert_eq!(scopes[0].scope.as_ref().unwrap().name, SCOPE_NAME);
        let records = &scopes[0].log_records;
        assert_eq!(records.len(), 2);
        assert_eq!(string_of(&records[1].body), "second");
        assert_eq!(records[1].time_unix_nano, 0);
        assert_eq!(records[1].observed_time_unix_nano, 12);
        assert_eq!(records[0].attributes.len(), 2);
        assert_eq!(records[0].attributes[0].key, "log.file.path");
        assert_eq!(
            string_of(&records[0].attributes[0].value),
            "/var/log/app.log"
        );
        assert_eq!(records[0].attributes[1].key, "log.file.name");
        assert_eq!(string_of(&records[0].attributes[1].value), "app.log");
    }

    #[test]
    fn container_record_has_time_and_stream() {
        let id = FileId { dev: 1, inode: 2 };
        let attributes = FileAttributes::new(Path::new("/var/log/pods/a_b_c/d/0.log"), &host());
        let mut batch = Batch::default();
        let mut line = record("text", 5);
        line.time_unix_nano = 42;
        line.stream = Some(Stream::Stderr);

        batch.push(id, &attributes, line, 50);

        let request = requests_of(batch.into_payload());
        let record = &request.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(record.time_unix_nano, 42);
        assert_eq!(record.observed_time_unix_nano, 50);
        assert_eq!(record.attributes[2].key, "log.iostream");
        assert_eq!(string_of(&record.attributes[2].value), "stderr");
    }

    #[test]
    fn records_grouped_by_resource() {
        let host = host();
        let plain = FileAttributes::new(Path::new("/var/log/syslog"), &host);
        let other_plain = FileAttributes::new(Path::new("/var/log/auth.log"), &host);
        let web = FileAttributes::new(Path::new("/var/log/pods/shop_web_u1/nginx/0.log"), &host);
        let db = FileAttributes::new(Path::new("/var/log/pods/shop_db_u2/pg/1.log"), &host);
        let mut batch = Batch::default();

        batch.push(FileId { dev: 1, inode: 1 }, &plain, record("s1", 1), 0);
        batch.push(FileId { dev: 1, inode: 3 }, &web, record("w1", 1), 0);
        batch.push(
            FileId { dev: 1, inode: 2 },
            &other_plain,
            record("a1", 1),
            0,
        );
        batch.push(FileId { dev: 1, inode: 4 }, &db, record("d1", 1), 0);
        batch.push(FileId { dev: 1, inode: 3 }, &web, record("w2", 2), 0);

        let request = requests_of(batch.into_payload());
        let groups: Vec<(Vec<&str>, Vec<&str>)> = request
            .resource_logs
            .iter()
            .map(|resource_logs| {
                let keys = resource_logs
                    .resource
                    .as_ref()
                    .unwrap()
                    .attributes
                    .iter()
                    .filter(|kv| kv.key == "k8s.pod.name" || kv.key == "host.name")
                    .map(|kv| string_of(&kv.value))
                    .collect();
                let bodies = resource_logs.scope_logs[0]
                    .log_records
                    .iter()
                    .map(|record| string_of(&record.body))
                    .collect();
                (keys, bodies)
            })
            .collect();
        assert_eq!(
            groups,
            vec![
                (vec!["node-1"], vec!["s1", "a1"]),
                (vec!["node-1", "web"], vec!["w1", "w2"]),
                (vec!["node-1", "db"], vec!["d1"]),
            ]
        );
    }

    #[test]
    fn offsets_kept_per_file() {
        let first = FileId { dev: 1, inode: 2 };
        let second = FileId { dev: 1, inode: 3 };
        let attributes = FileAttributes::new(Path::new("a.log"), &host());
        let mut batch = Batch::default();

        batch.push(first, &attributes, record("", 1), 0);
        batch.push(second, &attributes, record("", 5), 0);
        batch.push(first, &attributes, record("", 2), 0);

        assert_eq!(batch.offsets(), &[(first, 2), (second, 5)]);
    }
}
