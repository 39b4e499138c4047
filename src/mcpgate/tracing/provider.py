"""OpenTelemetry's SDK as the standard variables configure it: where spans go and which are kept.

    provider = start_provider(os.environ)
    tracer = provider.get_tracer("mcpgate", __version__)
    ...
    provider.shutdown()  # flushes what is queued

- Resource: `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` as the SDK reads them;
  `service.name` defaults to "mcpgate" (rather than the SDK's `unknown_service`).
- Sampler: `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (default: parent-based, always on).
- Exporters: `OTEL_TRACES_EXPORTER` — `otlp` (default), `console`, `none`. OTLP goes over HTTP
  with protobuf (`opentelemetry-exporter-otlp-proto-http`, which reads its own
  `OTEL_EXPORTER_OTLP_*` endpoint, headers, timeout, compression and certificates): the
  protocol OpenTelemetry's SDKs default to, every collector accepts it, and it needs neither
  grpcio's native wheel nor its threads in the gateway's process.
- Each exporter is fed by a `BatchSpanProcessor` (`OTEL_BSP_*`): spans are queued in memory and
  exported from the SDK's own thread, never on the event loop.

The provider is the gateway's own, not installed as OpenTelemetry's global one: libraries in
the process that trace through the global API (the MCP SDK does) stay no-ops.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from mcpgate import __version__
from mcpgate.errors import shown_url

logger = logging.getLogger(__name__)

_PROTOCOL = "http/protobuf"


def start_provider(environ: Mapping[str, str]) -> TracerProvider:
    """A tracer provider exporting as `environ` says (the SDK also reads `os.environ` itself)."""
    resource = Resource.create({})
    if str(resource.attributes.get(SERVICE_NAME, "unknown_service")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "mcpgate"}))
    if SERVICE_VERSION not in resource.attributes:
        resource = resource.merge(Resource({SERVICE_VERSION: __version__}))
    # shutdown_on_exit=False: the gateway flushes it when it stops (switch.open_tracing), bounded.
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    for exporter in _exporters(environ):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _exporters(environ: Mapping[str, str]) -> list[SpanExporter]:
    names = [name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
    exporters: list[SpanExporter] = []
    for name in dict.fromkeys(names):
        if name in ("otlp", ""):
            exporters.append(_otlp(environ))
        elif name == "console":
            exporters.append(ConsoleSpanExporter(service_name="mcpgate"))
            logger.info("tracing: spans written to standard output (OTEL_TRACES_EXPORTER=console)")
        elif name != "none":
            logger.warning("tracing: OTEL_TRACES_EXPORTER=%s is not supported (otlp, console, none); ignored", name)
    return exporters


def _otlp(environ: Mapping[str, str]) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = environ.get(variable, "").strip()
        if protocol:
            if protocol != _PROTOCOL:
                logger.warning("tracing: %s=%s is not supported; exporting with %s", variable, protocol, _PROTOCOL)
            break
    traces = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    endpoint = traces or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip().rstrip("/") + "/v1/traces"
    logger.info("tracing: spans exported over OTLP/HTTP to %s", shown_url(endpoint))
    return OTLPSpanExporter()
