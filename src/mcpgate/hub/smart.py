"""SMART mode: a few meta-tools in place of a virtual server's (possibly hundreds of) tools.

    search_tools        {query, upstreams?, limit?}           → ranked tools: name, one line, input schema,
                                                                upstream, whether the caller is connected to it
    get_tool_schemas    {names}                               → full definitions
    execute_tool        {name, arguments?} | {calls: [...]}   → one tool's own result, or one result per call
                        (maxResultChars? caps each result)      (run concurrently; a failing call fails alone)
    manage_connections  {action?: status|connect|disconnect, upstream?, headers?, env?}
                                                              → the end user's connection to each upstream

They reach exactly the tools of the virtual server's view; `execute_tool` goes through the
same forwarding path as a direct `tools/call` (passthrough, the end user's credentials,
audit). Search ranks with `search.SearchIndex` — BM25 fused with static embeddings — over
each tool's name, title, description and parameters; each view keeps its own index,
brought up to date (only changed tools re-embedded) on the first search after a change.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import orjson

from mcpgate import search
from mcpgate.errors import GatewayError, InvalidParams, UnknownName
from mcpgate.hub.catalog import Catalog
from mcpgate.search import Document
from mcpgate.search.text import split_name

if TYPE_CHECKING:
    from pathlib import Path

    from mcpgate.search.index import SearchIndex
    from mcpgate.search.vector_cache import VectorCache

SEARCH, DESCRIBE, EXECUTE, CONNECTIONS = "search_tools", "get_tool_schemas", "execute_tool", "manage_connections"
MAX_BATCH = 20
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

_CALL = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "The tool's name, as search_tools gave it."},
        "arguments": {"type": "object", "description": "The tool's arguments, per its input schema."},
    },
    "required": ["name"],
}
_META_TOOLS: list[dict[str, Any]] = [
    {
        "name": SEARCH,
        "description": "Find the tools that can do something. Describe the need in plain words; returns the best "
        "matches with their input schemas and whether you are connected to each tool's service. "
        "Call execute_tool to run one.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "description": "What you want to do, in plain words."},
                "upstreams": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Only tools of these services (the `upstream` of a search result).",
                },
                "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
            },
            "required": ["query"],
        },
    },
    {
        "name": DESCRIBE,
        "description": "Get the full definitions (description, input and output schemas) of tools by name.",
        "inputSchema": {
            "type": "object",
            "properties": {"names": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
            "required": ["names"],
        },
    },
    {
        "name": EXECUTE,
        "description": "Run one tool (`name`, `arguments`) and get its result, or several at once (`calls`) and get "
        "one result per call, in order; a call that fails does not stop the others.",
        "inputSchema": {
            "type": "object",
            "properties": {
                **_CALL["properties"],
                "calls": {"type": "array", "items": _CALL, "minItems": 1, "maxItems": MAX_BATCH},
                "maxResultChars": {
                    "type": "integer",
                    "minimum": 100,
                    "description": "Cut each result's text to this many characters.",
                },
            },
        },
    },
    {
        "name": CONNECTIONS,
        "description": "See which services you are connected to, and connect or disconnect one: `connect` stores "
        "the credentials (headers for a remote service, environment variables for a local one) for your user; "
        "for a service that signs in with OAuth, `connect` without credentials answers the link to open.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": ["status", "connect", "disconnect"], "default": "status"},
                "upstream": {"type": "string", "description": "The service (a search result's `upstream`)."},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    },
]
_META_BY_NAME = {tool["name"]: tool for tool in _META_TOOLS}
META_NAMES = frozenset(_META_BY_NAME)

CallTool = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def meta_tools() -> list[dict[str, Any]]:
    return _META_TOOLS


def meta_tool(name: str) -> dict[str, Any] | None:
    return _META_BY_NAME.get(name)


class Connections(Protocol):
    """What the meta-tools need to know and change about the caller's connections (the hub provides it)."""

    def upstream_of(self, catalog: Catalog, tool: str) -> str | None: ...

    def label_of(self, upstream: str) -> str: ...

    def status(self, upstream: str) -> dict[str, Any]: ...

    async def connect(self, upstream: str, headers: dict[str, str], env: dict[str, str]) -> None: ...

    async def authorization_link(self, upstream: str) -> str | None:
        """Where the caller connects their account at `upstream`, if it signs in with OAuth."""

    async def disconnect(self, upstream: str) -> None: ...


