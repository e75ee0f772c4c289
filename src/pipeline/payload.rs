//! A batch of one OTLP signal, and what the pipeline does with batches
//! without looking inside a record: count, measure, merge, split, and
//! encode for the disk queue.
//!
//! Every operation is a `match` over the signals, so a new signal is one
//! more arm in each function plus [`Nested`] impls for its resource and
//! scope messages.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;

use crate::redact::otlp::data_point_count;

/// A batch of telemetry in OTLP form.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Logs(ExportLogsServiceRequest),
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

/// The kind of telemetry in a [`Payload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Logs,
    Traces,
    Metrics,
}

impl Signal {
    /// Returns the signal's name as OTLP/HTTP paths spell it (`/v1/logs`).
    pub fn name(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }

    /// Returns the byte that marks this signal in a disk queue record. The
    /// values are stored on disk, so they never change.
    fn tag(self) -> u8 {
        match self {
            Signal::Logs => 1,
            Signal::Traces => 2,
            Signal::Metrics => 3,
        }
    }

    fn from_tag(tag: u8) -> Option<Signal> {
        match tag {
            1 => Some(Signal::Logs),
            2 => Some(Signal::Traces),
            3 => Some(Signal::Metrics),
            _ => None,
        }
    }
}

/// Limits of one export request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeLimits {
    pub max_records: usize,
    pub max_bytes: usize,
}

impl Payload {
    pub fn signal(&self) -> Signal {
        match self {
            Payload::Logs(_) => Signal::Logs,
            Payload::Traces(_) => Signal::Traces,
            Payload::Metrics(_) => Signal::Metrics,
        }
    }

    /// Counts the log records, spans or metric data points in the batch.
    pub fn record_count(&self) -> usize {
        match self {
            Payload::Logs(request) => request
                .resource_logs
                .iter()
                .flat_map(|resource| &resource.scope_logs)
                .map(|scope| scope.log_records.len())
                .sum(),
            Payload::Traces(request) => request
                .resource_spans
                .iter()
                .flat_map(|resource| &resource.scope_spans)
                .map(|scope| scope.spans.len())
                .sum(),
            Payload::Metrics(request) => request
                .resource_metrics
                .iter()
                .flat_map(|resource| &resource.scope_metrics)
                .flat_map(|scope| &scope.metrics)
                .map(data_point_count)
                .sum(),
        }
    }

    /// Returns the size of the batch encoded as an OTLP export request, in
    /// bytes, before compression.
    pub fn encoded_len(&self) -> usize {
        match self {
            Payload::Logs(request) => request.encoded_len(),
            Payload::Traces(request) => request.encoded_len(),
            Payload::Metrics(request) => request.encoded_len(),
        }
    }

    /// Moves the records of `other` to the end of this batch. Returns
    /// `other` unchanged when it carries another signal.
    pub fn append(&mut self, other: Payload) -> Result<(), Payload> {
        match (self, other) {
            (Payload::Logs(request), Payload::Logs(more)) => {
                request.resource_logs.extend(more.resource_logs);
                Ok(())
            }
            (Payload::Traces(request), Payload::Traces(more)) => {
                request.resource_spans.extend(more.resource_spans);
                Ok(())
            }
            (Payload::Metrics(request), Payload::Metrics(more)) => {
                request.resource_metrics.extend(more.resource_metrics);
                Ok(())
            }
            (_, other) => Err(other),
        }
    }

    /// Splits the batch into batches within `limits`, keeping the order of
    /// records and each record's resource and scope. A single record
    /// larger than `limits.max_bytes` becomes a batch of its own.
    pub fn split(self, limits: SizeLimits) -> Vec<Payload> {
        match self {
            Payload::Logs(request) => split_nested(request.resource_logs, limits, |_| 1)
                .into_iter()
                .map(|resource_logs| Payload::Logs(ExportLogsServiceRequest { resource_logs }))
                .collect(),
            Payload::Traces(request) => split_nested(request.resource_spans, limits, |_| 1)
                .into_iter()
                .map(|resource_spans| Payload::Traces(ExportTraceServiceRequest { resource_spans }))
                .collect(),
            Payload::Metrics(request) => {
                split_nested(request.resource_metrics, limits, data_point_count)
                    .into_iter()
                    .map(|resource_metrics| {
                        Payload::Metrics(ExportMetricsServiceRequest { resource_metrics })
                    })
                    .collect()
            }
        }
    }

    /// Encodes the batch for the disk queue: one signal byte, then the
    /// protobuf export request.
    pub fn encode_tagged(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(1 + self.encoded_len());
        bytes.push(self.signal().tag());
        // Encoding into a Vec cannot run out of room: it grows.
        let _ = match self {
            Payload::Logs(request) => request.encode(&mut bytes),
            Payload::Traces(request) => request.encode(&mut bytes),
            Payload::Metrics(request) => request.encode(&mut bytes),
        };
        bytes
    }

