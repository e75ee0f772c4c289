//! The OTLP/gRPC receiver: the logs, trace and metrics `Export` methods on
//! tonic.
//!
//! The services are written against `tonic::server::Grpc` rather than taken
//! from the generated servers. The generated ones return `INTERNAL` for a
//! message that does not decode, which a client may retry forever, and these
//! return `INVALID_ARGUMENT`. A layer in front of them checks the bearer
//! token and reads the body within the size limit and the in-flight bound
//! before tonic decodes it.
//! NOTE: tonic still returns `INTERNAL` for a gzip body that fails to
//! decompress, before the decoder sees it. The in-flight bound counts a
//! gzip body as received, and tonic's decompressed copy is not counted,
//! unlike on the HTTP receiver.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::task::{Context as TaskContext, Poll};

use std::sync::Arc;

use anyhow::Context;
use http_body_util::Full;
use tokio_stream::StreamExt as _;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::codec::{
    BufferSettings, Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings,
};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;
use tower::ServiceExt as _;

use super::body::{BodyError, read_bounded};
use super::signal::{Logs, Metrics, Signal, Traces};
use super::{Intake, ReceiverSettings, bind_listener, tls};
use crate::config::ListenAddress;
use crate::pipeline::{DeliveryError, Pipeline};

/// The length of a gRPC message frame header: a compression flag and a
/// four-byte length.
const FRAME_HEADER_BYTES: usize = 5;

/// A bound OTLP/gRPC listener, ready to serve.
pub struct GrpcReceiver {
    listener: tokio::net::TcpListener,
}

impl GrpcReceiver {
    /// Binds `address`, so that a port already in use is reported at
    /// startup.
    pub async fn bind(address: ListenAddress) -> anyhow::Result<GrpcReceiver> {
        let listener = bind_listener(address, "OTLP/gRPC", "otlp_receiver.grpc").await?;
        Ok(GrpcReceiver { listener })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled, then stops accepting and lets
    /// requests in progress finish.
    pub async fn serve(
        self,
        settings: Arc<ReceiverSettings>,
        pipeline: Pipeline,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let intake = Intake::new(&settings, pipeline);
        let max_request_bytes = settings.max_request_bytes;
        let routes = Routes::new(ExportService::<Logs>::new(
            intake.clone(),
            max_request_bytes,
        ))
        .add_service(ExportService::<Traces>::new(
            intake.clone(),
            max_request_bytes,
        ))
        .add_service(ExportService::<Metrics>::new(
            intake.clone(),
            max_request_bytes,
        ));
        let guarded = tower::layer::layer_fn(move |inner: Routes| {
            let intake = intake.clone();
            tower::service_fn(move |request: http::Request<Body>| {
                let inner = inner.clone();
                let intake = intake.clone();
                async move { Ok::<_, Infallible>(guard(intake, inner, request).await) }
            })
        });
        let server = tonic::transport::Server::builder().layer(guarded);

        let stopped = shutdown.clone().cancelled_owned();
        let served = match &settings.tls {
            None => {
                let incoming = tokio_stream::wrappers::TcpListenerStream::new(self.listener);
                server
                    .serve_with_incoming_shutdown(routes, incoming, stopped)
                    .await
            }
            Some(tls) => {
                let config = tls.server_config(&[b"h2"])?;
                let connections = tls::accept_tls(self.listener, config, shutdown);
                let incoming = tokio_stream::wrappers::ReceiverStream::new(connections)
                    .map(|(stream, _peer)| Ok::<_, std::io::Error>(stream));
                server
                    .serve_with_incoming_shutdown(routes, incoming, stopped)
                    .await
            }
        };
        served.context("the OTLP/gRPC server failed")
    }
}

/// Checks the bearer token and reads the body within the limits before the
/// request reaches its service.
async fn guard(
    intake: Intake,
    routes: Routes,
    request: http::Request<Body>,
) -> http::Response<Body> {
    if !intake.admit(request.headers()) {
        return Status::unauthenticated("missing or invalid bearer token").into_http();
    }

    let (parts, body) = request.into_parts();
    let limit = intake.max_request_bytes + FRAME_HEADER_BYTES;
    let body = match read_bounded(body, None, limit, &intake.in_flight_bytes).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            intake.count_rejected();
            let message = format!(
                "the request is larger than otlp_receiver.max_request_bytes ({} bytes)",
                intake.max_request_bytes
            );
            return Status::resource_exhausted(message).into_http();
        }
        Err(BodyError::Busy) => {
            intake.count_throttled();
            return Status::unavailable(
                "the agent holds too many request bytes in flight; retry later",
            )
            .into_http();
        }
        Err(BodyError::Read(message)) => {
            intake.count_rejected();
            return Status::cancelled(format!("failed to read the request: {message}")).into_http();
        }
    };

    let request = http::Request::from_parts(parts, Body::new(Full::new(body.bytes)));
    let response = match routes.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    // The permits are held until the response is ready, which is after the
    // batch was exported.
    drop(body.permit);
    response
}