# A view's index: (virtual server id, the capability profile its sessions declared).
IndexKey = tuple[str, str]


class SmartTools:
    """Answers meta-tool calls; holds one search index per view (by virtual server id and the
    capability profile of the sessions shown it: an upstream may show them different tools)."""

    def __init__(self, vectors_dir: Path | None = None) -> None:
        """`vectors_dir`: where the search encoder's vectors are kept across restarts (none: not kept)."""
        self.vectors_dir = vectors_dir
        self._indexes: dict[IndexKey, tuple[Catalog, SearchIndex]] = {}
        self._lock = anyio.Lock()  # one update at a time: an index is not updated and read at once

    def prune(self, live: Mapping[str, Any]) -> None:
        """Drop the indexes of virtual servers that are gone (`live`: by id)."""
        for key in [key for key in self._indexes if key[0] not in live]:
            del self._indexes[key]

    async def call(
        self,
        name: str,
        arguments: dict[str, Any],
        key: IndexKey,
        catalog: Catalog,
        connections: Connections,
        call_tool: CallTool,
    ) -> dict[str, Any]:
        if name == SEARCH:
            return await self._search(arguments, key, catalog, connections)
        if name == DESCRIBE:
            return _describe(arguments, catalog)
        if name == EXECUTE:
            return await _execute(arguments, call_tool)
        return await _manage(arguments, catalog, connections)

    async def index_for(self, key: IndexKey, catalog: Catalog, connections: Connections) -> SearchIndex:
        """The view's index, brought up to date with `catalog` first if it changed (in a worker
        thread: embedding thousands of new tools must not stall every other session)."""
        async with self._lock:
            cached = self._indexes.get(key)
            if cached is not None and cached[0] is catalog:
                return cached[1]
            index = cached[1] if cached is not None else await anyio.to_thread.run_sync(_new_index, self.vectors_dir)
            documents = [_document(tool, connections.upstream_of(catalog, tool["name"])) for tool in catalog.tools]
            await anyio.to_thread.run_sync(index.update, documents)
            self._indexes[key] = (catalog, index)
            return index

    async def _search(
        self, arguments: dict[str, Any], key: IndexKey, catalog: Catalog, connections: Connections
    ) -> dict[str, Any]:
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            raise InvalidParams(f"{SEARCH}: `query` must be a non-empty string")
        limit = arguments.get("limit", 5)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 50:
            raise InvalidParams(f"{SEARCH}: `limit` must be an integer from 1 to 50")
        wanted = arguments.get("upstreams")
        if wanted is not None and (not isinstance(wanted, list) or not all(isinstance(u, str) for u in wanted)):
            raise InvalidParams(f"{SEARCH}: `upstreams` must be a list of names")
        index = await self.index_for(key, catalog, connections)
        groups = _groups_named(wanted, catalog, connections) if wanted is not None else None
        found = []
        # In a worker thread: the query's encoding and the scoring take milliseconds at 10k tools.
        for hit in await anyio.to_thread.run_sync(index.search, query, limit, groups):
            tool = catalog.tool_definition(hit.id)
            if tool is None:
                continue
            upstream = connections.upstream_of(catalog, hit.id)
            status = connections.status(upstream) if upstream is not None else {}
            found.append(
                {
                    **_summary(tool),
                    "upstream": connections.label_of(upstream) if upstream else None,
                    "connected": status.get("connected"),
                }
            )
        return structured({"tools": found})


