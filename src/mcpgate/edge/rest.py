"""The REST face of an endpoint, for clients that do not speak MCP: OpenAI function calling and
GPT Actions, webhooks, n8n's HTTP node, curl.

At the root for the default endpoint, and under each virtual server's base
(`/servers/<name>`, `/api/v1/mcp/<id>`):

    GET  …/tools[?format=openai|openai-responses]  the tools as MCP lists them, or as function definitions
    GET  …/tools/<name>                            one tool's definition
    POST …/call-tool  {"name", "arguments"}        the tool's result: content, structuredContent, isError
    POST …/tools/<name>                            the same, with the arguments as the body
    GET  …/resources  …/resource-templates  …/resources/read?uri=…  …/prompts
    POST …/prompts/<name>                          the prompt, its arguments as the body
    GET  …/openapi.json                            this endpoint's OpenAPI 3.1 document
    GET  …/docs                                    an interactive page for it

Each request is one exchange of a `ClientSession` of transport "rest", answered by the same
router as an MCP message: the guard has already authenticated it, rate-limited it and named
its end user (`x-username`); passthrough headers, per-user credentials, audit and metrics
apply unchanged. Only the answer's form differs — failures are HTTP statuses:

    unknown tool, prompt or resource 404 · arguments against the input schema 422, naming the field
    a result with isError: true      200 (502 with ?errors=http)
    upstream unavailable 503 + Retry-After · upstream timeout 504 · the upstream's own error 502
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import orjson
from starlette.types import Receive, Scope, Send

from mcpgate import __version__
from mcpgate.edge.arguments import ArgumentChecker
from mcpgate.edge.docs_page import docs_page, send_html
from mcpgate.edge.http import (
    USER_KEY,
    caller_headers,
    cancel_on_disconnect,
    owner_of,
    query_param,
    read_body,
    request_headers,
    send_json,
    server_of,
)
from mcpgate.edge.openapi import RESTSurface, Security, rest_document
from mcpgate.edge.tool_formats import FORMATS, function_names, openai_responses_tools, openai_tools
from mcpgate.errors import (
    INVALID_PARAMS,
    RESOURCE_NOT_FOUND,
    BadRequest,
    GatewayError,
    TooManyRequests,
    UnknownName,
    Unprocessable,
    UpstreamError,
    UpstreamUnavailable,
    error_body,
    error_kind,
)
from mcpgate.hub.routing import RequestRouter
from mcpgate.hub.session import CALLER_HEADERS, ClientSession
from mcpgate.protocol.jsonrpc import Message
from mcpgate.protocol.spec import LATEST_HANDSHAKE_VERSION
from mcpgate.settings import EdgeSettings

logger = logging.getLogger(__name__)

# The first path segment of every REST endpoint (below the root or a virtual server's base).
ENDPOINTS = frozenset({"tools", "call-tool", "resources", "resource-templates", "prompts", "openapi.json", "docs"})
# (first segment, whether a name follows it) → allowed methods
ROUTES: dict[tuple[str, bool], tuple[str, ...]] = {
    ("tools", False): ("GET",),
    ("tools", True): ("GET", "POST"),
    ("call-tool", False): ("POST",),
    ("resources", False): ("GET",),
    ("resources/read", False): ("GET",),
    ("resource-templates", False): ("GET",),
    ("prompts", False): ("GET",),
    ("prompts", True): ("POST",),
    ("openapi.json", False): ("GET",),
    ("docs", False): ("GET",),
}

SecurityOf = Callable[[str | None], Security]


def is_rest(tail: str) -> bool:
    """Whether the path below an endpoint's base (no leading slash) is one of its REST endpoints."""
    return tail.partition("/")[0] in ENDPOINTS


async def _nowhere(message: Message) -> None:
    """Progress and logs of a REST call have no channel to travel on."""


