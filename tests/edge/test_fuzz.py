"""Random and mutated input at every door: JSON-RPC messages and batches, headers and raw bodies
thrown at /mcp, /sse + /messages and /api/v1. Whatever arrives, the answer is a 4xx or better,
it comes promptly, and the gateway still serves a real call afterwards.

The gateway runs in a thread of its own (Hypothesis drives it synchronously over a real socket).
Bodies are built from a vocabulary of the protocol's own words, so they get past the first
checks often enough to reach the handlers; they never name a command, so nothing is started.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpgate.config import settings_from_mapping
from tests.conftest import stdio_echo, threaded_gateway

METHODS = [
    "initialize",
    "notifications/initialized",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "notifications/cancelled",
    "notifications/progress",
    "server/discover",
    "subscriptions/listen",
]
KEYS = ["jsonrpc", "id", "method", "params", "result", "error", "name", "arguments", "uri", "cursor", "_meta"]
KEYS += ["protocolVersion", "capabilities", "clientInfo", "progressToken", "requestId", "level", "ref", "argument"]
KEYS += ["kind", "spec", "location", "mode", "selectedTools", "scopes", "servers", "enabled"]  # the management API's
VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28", "1999-01-01", ""]
TOOLS = ["e_echo", "e_wait", "e_add", "nope", ""]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from([*METHODS, *VERSIONS, *TOOLS, "openapi", "collection", "SMART", "NORMAL", "a\x00b", "../.."]),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=20,
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "2.0", "1.0", 2]),
        "id": st.one_of(st.integers(), st.text(max_size=10), st.none(), st.floats(), st.lists(st.integers())),
        "method": st.one_of(st.sampled_from(METHODS), st.text(max_size=20), st.integers()),
        "params": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {}, optional={"name": st.sampled_from(TOOLS), "arguments": json_values, "_meta": json_values}
            ),
        ),
        "result": json_values,
        "error": json_values,
    },
)
bodies = st.one_of(
    messages.map(json.dumps),
    st.lists(messages, max_size=5).map(json.dumps),  # batches, the empty one included
    json_values.map(lambda value: json.dumps(value, allow_nan=True)),
    messages.map(json.dumps).flatmap(lambda text: st.integers(0, len(text)).map(lambda cut: text[:cut])),  # truncated
    st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
)
# What a client can put on the wire: printable ASCII, no whitespace at either end.
paths = st.one_of(st.sampled_from(["fz", "a\x00b", "\x00", "../..", "/dev/null", ""]), st.text(max_size=12))
names = st.sampled_from(["fz", "fz2", "a\x00b", ""])
urls = st.sampled_from(["http://127.0.0.1:9/mcp", "ftp://x", "", "http://127.0.0.1:9/\x00", "http://[::1"])
# Management bodies of roughly the right shape, one kind each, so they reach the handlers' own
# checks. None names a command, and a URL is only ever a closed loopback port (or not a URL).
upstream_bodies = st.one_of(
    st.fixed_dictionaries(
        {"name": names, "kind": st.just("openapi"), "spec": paths},
        optional={"guides": paths, "baseUrl": urls, "headers": json_values},
    ),
    st.fixed_dictionaries(
        {"name": names, "kind": st.just("collection"), "location": paths},
        optional={"record": paths, "idField": paths, "textFields": json_values},
    ),
    st.fixed_dictionaries(
        {"name": names, "kind": st.sampled_from(["remote", "sse", "streamable_http"]), "url": urls},
        optional={"headers": json_values, "passthroughHeaders": json_values},
    ),
).map(json.dumps)
server_bodies = st.fixed_dictionaries(
    {"name": names},
    optional={
        "mode": st.sampled_from(["SMART", "NORMAL", "x"]),
        "selectedTools": json_values,
        "externalMcpConfigs": st.lists(st.fixed_dictionaries({"name": names, "url": urls}), max_size=2),
        "isPublic": json_values,
        "config": json_values,
    },
).map(json.dumps)
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(str.strip)
headers = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.one_of(st.sampled_from(["application/json", "text/plain", ""]), header_values),
        "accept": st.one_of(
            st.sampled_from(["application/json, text/event-stream", "application/json", "text/event-stream"]),
            header_values,
        ),
        "mcp-session-id": header_values,
        "mcp-protocol-version": st.one_of(st.sampled_from(VERSIONS), header_values),
        "mcp-method": st.one_of(st.sampled_from(METHODS), header_values),
        "mcp-name": header_values,
        "last-event-id": header_values,
        "x-username": header_values,
    },
)
ADMIN_PATHS = [
    "/api/v1/upstreams",
    "/api/v1/upstreams/x",
    "/api/v1/mcp_manager",
    "/api/v1/mcp_manager/x",
    "/api/v1/mcp_manager/x/config",
    "/api/v1/mcp_manager/load-tools-from-url",
    "/api/v1/keys",
    "/api/v1/users",
    "/api/v1/audit",
    "/api/v1/nothing-here",
]
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ACCEPT = {"accept": "application/json, text/event-stream"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}},
}


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data = tmp_path_factory.mktemp("fuzz")
    config = settings_from_mapping(
        {
            "mcpServers": {"e": stdio_echo("e")},
            "database_url": "sqlite+aiosqlite://",
            "data_dir": str(data),
            "edge": {"maxBodyBytes": 65536},
        },
        "fuzz",
    )
    with threaded_gateway(config) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client
        # After everything thrown at it, a real client's real call still works.
        assert_serves_a_real_call(client)


def assert_serves_a_real_call(http: httpx.Client) -> None:
    opened = http.post("/mcp", json=INIT, headers=ACCEPT)
    assert opened.status_code == 200, opened.text
    session = {**ACCEPT, "mcp-session-id": opened.headers["mcp-session-id"]}
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "e_echo", "arguments": {"text": "ok"}},
    }
    answered = http.post("/mcp", json=call, headers=session)
    assert answered.status_code == 200 and "ok" in answered.json()["result"]["content"][0]["text"]


def _send(http: httpx.Client, method: str, path: str, body: str | None, extra: dict[str, str]) -> httpx.Response:
    """One request, its answer read whole unless it is an event stream (then only its head)."""
    content = body.encode("utf-8", "surrogatepass") if body is not None else None
    with http.stream(method, path, content=content, headers=extra) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
    return response


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])


@FUZZ
@given(body=bodies, extra=headers, method=st.sampled_from(["POST", "POST", "POST", "GET", "DELETE", "PUT"]))
def test_random_messages_at_the_streamable_http_endpoint(http: httpx.Client, body, extra, method) -> None:
    _check(_send(http, method, "/mcp", body if method in ("POST", "PUT") else None, extra))


@FUZZ
@given(body=bodies, extra=headers, session=st.sampled_from(["live", "random", "missing"]))
def test_random_messages_at_the_legacy_sse_endpoint(http: httpx.Client, body, extra, session) -> None:
    with http.stream("GET", "/sse", headers={"accept": "text/event-stream"}) as stream:
        assert stream.status_code == 200
        lines = stream.iter_lines()
        endpoint = next(line for line in lines if line.startswith("data: ")).removeprefix("data: ")
        if session == "random":
            endpoint = re.sub(r"sessionId=[^&]+", "sessionId=not-a-session", endpoint)
        elif session == "missing":
            endpoint = endpoint.split("?")[0]
        _check(_send(http, "POST", endpoint, body, extra))


@FUZZ
@given(
    body=st.one_of(st.none(), bodies, upstream_bodies, server_bodies),
    extra=headers,
    path=st.sampled_from(ADMIN_PATHS),
    method=st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE"]),
)
def test_random_requests_at_the_management_api(http: httpx.Client, body, extra, path, method) -> None:
    _check(_send(http, method, path, body, extra))


@FUZZ
@given(
    registration=st.one_of(
        upstream_bodies.map(lambda body: ("/api/v1/upstreams", body)),
        server_bodies.map(lambda body: ("/api/v1/mcp_manager", body)),
    )
)
def test_random_registrations(http: httpx.Client, registration) -> None:
    """Bodies of nearly the right shape: names, kinds, paths and URLs that are wrong in every way."""
    path, body = registration
    response = _send(http, "POST", path, body, {"content-type": "application/json"})
    _check(response)
    if response.status_code == 201:  # a valid one got through: leave the registry as it was
        created = response.json()
        http.delete(f"{path}/{created.get('id') or created.get('name')}")


def test_a_batch_of_everything_is_answered_item_by_item(http: httpx.Client) -> None:
    """Not random: one batch holding a valid request, a notification and every malformed kind."""
    opened = http.post("/mcp", json=INIT, headers=ACCEPT)
    session = {**ACCEPT, "mcp-session-id": opened.headers["mcp-session-id"]}
    batch: list[Any] = [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2},
        {"id": 3, "method": "ping"},
        {"jsonrpc": "2.0", "id": {"no": 1}, "method": "ping"},
        17,
        [],
    ]
    answered = http.post("/mcp", json=batch, headers=session)
    assert answered.status_code in (200, 400)
    replies = answered.json()
    assert isinstance(replies, list) and {"jsonrpc": "2.0", "id": 1, "result": {}} in replies


@pytest.mark.parametrize("path", ["/mcp", "/api/v1/upstreams", "/tools/e_echo"])
def test_a_body_declared_too_large_is_refused_before_it_is_read(http: httpx.Client, path: str) -> None:
    host, port = str(http.base_url.host), http.base_url.port
    with socket.create_connection((host, port), timeout=10) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        sock.sendall(
            f"{head}Accept: application/json, text/event-stream\r\nContent-Length: {10**12}\r\n\r\n{{".encode()
        )
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
