"""`load-tools-from-url` on a server behind a key: it says that credentials are needed, which
header the server asked for, and that the request's `headers` is where they go — not that the
server "is not an MCP server"."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import running_gateway, serve_asgi, stdio_echo
from tests.upstreams.echo_server import build_server

pytestmark = pytest.mark.anyio

LOAD = "/api/v1/mcp_manager/load-tools-from-url"
CHALLENGE = 'Bearer realm="tools", resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource"'


def behind_a_key(app: ASGIApp, challenge: str | None) -> ASGIApp:
    """`app` behind an auth check: "Bearer right" passes, "Bearer readonly" is forbidden (403),
    anything else is a 401 with `challenge` as WWW-Authenticate."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization")
            if given != b"Bearer right":
                status = 403 if given == b"Bearer readonly" else 401
                headers = [(b"content-type", b"application/json")]
                if challenge is not None and status == 401:
                    headers.append((b"www-authenticate", challenge.encode()))
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": b'{"error": "unauthorized"}'})
                return
        await app(scope, receive, send)

    return guarded


@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
async def test_a_server_behind_a_key_is_said_to_need_credentials_and_which_header(transport: str) -> None:
    server = build_server("locked")
    app = server.streamable_http_app() if transport == "streamable_http" else server.sse_app()
    path = "/mcp" if transport == "streamable_http" else "/sse"
    async with (
        serve_asgi(behind_a_key(app, CHALLENGE)) as url,
        running_gateway({"mcpServers": {"demo": stdio_echo("demo")}}) as gateway,
        gateway.http() as http,
    ):
        without = await http.post(LOAD, json={"url": f"{url}{path}", "cacheMinutes": 0})
        assert without.status_code == 422, without.text
        error = without.json()["error"]
        assert error["message"] == (
            f"{url}{path} needs credentials (HTTP 401); it asks for an 'Authorization: Bearer <token>' header "
            f"(WWW-Authenticate: {CHALLENGE}) — send credentials in this request's `headers` (header name → value)"
        )
        assert "not an MCP server" not in error["message"]
        assert error["details"] == [
            {"loc": "body.headers", "message": error["message"], "status": 401, "wwwAuthenticate": CHALLENGE}
        ]

        wrong = await http.post(LOAD, json={"url": f"{url}{path}", "headers": {"Authorization": "Bearer nope"}})
        assert wrong.status_code == 422
        assert wrong.json()["error"]["message"].startswith(
            f"{url}{path} refused the credentials it was sent (HTTP 401)"
        )
        assert "check the credentials in this request's `headers`" in wrong.json()["error"]["message"]

        forbidden = await http.post(LOAD, json={"url": f"{url}{path}", "headers": {"Authorization": "Bearer readonly"}})
        assert forbidden.status_code == 422 and "(HTTP 403)" in forbidden.json()["error"]["message"]

        right = await http.post(LOAD, json={"url": f"{url}{path}", "headers": {"Authorization": "Bearer right"}})
        assert right.status_code == 200, right.text
        assert right.json()["transport"] == transport
        assert {"echo", "whoami"} <= {tool["name"] for tool in right.json()["tools"]}


async def test_a_401_without_a_challenge_names_the_usual_headers() -> None:
    async with (
        serve_asgi(behind_a_key(build_server("locked").streamable_http_app(), None)) as url,
        running_gateway({"mcpServers": {"demo": stdio_echo("demo")}}) as gateway,
        gateway.http() as http,
    ):
        response = await http.post(LOAD, json={"url": f"{url}/mcp"})
    error: dict[str, Any] = response.json()["error"]
    assert response.status_code == 422 and error["details"][0]["wwwAuthenticate"] is None
    assert "needs credentials (HTTP 401); it did not say which header (no WWW-Authenticate)" in error["message"]
    assert "Authorization or X-API-Key" in error["message"]
