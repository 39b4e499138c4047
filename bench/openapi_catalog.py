"""OpenAPI catalogs at the scale of a real API: load and search times.

    make bench-catalog                 # or: .venv/bin/python bench/openapi_catalog.py

The document is tests/upstreams/big_openapi.py's generated one (~1,100 operations, 0.9 MB of
JSON), written to a temporary file as JSON and as YAML. "load" is what registering or
connecting the catalog costs: read, parse, check every `$ref`, build the search index. The
search figures are single queries (free text, with and without filters) over all operations.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.upstreams.big_openapi import big_spec, operation_count

from mcpgate.catalogs.openapi.document import load_document
from mcpgate.catalogs.openapi.operations import Operations

QUERIES = [
    ("remind a customer that their invoice is overdue", {}),
    ("text a customer on their phone", {}),
    ("which time slots are free for an appointment", {}),
    ("export everything to a spreadsheet", {"service": "contacts"}),
    ("delete", {"method": "DELETE"}),
]


async def load(path: Path) -> tuple[float, Operations]:
    started = time.perf_counter()
    document = await load_document(str(path), timeout=10)
    operations = Operations.of(document)
    return time.perf_counter() - started, operations


async def main() -> None:
    spec = big_spec()
    with tempfile.TemporaryDirectory() as folder:
        as_json, as_yaml = Path(folder) / "api.json", Path(folder) / "api.yaml"
        as_json.write_text(json.dumps(spec))
        as_yaml.write_text(yaml.safe_dump(spec))
        print(f"document: {operation_count(spec)} operations, JSON {as_json.stat().st_size / 1e6:.2f} MB")
        for label, path in (("JSON", as_json), ("YAML", as_yaml)):
            times = []
            for _ in range(3):
                elapsed, operations = await load(path)
                times.append(elapsed)
            print(f"load ({label}: parse, check refs, index): best {min(times):.3f} s, worst {max(times):.3f} s")
    latencies = []
    for _ in range(40):
        for query, filters in QUERIES:
            started = time.perf_counter()
            operations.search(query, limit=10, **filters)
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"search ({len(latencies)} queries): p50 {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    anyio.run(main)
