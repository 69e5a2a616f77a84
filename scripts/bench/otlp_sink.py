"""A decode-only OTLP/HTTP trace sink: the floor any OTLP backend in Python starts from.

    python scripts/bench/otlp_sink.py [--port 0]

`scripts/bench-store.sh --ingest` sends it the same bodies as the store, to
compare the store's ingest rate with a receiver that only decodes. It listens
on 127.0.0.1 (port 0 picks a free one) and prints `listening on
http://127.0.0.1:PORT` once.

POST /v1/traces (application/x-protobuf): the body is parsed with the reference
classes, `ExportTraceServiceRequest.FromString` from `opentelemetry-proto`
(protobuf's C extension, upb, does the parsing), its spans are counted, and the
answer is 200 with an empty `ExportTraceServiceResponse`. Nothing is stored. A
body that does not parse gets 400; any other path 404.

GET /stats answers `{"requests": N, "spans": N, "bad": N}` as JSON; GET /ready
answers 200 once listening.

One thread per connection (the standard library's ThreadingHTTPServer, HTTP/1.1
keep-alive), so wrk's connections are served concurrently; the parsing itself
holds the GIL.
"""

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

EMPTY_RESPONSE = ExportTraceServiceResponse().SerializeToString()


class Counts:
    def __init__(self):
        self.lock = Lock()
        self.requests = 0
        self.spans = 0
        self.bad = 0


COUNTS = Counts()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk and OTLP exporters expect

    def log_message(self, *args):  # no line per request
        pass

    def answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path != "/v1/traces":
            self.answer(404, b"not found\n", "text/plain")
            return
        try:
            request = ExportTraceServiceRequest.FromString(body)
        except Exception as error:  # DecodeError, or anything else the parser raises
            with COUNTS.lock:
                COUNTS.bad += 1
            self.answer(400, f"{error}\n".encode(), "text/plain")
            return
        spans = sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans)
        with COUNTS.lock:
            COUNTS.requests += 1
            COUNTS.spans += spans
        self.answer(200, EMPTY_RESPONSE, "application/x-protobuf")

    def do_GET(self):
        if self.path == "/stats":
            with COUNTS.lock:
                stats = {"requests": COUNTS.requests, "spans": COUNTS.spans, "bad": COUNTS.bad}
            self.answer(200, json.dumps(stats).encode() + b"\n", "application/json")
        elif self.path == "/ready":
            self.answer(200, b"ready\n", "text/plain")
        else:
            self.answer(404, b"not found\n", "text/plain")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
