//! The three OTLP signals, described once for both receivers: their export
//! request and response messages, gRPC names and HTTP paths, and how a
//! partial success is reported.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::pipeline::Payload;

/// One OTLP signal.
pub(crate) trait Signal: Send + Sync + 'static {
    type Request: prost::Message + Default + DeserializeOwned + Send + 'static;
    type Response: prost::Message + Default + Serialize + Send + 'static;

    /// The gRPC service name.
    const GRPC_SERVICE: &'static str;
    /// The gRPC path of the `Export` method.
    const GRPC_EXPORT_PATH: &'static str;
    /// The OTLP/HTTP path.
    const HTTP_PATH: &'static str;

    fn into_payload(request: Self::Request) -> Payload;

    /// Builds the response; `dropped` records left out are reported as a
    /// partial success.
    fn response(dropped: usize) -> Self::Response;
}

/// Formats the message of a partial success whose records failed redaction.
fn dropped_message(dropped: usize, records: &str) -> String {
    format!(
        "{dropped} {records} were dropped because redacting them failed; sending them again \
         will fail the same way"
    )
}

pub(crate) struct Logs;

impl Signal for Logs {
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;

    const GRPC_SERVICE: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    const GRPC_EXPORT_PATH: &'static str =
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    const HTTP_PATH: &'static str = "/v1/logs";

    fn into_payload(request: Self::Request) -> Payload {
        Payload::Logs(request)
    }

    fn response(dropped: usize) -> Self::Response {
        ExportLogsServiceResponse {
            partial_success: (dropped > 0).then(|| ExportLogsPartialSuccess {
                rejected_log_records: dropped as i64,
                error_message: dropped_message(dropped, "log records"),
            }),
        }
    }
}

pub(crate) struct Traces;

impl Signal for Traces {
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;

    const GRPC_SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const GRPC_EXPORT_PATH: &'static str =
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    const HTTP_PATH: &'static str = "/v1/traces";

    fn into_payload(request: Self::Request) -> Payload {
        Payload::Traces(request)
    }

    fn response(dropped: usize) -> Self::Response {
        ExportTraceServiceResponse {
            partial_success: (dropped > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: dropped as i64,
                error_message: dropped_message(dropped, "spans"),
            }),
        }
    }
}

pub(crate) struct Metrics;

impl Signal for Metrics {
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;

    const GRPC_SERVICE: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const GRPC_EXPORT_PATH: &'static str =
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    const HTTP_PATH: &'static str = "/v1/metrics";

    fn into_payload(request: Self::Request) -> Payload {
        Payload::Metrics(request)
    }

    fn response(dropped: usize) -> Self::Response {
        ExportMetricsServiceResponse {
            partial_success: (dropped > 0).then(|| ExportMetricsPartialSuccess {
                rejected_data_points: dropped as i64,
                error_message: dropped_message(dropped, "metric data points"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_success_only_when_dropped() {
        assert_eq!(Logs::response(0).partial_success, None);
        assert_eq!(Traces::response(0).partial_success, None);
        assert_eq!(Metrics::response(0).partial_success, None);

        let logs = Logs::response(2).partial_success.expect("partial success");
        assert_eq!(logs.rejected_log_records, 2);
        assert!(
            logs.error_message.contains("2 log records"),
            "{}",
            logs.error_message
        );
        let traces = Traces::response(1)
            .partial_success
            .expect("partial success");
        assert_eq!(traces.rejected_spans, 1);
        let metrics = Metrics::response(3)
            .partial_success
            .expect("partial success");
        assert_eq!(metrics.rejected_data_points, 3);
    }
}
