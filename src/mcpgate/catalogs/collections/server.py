"""A reference collection as an MCP server: three read-only tools and one resource per record.

For a collection `nodes` of "workflow node" records:

    nodes_categories                                  → {"categories": [{"category": "action", "count": 161}, …]}
    nodes_search {"query": "post to a Slack channel", "category": "action"}
                                                      → ranked hits: id, title, category, uri, snippet
    nodes_get {"id": "slack.sendMessage"}             → the record in full
    resources/read nodes://slack.sendMessage          → the same record, as JSON

The tools carry the collection's name themselves (a collection is unprefixed by default), so a
record's URI is exactly `<collection>://<id>`. Nothing here needs a credential. Search is the
same engine as tool and endpoint search; the index is built in a worker thread as soon as the
collection is served, and a search that arrives before it is ready waits for it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

import anyio
import orjson

from mcpgate.catalogs.collections.records import Collection
from mcpgate.catalogs.tool_results import MAX_LIMIT, ArgumentError, error, limit, result, snippet
from mcpgate.errors import UnknownName
from mcpgate.search import DeferredIndex, Document
from mcpgate.search.text import split_name

_READ_ONLY = {"readOnlyHint": True, "openWorldHint": False}
_SNIPPET_CHARS = 240
_ENUM_CATEGORIES = 100  # up to this many, the search tool's `category` lists them


class CollectionServer:
    def __init__(self, name: str, collection: Collection) -> None:
        self.name = name
        self.collection = collection
        self.scheme = name  # settings check that a collection's name is a valid URI scheme
        self.passthrough_headers: list[str] = []  # reference data: no caller credential is ever needed
        self.needs_credentials = False
        self.resource_tool = f"{name}_get"  # reads a record, as its resource does
        self._index = DeferredIndex(self._documents)
        self._tools = self._list_tools()
        self._handlers = {
            f"{name}_categories": self._categories,
            f"{name}_search": self._search,
            f"{name}_get": self._get,
        }

    def warm(self) -> None:
        """Build the search index (blocking: call it from a worker thread)."""
        self._index.built()

    # -- what a client sees -----------------------------------------------------------

    def capabilities(self) -> dict[str, Any]:
        return {"tools": {}, "resources": {}}

    def instructions(self) -> str:
        collection, name = self.collection, self.name
        return (
            f"{len(collection)} {collection.record} records in {len(collection.categories) or 'no'} categories. "
            f"{name}_categories lists the categories, {name}_search finds records by what you need, "
            f"{name}_get returns one in full (also readable as the resource {name}://<id>)."
        )

    def tools(self) -> list[dict[str, Any]]:
        return self._tools

    def resources(self) -> list[dict[str, Any]]:
        collection = self.collection
        return [
            {"uri": self.uri(key), "name": key, "title": collection.title_of(item), "mimeType": "application/json"}
            for key, item in collection.by_id.items()
        ]

    def read_resource(self, uri: str) -> dict[str, Any]:
        prefix = f"{self.scheme}://"
        item = self.collection.by_id.get(unquote(uri[len(prefix) :])) if uri.startswith(prefix) else None
        if item is None:
            raise UnknownName(f"Unknown resource: {uri}")
        return {"contents": [{"uri": uri, "mimeType": "application/json", "text": orjson.dumps(item).decode()}]}

    async def call_tool(self, name: str, arguments: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        handler = self._handlers.get(name)
        if handler is None:
            raise UnknownName(f"Unknown tool: {name}")
        try:
            return await handler(arguments)
        except ArgumentError as exc:
            return error(str(exc))

    def uri(self, key: str) -> str:
        return f"{self.scheme}://{quote(key, safe='')}"

    # -- the tools ----------------------------------------------------------------------

    async def _categories(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        collection = self.collection
        return result(
            {
                "collection": self.name,
                "record": collection.record,
                "total": len(collection),
                "categoryField": collection.fields.category,
                "categories": [{"category": c, "count": n} for c, n in collection.categories.items()],
            }
        )

    async def _search(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ArgumentError("`query` is required: what you are looking for, in your own words")
        category = arguments.get("category")
        if category in (None, ""):
            groups = None
        elif isinstance(category, str) and category in self.collection.categories:
            groups = {category}
        else:
            known = ", ".join(list(self.collection.categories)[:30])
            raise ArgumentError(f"no category {category!r} in {self.name}; the categories are: {known}")
        count = limit(arguments)
        # In a worker thread: the first search may still be waiting for the index to be built.
        hits = await anyio.to_thread.run_sync(lambda: self._index.search(query, count, groups))
        collection = self.collection
        results = []
        for hit in hits:
            item = collection.by_id[hit.id]
            results.append(
                {
                    "id": hit.id,
                    "title": collection.title_of(item),
                    "category": collection.category_of(item),
                    "uri": self.uri(hit.id),
                    "snippet": snippet(collection.text_of(item), _SNIPPET_CHARS),
                }
            )
        return result({"query": query, "category": category or None, "results": results})

    async def _get(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        key = arguments.get("id")
        if isinstance(key, int) and not isinstance(key, bool):
            key = str(key)
        if not isinstance(key, str) or not key:
            raise ArgumentError("`id` is required: a record's id, as search returns it")
        item = self.collection.by_id.get(key)
        if item is None:
            close = difflib.get_close_matches(key, self.collection.by_id.keys(), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else f"; try {self.name}_search"
            raise ArgumentError(f"no {self.collection.record} with id {key!r} in {self.name}{hint}")
        return result({"id": key, "uri": self.uri(key), "record": item})

    # -- building -------------------------------------------------------------------------

    def _documents(self) -> list[Document]:
        collection = self.collection
        return [
            Document(
                key,
                f"{collection.title_of(item)} {split_name(key)}",
                collection.text_of(item),
                collection.category_of(item),
            )
            for key, item in collection.by_id.items()
        ]

    def _list_tools(self) -> list[dict[str, Any]]:
        name, collection = self.name, self.collection
        record = collection.record
        category: dict[str, Any] = {"type": "string", "description": f"Only {record} records of this category."}
        if 0 < len(collection.categories) <= _ENUM_CATEGORIES:
            category["enum"] = list(collection.categories)
        search_properties: dict[str, Any] = {
            "query": {"type": "string", "description": f"What you need, in your own words: finds the {record}."},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "description": "How many (default 10)."},
        }
        if collection.categories:
            search_properties["category"] = category
        return [
            _tool(
                f"{name}_categories",
                f"List the categories of the {len(collection)} {record} records in {name}, with how many each holds.",
                {},
            ),
            _tool(
                f"{name}_search",
                f"Search the {record} records in {name} by what you need (ranked; optionally within one "
                f"category). Returns ids, titles and snippets; {name}_get gives one in full.",
                search_properties,
                required=["query"],
            ),
            _tool(
                f"{name}_get",
                f"One {record} record of {name} in full, by its id.",
                {"id": {"type": "string", "description": f"The {record}'s id, as {name}_search returns it."}},
                required=["id"],
            ),
        ]


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return {"name": name, "description": description, "inputSchema": schema, "annotations": _READ_ONLY}
