"""`/api/v1/upstreams`: register, inspect, change, enable/disable and remove upstreams.

A change is written to the registry first (one transaction) and then applied to the
running hub, whose sessions hear `tools/list_changed` when their tools change. An
upstream from the config file is listed with `source: "config"` and cannot be changed
here (409, naming the file as the place to change it).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Body, Response
from pydantic import TypeAdapter, ValidationError

from mcpgate.admin.context import Admin
from mcpgate.admin.schemas import ERRORS, ToolSummary, UpstreamIn, UpstreamList, UpstreamOut, UpstreamPatch
from mcpgate.errors import ConfigError, Conflict, NotFound, ReadOnly, Unprocessable
from mcpgate.settings import CollectionUpstream, OpenAPICatalogUpstream, StdioUpstream, UpstreamSettings
from mcpgate.store.crypto import mask, mask_url, unmask
from mcpgate.store.registry import RegisteredUpstream
from mcpgate.upstream.connection import UpstreamConnection
from mcpgate.upstream.stdio import CommandNotRunnable, runnable_command
from mcpgate.upstream.transports import UpstreamSpec

_SPEC = TypeAdapter(UpstreamSettings)
_SETTLE_SECONDS = 10.0  # how long a create/update waits to answer with the upstream's first state
_CAMEL = {
    "perSession": "per_session",
    "passthroughHeaders": "passthrough_headers",
    "credentialsRequired": "credentials_required",
    "baseUrl": "base_url",
    "liveTools": "live_tools",
    "maxResponseChars": "max_response_chars",
    "idField": "id_field",
    "titleField": "title_field",
    "categoryField": "category_field",
    "textFields": "text_fields",
}


def router(admin: Admin) -> APIRouter:
    api = APIRouter(prefix="/upstreams", tags=["upstreams"], responses=ERRORS)

    @api.get("", response_model=UpstreamList, summary="List upstreams with their state and tools")
    async def list_upstreams() -> UpstreamList:
        stored = {record.spec.name: record for record in await admin.registry.upstreams()}
        return UpstreamList(data=[_out(admin, c, stored.get(c.name)) for c in admin.hub.upstreams.values()])

    @api.post("", status_code=201, response_model=UpstreamOut, summary="Register an upstream")
    async def create_upstream(body: Annotated[UpstreamIn, Body()]) -> UpstreamOut:
        spec = _validated(body.model_dump(), body.name)
        if admin.declared_upstream(spec.name) or spec.name in admin.hub.upstreams:
            raise Conflict(f"an upstream named {spec.name!r} already exists")
        await _readable(admin, spec)
        record = await admin.registry.add_upstream(spec)
        connection = await admin.hub.add_upstream(spec)
        await _settled(connection)
        return _out(admin, connection, record)

    @api.get("/{name}", response_model=UpstreamOut, summary="One upstream")
    async def get_upstream(name: str) -> UpstreamOut:
        connection = _connection(admin, name)
        return _out(admin, connection, await _record(admin, name))

    @api.patch("/{name}", response_model=UpstreamOut, summary="Change an upstream (it reconnects)")
    async def update_upstream(name: str, patch: UpstreamPatch) -> UpstreamOut:
        return await _replace(admin, name, patch.model_dump(exclude_unset=True))

    @api.post("/{name}/enable", response_model=UpstreamOut, summary="Enable an upstream")
    async def enable_upstream(name: str) -> UpstreamOut:
        return await _replace(admin, name, {"enabled": True})

    @api.post("/{name}/disable", response_model=UpstreamOut, summary="Disable an upstream (its tools disappear)")
    async def disable_upstream(name: str) -> UpstreamOut:
        return await _replace(admin, name, {"enabled": False})

    @api.delete("/{name}", status_code=204, response_class=Response, summary="Remove an upstream")
    async def delete_upstream(name: str) -> Response:
        _writable(admin, name)
        await admin.registry.remove_upstream(name)
        await admin.hub.remove_upstream(name)
        return Response(status_code=204)

    return api


async def _replace(admin: Admin, name: str, changes: dict[str, Any]) -> UpstreamOut:
    current = _writable(admin, name).spec
    data = current.model_dump()
    for key, value in changes.items():
        key = _CAMEL.get(key, key)
        if value is None:  # null resets a field to its default (JSON merge-patch)
            data.pop(key, None)
            continue
        if key in ("env", "headers"):
            value = unmask(value, getattr(current, key, {}) or {})
        data[key] = value
    spec = _validated(data, name)
    await _readable(admin, spec)
    record = await admin.registry.replace_upstream(spec)
    connection = await admin.hub.replace_upstream(spec)
    await _settled(connection)
    return _out(admin, connection, record)


def _validated(data: dict[str, Any], name: str) -> UpstreamSpec:
    """The settings model of an upstream; what it refuses is a 422 naming the field."""
    try:
        return _SPEC.validate_python(data)
    except ValidationError as exc:
        details = [{"loc": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"]} for e in exc.errors()]
        raise Unprocessable(f"upstream {name!r}: {details[0]['loc']}: {details[0]['message']}", data=details) from None


async def _readable(admin: Admin, spec: UpstreamSpec) -> None:
    """A command that cannot run, a catalog whose document or a collection whose records cannot
    be served is refused now (422 saying why), before anything is stored — not registered to
    fail on every connect."""
    if isinstance(spec, StdioUpstream) and spec.enabled:
        try:
            runnable_command(spec)
        except CommandNotRunnable as exc:
            message = f"upstream {spec.name!r}: {exc.message}"
            raise Unprocessable(message, data=[{"loc": exc.field, "message": exc.message}]) from None
    if isinstance(spec, CollectionUpstream) and spec.enabled:
        from mcpgate.catalogs.collections import load_collection  # only when registering one

        try:
            await load_collection(spec, fetch_seconds=admin.settings.timeouts.connect)
        except ConfigError as exc:
            raise Unprocessable(f"upstream {spec.name!r}: {exc.message}") from None
    if isinstance(spec, OpenAPICatalogUpstream) and spec.enabled:
        try:
            from mcpgate.catalogs.openapi import load_openapi_catalog  # httpx, YAML: only when registering one

            server = await load_openapi_catalog(
                spec,
                connect_timeout=admin.settings.timeouts.connect,
                call_timeout=admin.settings.call_timeout(spec),
                own_api=admin.hub.own_api,
            )
        except ConfigError as exc:
            raise Unprocessable(f"upstream {spec.name!r}: {exc.message}") from None
        if server.api is not None:
            await server.api.aclose()


def _connection(admin: Admin, name: str) -> UpstreamConnection:
    connection = admin.hub.upstreams.get(name)
    if connection is None:
        raise NotFound(f"no upstream named {name!r}")
    return connection


def _writable(admin: Admin, name: str) -> UpstreamConnection:
    connection = _connection(admin, name)
    if admin.declared_upstream(name):
        raise ReadOnly(f"upstream {name!r} is declared in the config file; change it there and restart")
    return connection


async def _record(admin: Admin, name: str) -> RegisteredUpstream | None:
    if admin.declared_upstream(name):
        return None
    try:
        return await admin.registry.upstream(name)
    except NotFound:
        return None


async def _settled(connection: UpstreamConnection) -> None:
    with anyio.move_on_after(min(_SETTLE_SECONDS, connection.connect_timeout + 1)):
        await connection.wait_settled()


def _out(admin: Admin, connection: UpstreamConnection, record: RegisteredUpstream | None) -> UpstreamOut:
    spec: UpstreamSpec = connection.spec
    prefix = spec.name if spec.prefix is True else (spec.prefix or None)
    separator = admin.settings.name_separator
    fields: dict[str, Any] = {}
    if spec.kind == "stdio":
        fields = {
            "command": spec.command,
            "args": spec.args,
            "env": mask(spec.env),
            "cwd": spec.cwd,
            "perSession": spec.per_session,
        }
    elif spec.kind == "openapi":
        fields = {
            "spec": mask_url(spec.spec) if spec.spec.startswith(("http://", "https://")) else spec.spec,
            "baseUrl": mask_url(spec.base_url) if spec.base_url else None,
            "headers": mask(spec.headers),
            "passthroughHeaders": connection.passthrough_headers,
            "guides": spec.guides,
            "liveTools": spec.live_tools,
            "maxResponseChars": spec.max_response_chars,
        }
    elif spec.kind == "collection":
        fields = {
            "location": mask_url(spec.location) if spec.location.startswith(("http://", "https://")) else spec.location,
            "record": spec.record,
            "idField": spec.id_field,
            "titleField": spec.title_field,
            "categoryField": spec.category_field,
            "textFields": spec.text_fields,
            "headers": mask(spec.headers),
            "records": len(connection.lists["resources"]) if connection.lists["resources"] else None,
        }
    else:
        fields = {
            "url": mask_url(spec.url),
            "headers": mask(spec.headers),
            "passthroughHeaders": spec.passthrough_headers,
            "credentialsRequired": spec.credentials_required,
        }
    return UpstreamOut(
        name=spec.name,
        kind=spec.kind,
        source="config" if admin.declared_upstream(spec.name) else "api",
        enabled=spec.enabled,
        state=connection.status.state.value,
        error=connection.status.error,
        prefix=spec.prefix,
        timeout=spec.timeout,
        tools=[ToolSummary(name=t["name"], description=t.get("description") or "") for t in connection.lists["tools"]],
        exposedAs=f"{prefix}{separator}<tool>" if prefix else "<tool>",
        createdAt=record.created_at if record else None,
        updatedAt=record.updated_at if record else None,
        **fields,
    )
