"""Traces of the gateway's requests, exported over OTLP (issue #27): edge → hub → upstream.

Off unless the standard OpenTelemetry variables ask for it (`switch.py`): then nothing of
OpenTelemetry is imported, and the layers that trace read `hook.tracer`, find None and carry
on — one attribute read per request and layer. On, the spans are:

    POST /mcp                  SERVER  one per HTTP request (edge.py), parent: the request's
                                       W3C `traceparent`, or its MCP `_meta` trace context
      tools/call web_search    SERVER  the request as the hub routes it (spans.py)
        tools/call search      CLIENT  the request to the upstream; its context travels on in
                                       the `traceparent` header (HTTP upstreams) and `_meta`

    hook.py      the seam the edge, hub and upstream layers call; imports nothing
    switch.py    whether the environment asks for traces; starts and stops them
    provider.py  the SDK: resource, sampler, OTLP/HTTP exporter, batch processor
    spans.py     the tracer: spans, their attributes, trace context in and out
    edge.py      the ASGI wrapper that opens one server span per HTTP request

Only provider.py, spans.py and edge.py import OpenTelemetry, and only app.py (through
switch.py) imports them.
"""
