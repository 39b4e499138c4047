"""An OpenAPI catalog as an MCP server: reference tools, live tools and guides.

Reference tools (read-only, answered from the document, no credentials): `list_services`,
`search_endpoints`, `get_endpoint`, and with guides `search_guides` and `read_guide`.
Live tools: `call_endpoint` (any operation of the document), and with `liveTools:
"operations"` one tool per operation named by its operationId.

A live call authenticates with what the request brings — the end user's stored credentials
and the caller's passed-through headers, which the hub adds to each request — over the
catalog's static headers. An operation whose document requires credentials that nobody
supplied is refused before anything is sent, with a tool error that says which header to
send and the ways to supply it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any

import anyio

from mcpgate.catalogs.guides import Guides
from mcpgate.catalogs.openapi.calls import APIClient
from mcpgate.catalogs.openapi.document import Document
from mcpgate.catalogs.openapi.operations import METHODS, EndpointNotFound, Operation, Operations, describe_scheme
from mcpgate.catalogs.tool_results import ArgumentError, error, limit, result
from mcpgate.errors import UnknownName

_READ_ONLY = {"readOnlyHint": True, "openWorldHint": False}
_LIMIT = {"type": "integer", "minimum": 1, "maximum": 50, "description": "How many (default 10)."}
# Headers of the gateway's own hop to this catalog, never credentials for the API.
_HOP_HEADERS = "mcp-"  # MCP-Protocol-Version, Mcp-Method, Mcp-Param-*…
_NAMES_AN_API = re.compile(r"\bAPIs?\s*$", re.IGNORECASE)  # "Pets API", "Stripe APIs", "GitHub REST api"


class OpenAPICatalogServer:
    def __init__(
        self,
        name: str,
        document: Document,
        operations: Operations,
        api: APIClient | None,
        *,
        guides: Guides | None = None,
        per_operation_tools: bool = False,
        passthrough_headers: list[str] | None = None,
        checks_credentials: bool = True,
    ) -> None:
        self.name = name
        # The caller's headers the hub passes to each call, and whether calls need credentials.
        self.passthrough_headers = passthrough_headers or []
        self.checks_credentials = checks_credentials
        self.needs_credentials = (
            checks_credentials
            and api is not None
            and not api.static_headers
            and any(op.security and all(op.security) for op in operations.all)
        )
        self.document = document
        self.resource_tool = "read_guide" if guides is not None else None  # reads a guide, as its resource does
        self.operations = operations
        self.api = api
        self.guides = guides
        self._operation_tools = {op.id: op for op in operations.all} if api is not None and per_operation_tools else {}
        self._tools = self._list_tools()
        self._handlers = {
            "list_services": self._list_services,
            "search_endpoints": self._search_endpoints,
            "get_endpoint": self._get_endpoint,
        }
        if guides is not None:
            self._handlers |= {"search_guides": self._search_guides, "read_guide": self._read_guide}
        if api is not None:
            self._handlers["call_endpoint"] = self._call_endpoint

    # -- what a client sees ---------------------------------------------------------

    def capabilities(self) -> dict[str, Any]:
        return {"tools": {}, **({"resources": {}} if self.guides is not None else {})}

    def instructions(self) -> str:
        return (
            f"The {self._api} ({len(self.operations)} endpoints): list_services, then search_endpoints and "
            "get_endpoint to find how to do something"
            + ("; call_endpoint to do it (with your credentials)." if self.api is not None else ".")
        )

    def tools(self) -> list[dict[str, Any]]:
        return self._tools

    @property
    def _api(self) -> str:
        """How descriptions name the API: "Pets API" for a title of "Pets" and of "Pets API" alike."""
        title = self.document.title or self.name
        return title if _NAMES_AN_API.search(title) else f"{title} API"

    def resources(self) -> list[dict[str, Any]]:
        return self.guides.resources() if self.guides is not None else []

    def read_resource(self, uri: str) -> dict[str, Any]:
        guide = self.guides.find(uri) if self.guides is not None else None
        if guide is None:
            raise UnknownName(f"Unknown resource: {uri}")
        return {"contents": [{"uri": guide.uri, "mimeType": "text/markdown", "text": guide.text}]}

    async def call_tool(self, name: str, arguments: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        handler = self._handlers.get(name)
        try:
            if handler is not None:
                return await handler(arguments, headers)
            operation = self._operation_tools.get(name)
            if operation is None:
                raise UnknownName(f"Unknown tool: {name}")
            return await self._call_operation(operation, arguments, headers)
        except (ArgumentError, EndpointNotFound) as exc:
            return error(str(exc))

    # -- reference tools ------------------------------------------------------------

    async def _list_services(self, arguments: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        services = self.operations.services()
        return result({"api": self.document.title, "endpoints": len(self.operations), "services": services})

    async def _search_endpoints(self, arguments: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        search = partial(
            self.operations.search,
            _text(arguments, "query"),
            service=_optional_text(arguments, "service"),
            method=_optional_text(arguments, "method"),
            limit=limit(arguments),
        )
        found = await anyio.to_thread.run_sync(search)  # the first one builds the index
        return result(
            {
                "endpoints": [
                    {
                        "operationId": op.id,
                        "method": op.method,
                        "path": op.path,
                        "summary": op.line(),
                        "services": list(op.services),
                    }
                    for op in found
                ]
            }
        )

    async def _get_endpoint(self, arguments: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        operation = self._operation(arguments)
        detail = self.operations.details(operation)
        if self.api is not None:
            detail["url"] = self.api.base_url + operation.path
        return result(detail)

    async def _search_guides(self, arguments: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        assert self.guides is not None
        search = partial(self.guides.search, _text(arguments, "query"), limit(arguments))
        return result({"guides": await anyio.to_thread.run_sync(search)})  # the first one builds the index

    async def _read_guide(self, arguments: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        assert self.guides is not None
        guide = self.guides.find(_text(arguments, "uri"))
        if guide is None:
            raise ArgumentError(f"no guide {arguments.get('uri')!r}; search_guides lists their URIs")
        return {"content": [{"type": "text", "text": guide.text}]}

    # -- live tools -----------------------------------------------------------------

    async def _call_endpoint(self, arguments: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        operation = self._operation(arguments)
        path_params = {**operation.path_values(str(arguments.get("path", ""))), **_object(arguments, "pathParams")}
        return await self._send(
            operation,
            path_params,
            _object(arguments, "query"),
            arguments.get("body"),
            _object(arguments, "headers"),
            headers,
        )

    async def _call_operation(
        self, operation: Operation, arguments: Mapping[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        by_place: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "header": {}}
        for parameter in operation.parameters:
            name = str(parameter.get("name"))
            if parameter.get("in") in by_place and name in arguments:
                by_place[str(parameter["in"])][name] = arguments[name]
        return await self._send(
            operation, by_place["path"], by_place["query"], arguments.get("body"), by_place["header"], headers
        )

    async def _send(
        self,
        operation: Operation,
        path_params: Mapping[str, Any],
        query: Mapping[str, Any],
        body: Any,
        extra_headers: Mapping[str, Any],
        request_headers: Mapping[str, str],
    ) -> dict[str, Any]:
        assert self.api is not None
        declared = {str(p.get("name")).lower() for p in operation.parameters if p.get("in") == "header"}
        undeclared = sorted(name for name in extra_headers if name.lower() not in declared)
        if undeclared:
            raise ArgumentError(
                f"{operation.label} declares no header {', '.join(undeclared)}; credentials are not arguments "
                "(they come from your requests' headers or your stored connection)"
            )
        credentials = _credentials(request_headers)
        if self.checks_credentials:
            missing = self._missing_credentials(operation, {**self.api.static_headers, **credentials})
            if missing is not None:
                return error(missing)
        return await self.api.call(operation, path_params, query, body, extra_headers, credentials)

    def _missing_credentials(self, operation: Operation, present: Mapping[str, str]) -> str | None:
        """Why `operation` cannot be called with the `present` headers, or None when it can."""
        if not operation.security or any(not requirement for requirement in operation.security):
            return None  # none required, or an alternative that requires nothing
        have = {name.lower() for name in present}
        schemes = (self.document.raw.get("components") or {}).get("securitySchemes") or {}
        sends: list[str] = []
        for requirement in operation.security:
            described = [describe_scheme(self.document.deref(schemes.get(name, {}))) for name in requirement]
            if any("header" not in d for d in described):
                return None  # a query or cookie key: only the API can tell whether it is there
            if all(d["header"].lower() in have for d in described):
                return None
            sends.append(" and ".join(f"`{d['send']}`" for d in described))
        return (
            f"{operation.label} needs credentials for the {self._api}: send "
            f"{' or '.join(dict.fromkeys(sends))} with your MCP requests (mcpgate passes it through to the API), "
            f"or, acting as an end user (x-username), store it once for {self.name!r} with the manage_connections "
            f"tool or PUT /api/v1/users/<user>/connections/{self.name}."
        )

    def _operation(self, arguments: Mapping[str, Any]) -> Operation:
        method = _optional_text(arguments, "method")
        if method is not None and method.lower() not in METHODS:
            raise ArgumentError(f"method {method!r} is not an HTTP method")
        return self.operations.find(
            operation_id=_optional_text(arguments, "operationId"), method=method, path=_optional_text(arguments, "path")
        )

    def _list_tools(self) -> list[dict[str, Any]]:
        endpoint_by = {
            "operationId": {"type": "string", "description": "The endpoint's operationId (from search_endpoints)."},
            "method": {"type": "string", "description": "HTTP method, with `path` instead of operationId."},
            "path": {"type": "string", "description": "Path template (/pets/{petId}) or a concrete path (/pets/42)."},
        }
        title = self.document.title or self.name
        tools = [
            _tool(
                "list_services",
                f"List the services (groups of endpoints) of the {self._api} with their endpoint counts.",
                {},
            ),
            _tool(
                "search_endpoints",
                f"Search the {self._api}'s endpoints by what you want to do; filter by service or method.",
                {
                    "query": {"type": "string", "description": "What you want to do, in your words."},
                    "service": {"type": "string", "description": "Only this service (see list_services)."},
                    "method": {"type": "string", "description": "Only this HTTP method (GET, POST…)."},
                    "limit": _LIMIT,
                },
                required=["query"],
            ),
            _tool(
                "get_endpoint",
                f"Full details of one {title} endpoint: parameters, request body schema, responses, security.",
                endpoint_by,
            ),
        ]
        if self.guides is not None:
            tools += [
                _tool(
                    "search_guides",
                    f"Search the {title} guides (how-tos, concepts); answers with the matching sections.",
                    {"query": {"type": "string"}, "limit": _LIMIT},
                    required=["query"],
                ),
                _tool(
                    "read_guide",
                    f"Read one {title} guide in full (its URI from search_guides).",
                    {"uri": {"type": "string"}},
                    required=["uri"],
                ),
            ]
        if self.api is not None:
            tools.append(
                _tool(
                    "call_endpoint",
                    f"Call an endpoint of the {self._api} with your credentials; answers with its status and body.",
                    {
                        **endpoint_by,
                        "pathParams": {"type": "object", "description": "Values of the path's {parameters}."},
                        "query": {"type": "object", "description": "Query parameters."},
                        "body": {"description": "The JSON request body."},
                        "headers": {"type": "object", "description": "Header parameters the endpoint declares."},
                    },
                    annotations={"openWorldHint": True},
                )
            )
            for operation in self._operation_tools.values():
                hints = {
                    "readOnlyHint": operation.method in ("GET", "HEAD"),
                    "destructiveHint": operation.method == "DELETE",
                }
                tools.append(
                    {
                        "name": operation.id,
                        "title": operation.line()[:120],
                        "description": f"{operation.label} — {operation.line()}",
                        "inputSchema": self.operations.input_schema(operation),
                        "annotations": {**hints, "openWorldHint": True},
                    }
                )
        return tools


def _tool(
    name: str,
    description: str,
    properties: dict[str, Any],
    *,
    required: list[str] | None = None,
    annotations: dict[str, Any] | None = None,
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return {"name": name, "description": description, "inputSchema": schema, "annotations": annotations or _READ_ONLY}


def _credentials(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if not name.lower().startswith(_HOP_HEADERS)}


def _text(arguments: Mapping[str, Any], name: str) -> str:
    value = arguments.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ArgumentError(f"`{name}` is required (a non-empty string)")
    return value


def _optional_text(arguments: Mapping[str, Any], name: str) -> str | None:
    value = arguments.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ArgumentError(f"`{name}` must be a string")
    return value


def _object(arguments: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = arguments.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ArgumentError(f"`{name}` must be an object")
    return value
