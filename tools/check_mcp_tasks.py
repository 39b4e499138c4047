"""Check bench/data/mcp-tools/tasks.jsonl against servers.json.

    .venv/bin/python tools/check_mcp_tasks.py [--data DIR]

Checks that every `needs` and `alternatives` entry names a tool that exists in servers.json, that ids
are unique, that each row is well formed (kind "multi" needs 2-5 tools, "single" exactly one; every
alternatives key is one of the row's needs and no alternative repeats its key), and that no query
spells out a tool name (e.g. `git_diff_staged`, `query-docs`) or a compound server id (e.g.
`desktop-commander`) verbatim. Server ids that are plain product names (Slack, Notion, ...) are not
errors, since users name the service they mean; how many queries do is printed (ids that are plain
English words, such as chart, email or time, are not counted).

Prints counts per kind, the share of queries that touch each server (a query counts once per server),
and the servers and tools no query needs. Exits 1 on any error.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "bench" / "data" / "mcp-tools"
MAX_SHARE = 0.10  # no server should be needed by more than ~10% of the queries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    servers = json.loads((args.data / "servers.json").read_text())
    tools = {f"{s['server']}/{t['name']}" for s in servers for t in s["tools"]}
    tool_names = {t["name"] for s in servers for t in s["tools"]}
    server_ids = [s["server"] for s in servers]
    rows = [json.loads(line) for line in (args.data / "tasks.jsonl").read_text().splitlines() if line.strip()]

    errors: list[str] = []
    ids = collections.Counter(row.get("id") for row in rows)
    errors += [f"duplicate id {i!r} ({n}x)" for i, n in ids.items() if n > 1]
    queries = collections.Counter(row.get("query", "").strip().lower() for row in rows)
    errors += [f"duplicate query {q[:60]!r}" for q, n in queries.items() if n > 1]

    # tool names that look like identifiers (have _ - . or an inner capital) are never to appear in a query
    ident = re.compile(r"[_\-.]|[a-z][A-Z]")
    named_tools = sorted({n for n in tool_names if ident.search(n)}, key=len, reverse=True)
    compound_ids = [s for s in server_ids if "-" in s]
    generic = {"chart", "email", "time", "word", "news", "weather", "memory", "fetch", "calculator", "shell", "git"}
    product_ids = [s for s in server_ids if "-" not in s and s not in generic]
    product_mentions: collections.Counter[str] = collections.Counter()

    per_kind: collections.Counter[str] = collections.Counter()
    per_server: collections.Counter[str] = collections.Counter()
    needed_tools: collections.Counter[str] = collections.Counter()
    sizes: collections.Counter[int] = collections.Counter()
    for row in rows:
        rid, kind, query, needs = row.get("id"), row.get("kind"), row.get("query", ""), row.get("needs", [])
        alternatives = row.get("alternatives", {}) or {}
        if set(row) - {"id", "kind", "query", "needs", "alternatives"}:
            errors.append(
                f"{rid}: unexpected keys {sorted(set(row) - {'id', 'kind', 'query', 'needs', 'alternatives'})}"
            )
        if kind not in {"multi", "single"}:
            errors.append(f"{rid}: kind {kind!r}")
            continue
        per_kind[kind] += 1
        sizes[len(needs)] += 1
        if kind == "single" and len(needs) != 1:
            errors.append(f"{rid}: single with {len(needs)} needs")
        if kind == "multi" and not 2 <= len(needs) <= 5:
            errors.append(f"{rid}: multi with {len(needs)} needs")
        if len(set(needs)) != len(needs):
            errors.append(f"{rid}: a tool is listed twice in needs")
        for need in needs:
            if need not in tools:
                errors.append(f"{rid}: unknown tool {need!r}")
        for key, others in alternatives.items():
            if key not in needs:
                errors.append(f"{rid}: alternatives key {key!r} is not in needs")
            for other in others:
                if other not in tools:
                    errors.append(f"{rid}: unknown alternative {other!r}")
                if other == key:
                    errors.append(f"{rid}: {key!r} lists itself as an alternative")
        lowered = query.lower()
        for name in named_tools:
            if re.search(rf"(?<![\w/-]){re.escape(name.lower())}(?![\w-])", lowered):
                errors.append(f"{rid}: query names the tool {name!r}")
                break
        for sid in compound_ids:
            if re.search(rf"(?<![\w/-]){re.escape(sid)}(?![\w-])", lowered):
                errors.append(f"{rid}: query names the server id {sid!r}")
        for sid in product_ids:
            if re.search(rf"\b{re.escape(sid)}\b", lowered):
                product_mentions[sid] += 1
        touched = {need.split("/")[0] for need in needs}
        for options in alternatives.values():
            touched |= {other.split("/")[0] for other in options}
        per_server.update(touched)
        needed_tools.update(needs)
        for options in alternatives.values():
            needed_tools.update(options)

    total = len(rows)
    print(f"{total} queries: " + ", ".join(f"{k} {n}" for k, n in sorted(per_kind.items())))
    print("tools needed per query: " + ", ".join(f"{k}: {n}" for k, n in sorted(sizes.items())))
    print(
        f"servers.json: {len(servers)} servers, {len(tools)} tools; "
        f"{len(needed_tools)} distinct tools needed or accepted ({len(needed_tools) / len(tools):.0%})"
    )
    print(f"\n{'server':<22} {'tools':>5} {'queries':>8} {'share':>6} {'tools used':>10}")
    for server in server_ids:
        n_tools = sum(1 for t in tools if t.startswith(server + "/"))
        used = sum(1 for t in needed_tools if t.startswith(server + "/"))
        share = per_server[server] / total if total else 0
        flag = "  <- over 10%" if share > MAX_SHARE else ""
        print(f"{server:<22} {n_tools:>5} {per_server[server]:>8} {share:>6.1%} {used:>10}{flag}")
    unused = [s for s in server_ids if not per_server[s]]
    print(f"\nservers no query touches: {unused or 'none'}")
    mentioned = sum(product_mentions.values())
    print(
        f"queries naming a service by its product name (= a one-word server id): {mentioned} "
        f"({', '.join(f'{k} {n}' for k, n in product_mentions.most_common())})"
    )
    over = [s for s in server_ids if per_server[s] / max(total, 1) > MAX_SHARE]
    if over:
        print(f"note: over {MAX_SHARE:.0%} of the queries: {over}")
    for line in errors:
        print("ERROR", line)
    print(f"\n{len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
