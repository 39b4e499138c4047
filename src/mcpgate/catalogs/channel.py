"""A `Channel` to an MCP server that lives in the gateway's own process.

The hub talks to a catalog exactly as to any upstream — handshake, lists, requests with their
per-request headers (the caller's passed-through and stored credentials) — but nothing is
serialised: each request is answered in the caller's own task, so a cancelled or timed-out
call stops the catalog's work with it.

    channel = LocalChannel(server)   # then UpstreamConnection as with any channel
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import anyio
from anyio.abc import TaskStatus

from mcpgate import __version__
from mcpgate.errors import INTERNAL_ERROR, METHOD_NOT_FOUND, GatewayError
from mcpgate.protocol.spec import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION
from mcpgate.upstream.peer import Exchange, Message, Peer

logger = logging.getLogger(__name__)


class LocalServer(Protocol):
    name: str
    passthrough_headers: list[str]  # the caller's headers the hub passes on to each call
    needs_credentials: bool  # whether calls fail without them
    # The tool that reads what the resources hold: a virtual server selecting it shows the resources too.
    resource_tool: str | None

    def capabilities(self) -> dict[str, Any]: ...
    def instructions(self) -> str: ...
    def tools(self) -> list[dict[str, Any]]: ...
    def resources(self) -> list[dict[str, Any]]: ...
    def read_resource(self, uri: str) -> dict[str, Any]: ...
    async def call_tool(
        self, name: str, arguments: Mapping[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any]: ...


class LocalChannel:
    carries_stateless = False
    transport = "in_process"

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self._peer: Peer | None = None

    async def run(self, peer: Peer, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self._peer = peer
        task_status.started()
        await anyio.sleep_forever()  # nothing to read: replies are given as requests arrive

    async def send_request(self, message: Message, exchange: Exchange, headers: Mapping[str, str]) -> None:
        assert self._peer is not None
        try:
            reply: Message = {"jsonrpc": "2.0", "id": message["id"], "result": await self._answer(message, headers)}
        except GatewayError as exc:
            reply = {"jsonrpc": "2.0", "id": message["id"], "error": {"code": exc.code, "message": exc.message}}
        except Exception:
            logger.exception("catalog %s failed on %s", self.server.name, message.get("method"))
            error = {"code": INTERNAL_ERROR, "message": f"catalog {self.server.name!r} failed on this request"}
            reply = {"jsonrpc": "2.0", "id": message["id"], "error": error}
        await self._peer.receive(reply, exchange)

    async def send(self, message: Message, headers: Mapping[str, str]) -> None:
        """Notifications (initialized, cancelled) need no answer: cancellation already reached the caller's task."""

    async def _answer(self, message: Message, headers: Mapping[str, str]) -> dict[str, Any]:
        method = message.get("method")
        params = message.get("params") or {}
        server = self.server
        if method == "initialize":
            asked = params.get("protocolVersion")
            return {
                "protocolVersion": asked if asked in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION,
                "capabilities": server.capabilities(),
                "serverInfo": {"name": server.name, "version": __version__},
                "instructions": server.instructions(),
            }
        if method == "ping":
            return {}
        if method == "tools/list":
            return {"tools": server.tools()}
        if method == "tools/call":
            arguments = params.get("arguments") or {}
            if not isinstance(arguments, dict):
                arguments = {}
            return await server.call_tool(str(params.get("name", "")), arguments, headers)
        if "resources" in server.capabilities():
            if method == "resources/list":
                return {"resources": server.resources()}
            if method == "resources/templates/list":
                return {"resourceTemplates": []}
            if method == "resources/read":
                return server.read_resource(str(params.get("uri", "")))
        error = GatewayError(f"Method not found: {method}")
        error.code = METHOD_NOT_FOUND
        raise error
