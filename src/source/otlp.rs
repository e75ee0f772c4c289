//! Receives OTLP logs and traces over gRPC and hands them to the pipeline.
//!
//! A request gets its response only after its batch was redacted and
//! accepted by the downstream. A client that got `OK` knows its data
//! arrived, and a client that got an error can retry without the agent
//! having kept a copy. The status codes follow the OTLP specification: `UNAVAILABLE` while the agent
//! shuts down or its delivery queue is full (retryable), `INVALID_ARGUMENT` when the downstream rejected
//! the batch as invalid, and tonic's own errors for requests that are too
//! large or do not decode.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::config::OtlpReceiverConfig;
use crate::pipeline::{DeliveryError, Payload, Pipeline};
use crate::telemetry::Metrics;

/// A bound OTLP/gRPC listener, ready to serve.
pub struct OtlpReceiver {
    listener: tokio::net::TcpListener,
    max_request_bytes: usize,
}

impl OtlpReceiver {
    /// Binds the configured address, so that a port already in use is
    /// reported at startup rather than after the agent logged that it started.
    /// Returns `None` when the receiver is disabled.
    pub async fn bind(config: &OtlpReceiverConfig) -> anyhow::Result<Option<OtlpReceiver>> {
        let Some(address) = config.grpc else {
            return Ok(None);
        };
        let listener = tokio::net::TcpListener::bind(address.0)
            .await
            .with_context(|| {
                format!(
                    "failed to listen for OTLP/gRPC on {}; set otlp_receiver.grpc to a free \
                     address, or to null to turn the receiver off",
                    address.0
                )
            })?;
        Ok(Some(OtlpReceiver {
            listener,
            max_request_bytes: config.max_request_bytes,
        }))
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled, then stops accepting and lets
    /// requests in progress finish.
    pub async fn serve(
        self,
        pipeline: Pipeline,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let handler = Handler {
            metrics: pipeline.metrics().clone(),
            pipeline,
        };
        let logs = LogsServiceServer::new(handler.clone())
            .max_decoding_message_size(self.max_request_bytes)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip);
        let traces = TraceServiceServer::new(handler)
            .max_decoding_message_size(self.max_request_bytes)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip);

        let incoming = tokio_stream::wrappers::TcpListenerStream::new(self.listener);
        tonic::transport::Server::builder()
            .add_service(logs)
            .add_service(traces)
            .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
            .await
            .context("the OTLP/gRPC server failed")
    }
}

#[derive(Clone)]
struct Handler {
    pipeline: Pipeline,
    metrics: Arc<Metrics>,
}

impl Handler {
    async fn deliver(&self, payload: Payload) -> Result<(), Status> {
        Metrics::inc(&self.metrics.otlp_requests_total);
        // A full queue turns the client away at once rather than holding
        // its request, so the client's own retry and backoff take over.
        let result = self.pipeline.try_deliver(payload).await;
        result.map_err(|err| {
            Metrics::inc(&self.metrics.otlp_requests_rejected_total);
            match err {
                DeliveryError::ShuttingDown
                | DeliveryError::QueueFull
                | DeliveryError::StorageFailed(_) => Status::unavailable(err.to_string()),
                DeliveryError::Rejected(_) => Status::invalid_argument(err.to_string()),
            }
        })
    }
}

#[tonic::async_trait]
impl LogsService for Handler {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.deliver(Payload::Logs(request.into_inner())).await?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl TraceService for Handler {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.deliver(Payload::Traces(request.into_inner())).await?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}