/// The `Export` method of one signal's service.
struct ExportService<S: Signal> {
    intake: Intake,
    max_request_bytes: usize,
    signal: PhantomData<S>,
}

impl<S: Signal> ExportService<S> {
    fn new(intake: Intake, max_request_bytes: usize) -> Self {
        ExportService {
            intake,
            max_request_bytes,
            signal: PhantomData,
        }
    }
}

impl<S: Signal> Clone for ExportService<S> {
    fn clone(&self) -> Self {
        ExportService::new(self.intake.clone(), self.max_request_bytes)
    }
}

impl<S: Signal> NamedService for ExportService<S> {
    const NAME: &'static str = S::GRPC_SERVICE;
}

impl<S: Signal> tower::Service<http::Request<Body>> for ExportService<S> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>,
    >;

    fn poll_ready(&mut self, _context: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let service = self.clone();
        Box::pin(async move {
            if request.uri().path() != S::GRPC_EXPORT_PATH {
                return Ok(Status::unimplemented("unknown method").into_http());
            }
            let mut gzip = EnabledCompressionEncodings::default();
            gzip.enable(CompressionEncoding::Gzip);
            let mut grpc = Grpc::new(InvalidArgumentCodec::<S>::default())
                .apply_compression_config(gzip, gzip)
                .apply_max_message_size_config(Some(service.max_request_bytes), None);
            Ok(grpc.unary(service, request).await)
        })
    }
}

impl<S: Signal> UnaryService<S::Request> for ExportService<S> {
    type Response = S::Response;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<S::Response>, Status>> + Send>,
    >;

    fn call(&mut self, request: Request<S::Request>) -> Self::Future {
        let intake = self.intake.clone();
        Box::pin(async move {
            let payload = S::into_payload(request.into_inner());
            match intake.submit(payload).await {
                Ok(delivered) => Ok(Response::new(S::response(delivered.dropped_records))),
                Err(err) => Err(status_of(&err)),
            }
        })
    }
}

fn status_of(err: &DeliveryError) -> Status {
    match err {
        DeliveryError::ShuttingDown
        | DeliveryError::QueueFull
        | DeliveryError::StorageFailed(_) => Status::unavailable(err.to_string()),
        DeliveryError::Rejected(_) => Status::invalid_argument(err.to_string()),
    }
}

/// The prost codec, with decoding errors turned into `INVALID_ARGUMENT`.
struct InvalidArgumentCodec<S: Signal> {
    inner: ProstCodec<S::Response, S::Request>,
}

impl<S: Signal> Default for InvalidArgumentCodec<S> {
    fn default() -> Self {
        InvalidArgumentCodec {
            inner: ProstCodec::default(),
        }
    }
}

impl<S: Signal> Codec for InvalidArgumentCodec<S> {
    type Encode = S::Response;
    type Decode = S::Request;
    type Encoder = <ProstCodec<S::Response, S::Request> as Codec>::Encoder;
    type Decoder = InvalidArgumentDecoder<<ProstCodec<S::Response, S::Request> as Codec>::Decoder>;

    fn encoder(&mut self) -> Self::Encoder {
        self.inner.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        InvalidArgumentDecoder(self.inner.decoder())
    }
}

struct InvalidArgumentDecoder<D>(D);

impl<D: Decoder<Error = Status>> Decoder for InvalidArgumentDecoder<D> {
    type Item = D::Item;
    type Error = Status;

    fn decode(&mut self, buffer: &mut DecodeBuf<'_>) -> Result<Option<D::Item>, Status> {
        self.0.decode(buffer).map_err(|status| {
            Status::invalid_argument(format!(
                "the request is not a valid OTLP message: {}",
                status.message()
            ))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
