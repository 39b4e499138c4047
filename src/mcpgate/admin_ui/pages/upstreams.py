"""Upstreams: the list; adding one of each kind, a remote server's tools previewed before it is
saved; one upstream's state, settings and tools (live while it connects); editing, enabling,
disabling and removing it.

    /admin/upstreams                  every upstream, filterable (?q= without scripts)
    /admin/upstreams/new              the form: stdio, remote, OpenAPI, collection
    /admin/upstreams/<name>           its page; …/live is its state region, fetched again until it settles
    /admin/upstreams/<name>/edit      the same form, filled in: only what was changed is sent (PATCH)

Everything goes through `/api/v1/upstreams` (and `/api/v1/mcp_manager/load-tools-from-url` for
the preview) as the signed-in key. A form is text: args one per line, env `KEY=value` lines,
headers `Name: value` lines, turned into the API's JSON here. What the API refuses comes back
on the form in its own words, with every field as typed. Secrets are shown as the API masks
them; a masked value sent back keeps the stored one, and a field left as shown is not sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.responses import HTMLResponse, Response

from mcpgate import __version__
from mcpgate.admin_ui.api_client import APIError
from mcpgate.admin_ui.page import Page, page
from mcpgate.admin_ui.rendering import PAGE_HEADERS, PREFIX
from mcpgate.hub.profiles import FULL
from mcpgate.protocol.spec import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    MODERN_PROTOCOL_VERSIONS,
    PROTOCOL_VERSION_META_KEY,
)
from mcpgate.store.crypto import MASK  # what the API shows of a secret

API = "/api/v1/upstreams"
PREVIEW = "/api/v1/mcp_manager/load-tools-from-url"
KINDS = [
    ("stdio", "Local command", "a program the gateway starts (stdio)"),
    ("remote", "Remote MCP server", "an MCP server at a URL"),
    ("openapi", "OpenAPI", "a REST API described by an OpenAPI document"),
    ("collection", "Collection", "reference records from a file, folder or URL"),
]
TRANSPORTS = [("remote", "detect when connecting"), ("streamable_http", "Streamable HTTP"), ("sse", "SSE (legacy)")]
KIND_LABELS = {
    "stdio": "stdio",
    "remote": "remote",
    "streamable_http": "Streamable HTTP",
    "sse": "SSE",
    "openapi": "OpenAPI",
    "collection": "collection",
}
_STATELESS = MODERN_PROTOCOL_VERSIONS[0]  # a request that needs no session (the input schemas' list)
SETTLED = frozenset({"ready", "failed", "disabled"})  # states that change no more by themselves


class _Problem(ValueError):
    """Something typed that cannot become the API's JSON: which field, and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# -- what a person types ↔ what the API takes ------------------------------------------------


def _text(value: str) -> str | None:
    return value or None


def _lines(value: str) -> list[str] | None:
    return [line.strip() for line in value.splitlines() if line.strip()] or None


def _names(value: str) -> list[str] | None:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()] or None


def _checked(value: str) -> bool:
    return value == "on"


def _pairs(separator: str, shape: str) -> Callable[[str], dict[str, str] | None]:
    def read(value: str) -> dict[str, str] | None:
        pairs: dict[str, str] = {}
        for number, line in enumerate(value.splitlines(), 1):
            if not line.strip():
                continue
            key, found, rest = line.partition(separator)
            if not found or not key.strip():
                raise ValueError(f"line {number} ({line.strip()[:40]!r}) is not {shape}")
            pairs[key.strip()] = rest.strip()
        return pairs or None

    return read


