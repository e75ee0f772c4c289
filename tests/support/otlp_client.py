#!/usr/bin/env python3
"""Send log records and spans that contain personal data over OTLP/gRPC.

The integration tests run this script with the OpenTelemetry Python SDK
(versions pinned in requirements.txt) to check that hush accepts what a real
SDK sends. The log records and spans carry e-mail addresses, IPv4
addresses and a card number in bodies, attributes, nested map and list
attributes, span event attributes and resource attributes.

The script prints one JSON document to standard output that describes what
it sent: the bodies, the attribute values, the trace and span ids and the
personal data values, so a test can compare them with what arrived.

Exit status: 0 only when every export call returned SUCCESS and every record
and span was exported; 1 when an export failed; 2 on invalid arguments.
"""

import argparse
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


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--endpoint",
        required=True,
        help="OTLP/gRPC endpoint, such as http://127.0.0.1:4317 (loopback only)",
    )
    parser.add_argument(
        "--signals",
        default="logs,traces",
        help="comma-separated signals to send: logs, traces (default: both)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="time allowed for each export call, retries included, in seconds (default: 10)",
    )
    arguments = parser.parse_args()

    url = urlparse(arguments.endpoint)
    if url.scheme != "http" or url.hostname not in ("127.0.0.1", "localhost") or url.port is None:
        parser.error(
            f"invalid endpoint {arguments.endpoint!r}: expected http://127.0.0.1:PORT, "
            "because the tests send only to loopback addresses"
        )

    signals = {signal.strip() for signal in arguments.signals.split(",") if signal.strip()}
    unknown = signals - {"logs", "traces"}
    if unknown or not signals:
        parser.error(f"invalid --signals {arguments.signals!r}: expected logs, traces or both")
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
    script inspects the recorded results to decide its exit status.
    """

    def __init__(self, inner, success):
        self.inner = inner
        self.success = success
        self.exported_items = 0
        self.failed_calls = 0
        self.calls = 0

    def export(self, batch):
        result = self.inner.export(batch)
        self.calls += 1
        if result == self.success:
            self.exported_items += len(batch)
        else:
            self.failed_calls += 1
        return result

    def force_flush(self, timeout_millis=30_000):
        return self.inner.force_flush(timeout_millis)

    def shutdown(self):
        self.inner.shutdown()


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


def send_logs(endpoint, timeout, resource):
    """Emit two records, one through `logging` and one through the logs API."""
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
    from opentelemetry._logs import SeverityNumber

    emails = PERSONAL_DATA["emails"]
    ipv4 = PERSONAL_DATA["ipv4"]
    card = PERSONAL_DATA["cards"][0]

    exporter = RecordingExporter(
        OTLPLogExporter(
            endpoint=endpoint,
            insecure=True,
            timeout=timeout,
            channel_options=channel_options(),
        ),
        LogRecordExportResult.SUCCESS,
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


def send_traces(endpoint, timeout, resource):
    """Create a parent span with an event and a child span."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

    emails = PERSONAL_DATA["emails"]
    ipv4 = PERSONAL_DATA["ipv4"]
    card = PERSONAL_DATA["cards"][0]

    exporter = RecordingExporter(
        OTLPSpanExporter(
            endpoint=endpoint,
            insecure=True,
            timeout=timeout,
            channel_options=channel_options(),
        ),
        SpanExportResult.SUCCESS,
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
    ]
    return spans, exporter, flushed


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

    resource = make_resource()
    summary = {
        "endpoint": arguments.endpoint,
        "resource_attributes": dict(resource.attributes),
        "personal_data": PERSONAL_DATA,
        "logs": [],
        "spans": [],
    }
    errors = []

    if "logs" in arguments.signals:
        records, exporter, flushed = send_logs(arguments.endpoint, arguments.timeout, resource)
        summary["logs"] = records
        errors += check_exports("logs", exporter, flushed, len(records))

    if "traces" in arguments.signals:
        spans, exporter, flushed = send_traces(arguments.endpoint, arguments.timeout, resource)
        summary["spans"] = spans
        errors += check_exports("traces", exporter, flushed, len(spans))

    json.dump(summary, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")

    for error in errors:
        print(f"otlp_client: export failed: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
