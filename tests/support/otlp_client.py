#!/usr/bin/env python3
"""Send log records, spans and metrics that contain personal data over OTLP.

The integration tests run this script with the OpenTelemetry Python SDK
(versions pinned in requirements.txt) to check that hush accepts what a real
SDK sends, over gRPC, HTTP with protobuf or HTTP with JSON, optionally with
TLS, a client certificate and a bearer token. The log records, spans and
metric data points carry e-mail addresses, IPv4 addresses and a card number
in bodies, attributes, nested map and list attributes, span event and link
attributes, exception events, SQL statements, URLs, HTTP header attributes,
exemplar attributes and resource attributes.

The script prints one JSON document to standard output that describes what
it sent: the bodies, the attribute values, the trace and span ids and the
personal data values, and each exported batch as the binary protobuf
export request the SDK's encoder makes of it (base64), so a test can
compare them with what arrived.

Exit status: 0 only when every export call returned SUCCESS and every record
and span was exported; 1 when an export failed; 2 on invalid arguments.
"""

import argparse
import base64
import json
import logging
import os
import sys
from urllib.parse import urlparse


def clear_otel_environment(endpoint):
    """Replace every OTEL_ variable so that no SDK default picks a target.

    The SDK reads OTEL_EXPORTER_OTLP_* variables, and its default endpoint is
    not a local address. The exporters also get the endpoint as an argument.
    The variables are set as well, so a code path that reads only the
    environment still sends to the test endpoint.
    """
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            del os.environ[name]
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    os.environ["OTEL_EXPORTER_OTLP_INSECURE"] = "true"
    os.environ["OTEL_TRACES_EXPORTER"] = "none"
    os.environ["OTEL_METRICS_EXPORTER"] = "none"
    os.environ["OTEL_LOGS_EXPORTER"] = "none"
    # gRPC honors http_proxy and https_proxy, so a proxy set in the
    # environment would otherwise receive the test traffic.
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "grpc_proxy"):
        os.environ.pop(name, None)
    os.environ["no_proxy"] = "*"
    # requests lets these replace the CA file an exporter is given, so the
    # test CA would not be used.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        os.environ.pop(name, None)


PROTOCOLS = ("grpc", "http/protobuf", "http/json")


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--endpoint",
        required=True,
        help="OTLP endpoint without a signal path, such as http://127.0.0.1:4317 "
        "(loopback only; https:// for TLS)",
    )
    parser.add_argument(
        "--signals",
        default="logs,traces",
        help="comma-separated signals to send: logs, traces, metrics (default: logs,traces)",
    )
    parser.add_argument(
        "--protocol",
        default="grpc",
        choices=PROTOCOLS,
        help="OTLP transport and encoding (default: grpc)",
    )
    parser.add_argument("--gzip", action="store_true", help="compress request bodies with gzip")
    parser.add_argument("--ca-file", help="PEM file of the CA that signed the server certificate")
    parser.add_argument("--client-cert", help="PEM file of the client certificate")
    parser.add_argument("--client-key", help="PEM file of the client certificate's key")
    parser.add_argument("--bearer-token", help="token sent as 'authorization: Bearer TOKEN'")
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="time allowed for each export call, retries included, in seconds (default: 10)",
    )
    arguments = parser.parse_args()

    url = urlparse(arguments.endpoint)
    if url.scheme not in ("http", "https") or url.hostname not in ("127.0.0.1", "localhost") \
            or url.port is None:
        parser.error(
            f"invalid endpoint {arguments.endpoint!r}: expected http(s)://127.0.0.1:PORT, "
            "because the tests send only to loopback addresses"
        )
    if url.scheme == "https" and not arguments.ca_file:
        parser.error("an https:// endpoint needs --ca-file")
    if bool(arguments.client_cert) != bool(arguments.client_key):
        parser.error("--client-cert and --client-key go together")

    signals = {signal.strip() for signal in arguments.signals.split(",") if signal.strip()}
    unknown = signals - {"logs", "traces", "metrics"}
    if unknown or not signals:
        parser.error(
            f"invalid --signals {arguments.signals!r}: expected logs, traces, metrics or a list"
        )
    arguments.signals = signals
    return arguments


