"""Live calls to the API an OpenAPI catalog describes, and their results as MCP tool results.

    api = APIClient(base_url, static_headers, timeout=30, max_chars=50_000)
    result = await api.call(operation, path_params, query, body, headers, credentials)

Only operations of the document can be called, at the document's base URL: a path is matched
against the document's templates and every path parameter is percent-encoded, so neither a
crafted path nor a parameter value can reach another endpoint or host. Redirects are not
followed (they would carry the caller's token elsewhere).

The result is a tool result: `structuredContent` {status, contentType, body} (JSON bodies
parsed), the same as text for clients without structured output, `isError` for a 4xx/5xx with
the API's own status and body. Large bodies are cut with a marker saying how much was left
out; a timeout or an unreachable API is a tool error saying which.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from mcpgate.catalogs.openapi.operations import Operation
from mcpgate.catalogs.tool_results import ArgumentError

_TEMPLATE_HEADERS = {"accept": "application/json, */*;q=0.5", "user-agent": "mcpgate"}


class APIClient:
    def __init__(
        self,
        base_url: str,
        static_headers: Mapping[str, str],
        *,
        timeout: float,
        max_chars: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.static_headers = dict(static_headers)
        self.timeout = timeout
        self.max_chars = max_chars
        # One client per catalog: keep-alive connections and one TLS context for every call.
        self._client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, transport=transport, headers=_TEMPLATE_HEADERS
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(
        self,
        operation: Operation,
        path_params: Mapping[str, Any],
        query: Mapping[str, Any],
        body: Any,
        headers: Mapping[str, str],
        credentials: Mapping[str, str],
    ) -> dict[str, Any]:
        url = self.base_url + fill_path(operation, path_params)
        sent = {**self.static_headers, **credentials, **{k: str(v) for k, v in headers.items()}}
        content = None
        if body is not None:
            content = orjson.dumps(body)
            sent["content-type"] = "application/json"
        try:
            response = await self._client.request(
                operation.method, url, params=_query(query), content=content, headers=sent
            )
        except httpx.TimeoutException:
            return _tool_error(f"{operation.label}: the API did not answer within {self.timeout:g}s")
        except httpx.HTTPError as exc:
            # The reason without the request's headers: they hold the caller's token.
            return _tool_error(f"{operation.label}: could not reach the API at {self.base_url}: {type(exc).__name__}")
        return self._result(operation, response)

    def _result(self, operation: Operation, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        structured: dict[str, Any] = {"status": status, "contentType": kind or None}
        note = ""
        if not response.content:
            text = ""
            structured["body"] = None
        elif "json" in kind:
            try:
                parsed = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                text, note = response.text, " (declared JSON, but it is not valid JSON)"
                structured["body"] = None
            else:
                text = orjson.dumps(parsed, option=orjson.OPT_INDENT_2).decode()
                structured["body"] = parsed
        elif kind.startswith("text/") or kind in ("application/xml", "application/yaml", "application/javascript"):
            text = response.text
            structured["body"] = None
        else:
            text = f"({len(response.content):,} bytes of {kind or 'unknown type'}, not shown)"
            structured["body"] = None
        if len(text) > self.max_chars:
            shown = text[: self.max_chars]
            text = (
                f"{shown}\n…[truncated: {self.max_chars:,} of {len(text):,} characters shown; "
                "narrow the request (filters, pagination) for the rest]"
            )
            del structured["body"]  # the whole body would undo the cut
            structured["bodyText"] = shown
            structured["truncated"] = True
        elif structured["body"] is None and text:
            structured["bodyText"] = text
        heading = f"{operation.label} → {status} {response.reason_phrase}{note}"
        result: dict[str, Any] = {
            "content": [{"type": "text", "text": f"{heading}\n{text}" if text else heading}],
            "structuredContent": structured,
        }
        if status >= 400:
            result["isError"] = True
        return result


def fill_path(operation: Operation, values: Mapping[str, Any]) -> str:
    """The operation's path with each `{name}` replaced by its value, percent-encoded whole."""
    path = operation.path
    missing = []
    for parameter in operation.parameters:
        if parameter.get("in") != "path":
            continue
        name = str(parameter.get("name"))
        if name not in values or values[name] is None or values[name] == "":
            missing.append(name)
            continue
        path = path.replace("{" + name + "}", quote(str(values[name]), safe=""))
    if missing:
        raise ArgumentError(f"{operation.label} needs the path parameter(s) {', '.join(missing)}")
    if "{" in path:
        raise ArgumentError(f"{operation.label}: the document declares no value for {path[path.index('{') :]}")
    return path


def _query(query: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query parameters; lists repeat the name (OpenAPI's default `form, explode`)."""
    pairs: list[tuple[str, str]] = []
    for name, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            pairs.append((name, _scalar(item)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _tool_error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}
