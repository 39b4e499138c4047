"""The access log masks what a query string carries — an SSE session's id, a key put in a URL —
through uvicorn's own formatter; `mcpgate serve` itself is scanned in
tests/access/test_secrets_never_leak.py."""

from __future__ import annotations

import logging

import pytest
from uvicorn.logging import AccessFormatter

from mcpgate.edge.access_log import QueryStringRedaction, redact_query_strings, redacted_target


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("/messages?sessionId=s6iqpfOR13jBQHjRQ_IZfg", "/messages?sessionId=***"),
        ("/mcp", "/mcp"),
        ("/health?", "/health?***"),
        ("/x?a=1&b=&mcpg_bare-token&c=d=e", "/x?a=***&b=***&***&c=***"),
    ],
)
def test_every_query_value_is_masked_and_the_names_stay(target: str, shown: str) -> None:
    assert redacted_target(target) == shown


def test_uvicorns_access_line_is_masked_before_its_formatter_sees_it() -> None:
    # The call uvicorn's HTTP protocols make for every response (httptools_impl / h11_impl).
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/messages?sessionId=secret-id", "1.1", 202),
        None,
    )
    assert QueryStringRedaction().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    assert line == '127.0.0.1:5000 - "POST /messages?sessionId=*** HTTP/1.1" 202 Accepted'


def test_the_filter_is_put_on_uvicorns_loggers_once() -> None:
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]
    before = [list(logger.filters) for logger in loggers]
    try:
        redact_query_strings()
        redact_query_strings()
        assert [sum(isinstance(f, QueryStringRedaction) for f in logger.filters) for logger in loggers] == [1, 1]
    finally:
        for logger, filters in zip(loggers, before, strict=True):
            logger.filters = filters
