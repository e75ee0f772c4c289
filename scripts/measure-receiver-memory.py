#!/usr/bin/env python3
"""Measure the peak memory of hush under many large concurrent OTLP requests.

Starts `hush run` with its OTLP/HTTP receiver on 127.0.0.1 and a downstream
address on 127.0.0.1 where nothing listens, so no batch can leave and every
accepted request stays in memory. Then CONCURRENCY clients each POST one
REQUEST_MIB MiB logs request at the same time. After the requests settled,
the script reads the peak resident set size of hush (VmHWM in
/proc/PID/status) and stops it.

It does this REPEATS times with otlp_receiver.max_in_flight_bytes at its
default (64 MiB), and REPEATS times with the bound at its maximum
(4 GiB - 1, as good as no bound). Then it prints the median peak RSS of
each setting and their ratio.

Usage (from the repository root, after scripts/setup-python-env):

    cargo build --release
    .venv/bin/python scripts/measure-receiver-memory.py target/release/hush

Everything runs on 127.0.0.1. The numbers depend on the machine; the ratio
between the two settings is what the script is for.
"""

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

CONCURRENCY = 60
REQUEST_MIB = 10
REPEATS = 3
UNBOUNDED = 4294967295
# Long enough for every request to be read, decoded, and rejected or queued.
SETTLE_SECONDS = 15


def free_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


def logs_request(size):
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.body.string_value = "x" * size
    return request.SerializeToString()


def write_config(directory, http_port, in_flight_bytes):
    path = os.path.join(directory, "hush.yaml")
    with open(path, "w") as file:
        file.write(
            f"data_dir: {directory}/state\n"
            "key: { env: HUSH_KEY, id: k1 }\n"
            "otlp_receiver:\n"
            "  grpc: null\n"
            f"  http: 127.0.0.1:{http_port}\n"
            f"  max_in_flight_bytes: {in_flight_bytes}\n"
            "telemetry: { listen: null }\n"
            f"exporter: {{ otlp: {{ endpoint: \"http://127.0.0.1:{free_port()}\" }} }}\n"
        )
    return path


def wait_for_port(port, process):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hush exited with {process.returncode} before it was ready")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("hush did not open its OTLP/HTTP port within 30 s")


def post(port, body, statuses):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=SETTLE_SECONDS * 4)
    try:
        connection.request(
            "POST", "/v1/logs", body=body, headers={"content-type": "application/x-protobuf"}
        )
        statuses.append(connection.getresponse().status)
    except (OSError, http.client.HTTPException):
        # Requests still waiting for the unreachable downstream are cut off
        # when hush stops.
        statuses.append(None)
    finally:
        connection.close()


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM missing from /proc status")


def run_once(binary, body, in_flight_bytes):
    with tempfile.TemporaryDirectory() as directory:
        port = free_port()
        config = write_config(directory, port, in_flight_bytes)
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HUSH_KEY": "00" * 32,
            "RUST_LOG": "error",
        }
        process = subprocess.Popen(
            [binary, "run", "--config", config],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, process)
            statuses = []
            threads = [
                threading.Thread(target=post, args=(port, body, statuses), daemon=True)
                for _ in range(CONCURRENCY)
            ]
            for thread in threads:
                thread.start()
            time.sleep(SETTLE_SECONDS)
            peak = peak_rss_mib(process.pid)
            busy = sum(1 for status in statuses if status == 503)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return peak, busy


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", help="path of the hush binary to measure")
    arguments = parser.parse_args()

    body = logs_request(REQUEST_MIB * 1024 * 1024)
    settings = [("default bound (64 MiB)", 64 * 1024 * 1024), ("no bound", UNBOUNDED)]
    medians = {}
    for name, in_flight_bytes in settings:
        peaks = []
        for repeat in range(REPEATS):
            peak, busy = run_once(arguments.binary, body, in_flight_bytes)
            print(
                f"{name}: run {repeat + 1}: peak RSS {peak:.0f} MiB, "
                f"{busy} of {CONCURRENCY} requests answered 503",
                flush=True,
            )
            peaks.append(peak)
        medians[name] = statistics.median(peaks)

    print()
    for name, median in medians.items():
        print(f"{name}: median peak RSS {median:.0f} MiB over {REPEATS} runs")
    bounded, unbounded = (medians[name] for name, _ in settings)
    print(f"ratio no bound / default bound: {unbounded / bounded:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