class RESTEndpoints:
    def __init__(
        self,
        router: RequestRouter,
        settings: EdgeSettings,
        security_of: SecurityOf = lambda server: "none",
    ) -> None:
        self.router = router
        self.hub = router.hub
        self.settings = settings
        self.security_of = security_of
        self.arguments = ArgumentChecker()

    async def handle(self, scope: Scope, receive: Receive, send: Send, base: str, tail: str) -> None:
        """Answer `<base>/<tail>`; the guard has admitted the request and named its server in the scope."""
        head, _, name = tail.partition("/")
        if head == "docs" and not name:
            # A static page (it fetches what it shows, with the key typed into it): served without one.
            root = scope.get("root_path", "")
            await send_html(send, docs_page(f"{root}{base}/openapi.json", root))
            return
        CALLER_HEADERS.set(caller_headers(scope))  # this request's task: its own headers only
        method = scope["method"]
        if head == "resources" and name == "read":
            head, name = "resources/read", ""
        allowed = ROUTES.get((head, bool(name)))
        try:
            if allowed is None:
                raise UnknownName(f"No REST endpoint {base}/{tail}; see {base}/openapi.json")
            if method not in allowed:
                await send_json(
                    send,
                    405,
                    error_body("method_not_allowed", f"{method} not allowed here; use {' or '.join(allowed)}"),
                    [(b"allow", ", ".join(allowed).encode())],
                )
                return
            session = self._session(scope)
            if head == "tools" and not name:
                await self._list_tools(scope, send, session)
            elif head == "tools" and method == "GET":
                await send_json(send, 200, self._tool(session, name))
            elif head in ("tools", "call-tool"):
                await self._call_tool(scope, receive, send, session, name or None)
            elif head == "resources":
                await send_json(send, 200, {"resources": await self._all(session, "resources/list", "resources")})
            elif head == "resource-templates":
                templates = await self._all(session, "resources/templates/list", "resourceTemplates")
                await send_json(send, 200, {"resourceTemplates": templates})
            elif head == "resources/read":
                await self._read_resource(scope, receive, send, session)
            elif head == "prompts" and not name:
                await send_json(send, 200, {"prompts": await self._all(session, "prompts/list", "prompts")})
            elif head == "prompts":
                await self._get_prompt(scope, receive, send, session, name)
            else:
                await send_json(send, 200, await self._document(scope, session, base))
        except GatewayError as exc:
            await _send_error(send, exc)
        except Exception:  # the top of a request: a bug answers 500 with a JSON body, and is logged
            logger.exception("REST %s %s/%s failed", method, base, tail)
            await send_json(
                send, 500, error_body("internal_error", "Internal error; the gateway's log has the details")
            )

    def _session(self, scope: Scope) -> ClientSession:
        return ClientSession(
            "rest",
            server=server_of(scope),
            owner=owner_of(scope),
            user=scope.get(USER_KEY),
            protocol_version=LATEST_HANDSHAKE_VERSION,
            client_info={"name": "rest"},
            initialized=True,
        )

    # -- tools ---------------------------------------------------------------------------

    async def _list_tools(self, scope: Scope, send: Send, session: ClientSession) -> None:
        shape = query_param(scope, "format") or "mcp"
        if shape not in FORMATS:
            raise Unprocessable(f"format: must be one of {', '.join(FORMATS)}; got {shape!r}")
        tools = await self._all(session, "tools/list", "tools")
        if shape == "mcp":
            await send_json(send, 200, {"tools": tools})
            return
        names = function_names(t["name"] for t in tools)
        convert = openai_tools if shape == "openai" else openai_responses_tools
        await send_json(send, 200, {"tools": convert(tools, names)})

    async def _prepared_tool(self, session: ClientSession, name: str) -> dict[str, Any]:
        """`_tool`, as the upstream that serves it shows it to a caller that declares what this one
        did (nothing): that upstream's connection for such callers is opened first (only that one)."""
        try:
            tool = self._tool(session, name)
        except UnknownName:
            await self.hub.prepare(session)  # listed to such callers only, perhaps
            return self._tool(session, name)
        route = self.hub.catalog_of(session).tool(tool["name"])
        if route is None:
            return tool  # a SMART server's meta-tool: the router prepares what it searches
        await self.hub.prepare(session, {route.upstream})
        return self._tool(session, name)

    def _tool(self, session: ClientSession, name: str) -> dict[str, Any]:
        """The tool `session` is shown as `name` — or whose function name is `name`."""
        definition = self.router.listed_tool(session, name)
        if definition is not None:
            return definition
        tools = self.router.entries(session, "tools")
        by_function = {function: tool for tool, function in function_names(t["name"] for t in tools).items()}
        if name in by_function:
            found = self.router.listed_tool(session, by_function[name])
            if found is not None:
                return found
        raise UnknownName(f"Unknown tool: {name!r}. GET …/tools lists the tools this endpoint offers.")

    async def _call_tool(
        self, scope: Scope, receive: Receive, send: Send, session: ClientSession, name: str | None
    ) -> None:
        errors = query_param(scope, "errors") or "result"
        if errors not in ("result", "http"):
            raise Unprocessable(
                f"errors: must be 'result' or 'http'; got {errors!r}", data=[_field("errors", "result|http")]
            )
        body = await self._body(receive, scope, empty={} if name else None)
        if name is None:  # POST …/call-tool {"name", "arguments"}
            if not isinstance(body, dict):
                raise Unprocessable('the body must be an object: {"name": <tool>, "arguments": {…}}')
            name, arguments = body.get("name"), body.get("arguments", {})
            if not isinstance(name, str) or not name:
                raise Unprocessable("name: the tool's name is required, as a string", data=[_field("name", "required")])
            if arguments is None:
                arguments = {}
            if not isinstance(arguments, dict):
                raise Unprocessable("arguments: must be an object", data=[_field("arguments", "must be an object")])
        else:  # POST …/tools/<name>, the arguments as the body
            arguments = body
            if not isinstance(arguments, dict):
                raise Unprocessable("the body must be the tool's arguments, as an object")
        tool = await self._prepared_tool(session, name)
        problems = self.arguments.check(tool.get("inputSchema"), arguments)
        if problems:
            first = problems[0]
            where = first["field"] or "arguments"
            raise Unprocessable(f"invalid arguments for {tool['name']!r}: {where}: {first['message']}", data=problems)
        result = await self._run(receive, session, "tools/call", {"name": tool["name"], "arguments": arguments})
        if result is None:
            return  # the caller went away; the upstream call was cancelled
        if result.get("isError") and errors == "http":
            text = " ".join(
                block.get("text", "") for block in result.get("content") or () if isinstance(block, dict)
            ).strip()
            message = f"the tool {tool['name']!r} failed" + (f": {text}" if text else "")
            await send_json(send, 502, error_body("tool_error", message, {"result": result}))
            return
        if "isError" not in result:  # upstreams may leave it out when false; REST callers can always test it
            result = {**result, "isError": False}
        await send_json(send, 200, result)

    # -- resources, prompts ------------------------------------------------------------------

    async def _read_resource(self, scope: Scope, receive: Receive, send: Send, session: ClientSession) -> None:
        uri = query_param(scope, "uri")
        if not uri:
            raise Unprocessable(
                "uri: the resource's URI is required (…/resources/read?uri=…)", data=[_field("uri", "required")]
            )
        result = await self._run(receive, session, "resources/read", {"uri": uri})
        if result is not None:
            await send_json(send, 200, result)

    async def _get_prompt(self, scope: Scope, receive: Receive, send: Send, session: ClientSession, name: str) -> None:
        await self.hub.prepare(session)
        prompt = next((p for p in self.router.entries(session, "prompts") if p.get("name") == name), None)
        if prompt is None:
            raise UnknownName(f"Unknown prompt: {name!r}. GET …/prompts lists the prompts this endpoint offers.")
        arguments = await self._body(receive, scope, empty={})
        if not isinstance(arguments, dict):
            raise Unprocessable("the body must be the prompt's arguments, as an object of strings")
        declared = {a.get("name"): a for a in prompt.get("arguments") or () if isinstance(a, Mapping)}
        problems = [_field(k, "not an argument of this prompt") for k in arguments if k not in declared]
        problems += [
            _field(k, "must be a string") for k, v in arguments.items() if k in declared and not isinstance(v, str)
        ]
        problems += [_field(k, "required") for k, a in declared.items() if a.get("required") and k not in arguments]
        if problems:
            first = problems[0]
            raise Unprocessable(
                f"invalid arguments for the prompt {name!r}: {first['field']}: {first['message']}", data=problems
            )
        result = await self._run(receive, session, "prompts/get", {"name": name, "arguments": arguments})
        if result is not None:
            await send_json(send, 200, result)

    # -- the document ------------------------------------------------------------------------

    async def _document(self, scope: Scope, session: ClientSession, base: str) -> dict[str, Any]:
        server = self.hub.servers.get(session.server) if session.server is not None else None
        capabilities = self.router.capabilities(session.server)
        tools = await self._all(session, "tools/list", "tools")
        prompts = await self._all(session, "prompts/list", "prompts") if "prompts" in capabilities else []
        return rest_document(
            RESTSurface(
                title=f"{server.name} (mcpgate)" if server is not None else f"{self.hub.settings.name} (mcpgate)",
                version=__version__,
                server_url=_origin(scope) + base,
                tools=tools,
                prompts=prompts,
                resources="resources" in capabilities,
                description=server.description if server is not None else "",
                security=self.security_of(session.server),
            )
        )

    # -- running requests -------------------------------------------------------------------

    async def _all(self, session: ClientSession, method: str, field: str) -> list[dict[str, Any]]:
        """Every page of one list, as an MCP client would walk it."""
        entries: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            result = await self.router.run(session, method, {"cursor": cursor} if cursor else {}, _nowhere)
            entries.extend(result.get(field) or ())
            cursor = result.get("nextCursor")
            if not cursor:
                return entries

    async def _run(
        self, receive: Receive, session: ClientSession, method: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The request's result; None when the caller hung up first (which cancels it upstream too)."""
        result: dict[str, Any] | None = None
        failure: GatewayError | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_on_disconnect, receive, tg.cancel_scope)
            try:
                result = await self.router.run(session, method, params, _nowhere)
            except GatewayError as exc:
                failure = exc  # raised below, outside the task group (which would wrap it in a group)
            tg.cancel_scope.cancel()
        if failure is not None:
            raise _as_http(failure, method)
        return result

    async def _body(self, receive: Receive, scope: Scope, empty: Any) -> Any:
        raw = await read_body(receive, request_headers(scope), self.settings.max_body_bytes)
        if not raw.strip():
            if empty is None:
                raise BadRequest("the request needs a JSON body")
            return empty
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from None


