"""The development sets tool search is measured on, as documents to index and labelled queries.

    metatool(DATA, half="A")        # MetaTool's single-tool queries, one of two fixed halves
    metatool_multi(DATA)            # MetaTool's queries that need several tools
    mcp_tasks(MCP_TASKS, "multi")   # real MCP servers' tools; tasks needing 2-5 of them (half= as above)
    mcp_tasks(MCP_TASKS, "single")  # the same tools; one action, near neighbours around it

    recall(search, a_set)           # {1: …, 5: …, 10: …}: per query, the share of its needs found

A query's needs are each a set of tools that would do (a tool and its listed alternatives); a need
is found at k when any of them is among the top k. For a one-need query recall@k is hit@k.

MetaTool's halves are fixed by a hash of the query's text, so every run and every method sees the
same split: a weight is chosen on one half and reported on the other. The MCP tasks split the same
way (the threshold of index.NEED_STANDS_OUT was chosen on the multi-step tasks' half A). The held-out sets of issue
#30 (LiveMCPBench, MCPToolBench++) are not here and must never be: they measure what this tunes.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mcpgate.hub.smart import _document as tool_document
from mcpgate.search import Document
from mcpgate.search.text import split_name

ROOT = Path(__file__).resolve().parent
DATA = ROOT.parents[1] / "shared" / "data" / "tool-retrieval" / "metatool"
MCP_TASKS = ROOT / "data" / "mcp-tools"


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    needs: tuple[frozenset[str], ...]


@dataclass(frozen=True, slots=True)
class SearchSet:
    name: str
    documents: list[Document]
    queries: list[Query]


def half_of(text: str) -> str:
    return "A" if hashlib.sha256(text.encode()).digest()[0] % 2 == 0 else "B"


def _metatool_documents(data: Path) -> list[Document]:
    tools = json.loads((data / "plugin_des.json").read_text())
    return [Document(name, split_name(name), description) for name, description in tools.items()]


def metatool(data: Path = DATA, half: str | None = None) -> SearchSet:
    with (data / "all_clean_data.csv").open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if half is None or half_of(row["Query"]) == half]
    queries = [Query(row["Query"], (frozenset({row["Tool"]}),)) for row in rows]
    return SearchSet(f"MetaTool{' ' + half if half else ''}", _metatool_documents(data), queries)


def metatool_multi(data: Path = DATA) -> SearchSet:
    golden = json.loads((data / "multi_tool_query_golden.json").read_text())
    queries = [Query(q["query"], tuple(frozenset({tool}) for tool in q["tool"])) for q in golden]
    return SearchSet("MetaTool multi", _metatool_documents(data), queries)


def mcp_tools(path: Path = MCP_TASKS) -> list[Document]:
    """Every tool of every server, as a SMART server indexes it (named `<server>_<tool>`)."""
    documents = []
    for server in json.loads((path / "servers.json").read_text()):
        for tool in server["tools"]:
            named = {**tool, "name": exposed(server["server"], tool["name"])}
            documents.append(tool_document(named, server["server"]))
    return documents


def exposed(server: str, tool: str) -> str:
    return f"{server.replace('-', '_')}_{tool}"


def mcp_tasks(path: Path = MCP_TASKS, kind: str = "multi", half: str | None = None) -> SearchSet:
    queries = []
    for line in (path / "tasks.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        task = json.loads(line)
        if task["kind"] != kind or (half is not None and half_of(task["query"]) != half):
            continue
        alternatives = task.get("alternatives", {})
        needs = tuple(
            frozenset(exposed(*ref.split("/", 1)) for ref in (need, *alternatives.get(need, ())))
            for need in task["needs"]
        )
        queries.append(Query(task["query"], needs))
    return SearchSet(f"MCP tasks, {kind}{' ' + half if half else ''}", mcp_tools(path), queries)


def recall(
    search: Callable[[str], Sequence[str]], a_set: SearchSet, ks: Sequence[int] = (1, 5, 10)
) -> dict[int, float]:
    """Mean over queries of the share of needs found in the top k (`search` answers ids, best first)."""
    totals = dict.fromkeys(ks, 0.0)
    for query in a_set.queries:
        ranked = list(search(query.text))
        for k in ks:
            top = set(ranked[:k])
            totals[k] += sum(bool(need & top) for need in query.needs) / len(query.needs)
    return {k: total / len(a_set.queries) for k, total in totals.items()}