    /// Decodes what [`Payload::encode_tagged`] wrote.
    pub fn decode_tagged(bytes: &[u8]) -> Result<Payload, String> {
        let (&tag, body) = bytes
            .split_first()
            .ok_or_else(|| "the record is empty".to_string())?;
        let signal = Signal::from_tag(tag).ok_or_else(|| format!("unknown signal tag {tag}"))?;
        let decoded = match signal {
            Signal::Logs => ExportLogsServiceRequest::decode(body).map(Payload::Logs),
            Signal::Traces => ExportTraceServiceRequest::decode(body).map(Payload::Traces),
            Signal::Metrics => ExportMetricsServiceRequest::decode(body).map(Payload::Metrics),
        };
        decoded.map_err(|err| format!("invalid {} request: {err}", signal.name()))
    }
}

/// A message that contains a list of children and otherwise only
/// describes them: a resource contains scopes, a scope contains records.
pub trait Nested: Message + Clone {
    type Child;

    /// Takes the children out, leaving the description.
    fn take_children(&mut self) -> Vec<Self::Child>;

    fn children_mut(&mut self) -> &mut Vec<Self::Child>;
}

impl Nested for ResourceLogs {
    type Child = ScopeLogs;

    fn take_children(&mut self) -> Vec<ScopeLogs> {
        std::mem::take(&mut self.scope_logs)
    }

    fn children_mut(&mut self) -> &mut Vec<ScopeLogs> {
        &mut self.scope_logs
    }
}

impl Nested for ScopeLogs {
    type Child = opentelemetry_proto::tonic::logs::v1::LogRecord;

    fn take_children(&mut self) -> Vec<Self::Child> {
        std::mem::take(&mut self.log_records)
    }

    fn children_mut(&mut self) -> &mut Vec<Self::Child> {
        &mut self.log_records
    }
}

impl Nested for ResourceSpans {
    type Child = ScopeSpans;

    fn take_children(&mut self) -> Vec<ScopeSpans> {
        std::mem::take(&mut self.scope_spans)
    }

    fn children_mut(&mut self) -> &mut Vec<ScopeSpans> {
        &mut self.scope_spans
    }
}

impl Nested for ScopeSpans {
    type Child = opentelemetry_proto::tonic::trace::v1::Span;

    fn take_children(&mut self) -> Vec<Self::Child> {
        std::mem::take(&mut self.spans)
    }

    fn children_mut(&mut self) -> &mut Vec<Self::Child> {
        &mut self.spans
    }
}

impl Nested for ResourceMetrics {
    type Child = ScopeMetrics;

    fn take_children(&mut self) -> Vec<ScopeMetrics> {
        std::mem::take(&mut self.scope_metrics)
    }

    fn children_mut(&mut self) -> &mut Vec<ScopeMetrics> {
        &mut self.scope_metrics
    }
}

impl Nested for ScopeMetrics {
    type Child = Metric;

    fn take_children(&mut self) -> Vec<Metric> {
        std::mem::take(&mut self.metrics)
    }

    fn children_mut(&mut self) -> &mut Vec<Metric> {
        &mut self.metrics
    }
}

/// Bytes a length-delimited field adds around a message: the tag and a
/// length of up to five bytes. Used to estimate request sizes while
/// splitting without encoding the request again and again.
const FIELD_OVERHEAD: usize = 6;