# Values from the reserved documentation ranges: RFC 2606 domains, RFC 5737
# addresses and the Visa test card number.
PERSONAL_DATA = {
    "emails": [
        "alice@example.com",
        "bob@example.org",
        "carol@example.net",
        "dave@example.com",
        "erin@example.com",
        "frank@example.org",
    ],
    "ipv4": ["203.0.113.7", "198.51.100.23", "192.0.2.44"],
    "cards": ["4111 1111 1111 1111"],
}


class RecordingExporter:
    """Wraps an SDK exporter and records the result of every export call.

    The batch processors drop export failures after logging them, so the
    script inspects the recorded results to decide its exit status. Each
    batch is also encoded with the SDK's protobuf encoder and kept, as the
    record of what was sent. Other attributes are the inner exporter's, which
    the metric reader reads.
    """

    def __init__(self, inner, success, encode, count):
        self.inner = inner
        self.success = success
        self.encode = encode
        self.count = count
        self.exported_items = 0
        self.failed_calls = 0
        self.calls = 0
        self.sent = []
        self.sending = True

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def stop_sending(self):
        """Report success for later batches without sending them."""
        self.sending = False

    def export(self, batch, *args, **kwargs):
        if not self.sending:
            return self.success
        result = self.inner.export(batch, *args, **kwargs)
        self.calls += 1
        if result == self.success:
            self.exported_items += self.count(batch)
            encoded = self.encode(batch).SerializeToString()
            self.sent.append(base64.b64encode(encoded).decode("ascii"))
        else:
            self.failed_calls += 1
        return result

    def force_flush(self, timeout_millis=30_000):
        return self.inner.force_flush(timeout_millis)

    def shutdown(self, *args, **kwargs):
        self.inner.shutdown(*args, **kwargs)


class Transport:
    """Builds exporters of one protocol with the TLS and token settings."""

    def __init__(self, arguments):
        self.endpoint = arguments.endpoint.rstrip("/")
        self.protocol = arguments.protocol
        self.gzip = arguments.gzip
        self.timeout = arguments.timeout
        self.ca_file = arguments.ca_file
        self.client_cert = arguments.client_cert
        self.client_key = arguments.client_key
        self.headers = {}
        if arguments.bearer_token:
            self.headers["authorization"] = f"Bearer {arguments.bearer_token}"

    def exporter(self, signal):
        """Return the SDK exporter of `signal` (logs, traces or metrics)."""
        if self.protocol == "grpc":
            return self.grpc_exporter(signal)
        return self.http_exporter(signal)

    def grpc_exporter(self, signal):
        import grpc
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        classes = {"logs": OTLPLogExporter, "traces": OTLPSpanExporter, "metrics": OTLPMetricExporter}
        options = {
            "endpoint": self.endpoint,
            "timeout": self.timeout,
            "channel_options": channel_options(),
            "headers": self.headers or None,
        }
        if self.gzip:
            options["compression"] = grpc.Compression.Gzip
        if self.ca_file:
            options["insecure"] = False
            options["credentials"] = grpc.ssl_channel_credentials(
                root_certificates=read_bytes(self.ca_file),
                private_key=read_bytes(self.client_key) if self.client_key else None,
                certificate_chain=read_bytes(self.client_cert) if self.client_cert else None,
            )
        else:
            options["insecure"] = True
        return classes[signal](**options)

    def http_exporter(self, signal):
        if self.protocol == "http/protobuf":
            from opentelemetry.exporter.otlp.proto.http import Compression
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.common.http import Compression
            from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter
            from opentelemetry.exporter.otlp.json.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter

        classes = {"logs": OTLPLogExporter, "traces": OTLPSpanExporter, "metrics": OTLPMetricExporter}
        return classes[signal](
            endpoint=f"{self.endpoint}/v1/{signal}",
            certificate_file=self.ca_file,
            client_certificate_file=self.client_cert,
            client_key_file=self.client_key,
            headers=self.headers or None,
            timeout=self.timeout,
            compression=Compression("gzip" if self.gzip else "none"),
        )


def read_bytes(path):
    with open(path, "rb") as file:
        return file.read()


def make_resource():
    from opentelemetry.sdk.resources import Resource

    # Resource() rather than Resource.create() so that no resource detector
    # runs and the attributes are exactly these.
    return Resource(
        {
            "service.name": "hush-it-client",
            "host.owner.email": PERSONAL_DATA["emails"][4],
            "host.ip": PERSONAL_DATA["ipv4"][2],
        }
    )