def _number(kind: type[float] | type[int], unit: str) -> Callable[[str], float | int | None]:
    def read(value: str) -> float | int | None:
        if not value:
            return None
        try:
            return kind(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number of {unit}") from None

    return read


def _shown(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _shown_pairs(separator: str) -> Callable[[Any], str]:
    return lambda value: "\n".join(f"{k}{separator}{v}" for k, v in (value or {}).items())


@dataclass(frozen=True, slots=True)
class _Field:
    name: str  # the form's field; the input's id is "up-<name>"
    wire: str  # the API's field
    kind: str  # the form's kind it belongs to; "" for every kind
    label: str
    read: Callable[[str], Any] = _text  # typed → the API's value; None: not set (the API's default)
    show: Callable[[Any], str] = _shown  # the API's value → the text in the form


FIELDS = (
    _Field("timeout", "timeout", "", "Timeout", _number(float, "seconds")),
    _Field("command", "command", "stdio", "Command"),
    _Field("args", "args", "stdio", "Arguments", _lines, lambda v: "\n".join(v or [])),
    _Field("env", "env", "stdio", "Environment", _pairs("=", "KEY=value"), _shown_pairs("=")),
    _Field("cwd", "cwd", "stdio", "Working directory"),
    _Field("per_session", "perSession", "stdio", "A process per session", _checked, lambda v: "on" if v else ""),
    _Field("url", "url", "remote", "URL"),
    _Field("remote_headers", "headers", "remote", "Headers", _pairs(":", "Name: value"), _shown_pairs(": ")),
    _Field("remote_passthrough", "passthroughHeaders", "remote", "Passthrough headers", _names, ", ".join),
    _Field(
        "credentials", "credentialsRequired", "remote", "Credentials required", _checked, lambda v: "on" if v else ""
    ),
    _Field("spec", "spec", "openapi", "OpenAPI document"),
    _Field("base_url", "baseUrl", "openapi", "Base URL"),
    _Field("openapi_headers", "headers", "openapi", "Headers", _pairs(":", "Name: value"), _shown_pairs(": ")),
    _Field("live_tools", "liveTools", "openapi", "Live tools"),
    _Field("openapi_passthrough", "passthroughHeaders", "openapi", "Passthrough headers", _names, ", ".join),
    _Field("guides", "guides", "openapi", "Guides folder"),
    _Field("max_chars", "maxResponseChars", "openapi", "Longest response", _number(int, "characters")),
    _Field("location", "location", "collection", "Location"),
    _Field("record", "record", "collection", "One record is a"),
    _Field("id_field", "idField", "collection", "Id field"),
    _Field("title_field", "titleField", "collection", "Title field"),
    _Field("category_field", "categoryField", "collection", "Category field"),
    _Field("text_fields", "textFields", "collection", "Text fields", _names, ", ".join),
    _Field("collection_headers", "headers", "collection", "Headers", _pairs(":", "Name: value"), _shown_pairs(": ")),
)
_OTHER_FIELDS = ("name", "kind", "transport", "prefix_mode", "prefix", "enabled", "action")


def _form_kind(kind: str) -> str:
    return "remote" if kind in ("sse", "streamable_http", "remote") else kind


def _typed(p: Page) -> dict[str, str]:
    """The form as sent (every field, whatever the kind), for reading and for showing again."""
    return {name: p.field(name) for name in (*_OTHER_FIELDS, *(f.name for f in FIELDS))}


def _values(form: dict[str, str], kind: str) -> dict[str, Any]:
    """The API's values of the fields of `kind` (None where the API's default applies)."""
    values: dict[str, Any] = {}
    for field in FIELDS:
        if field.kind in ("", kind):
            try:
                values[field.wire] = field.read(form.get(field.name, ""))
            except ValueError as exc:
                raise _Problem(field.name, f"{field.label}: {exc}") from None
    mode, prefix = form.get("prefix_mode", ""), form.get("prefix", "")
    values["prefix"] = prefix if prefix and mode != "none" else {"name": True, "none": False}.get(mode)
    return values


def _create_body(form: dict[str, str]) -> dict[str, Any]:
    kind = form["kind"]
    if kind not in {k for k, _, _ in KINDS}:
        raise _Problem("kind", "choose the kind of upstream")
    transport = form["transport"] if form["transport"] in {t for t, _ in TRANSPORTS} else "remote"
    body: dict[str, Any] = {"name": form["name"], "kind": transport if kind == "remote" else kind}
    body["enabled"] = form["enabled"] == "on"
    body |= {wire: value for wire, value in _values(form, kind).items() if value is not None}
    return body


def _form_of(upstream: dict[str, Any]) -> dict[str, str]:
    """The form of an upstream as the API shows it (secrets masked)."""
    kind = _form_kind(upstream["kind"])
    form = {"name": upstream["name"], "kind": kind, "transport": upstream["kind"], "enabled": "on"}
    for field in FIELDS:
        if field.kind in ("", kind):
            form[field.name] = field.show(upstream.get(field.wire))
    prefix = upstream.get("prefix")
    form["prefix_mode"] = "name" if prefix is True else "none" if prefix is False else ""
    form["prefix"] = prefix if isinstance(prefix, str) else ""
    return form


def _patch(form: dict[str, str], shown: dict[str, str], kind: str) -> dict[str, Any]:
    """Only what differs from what the page showed: a masked URL or secret left alone stays as stored."""
    before, after = _values(shown, kind), _values(form, kind)
    return {wire: value for wire, value in after.items() if value != before.get(wire)}


def _problem_field(exc: APIError) -> str | None:
    """The form field an API refusal names (its `details[].loc`), so the page can point at it."""
    if exc.status == 409:
        return "name"
    error = exc.body.get("error") if isinstance(exc.body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    wires = {f.wire: f.name for f in FIELDS} | {"name": "name", "prefix": "prefix", "kind": "kind"}
    for detail in details if isinstance(details, list) else []:
        parts = str(detail.get("loc", "") if isinstance(detail, dict) else "").split(".")
        for part in reversed(parts):
            if part in wires:
                return wires[part]
    return None


def _aimed(name: str, kind: str) -> str:
    """A field's form name for the kind shown: `headers` is a field of three kinds."""
    if name in ("remote_headers", "openapi_headers", "collection_headers"):
        return f"{kind}_headers"
    if name in ("remote_passthrough", "openapi_passthrough"):
        return f"{kind}_passthrough"
    return name


# -- pages -----------------------------------------------------------------------------------


@page()
async def listing(p: Page) -> Response:
    upstreams = (await p.api.get(API))["data"]
    q = p.field("q")
    words = q.lower().split()
    shown = [
        u for u in upstreams if all(w in f"{u['name']} {u['kind']} {u['state']} {u['source']}".lower() for w in words)
    ]
    return p.render(
        "upstreams.html",
        upstreams=shown,
        total=len(upstreams),
        q=q,
        kinds=KIND_LABELS,
        can_write=p.allows("servers:write"),
    )


def _render_form(p: Page, form: dict[str, str], *, editing: dict[str, Any] | None = None, **context: Any) -> Response:
    if "problem" in context and context["problem"]:
        context["problem"] = _aimed(context["problem"], form.get("kind", ""))
    return p.render(
        "upstream_form.html",
        form=form,
        editing=editing,
        kinds=KINDS,
        transports=TRANSPORTS,
        kind_labels=KIND_LABELS,
        can_write=p.allows("servers:write"),
        **context,
    )


async def _preview(p: Page, form: dict[str, str]) -> dict[str, Any]:
    """The preview's part of the form's page: the tools, or why there are none."""
    try:
        headers = _values(form, "remote")["headers"] or {}
        if not form["url"]:
            raise _Problem("url", "URL: type the server's URL to preview its tools")
        # What the page showed masked is not the value: the preview (unlike saving) has nothing to
        # put back in its place, and would go out with the mask for a credential.
        retype = f"retype the masked ({MASK}) values to preview; saving keeps them as they are"
        if MASK in form["url"]:
            raise _Problem("url", f"URL: {retype}")
        if MASK in headers.values():
            raise _Problem("remote_headers", f"Headers: {retype}")
        found = await p.api.post(PREVIEW, {"url": form["url"], "headers": headers, "cacheMinutes": 0})
    except _Problem as exc:
        return {"error": exc.message, "problem": exc.field}
    except APIError as exc:
        return {"error": exc.message, "problem": _problem_field(exc) or "url"}
    tools = [_tool_view(t["name"], t.get("description") or "", t.get("inputSchema")) for t in found["tools"]]
    return {"preview": {**found, "tools": tools}}


@page()
async def new(p: Page) -> Response:
    kind = p.field("kind")
    form = {"kind": kind if kind in {k for k, _, _ in KINDS} else "stdio", "transport": "remote", "enabled": "on"}
    return _render_form(p, form)


@page(change=True)
async def create(p: Page) -> Response:
    form = _typed(p)
    if form["action"] == "preview":
        return _render_form(p, form, **await _preview(p, form))
    try:
        created = await p.api.post(API, _create_body(form))
    except _Problem as exc:
        return _render_form(p, form, error=exc.message, problem=exc.field)
    except APIError as exc:
        return _render_form(p, form, error=exc.message, problem=_problem_field(exc))
    name = created["name"]
    return p.redirect(f"{PREFIX}/upstreams/{quote(name, safe='')}", f"Upstream “{name}” added: {_said(created)}")


@page()
async def edit(p: Page) -> Response:
    upstream = await p.api.get(_path(p))
    return _render_form(p, _form_of(upstream), editing=upstream)


@page(change=True)
async def save(p: Page) -> Response:
    upstream = await p.api.get(_path(p))
    shown = _form_of(upstream)
    form = {**_typed(p), "name": upstream["name"], "kind": shown["kind"], "transport": upstream["kind"]}
    if form["action"] == "preview":
        return _render_form(p, form, editing=upstream, **await _preview(p, form))
    try:
        changes = _patch(form, shown, shown["kind"])
        if not changes:
            return p.redirect(_here(upstream), "Nothing changed")
        changed = await p.api.patch(_path(p), changes)
    except _Problem as exc:
        return _render_form(p, form, editing=upstream, error=exc.message, problem=exc.field)
    except APIError as exc:
        return _render_form(p, form, editing=upstream, error=exc.message, problem=_problem_field(exc))
    return p.redirect(_here(changed), f"Upstream “{changed['name']}” changed and reconnected: {_said(changed)}")


async def _upstream_context(p: Page, name: str) -> dict[str, Any]:
    upstream = await p.api.get(f"{API}/{quote(name, safe='')}")
    health = await p.api.request("GET", "/health", accept=(503,))
    schemas, schema_note = await _schemas(p)
    exposed = upstream["exposedAs"]
    tools = [
        _tool_view(exposed.replace("<tool>", t["name"]), t["description"], None, own=t["name"], schemas=schemas)
        for t in upstream["tools"]
    ]
    mine = f"upstream {name!r}"
    return {
        "u": upstream,
        "hu": health.get("upstreams", {}).get(name, {}),
        "collisions": [c for c in health.get("collisions", []) if mine in c],
        "tools": tools,
        "schema_note": schema_note,
        "settings": _settings(upstream),
        "settled": upstream["state"] in SETTLED,
        "kind_label": KIND_LABELS.get(upstream["kind"], upstream["kind"]),
    }


async def _schemas(p: Page) -> tuple[dict[str, Any] | None, str | None]:
    """Input schemas by exposed name, and a note when there are none to show.

    The upstreams API lists each tool's name and description only, so the schemas come from the
    default endpoint's `tools/list`: one stateless request (2026-07-28) declaring every capability,
    which is answered from the shared connections' lists, as the API's are — no session, and no
    connection opened to any upstream (a REST `GET /tools` declares nothing, and so would open one
    per upstream for that profile)."""
    if not (p.allows("tools:call") and p.signed.principal.may_use(None)):
        return None, "Input schemas are shown to keys that may call tools at the default endpoint."
    meta = {
        PROTOCOL_VERSION_META_KEY: _STATELESS,
        CLIENT_INFO_META_KEY: {"name": "mcpgate-admin-ui", "version": __version__},
        CLIENT_CAPABILITIES_META_KEY: FULL.declaration(),
    }
    headers = {"accept": "application/json", "mcp-protocol-version": _STATELESS, "mcp-method": "tools/list"}
    schemas: dict[str, Any] = {}
    cursor = None
    for number in range(1, 51):  # pages of the list; a gateway of 50 pages of tools is not this page's case
        params = {"_meta": meta, **({"cursor": cursor} if cursor else {})}
        request = {"jsonrpc": "2.0", "id": number, "method": "tools/list", "params": params}
        try:
            answer = await p.api.post("/mcp", request, headers=headers)
        except APIError as exc:
            return None, f"Input schemas could not be read: {exc.message}"
        result = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(result, dict):
            return None, "Input schemas could not be read: the tool list came back without a result."
        schemas |= {t["name"]: t.get("inputSchema") for t in result.get("tools", [])}
        cursor = result.get("nextCursor")
        if not cursor:
            break
    return schemas, None


def _tool_view(
    exposed: str, description: str, schema: Any, *, own: str | None = None, schemas: dict[str, Any] | None = None
) -> dict[str, Any]:
    if schemas is not None:
        schema = schemas.get(exposed)
    properties = list((schema or {}).get("properties", {}) or {}) if isinstance(schema, dict) else []
    required = set((schema or {}).get("required", []) or []) if isinstance(schema, dict) else set()
    return {
        "name": exposed,
        "own": own or exposed,
        "href": f"{PREFIX}/tools/{quote(exposed, safe='')}",
        "description": description,
        "schema": schema,
        "arguments": [f"{name}{'' if name in required else '?'}" for name in properties],
    }


def _settings(u: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """What the page lists under Settings — (label, text, whether it is a value to show as code):
    the kind's fields as the API shows them, secrets masked."""
    rows: list[tuple[str, str, bool]] = []
    for field in FIELDS:
        value = u.get(field.wire)
        if field.kind == _form_kind(u["kind"]) and value not in (None, [], {}):
            if isinstance(value, bool):
                rows.append((field.label, "yes" if value else "no", False))
            else:
                rows.append((field.label, field.show(value), True))
    if u["kind"] == "collection" and u.get("records") is not None:
        rows.append(("Records", str(u["records"]), False))
    prefix = u.get("prefix")
    if isinstance(prefix, str):
        rows.append(("Prefix", prefix, True))
    else:
        rows.append(("Prefix", "the upstream's name" if prefix else "none: the tools' own names", False))
    rows.append(("Tool names", u["exposedAs"], True))
    rows.append(("Timeout", f"{u['timeout']:g} s" if u.get("timeout") else "the gateway's default", False))
    return rows


@page()
async def upstream(p: Page) -> Response:
    return p.render("upstream.html", **await _upstream_context(p, p.param("name")), can_write=p.allows("servers:write"))


@page(fragment=True)
async def live(p: Page) -> Response:
    context = await _upstream_context(p, p.param("name"))
    html = p.ui.pages.fragment("upstream_live.html", root=p.root, **context)
    return HTMLResponse(html, headers=PAGE_HEADERS)


async def _act(p: Page, action: str) -> Response:
    """Enable, disable or remove; what the API refuses is shown on the upstream's page (a 200)."""
    name = p.param("name")
    try:
        if action == "remove":
            await p.api.delete(_path(p))
            return p.redirect(f"{PREFIX}/upstreams", f"Upstream “{name}” removed: its tools are gone from every client")
        changed = await p.api.post(f"{_path(p)}/{action}")
    except APIError as exc:
        context = await _upstream_context(p, name)
        return p.render("upstream.html", **context, can_write=p.allows("servers:write"), action_error=exc.message)
    said = "its tools are hidden from every client" if action == "disable" else _said(changed)
    return p.redirect(_here(changed), f"Upstream “{name}” {action}d: {said}")


@page(change=True)
async def enable(p: Page) -> Response:
    return await _act(p, "enable")


@page(change=True)
async def disable(p: Page) -> Response:
    return await _act(p, "disable")


@page(change=True)
async def remove(p: Page) -> Response:
    return await _act(p, "remove")


def _path(p: Page) -> str:
    return f"{API}/{quote(p.param('name'), safe='')}"


def _here(upstream: dict[str, Any]) -> str:
    return f"{PREFIX}/upstreams/{quote(upstream['name'], safe='')}"


def _said(upstream: dict[str, Any]) -> str:
    tools = len(upstream["tools"])
    if upstream["state"] == "ready":
        return f"ready, {tools} tool{'' if tools == 1 else 's'}"
    return f"{upstream['state']}" + (f" ({upstream['error']})" if upstream.get("error") else "")


ROUTES = [
    ("/upstreams", listing, ["GET"]),
    ("/upstreams/new", new, ["GET"]),
    ("/upstreams/new", create, ["POST"]),
    ("/upstreams/{name}", upstream, ["GET"]),
    ("/upstreams/{name}/live", live, ["GET"]),
    ("/upstreams/{name}/edit", edit, ["GET"]),
    ("/upstreams/{name}/edit", save, ["POST"]),
    ("/upstreams/{name}/enable", enable, ["POST"]),
    ("/upstreams/{name}/disable", disable, ["POST"]),
    ("/upstreams/{name}/remove", remove, ["POST"]),
]
