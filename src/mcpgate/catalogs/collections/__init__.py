"""Reference collections: any list of records served as read-only MCP tools and resources.

    async with open_collection(spec, fetch_seconds=30) as server:
        ...  # a CollectionServer, served to the hub through catalogs.channel

`load_collection` does the loading alone: the management API and the CLI call it to refuse
bad records at registration, before anything is stored.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from mcpgate.catalogs.collections.records import Collection, CollectionError
from mcpgate.catalogs.collections.server import CollectionServer
from mcpgate.catalogs.collections.sources import fetch_records
from mcpgate.errors import shown_url
from mcpgate.settings import CollectionUpstream

logger = logging.getLogger(__name__)

__all__ = ["CollectionError", "CollectionServer", "load_collection", "open_collection"]


async def load_collection(spec: CollectionUpstream, *, fetch_seconds: float) -> CollectionServer:
    """Every record read and checked, or `CollectionError` saying which and why."""
    records = await fetch_records(spec.location, fetch_seconds=fetch_seconds, headers=spec.headers)

    def described() -> Collection:
        return Collection.of(
            records,
            record=spec.record,
            id_field=spec.id_field,
            title_field=spec.title_field,
            category_field=spec.category_field,
            text_fields=spec.text_fields,
        )

    try:
        collection = await anyio.to_thread.run_sync(described)
    except CollectionError as exc:
        shown = shown_url(spec.location)
        raise CollectionError(f"{shown}: {exc.message}") from None
    return CollectionServer(spec.name, collection)


async def _warm(server: CollectionServer) -> None:
    try:
        await anyio.to_thread.run_sync(server.warm)  # a stop waits for it (≤ 2 s): no thread outlives its loop
    except Exception:  # searches build it again, and say what fails
        logger.exception("collection %s: building its search index failed", server.name)


@asynccontextmanager
async def open_collection(spec: CollectionUpstream, *, fetch_seconds: float) -> AsyncIterator[CollectionServer]:
    server = await load_collection(spec, fetch_seconds=fetch_seconds)
    async with anyio.create_task_group() as tasks:
        # The search index is built at once, off the event loop; a search before it is ready waits.
        tasks.start_soon(_warm, server)
        yield server
        tasks.cancel_scope.cancel()