/// Splits a resource list into lists within `limits`. `records_of` gives
/// the weight of one item against `max_records`: one for a log record or a
/// span, its data points for a metric.
fn split_nested<R, S, I>(
    resources: Vec<R>,
    limits: SizeLimits,
    records_of: impl Fn(&I) -> usize,
) -> Vec<Vec<R>>
where
    R: Nested<Child = S>,
    S: Nested<Child = I>,
    I: Message,
{
    let mut parts = Vec::new();
    let mut current: Vec<R> = Vec::new();
    let mut records = 0;
    let mut bytes = 0;

    for mut resource in resources {
        let scopes = resource.take_children();
        let mut resource_open = false;
        for mut scope in scopes {
            let items = scope.take_children();
            let mut scope_open = false;
            for item in items {
                let weight = records_of(&item);
                let size = item.encoded_len() + FIELD_OVERHEAD;

                // Close the current part when this item would take it over
                // a limit. A part always takes at least one item, so an
                // oversized item still goes out, alone.
                let over = records + weight > limits.max_records || bytes + size > limits.max_bytes;
                if records > 0 && over {
                    parts.push(std::mem::take(&mut current));
                    records = 0;
                    bytes = 0;
                    resource_open = false;
                    scope_open = false;
                }

                if !resource_open {
                    bytes += resource.encoded_len() + FIELD_OVERHEAD;
                    current.push(resource.clone());
                    resource_open = true;
                }
                let open_resource = current.last_mut().expect("a resource was just opened");
                if !scope_open {
                    bytes += scope.encoded_len() + FIELD_OVERHEAD;
                    open_resource.children_mut().push(scope.clone());
                    scope_open = true;
                }
                let open_scope = open_resource
                    .children_mut()
                    .last_mut()
                    .expect("a scope was just opened");
                open_scope.children_mut().push(item);
                records += weight;
                bytes += size;
            }
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::LogRecord;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::Span;

    use super::*;

    fn record(body: &str) -> LogRecord {
        LogRecord {
            body: Some(AnyValue {
                value: Some(Value::StringValue(body.to_string())),
            }),
            ..LogRecord::default()
        }
    }

    fn resource(name: &str) -> Option<Resource> {
        Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".to_string(),
                value: Some(AnyValue {
                    value: Some(Value::StringValue(name.to_string())),
                }),
                ..KeyValue::default()
            }],
            ..Resource::default()
        })
    }

    /// Two resources with two scopes of `per_scope` records each, bodies
    /// numbered in order.
    fn logs(per_scope: usize, body_len: usize) -> Payload {
        let mut number = 0;
        let mut resource_logs = Vec::new();
        for service in ["a", "b"] {
            let mut scope_logs = Vec::new();
            for scope in ["s1", "s2"] {
                let log_records = (0..per_scope)
                    .map(|_| {
                        number += 1;
                        record(&format!("{number:0>body_len$}"))
                    })
                    .collect();
                scope_logs.push(ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: scope.to_string(),
                        ..InstrumentationScope::default()
                    }),
                    log_records,
                    schema_url: String::new(),
                });
            }
            resource_logs.push(ResourceLogs {
                resource: resource(service),
                scope_logs,
                schema_url: String::new(),
            });
        }
        Payload::Logs(ExportLogsServiceRequest { resource_logs })
    }

    /// Lists every record as (service, scope, body), in order.
    fn flatten(payloads: &[Payload]) -> Vec<(String, String, String)> {
        let mut rows = Vec::new();
        for payload in payloads {
            let Payload::Logs(request) = payload else {
                panic!("expected logs")
            };
            for resource in &request.resource_logs {
                let service = format!("{:?}", resource.resource);
                for scope in &resource.scope_logs {
                    let scope_name = scope.scope.as_ref().unwrap().name.clone();
                    for record in &scope.log_records {
                        let body = format!("{:?}", record.body);
                        rows.push((service.clone(), scope_name.clone(), body));
                    }
                }
            }
        }
        rows
    }

    #[test]
    fn split_by_records_keeps_order_and_context() {
        let payload = logs(5, 10);
        let expected = flatten(std::slice::from_ref(&payload));
        let limits = SizeLimits {
            max_records: 3,
            max_bytes: usize::MAX,
        };

        let parts = payload.split(limits);

        assert_eq!(parts.len(), 7, "20 records in parts of 3");
        assert!(parts.iter().all(|part| part.record_count() <= 3));
        assert_eq!(flatten(&parts), expected);
    }

    #[test]
    fn split_by_bytes_stays_under_limit() {
        let payload = logs(50, 200);
        let expected = flatten(std::slice::from_ref(&payload));
        let limits = SizeLimits {
            max_records: usize::MAX,
            max_bytes: 4096,
        };

        let parts = payload.split(limits);

        assert!(parts.len() > 1);
        for part in &parts {
            assert!(
                part.encoded_len() <= 4096,
                "part of {} bytes",
                part.encoded_len()
            );
        }
        assert_eq!(flatten(&parts), expected);
    }

    #[test]
    fn oversized_record_goes_alone() {
        let payload = logs(2, 10_000);
        let limits = SizeLimits {
            max_records: 100,
            max_bytes: 1024,
        };

        let parts = payload.split(limits);

        assert_eq!(parts.len(), 8);
        assert!(parts.iter().all(|part| part.record_count() == 1));
    }

    #[test]
    fn append_refuses_other_signal() {
        let mut logs_payload = logs(1, 5);
        let traces = Payload::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default()],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        });

        let returned = logs_payload.append(traces.clone());

        assert_eq!(returned, Err(traces));
        assert_eq!(logs_payload.record_count(), 4);
        assert_eq!(logs_payload.append(logs(1, 5)), Ok(()));
        assert_eq!(logs_payload.record_count(), 8);
    }

    #[test]
    fn tagged_encoding_round_trips() {
        let payload = logs(3, 20);

        let decoded = Payload::decode_tagged(&payload.encode_tagged()).unwrap();

        assert_eq!(decoded, payload);
    }

    #[test]
    fn tagged_decoding_rejects_bad_input() {
        assert!(Payload::decode_tagged(&[]).is_err());
        assert!(
            Payload::decode_tagged(&[9, 1, 2])
                .unwrap_err()
                .contains("tag 9")
        );
        assert!(Payload::decode_tagged(&[1, 0xff, 0xff]).is_err());
    }
}