def _groups_named(wanted: list[str], catalog: Catalog, connections: Connections) -> set[str]:
    """The upstream keys whose label (what search results call them) is among `wanted`."""
    keys = {connections.upstream_of(catalog, tool["name"]) for tool in catalog.tools}
    return {key for key in keys if key is not None and connections.label_of(key) in wanted}


def _new_index(vectors_dir: Path | None) -> SearchIndex:
    """numpy, BM25, the tables and the encoder load here, with the first SMART search; the tools are
    encoded in the background (their vectors kept in `vectors_dir` across restarts), and searches
    meanwhile are answered by BM25 and the tables."""
    from mcpgate.search.encoder import SentenceEncoder
    from mcpgate.search.vector_cache import VectorCache

    encoder = SentenceEncoder.bundled()
    cache = None
    if vectors_dir is not None:  # one cache per file, shared by the process's indexes
        cache = _caches.setdefault(vectors_dir, VectorCache(vectors_dir / f"{encoder.name}.npz", encoder.name))
    return search.SearchIndex(encoder=encoder, vector_cache=cache)


_caches: dict[Path, VectorCache] = {}


def _document(tool: Mapping[str, Any], upstream: str | None) -> Document:
    """What search reads of a tool: its name as words, title, description, and each parameter's name
    and description (the encoder reads the name, title and description only: see Document.gist)."""
    parts = [str(tool.get("title") or ""), str(tool.get("description") or "")]
    gist = ". ".join(p for p in parts if p)
    properties = (tool.get("inputSchema") or {}).get("properties")
    if isinstance(properties, Mapping):
        for name, schema in properties.items():
            described = schema.get("description") if isinstance(schema, Mapping) else None
            parts.append(
                f"{split_name(str(name))}: {described}" if isinstance(described, str) else split_name(str(name))
            )
    return Document(tool["name"], split_name(tool["name"]), ". ".join(p for p in parts if p), upstream, gist)


def _summary(tool: Mapping[str, Any]) -> dict[str, Any]:
    description = str(tool.get("description") or tool.get("title") or "").strip().split("\n", 1)[0]
    return {"name": tool["name"], "description": description, "inputSchema": tool.get("inputSchema", {})}


