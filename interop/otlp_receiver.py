"""A small OTLP/HTTP trace receiver built on the reference Python protobuf classes.

It checks what our Rust exporters send against the OpenTelemetry project's own
`opentelemetry-proto` package rather than against our own decoder:

    python interop/otlp_receiver.py [--port 0]

It listens on 127.0.0.1 (port 0 picks a free one), prints
`listening on http://127.0.0.1:PORT` once, then one JSON line per decoded span:

    {"trace_id": "<32 hex>", "span_id": "<16 hex>", "parent_span_id": "<16 hex or empty>",
     "name": "GET /", "kind": "SPAN_KIND_SERVER", "service": "app-a",
     "status": "STATUS_CODE_UNSET",
     "resource": {"service.name": {"type": "stringValue", "value": "app-a"}, ...},
     "attributes": {"http.response.status_code": {"type": "intValue", "value": 200}, ...}}

`type` is the name of the AnyValue field that was set on the wire (stringValue,
intValue, doubleValue, boolValue, arrayValue, kvlistValue, bytesValue), so a
test can tell an integer from a string that looks like one.

POST /v1/traces takes application/x-protobuf, optionally gzip-compressed, and
answers 200 with an ExportTraceServiceResponse; a body that does not decode
gets 400 and an `error` line on stdout. Anything else gets 404 or 415.
"""

import argparse
import gzip
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

# AnyValue's oneof field names, as OTLP/JSON spells them.
VALUE_TYPES = {
    "string_value": "stringValue",
    "int_value": "intValue",
    "double_value": "doubleValue",
    "bool_value": "boolValue",
    "array_value": "arrayValue",
    "kvlist_value": "kvlistValue",
    "bytes_value": "bytesValue",
}

# One writer at a time, so lines from concurrent exports never interleave.
STDOUT = Lock()


def emit(record):
    with STDOUT:
        sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
        sys.stdout.flush()


def any_value(value):
    """An AnyValue as {"type": ..., "value": ...}; nested values keep their types."""
    field = value.WhichOneof("value")
    if field is None:
        return {"type": None, "value": None}
    raw = getattr(value, field)
    if field == "array_value":
        raw = [any_value(v) for v in raw.values]
    elif field == "kvlist_value":
        raw = attributes(raw.values)
    elif field == "bytes_value":
        raw = raw.hex()
    return {"type": VALUE_TYPES[field], "value": raw}


def attributes(key_values):
    return {kv.key: any_value(kv.value) for kv in key_values}


def span_lines(request):
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        service = resource.get("service.name", {}).get("value", "")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": Span.SpanKind.Name(span.kind),
                    "service": service,
                    "scope": scope_spans.scope.name,
                    "status": Status.StatusCode.Name(span.status.code),
                    "start_time_unix_nano": span.start_time_unix_nano,
                    "end_time_unix_nano": span.end_time_unix_nano,
                    "resource": resource,
                    "attributes": attributes(span.attributes),
                }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        if self.path != "/v1/traces":
            return self.answer(404, b"", "text/plain")
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != "application/x-protobuf":
            return self.answer(415, b"only application/x-protobuf", "text/plain")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            request = ExportTraceServiceRequest.FromString(body)
        except Exception as error:  # a bad body is the sender's bug: report it
            emit({"error": f"{type(error).__name__}: {error}"})
            return self.answer(400, b"undecodable body", "text/plain")
        for line in span_lines(request):
            emit(line)
        self.answer(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

    def answer(self, code, body, content_type):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # stdout carries spans only; access logs would get in the way


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    emit_line = f"listening on http://127.0.0.1:{server.server_address[1]}"
    with STDOUT:
        print(emit_line, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
