"""Reference collections at scale (issue #10): load 10,000 records, build their search index, search.

    .venv/bin/python bench/reference_collections.py        # 10,000 records: JSON, JSON Lines, YAML
    .venv/bin/python bench/reference_collections.py --records 50000 --formats json

Records are synthetic but shaped like real reference data (an id, a title, a category, a one-line
description and a few typed fields), written to a temporary file; the figures are the gateway's
own path — `load_collection` (read, parse, check every record, infer the fields), then the index
build (what a collection does in a worker thread once it is served), then searches through the
collection's search tool (the same call an MCP client's `<name>_search` makes, minus the transport).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from mcpgate.catalogs.collections import load_collection  # noqa: E402
from mcpgate.settings import CollectionUpstream  # noqa: E402

APPS = "slack gmail stripe shopify github jira notion airtable hubspot salesforce twilio discord dropbox s3".split()
OBJECTS = "message email invoice order issue page record contact deal file customer ticket event user".split()
VERBS = {
    "create": "Creates a new {o} in {a} from the fields you give",
    "update": "Changes the fields of an existing {o} in {a}",
    "delete": "Removes a {o} from {a} for good",
    "get": "Fetches one {o} from {a} by its id",
    "search": "Finds {o}s in {a} that match a query",
    "onCreated": "Fires when a {o} is added in {a}",
    "onUpdated": "Fires when any field of a {o} changes in {a}",
    "archive": "Moves a {o} in {a} to the archive",
}
CATEGORIES = ["action", "trigger", "transform", "logic", "ai", "storage", "messaging", "crm"]


def records(count: int) -> list[dict[str, object]]:
    rng = random.Random(7)
    made = []
    for n in range(count):
        app, obj, (verb, text) = rng.choice(APPS), rng.choice(OBJECTS), rng.choice(list(VERBS.items()))
        made.append(
            {
                "id": f"{app}.{verb}{obj.title()}.{n}",
                "title": f"{app.title()}: {verb} {obj}",
                "category": rng.choice(CATEGORIES),
                "description": text.format(a=app.title(), o=obj) + f", variant {n}.",
                "fields": {f"{obj}_id": "string", "workspace": "string", "limit": "integer"},
            }
        )
    return made


async def measure(path: Path, queries: list[str]) -> dict[str, float]:
    spec = CollectionUpstream(name="bench", location=str(path), record="node")
    started = time.perf_counter()
    server = await load_collection(spec, fetch_seconds=60)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    server.warm()
    built = time.perf_counter() - started
    search = server._handlers["bench_search"]
    for query in queries[:20]:
        await search({"query": query, "limit": 10})  # warm-up
    timings = []
    for query in queries:
        started = time.perf_counter()
        result = await search({"query": query, "limit": 10})
        timings.append(time.perf_counter() - started)
        assert result["structuredContent"]["results"], query
    get = server._handlers["bench_get"]
    first = next(iter(server.collection.by_id))
    get_timings = []
    for _ in range(200):
        started = time.perf_counter()
        await get({"id": first})
        get_timings.append(time.perf_counter() - started)
    return {
        "records": len(server.collection),
        "load_s": loaded,
        "index_s": built,
        "search_p50_ms": statistics.median(timings) * 1000,
        "search_p99_ms": sorted(timings)[int(len(timings) * 0.99) - 1] * 1000,
        "get_p50_ms": statistics.median(get_timings) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--formats", default="json,jsonl,yaml")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    data = records(args.records)
    rng = random.Random(11)
    queries = [f"{rng.choice(list(VERBS))} a {rng.choice(OBJECTS)} in {rng.choice(APPS)}" for _ in range(args.queries)]
    print(f"{args.records} records; {args.queries} searches (limit 10) through the collection's search tool")
    print(f"{'format':8} {'load s':>8} {'index s':>8} {'search p50 ms':>14} {'p99 ms':>8} {'get p50 ms':>11}")
    with tempfile.TemporaryDirectory() as folder:
        for fmt in args.formats.split(","):
            path = Path(folder) / f"records.{fmt}"
            if fmt == "yaml":
                path.write_text(yaml.safe_dump(data, sort_keys=False))
            elif fmt == "jsonl":
                path.write_text("\n".join(json.dumps(record) for record in data))
            else:
                path.write_text(json.dumps(data))
            figures = asyncio.run(measure(path, queries))
            print(
                f"{fmt:8} {figures['load_s']:8.3f} {figures['index_s']:8.2f} {figures['search_p50_ms']:14.2f} "
                f"{figures['search_p99_ms']:8.2f} {figures['get_p50_ms']:11.3f}"
            )


if __name__ == "__main__":
    main()