def _describe(arguments: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    names = arguments.get("names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InvalidParams(f"{DESCRIBE}: `names` must be a non-empty list of tool names")
    tools = [d for n in names if (d := catalog.tool_definition(n)) is not None]
    unknown = [n for n in names if catalog.tool_definition(n) is None]
    return structured({"tools": tools, **({"unknown": unknown} if unknown else {})})


# -- execute -------------------------------------------------------------------------------


async def _execute(arguments: dict[str, Any], call_tool: CallTool) -> dict[str, Any]:
    cap = arguments.get("maxResultChars")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 100):
        raise InvalidParams(f"{EXECUTE}: `maxResultChars` must be an integer of at least 100")
    calls = arguments.get("calls")
    if calls is None:
        name, inner = _call_of(arguments, EXECUTE)
        return _capped(await call_tool({"name": name, "arguments": inner}), cap)
    if "name" in arguments:
        raise InvalidParams(f"{EXECUTE}: give either `name` (one call) or `calls` (several), not both")
    if not isinstance(calls, list) or not 1 <= len(calls) <= MAX_BATCH:
        raise InvalidParams(f"{EXECUTE}: `calls` must be a list of 1 to {MAX_BATCH} calls")
    results: list[dict[str, Any]] = [{} for _ in calls]

    async def run(position: int, call: Any) -> None:
        try:
            if not isinstance(call, dict):
                raise InvalidParams("each call must be an object: {name, arguments}")
            name, inner = _call_of(call, f"{EXECUTE} calls[{position}]")
            result = _capped(await call_tool({"name": name, "arguments": inner}), cap)
            results[position] = {"name": name, "isError": bool(result.get("isError")), "result": result}
        except GatewayError as exc:  # this call's failure is its own result; the batch carries on
            named = call.get("name") if isinstance(call, dict) else None
            results[position] = {"name": named, "isError": True, "error": exc.message}

    async with anyio.create_task_group() as tg:
        for position, call in enumerate(calls):
            tg.start_soon(run, position, call)
    failed = sum(1 for r in results if r["isError"])
    summary = {"results": results, "succeeded": len(results) - failed, "failed": failed}
    return structured(summary)


def _call_of(call: dict[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    name = call.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidParams(f"{where}: `name` must be the name of a tool (see {SEARCH})")
    inner = call.get("arguments", {})
    if inner is None:
        inner = {}
    if not isinstance(inner, dict):
        raise InvalidParams(f"{where}: `arguments` must be an object")
    return name, inner


def _capped(result: dict[str, Any], cap: int | None) -> dict[str, Any]:
    """The result with its text cut to `cap` characters in all, saying so; structured content
    that would not fit is left out, also saying so."""
    if cap is None:
        return result
    budget = cap
    content = []
    cut = 0
    for block in result.get("content") or ():
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            text = block["text"]
            kept = text[: max(budget, 0)]
            cut += len(text) - len(kept)
            budget -= len(kept)
            block = {**block, "text": kept}
        content.append(block)
    capped = {**result, "content": content}
    structured_content = result.get("structuredContent")
    if structured_content is not None and len(orjson.dumps(structured_content)) > cap:
        capped.pop("structuredContent")
        content.append({"type": "text", "text": f"[structured content left out: over {cap} characters]"})
    if cut:
        content.append({"type": "text", "text": f"[truncated: {cut} more characters]"})
    return capped


# -- connections ---------------------------------------------------------------------------


async def _manage(arguments: dict[str, Any], catalog: Catalog, connections: Connections) -> dict[str, Any]:
    action = arguments.get("action", "status")
    upstreams = sorted(
        {key for tool in catalog.tools if (key := connections.upstream_of(catalog, tool["name"])) is not None},
        key=connections.label_of,
    )
    if action == "status":
        return structured({"connections": [connections.status(key) for key in upstreams]})
    if action not in ("connect", "disconnect"):
        raise InvalidParams(f"{CONNECTIONS}: `action` must be status, connect or disconnect")
    label = arguments.get("upstream")
    key = next((k for k in upstreams if connections.label_of(k) == label), None)
    if key is None:
        known = ", ".join(connections.label_of(k) for k in upstreams) or "none"
        raise UnknownName(f"{CONNECTIONS}: no service {label!r} here (services: {known})")
    if action == "disconnect":
        await connections.disconnect(key)
    else:
        headers, env = arguments.get("headers") or {}, arguments.get("env") or {}
        if not headers and not env:
            link = await connections.authorization_link(key)
            if link is None:
                raise InvalidParams(f"{CONNECTIONS}: connect needs `headers` or `env` with the credentials")
            report = {**connections.status(key), "authorizationUrl": link}
            report["how"] = "open authorizationUrl in a browser and allow access; then the service's tools work"
            return structured({"connections": [report]})
        _check_pairs(headers, _HEADER_NAME, "headers")
        _check_pairs(env, _ENV_NAME, "env")
        await connections.connect(key, headers, env)
    return structured({"connections": [connections.status(key)]})


def _check_pairs(pairs: Any, name_pattern: re.Pattern[str], field_name: str) -> None:
    if not isinstance(pairs, dict):
        raise InvalidParams(f"{CONNECTIONS}: `{field_name}` must be an object of names to strings")
    for name, value in pairs.items():
        if not name_pattern.match(name) or not isinstance(value, str) or len(value) > 8192:
            raise InvalidParams(f"{CONNECTIONS}: `{field_name}` has an invalid name or value for {name!r}")


def structured(value: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": orjson.dumps(value).decode()}], "structuredContent": value}
