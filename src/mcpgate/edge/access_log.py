"""The access log without what a request's query string carries: each value is masked.

uvicorn's access log line is the request line — `POST /messages?sessionId=8c1f… HTTP/1.1` —
and a query string carries capabilities: an SSE session's id (whoever holds it can post into
the session), a key a client put in the URL. The names stay, the values go:

    redact_query_strings()   # once, when serving: access lines show /messages?sessionId=***

It is a filter on uvicorn's loggers — `uvicorn.access` (HTTP request lines) and `uvicorn.error`
(where a WebSocket handshake is logged, with its target) — so it holds whatever the handlers and
formatter (uvicorn's own, or a deployment's dictConfig): it rewrites a record's arguments before
any of them formats it. The gateway's own lines name no query string (`errors.shown_url`).
"""

from __future__ import annotations

import logging

LOGGERS = ("uvicorn.access", "uvicorn.error")
MASK = "***"


def redacted_target(target: str) -> str:
    """`target` (a request's path and query string) with every query value masked, and a field
    without a name masked whole (it may be a bare token): `/messages?sessionId=abc&mcpg_x` →
    `/messages?sessionId=***&***`."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    fields = (name + "=" + MASK if sep else MASK for name, sep, _ in (f.partition("=") for f in query.split("&")))
    return f"{path}?{'&'.join(fields)}"


class QueryStringRedaction(logging.Filter):
    """Masks query values in a record's string arguments (uvicorn passes a target as one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "?" in a for a in record.args):
            record.args = tuple(redacted_target(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_query_strings() -> None:
    """Put the filter on uvicorn's loggers (once: calling again changes nothing)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QueryStringRedaction) for f in logger.filters):
            logger.addFilter(QueryStringRedaction())