def _as_http(failure: GatewayError, method: str) -> GatewayError:
    """An upstream's own refusal, as the status it means: a resource it does not have is a 404
    (MCP's -32002, or -32602 as the SDK sends it), arguments it rejects a 422."""
    if type(failure) is not UpstreamError:
        return failure
    data = {"code": failure.code, **({"data": failure.data} if failure.data is not None else {})}
    if failure.code == RESOURCE_NOT_FOUND or (failure.code == INVALID_PARAMS and method == "resources/read"):
        return UnknownName(failure.message, data=data)
    if failure.code == INVALID_PARAMS:
        return Unprocessable(failure.message, data=data)
    return failure


def _field(name: str, message: str) -> dict[str, str]:
    return {"field": name, "message": message}


def _origin(scope: Scope) -> str:
    """The scheme and host the caller used, so the document's server URL works from where it was fetched."""
    host = request_headers(scope).get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


async def _send_error(send: Send, exc: GatewayError) -> None:
    status = exc.http_status if 400 <= exc.http_status < 600 else 500
    headers: list[tuple[bytes, bytes]] = []
    if isinstance(exc, UpstreamUnavailable | TooManyRequests):
        headers.append((b"retry-after", str(exc.retry_after).encode()))
    details = exc.data
    if status == 502 and details is None and exc.code is not None:
        details = {"code": exc.code}  # the upstream's own JSON-RPC error code
    await send_json(send, status, error_body(error_kind(exc), exc.message, details), headers)
