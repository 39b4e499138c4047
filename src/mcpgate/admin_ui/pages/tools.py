"""Try a tool: its description, its input schema, a form made from the schema, and a run.

    GET  /admin/tools               every tool this key may call, to pick one
    GET  /admin/tools/{name}        one tool (its name as the gateway exposes it): the form
    POST /admin/tools/{name}/run    the form → arguments → POST /call-tool; the result, the time
                                    it took, and the form as it was sent, to run it again

Everything goes through the gateway's REST face (`GET /tools`, `POST /call-tool`), so a run is
an ordinary call by the signed-in key — scopes, rate limits, audit and metrics apply as to any
other. What goes wrong (a field that is not a number, the gateway's 422 naming a field, an
unknown tool, an upstream that is down) is shown on the page with the form kept, as a page
(200), never as an error status: the form is the place to fix it. The form itself is
schema_form.py; this module only fetches, calls, times and shapes the result for the page.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.responses import Response

from mcpgate.admin_ui.api_client import APIError
from mcpgate.admin_ui.page import Page, page
from mcpgate.admin_ui.schema_form import Field, FormError, Problem, arguments, fields

RAW = "raw"  # the raw JSON arguments' field: when filled, sent instead of the fields
_IMAGE_TYPE = re.compile(r"image/[A-Za-z0-9.+-]{1,100}\Z")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}\Z")
_INDEX = re.compile(r"\[\d+\]")


@page()
async def listing(p: Page) -> Response:
    tools = (await p.api.get("/tools"))["tools"]
    return p.render("tools.html", tools=sorted(tools, key=lambda t: t.get("name", "")), quote=_quoted)


@page()
async def tool(p: Page) -> Response:
    definition = await _definition(p, p.param("name"))
    return await _show(p, definition)


@page(change=True)
async def run(p: Page) -> Response:
    name = p.param("name")
    form = p.form or FormData()
    raw = next((v for v in form.getlist(RAW) if isinstance(v, str)), "")
    try:
        definition = await _definition(p, name)
    except APIError as exc:  # gone since the page was loaded, or never there: say so, keep what was typed
        return await _show(p, {"name": name}, form=form, raw=raw, error=exc.message)
    schema = definition.get("inputSchema")
    try:
        sent = _raw_arguments(raw) if raw.strip() else arguments(schema, form)
    except FormError as exc:
        return await _show(p, definition, form=form, raw=raw, problems=exc.problems)
    started = time.perf_counter()
    try:
        result = await p.api.post("/call-tool", {"name": definition["name"], "arguments": sent})
    except APIError as exc:
        elapsed = time.perf_counter() - started
        problems = [] if raw.strip() else _api_problems(exc.body, fields(schema))
        return await _show(
            p, definition, form=form, raw=raw, error=exc.message, problems=problems, elapsed=elapsed, sent=sent
        )
    elapsed = time.perf_counter() - started
    return await _show(p, definition, form=form, raw=raw, result=result, elapsed=elapsed, sent=sent)


async def _definition(p: Page, name: str) -> dict[str, Any]:
    """The tool as this key's REST face lists it; APIError 404 when it offers no such tool."""
    found = await p.api.request("GET", f"/tools/{quote(name, safe='')}", accept=(404,))
    if isinstance(found, dict) and isinstance(found.get("name"), str) and "error" not in found:
        return found
    # Not in the catalog as first shown: the listing prepares what a caller like this one is shown.
    for listed in (await p.api.get("/tools"))["tools"]:
        if listed.get("name") == name:
            return dict(listed)
    error = found.get("error") if isinstance(found, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    raise APIError(404, message or f"Unknown tool: {name!r}", found)


async def _upstream(p: Page, name: str) -> tuple[str, str] | None:
    """Which upstream serves `name`, and its own name for the tool (None if this key may not read upstreams)."""
    if not p.allows("servers:read"):
        return None
    try:
        upstreams = (await p.api.get("/api/v1/upstreams"))["data"]
    except APIError:
        return None
    for upstream in upstreams:
        pattern = upstream.get("exposedAs") or "<tool>"
        for own in upstream.get("tools") or ():
            if pattern.replace("<tool>", own["name"]) == name:
                return upstream["name"], own["name"]
    return None


async def _show(
    p: Page,
    definition: dict[str, Any],
    *,
    form: FormData | None = None,
    raw: str = "",
    error: str | None = None,
    problems: list[Problem] | None = None,
    result: Any = None,
    elapsed: float | None = None,
    sent: Any = None,
) -> Response:
    schema = definition.get("inputSchema")
    tree = fields(schema, form) if "inputSchema" in definition else []
    problems = problems or []
    errors: dict[str, str] = {}
    for problem in problems:
        message = problem.message if problem.name != RAW else str(problem)
        errors[problem.name] = f"{errors[problem.name]}; {message}" if problem.name in errors else message
    upstream = await _upstream(p, definition["name"])
    return p.render(
        "tool.html",
        tool=definition,
        href=_quoted(definition["name"]),
        upstream=upstream,
        fields=tree,
        known="inputSchema" in definition,
        errors=errors,
        problems=[(problem, _anchor(problem, tree)) for problem in problems],
        error=error,
        raw=raw,
        result=result if isinstance(result, dict) else None,
        items=_items(result) if isinstance(result, dict) else [],
        took=_took(elapsed) if elapsed is not None else None,
        sent=sent,
    )


def _raw_arguments(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise FormError([Problem(RAW, "raw JSON arguments", f"not valid JSON: {exc}")]) from None
    if not isinstance(value, dict):
        raise FormError([Problem(RAW, "raw JSON arguments", 'must be an object: {"name": value, …}')])
    return value


def _api_problems(body: Any, tree: list[Field]) -> list[Problem]:
    """The gateway's 422 details (`{"field": "address.city", "message"}`) as problems of the fields they name."""
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    if not isinstance(details, list):
        return []
    by_path: dict[str, str] = {}
    stack = list(tree)
    while stack:
        f = stack.pop()
        by_path[f.path] = f.name
        stack += f.children
    found = []
    for detail in details:
        if not isinstance(detail, dict) or not isinstance(detail.get("field"), str):
            continue
        path = _INDEX.sub("", detail["field"])
        while path and path not in by_path:
            path = path.rpartition(".")[0]
        if path:
            found.append(Problem(by_path[path], detail["field"], str(detail.get("message", "invalid"))))
    return found


def _anchor(problem: Problem, tree: list[Field]) -> str:
    """The id of the field a problem is about, for the error summary's link."""
    if problem.name == RAW:
        return "raw-json"
    stack = list(tree)
    while stack:
        f = stack.pop()
        if f.name == problem.name:
            return f.id
        stack += f.children
    return "try"


def _items(result: dict[str, Any]) -> list[dict[str, str]]:
    """The result's content items as the page shows them: text, JSON pretty-printed, images, resources."""
    shown = []
    for number, block in enumerate(result.get("content") or (), 1):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            text = str(block.get("text", ""))
            pretty = _pretty(text)
            shown.append({"kind": "json" if pretty else "text", "title": "Text", "text": pretty or text})
        elif kind == "image" and (src := _image(block.get("mimeType"), block.get("data"))):
            alt = f"Image {number} of the result ({block['mimeType']})"
            shown.append({"kind": "image", "title": f"Image ({block['mimeType']})", "src": src, "alt": alt})
        elif kind == "resource" and isinstance(block.get("resource"), dict):
            resource = block["resource"]
            title = f"Resource {resource.get('uri', '')}".strip()
            mime = resource.get("mimeType")
            if isinstance(resource.get("text"), str):
                pretty = _pretty(resource["text"])
                shown.append({"kind": "json" if pretty else "text", "title": title, "text": pretty or resource["text"]})
            elif src := _image(mime, resource.get("blob")):
                shown.append({"kind": "image", "title": title, "src": src, "alt": f"{title} ({mime})"})
            else:
                size = len(str(resource.get("blob") or "")) * 3 // 4
                shown.append({"kind": "note", "title": title, "text": f"{mime or 'binary'}, about {size} bytes"})
        elif kind == "resource_link":
            parts = [str(block.get(k)) for k in ("name", "description", "mimeType") if block.get(k)]
            shown.append({"kind": "note", "title": f"Link to {block.get('uri', '')}", "text": " · ".join(parts)})
        elif kind == "audio":
            size = len(str(block.get("data") or "")) * 3 // 4
            text = f"{block.get('mimeType', 'audio')}, about {size} bytes (not played here)"
            shown.append({"kind": "note", "title": "Audio", "text": text})
        else:
            shown.append({"kind": "json", "title": f"Item {number}", "text": _json(block)})
    return shown


def _image(mime: Any, data: Any) -> str | None:
    """A `data:` URL for an image (the page's CSP allows `img-src data:`); None for anything else."""
    if not isinstance(mime, str) or not isinstance(data, str) or not _IMAGE_TYPE.match(mime):
        return None
    data = "".join(data.split())
    return f"data:{mime};base64,{data}" if data and _BASE64.match(data) else None


def _pretty(text: str) -> str | None:
    """`text` pretty-printed when it is a JSON object or array; else None."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return _json(json.loads(text))
    except ValueError:
        return None


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _took(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:,.0f} ms"


def _quoted(name: str) -> str:
    return quote(name, safe="")


ROUTES = [
    ("/tools", listing, ["GET"]),
    ("/tools/{name:path}", tool, ["GET"]),  # a tool name may hold a "/"
    ("/tools/{name:path}/run", run, ["POST"]),
]
