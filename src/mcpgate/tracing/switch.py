"""Whether the environment asks for traces, and the tracer's life beside the gateway's.

    async with open_tracing(os.environ):
        ...  # hook.tracer is set in here when tracing is on; spans are flushed on the way out

Tracing is on when OpenTelemetry's own variables say so, and only then: an OTLP endpoint is
set (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), the SDK is not
disabled (`OTEL_SDK_DISABLED=true`) and the trace exporter is not `none`
(`OTEL_TRACES_EXPORTER`). The rest — service name, resource attributes, sampler, batch sizes,
headers, timeouts, propagators — the SDK reads itself. Off, this module imports nothing of
OpenTelemetry, and nothing else does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import anyio

from mcpgate import __version__
from mcpgate.tracing import hook

logger = logging.getLogger(__name__)

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# Stopping flushes the spans still queued; a collector that went away must not hold the exit up.
_FLUSH_SECONDS = 5.0


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether `environ` turns tracing on (see the module docstring)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if not any(environ.get(name, "").strip() for name in _ENDPOINTS):
        return False
    exporters = [name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    return not any(exporters) or any(name not in ("", "none") for name in exporters)


@asynccontextmanager
async def open_tracing(environ: Mapping[str, str]) -> AsyncIterator[None]:
    """Trace while inside, if `environ` asks for it; flush and stop on the way out.

    One tracer per process (OpenTelemetry's context is process-wide): a gateway opened while
    another one traces in the same process shares its tracer.
    """
    if hook.tracer is not None or not wanted(environ):
        yield
        return
    # The SDK and the exporter load only for a gateway that traces.
    from mcpgate.tracing.provider import start_provider
    from mcpgate.tracing.spans import OTelTracer

    provider = start_provider(environ)
    hook.tracer = OTelTracer(provider.get_tracer("mcpgate", __version__))
    try:
        yield
    finally:
        hook.tracer = None
        # In a daemon thread of its own: an exporter still retrying past the bound must not
        # keep the process from exiting (anyio's worker threads would).
        flushing = threading.Thread(target=provider.shutdown, name="mcpgate-tracing-flush", daemon=True)
        flushing.start()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(flushing.join, _FLUSH_SECONDS)
