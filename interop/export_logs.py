"""Send one log record with the Python SDK's own OTLP/HTTP log exporter and print its verdict.

    python interop/export_logs.py http://127.0.0.1:4318/v1/logs

The seed's apps send logs this way when OTEL_LOGS_EXPORTER=otlp. The exporter
does not raise on failure, and its error message goes through `logging`, where
the SDK's own handler may swallow it, so this wraps the exporter to catch the
result it returns. Prints `SUCCESS` or `FAILURE` and exits 0 or 1.
"""

import logging
import sys

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

results = []


class RecordingExporter(OTLPLogExporter):
    def export(self, batch):
        result = super().export(batch)
        results.append(result)
        return result


def main():
    endpoint = sys.argv[1]
    provider = LoggerProvider(resource=Resource.create({"service.name": "python-logs"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(RecordingExporter(endpoint=endpoint)))
    logger = logging.getLogger("interop")
    logger.propagate = False
    logger.addHandler(LoggingHandler(logger_provider=provider))
    logger.warning("Error while calling Service C: a log line from the seed's stack")
    provider.shutdown()
    verdict = "SUCCESS" if results and all(r.name == "SUCCESS" for r in results) else "FAILURE"
    print(verdict, [r.name for r in results])
    sys.exit(0 if verdict == "SUCCESS" else 1)


if __name__ == "__main__":
    main()