def channel_options():
    return (("grpc.enable_http_proxy", 0),)


def send_logs(transport, resource):
    """Emit two records, one through `logging` and one through the logs API."""
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
    from opentelemetry._logs import SeverityNumber

    emails = PERSONAL_DATA["emails"]
    ipv4 = PERSONAL_DATA["ipv4"]
    card = PERSONAL_DATA["cards"][0]

    timeout = transport.timeout
    exporter = RecordingExporter(
        transport.exporter("logs"), LogRecordExportResult.SUCCESS, encode_logs, len
    )
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))

    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    python_logger = logging.getLogger("hush.it.client")
    python_logger.propagate = False
    python_logger.setLevel(logging.INFO)
    python_logger.addHandler(handler)

    logging_body = f"user {emails[0]} logged in from {ipv4[0]}"
    logging_attributes = {"client.ip": ipv4[1], "payment.card": card}
    python_logger.info(logging_body, extra=logging_attributes)

    api_body = f"payment with card {card} declined for {emails[1]}"
    api_attributes = {
        "user.email": emails[1],
        "session": {
            "owner": {"email": emails[2]},
            "tags": ["checkout", emails[3]],
        },
    }
    provider.get_logger("hush.it.client.api").emit(
        severity_number=SeverityNumber.WARN,
        severity_text="WARN",
        body=api_body,
        attributes=api_attributes,
    )

    flushed = provider.force_flush(int(timeout * 1000) * 2)
    python_logger.removeHandler(handler)
    provider.shutdown()

    records = [
        {"via": "logging", "body": logging_body, "attributes": logging_attributes},
        {"via": "logs_api", "body": api_body, "attributes": api_attributes},
    ]
    return records, exporter, flushed


