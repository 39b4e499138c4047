"""`/api/v1/mcp_manager`: virtual servers — list, create, get, change, delete, their
config, and previewing a remote server's tools (`load-tools-from-url`).

Servers declared in the config file are listed first (`source: "config"`) and are
read-only here; the registry's follow, oldest first. A listing is paged with `page`
and `limit`, or walked with the `nextCursor` of the previous page (stable while servers
are added or deleted).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Query, Response

from mcpgate.access.rate_limits import validate_server_limits
from mcpgate.admin import PREFIX
from mcpgate.admin.context import Admin
from mcpgate.admin.schemas import (
    ERRORS,
    UPSTREAM_ERRORS,
    Endpoints,
    ExternalMCPConfigIn,
    ExternalMCPConfigOut,
    LoadToolsRequest,
    LoadToolsResponse,
    Pagination,
    ServerConfig,
    ServerCreate,
    ServerList,
    ServerOut,
    ServerPatch,
    ToolDefinition,
)
from mcpgate.errors import Conflict, InvalidParams, NotFound, ReadOnly, Unprocessable
from mcpgate.hub.servers import ExternalMCP, VirtualServer, external_upstream_key, listed_tools
from mcpgate.store.crypto import mask, mask_url, unmask


def router(admin: Admin) -> APIRouter:
    api = APIRouter(prefix="/mcp_manager", tags=["virtual servers"], responses=ERRORS)

    @api.get("", response_model=ServerList, summary="List virtual servers")
    async def list_servers(
        page: int = Query(1, ge=1, le=1_000_000),
        limit: int = Query(20, ge=1, le=100),
        cursor: str | None = Query(None, max_length=512, description="nextCursor of the previous page"),
    ) -> ServerList:
        declared = [s for s in admin.hub.servers.values() if s.source == "config"]
        start, after = (page - 1) * limit, None
        if cursor:
            kind, value = _decode_cursor(cursor)
            start, after = (value, None) if kind == "config" else (len(declared), value)
        chunk = declared[start : start + limit]
        config_left = start + len(chunk) < len(declared)
        remaining = limit - len(chunk)
        # One more than needed says whether another page follows.
        stored, stored_total = await admin.registry.servers(
            limit=remaining + 1, offset=max(0, start - len(declared)) if after is None else 0, after=after
        )
        has_more = config_left or len(stored) > remaining
        chunk += stored[:remaining]
        next_cursor = _encode_cursor(chunk[-1], declared) if chunk and has_more else None
        return ServerList(
            data=[_out(admin, s) for s in chunk],
            pagination=Pagination(
                page=None if cursor else page,
                limit=limit,
                total=len(declared) + stored_total,
                hasMore=has_more,
                nextCursor=next_cursor,
            ),
        )

    @api.post("", status_code=201, response_model=ServerOut, summary="Create a virtual server")
    async def create_server(body: ServerCreate) -> ServerOut:
        if admin.declared_server(body.name):
            raise Conflict(f"a virtual server named {body.name!r} is declared in the config file")
        _check_tools(admin, body.selectedTools)
        validate_server_limits(body.config)
        server = await admin.registry.add_server(new_server(body))
        await admin.hub.put_server(server)
        return _out(admin, server)

    @api.post(
        "/load-tools-from-url",
        response_model=LoadToolsResponse,
        responses=UPSTREAM_ERRORS,
        summary="List a remote MCP server's tools without registering it",
    )
    async def load_tools_from_url(body: LoadToolsRequest) -> LoadToolsResponse:
        preview, cached = await admin.preview.load(body.url, body.headers, body.cacheMinutes)
        return LoadToolsResponse(
            url=mask_url(preview.url),
            transport=preview.transport,
            tools=[ToolDefinition.model_validate(t) for t in preview.tools],
            cached=cached,
            fetchedAt=preview.fetched_at,
        )

    @api.get("/{server_id}", response_model=ServerOut, summary="One virtual server")
    async def get_server(server_id: str) -> ServerOut:
        return _out(admin, _server(admin, server_id))

    @api.patch("/{server_id}", response_model=ServerOut, summary="Change a virtual server")
    async def update_server(server_id: str, patch: ServerPatch) -> ServerOut:
        current = _writable(admin, server_id)
        changes = patch.model_dump(exclude_unset=True)
        if None in (changes.get("name", ""), changes.get("mode", ""), changes.get("isPublic", False)):
            raise Unprocessable("name, mode and isPublic cannot be null; leave them out to keep them")
        name = changes.get("name", current.name)
        if name != current.name and admin.declared_server(name):
            raise Conflict(f"a virtual server named {name!r} is declared in the config file")
        selected = changes.get("selectedTools")
        if selected is not None:
            _check_tools(admin, selected)
        if changes.get("config") is not None:
            validate_server_limits(changes["config"])
        externals = patch.externalMcpConfigs
        stored_headers = {e.name: e.headers for e in current.external}
        server = replace(
            current,
            name=name,
            description=changes.get("description") if changes.get("description") is not None else current.description,
            mode=changes.get("mode", current.mode),
            selected_tools=tuple(selected) if selected is not None else current.selected_tools,
            external=_externals(externals, stored_headers) if externals is not None else current.external,
            config=changes.get("config") if changes.get("config") is not None else current.config,
            is_public=changes.get("isPublic", current.is_public),
        )
        server = await admin.registry.replace_server(server)
        await admin.hub.put_server(server)
        return _out(admin, server)

    @api.delete("/{server_id}", status_code=204, response_class=Response, summary="Delete a virtual server")
    async def delete_server(server_id: str) -> Response:
        _writable(admin, server_id)
        await admin.registry.remove_server(server_id)
        await admin.hub.remove_server(server_id)
        return Response(status_code=204)

    @api.get("/{server_id}/config", response_model=ServerConfig, summary="The tools a virtual server exposes")
    async def server_config(server_id: str) -> ServerConfig:
        server = _server(admin, server_id)
        view = admin.hub.views[server.id]
        return ServerConfig(
            id=server.id,
            name=server.name,
            mode=server.mode,
            tools=[ToolDefinition.model_validate(_definition(t)) for t in listed_tools(view)],
            reachableTools=[t["name"] for t in view.catalog.tools],
            missingTools=list(view.missing),
            externalMcpConfigs=_external_out(admin, server),
            collisions=[c.describe() for c in view.catalog.collisions],
        )

    return api


def new_server(body: ServerCreate) -> VirtualServer:
    """The record a create request describes, with a fresh id (the CLI's offline path uses it too)."""
    return VirtualServer(
        id=str(uuid.uuid4()),
        name=body.name,
        description=body.description,
        mode=body.mode,
        selected_tools=tuple(body.selectedTools),
        external=_externals(body.externalMcpConfigs, {}),
        config=body.config,
        is_public=body.isPublic,
    )


def _server(admin: Admin, server_id: str) -> VirtualServer:
    server = admin.hub.servers.get(server_id)
    if server is None:
        raise NotFound(f"no virtual server with id {server_id!r}")
    return server


def _writable(admin: Admin, server_id: str) -> VirtualServer:
    server = _server(admin, server_id)
    if server.source == "config":
        raise ReadOnly(f"virtual server {server.name!r} is declared in the config file; change it there and restart")
    return server


def _check_tools(admin: Admin, selected: list[str]) -> None:
    unknown = [name for name in selected if admin.hub.catalog.tool(name) is None]
    if unknown:
        raise Unprocessable(
            f"selectedTools names tools no upstream offers: {', '.join(unknown)} "
            "(use the names tools/list gives on /mcp, e.g. <upstream>_<tool>)",
            data={"unknownTools": unknown},
        )
    if len(set(selected)) != len(selected):
        raise Unprocessable("selectedTools lists a tool more than once")


def _externals(given: list[ExternalMCPConfigIn], stored_headers: dict[str, Any]) -> tuple[ExternalMCP, ...]:
    names = [config.name for config in given]
    if len(set(names)) != len(names):
        raise Unprocessable("externalMcpConfigs: each entry needs a name of its own")
    return tuple(
        ExternalMCP(c.name, c.url, unmask(c.headers, stored_headers.get(c.name, {})), tuple(c.tools)) for c in given
    )


def _external_out(admin: Admin, server: VirtualServer) -> list[ExternalMCPConfigOut]:
    out = []
    for config in server.external:
        connection = admin.hub.externals.get(external_upstream_key(server.id, config.name))
        out.append(
            ExternalMCPConfigOut(
                name=config.name,
                url=mask_url(config.url),
                headers=mask(config.headers),
                tools=list(config.tools),
                state=connection.status.state.value if connection else None,
                error=connection.status.error if connection else None,
            )
        )
    return out


def _out(admin: Admin, server: VirtualServer) -> ServerOut:
    base = f"/servers/{server.name}"
    return ServerOut(
        id=server.id,
        name=server.name,
        description=server.description,
        mode=server.mode,
        selectedTools=list(server.selected_tools),
        externalMcpConfigs=_external_out(admin, server),
        config=dict(server.config),
        isPublic=server.is_public,
        source=server.source,
        endpoints=Endpoints(
            sse=f"{base}/sse", messages=f"{base}/messages", mcp=f"{base}/mcp", api=f"{PREFIX}/mcp/{server.id}"
        ),
        createdAt=server.created_at,
        updatedAt=server.updated_at,
    )


def _definition(tool: dict[str, Any]) -> dict[str, Any]:
    return {"name": tool["name"], "description": tool.get("description"), "inputSchema": tool.get("inputSchema", {})}


# -- cursors: where the previous page ended ---------------------------------------------


def _encode_cursor(last: VirtualServer, declared: list[VirtualServer]) -> str:
    if last.source == "config":
        payload: dict[str, Any] = {"c": declared.index(last) + 1}
    else:
        assert last.created_at is not None
        payload = {"t": last.created_at.isoformat(), "i": last.id}
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, Any]:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(payload, dict) and isinstance(payload.get("c"), int) and payload["c"] >= 0:
            return "config", payload["c"]
        if isinstance(payload, dict) and isinstance(payload.get("i"), str) and isinstance(payload.get("t"), str):
            return "stored", (datetime.fromisoformat(payload["t"]), payload["i"])
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        pass
    raise InvalidParams("cursor is not one this API gave out; start again without it")