def send_traces(transport, resource):
    """Create a parent span with an event, a child span, and a database span
    with a link, an exception event and header attributes."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

    emails = PERSONAL_DATA["emails"]
    ipv4 = PERSONAL_DATA["ipv4"]
    card = PERSONAL_DATA["cards"][0]

    from opentelemetry.trace import Link

    timeout = transport.timeout
    exporter = RecordingExporter(
        transport.exporter("traces"), SpanExportResult.SUCCESS, encode_spans, len
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("hush.it.client")

    parent_attributes = {"enduser.email": emails[5], "client.address": ipv4[0]}
    event_attributes = {"payment.card": card, "note": f"receipt sent to {emails[5]}"}
    child_attributes = {"server.note": f"retry from {ipv4[1]}"}

    with tracer.start_as_current_span("checkout", attributes=parent_attributes) as parent:
        parent.add_event("payment.declined", attributes=event_attributes)
        with tracer.start_as_current_span("charge", attributes=child_attributes) as child:
            child_context = child.get_span_context()
        parent_context = parent.get_span_context()

    query_attributes = {
        "db.system.name": "postgresql",
        "db.query.text": f"SELECT id FROM users WHERE email = '{emails[3]}' AND card = '{card}'",
        "url.full": f"https://shop.example/orders?email={emails[4].replace('@', '%40')}&page=2",
        "http.request.header.cookie": ["session=opaque-cookie-value"],
        "http.request.header.x-forwarded-for": [ipv4[2]],
        "http.request.header.accept": ["application/json"],
    }
    link_attributes = {"link.owner": emails[0]}
    exception_message = f"no account for {emails[2]}"
    with tracer.start_as_current_span(
        "query",
        attributes=query_attributes,
        links=[Link(parent_context, attributes=link_attributes)],
    ) as query:
        query.record_exception(ValueError(exception_message))
        query_context = query.get_span_context()

    flushed = provider.force_flush(int(timeout * 1000) * 2)
    provider.shutdown()

    spans = [
        {
            "name": "checkout",
            "trace_id": format(parent_context.trace_id, "032x"),
            "span_id": format(parent_context.span_id, "016x"),
            "attributes": parent_attributes,
            "events": [{"name": "payment.declined", "attributes": event_attributes}],
        },
        {
            "name": "charge",
            "trace_id": format(child_context.trace_id, "032x"),
            "span_id": format(child_context.span_id, "016x"),
            "parent_span_id": format(parent_context.span_id, "016x"),
            "attributes": child_attributes,
            "events": [],
        },
        {
            "name": "query",
            "trace_id": format(query_context.trace_id, "032x"),
            "span_id": format(query_context.span_id, "016x"),
            "attributes": query_attributes,
            "links": [{"attributes": link_attributes}],
            "events": [{"name": "exception", "message": exception_message}],
        },
    ]
    return spans, exporter, flushed


def count_data_points(metrics_data):
    return sum(
        len(metric.data.data_points)
        for resource_metrics in metrics_data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    )


def send_metrics(transport, resource):
    """Record a counter, a histogram whose view keeps only `route` (the other
    attributes become exemplar filtered attributes) and a gauge."""
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
    from opentelemetry.sdk.metrics import AlwaysOnExemplarFilter, MeterProvider
    from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
    from opentelemetry.sdk.metrics.view import View

    emails = PERSONAL_DATA["emails"]
    ipv4 = PERSONAL_DATA["ipv4"]

    exporter = RecordingExporter(
        transport.exporter("metrics"),
        MetricExportResult.SUCCESS,
        encode_metrics,
        count_data_points,
    )
    # The interval is far longer than the run, so only force_flush exports.
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        resource=resource,
        metric_readers=[reader],
        views=[View(instrument_name="checkout.duration", attribute_keys={"route"})],
        exemplar_filter=AlwaysOnExemplarFilter(),
    )
    meter = provider.get_meter("hush.it.client")

    counter_attributes = {"user.email": emails[0], "route": "/checkout"}
    meter.create_counter("checkout.requests", unit="{request}").add(3, counter_attributes)
    duration_attributes = {
        "route": "/checkout",
        "client.address": ipv4[0],
        "note": f"slow for {emails[1]}",
    }
    meter.create_histogram("checkout.duration", unit="ms").record(12.5, duration_attributes)
    gauge_attributes = {"queue.owner": emails[2]}
    meter.create_gauge("queue.depth").set(7, gauge_attributes)

    flushed = provider.force_flush(int(transport.timeout * 1000) * 2)
    # Shutting down collects once more, and with cumulative temporality that
    # repeats the points just sent.
    exporter.stop_sending()
    provider.shutdown()

    metrics = [
        {"name": "checkout.requests", "attributes": counter_attributes},
        {"name": "checkout.duration", "attributes": duration_attributes},
        {"name": "queue.depth", "attributes": gauge_attributes},
    ]
    return metrics, exporter, flushed


def check_exports(signal, exporter, flushed, expected_items):
    """Return a list of error messages for one signal's exports."""
    errors = []
    if not flushed:
        errors.append(f"{signal}: force_flush timed out")
    if exporter.failed_calls:
        errors.append(f"{signal}: {exporter.failed_calls} of {exporter.calls} export calls failed")
    if exporter.exported_items != expected_items:
        errors.append(
            f"{signal}: exported {exporter.exported_items} items, expected {expected_items}"
        )
    return errors


def main():
    arguments = parse_arguments()
    clear_otel_environment(arguments.endpoint)
    transport = Transport(arguments)

    resource = make_resource()
    summary = {
        "endpoint": arguments.endpoint,
        "protocol": arguments.protocol,
        "resource_attributes": dict(resource.attributes),
        "personal_data": PERSONAL_DATA,
        "logs": [],
        "spans": [],
        "metrics": [],
        "sent": {"logs": [], "traces": [], "metrics": []},
    }
    errors = []

    if "logs" in arguments.signals:
        records, exporter, flushed = send_logs(transport, resource)
        summary["logs"] = records
        summary["sent"]["logs"] = exporter.sent
        errors += check_exports("logs", exporter, flushed, len(records))

    if "traces" in arguments.signals:
        spans, exporter, flushed = send_traces(transport, resource)
        summary["spans"] = spans
        summary["sent"]["traces"] = exporter.sent
        errors += check_exports("traces", exporter, flushed, len(spans))

    if "metrics" in arguments.signals:
        metrics, exporter, flushed = send_metrics(transport, resource)
        summary["metrics"] = metrics
        summary["sent"]["metrics"] = exporter.sent
        errors += check_exports("metrics", exporter, flushed, len(metrics))

    json.dump(summary, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")

    for error in errors:
        print(f"otlp_client: export failed: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
