"""Tool search: quality on every development set, and speed at scale.

    make bench-search                 # or: .venv/bin/python bench/tool_search.py [--tools 10000]

Quality: each set of search_sets.py (MetaTool's halves and its multi-tool queries; the tools of 70
real MCP servers with multi-step tasks, by half and whole, and single requests) is indexed as
mcpgate indexes tools, every query is searched, and recall@1/5/10 is printed for BM25 alone, the
tables of #7, the encoder alone, and the fusions at a few encoder weights (the default among
them). The queries only ever measure: a weight or threshold is chosen on a half A, never on the
figures reported beside it.

Queries/s: the encoder's rankers after the first reuse the queries' encodings (RememberingEncoder),
so only the first one's rate includes encoding them; the scale run below times real searches.

Scale: `--tools` tools (the MCP servers' 1,257, then synthetic ones: verbs × objects × services,
with parameters) are indexed; the build time, the time to re-index after 1% of the tools change
(only those are re-embedded), and the p50/p99 latency of synthetic one-need and three-need requests
and of the MCP servers' multi-step tasks and single requests are printed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from mcpgate.search import Document, SearchIndex
from mcpgate.search.encoder import SentenceEncoder
from mcpgate.search.text import split_name

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_sets import DATA, MCP_TASKS, SearchSet, mcp_tasks, metatool, metatool_multi, recall


def sets(data: Path) -> list[SearchSet]:
    """Every development set there is: MetaTool's halves and its multi-tool queries, and the MCP
    servers' tools with task queries (bench/data/mcp-tools), when present."""
    found = [metatool(data, "A"), metatool(data, "B"), metatool_multi(data)]
    if (MCP_TASKS / "tasks.jsonl").exists():
        found += [mcp_tasks(MCP_TASKS, "multi", "A"), mcp_tasks(MCP_TASKS, "multi", "B")]
        found += [mcp_tasks(MCP_TASKS, "multi"), mcp_tasks(MCP_TASKS, "single")]
    return found


class RememberingEncoder(SentenceEncoder):
    """The bundled encoder, remembering every text's vector: the rankers below share the queries'
    encodings, so each query is encoded once per run, not once per ranker (a vector does not
    depend on what else is encoded: encoder.py)."""

    def __init__(self) -> None:
        bundled = SentenceEncoder.bundled()
        super().__init__(bundled._model, bundled.tokenizer)
        self.known: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str], threads: int = 1) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self.known]
        if new:
            self.known.update(zip(new, super().embed(new, threads), strict=True))
        return np.stack([self.known[t] for t in texts]) if texts else super().embed([], threads)


def quality(data: Path) -> None:
    encoder = RememberingEncoder()
    rankers = {
        "BM25 (stemmed, stopwords out)": lambda: SearchIndex([]),
        "wordllama + minilm tables + BM25 0.5 (#7's default)": SearchIndex,
        "encoder alone (whole query and its parts)": lambda: SearchIndex([], lexical_weight=0, encoder=encoder),
        "encoder 1 + tables + BM25 0.5": lambda: SearchIndex(encoder=encoder, encoder_weight=1.0),
        "encoder 2 + tables + BM25 0.5 (mcpgate default)": lambda: SearchIndex(encoder=encoder),
        "encoder 3 + tables + BM25 0.5": lambda: SearchIndex(encoder=encoder, encoder_weight=3.0),
    }
    for a_set in sets(data):
        print(f"\n{a_set.name}: {len(a_set.documents)} tools, {len(a_set.queries)} queries")
        print(f"{'ranker':<52} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'queries/s':>10}")
        for label, make in rankers.items():
            index = make()
            index.update(a_set.documents)
            index.wait_encoded(600)
            started = time.perf_counter()
            found = recall(lambda text, index=index: [hit.id for hit in index.search(text, 10)], a_set)
            rate = len(a_set.queries) / (time.perf_counter() - started)
            print(f"{label:<52} " + " ".join(f"{found[k]:>6.3f}" for k in (1, 5, 10)) + f" {rate:>10,.0f}")


VERBS = "search list create update delete get export import summarize translate schedule send book compare".split()
OBJECTS = "issue invoice contact meeting flight hotel document repository ticket payment report playlist".split()
SERVICES = "github jira salesforce stripe notion slack gmail calendar drive spotify zendesk hubspot".split()


def synthetic_tools(count: int, seed: int = 7) -> list[Document]:
    chooser = random.Random(seed)
    documents = []
    for n in range(count):
        verb, thing, service = chooser.choice(VERBS), chooser.choice(OBJECTS), chooser.choice(SERVICES)
        name = f"{service}_{verb}_{thing}_{n}"
        text = (
            f"{verb.capitalize()} a {thing} in {service.capitalize()}. Returns the {thing} with its id and "
            f"status. query: words to look for. limit: how many {thing}s at most"
        )
        documents.append(Document(name, split_name(name), text, service))
    return documents


def scale(count: int) -> None:
    """Build, re-index and query times at `count` tools: the static part at once, the encoder's in
    the background (searched meanwhile: it must never block a search). The MCP servers' 1,257 real
    tools are among them, so their multi-step tasks (long requests of several needs, like the ones
    a SMART server is asked) and single requests are timed at that size too."""
    real = mcp_tasks(MCP_TASKS, "multi") if (MCP_TASKS / "tasks.jsonl").exists() else None
    documents = (real.documents if real else [])[:count]
    documents += synthetic_tools(count - len(documents))
    index = SearchIndex(encoder=SentenceEncoder.bundled())
    chooser = random.Random(11)
    queries = [
        f"{chooser.choice(['please', 'I need to', 'help me'])} {chooser.choice(VERBS)} the "
        f"{chooser.choice(OBJECTS)} for {chooser.choice(['our team', 'a customer', 'next week'])}"
        for _ in range(2000)
    ]
    started = time.perf_counter()
    index.update(documents)
    static = time.perf_counter() - started
    during = latencies(index, queries[:200])  # while the encoder runs beside
    index.wait_encoded(600)
    encoded = time.perf_counter() - started
    changed = list(documents)
    for i in range(0, count, 100):  # 1% edited
        d = changed[i]
        changed[i] = Document(d.id, d.name, d.text + " Now with attachments.", d.group)
    started = time.perf_counter()
    index.update(changed)
    index.wait_encoded(600)
    refresh = time.perf_counter() - started
    latencies(index, queries[:50])  # warm caches
    after = latencies(index, queries)
    several = latencies(index, [three_needs(chooser) for _ in range(500)])
    print(
        f"\n{count:,} tools: searchable after {static:.2f} s (BM25 and tables), encoder ready after "
        f"{encoded:.1f} s; re-index after 1% changed {refresh:.2f} s (encoder included)\n"
        f"p50 / p99 in ms: synthetic one-need requests {during[0]:.2f} / {during[1]:.2f} while encoding, "
        f"{after[0]:.2f} / {after[1]:.2f} with the encoder; synthetic three-need requests "
        f"{several[0]:.2f} / {several[1]:.2f}"
    )
    if real:
        tasks = latencies(index, [q.text for q in real.queries])
        single = latencies(index, [q.text for q in mcp_tasks(MCP_TASKS, "single").queries])
        print(
            f"p50 / p99 in ms: the MCP servers' multi-step tasks {tasks[0]:.2f} / {tasks[1]:.2f}, "
            f"their single requests {single[0]:.2f} / {single[1]:.2f}"
        )


def three_needs(chooser: random.Random) -> str:
    """A request in three parts, each a need of its own (each part is scored apart: the slow case)."""
    first, second, third = (chooser.choice(VERBS) for _ in range(3))
    return (
        f"{first} the {chooser.choice(OBJECTS)} in {chooser.choice(SERVICES).capitalize()}, then {second} every "
        f"{chooser.choice(OBJECTS)} of last week and {third} a {chooser.choice(OBJECTS)} for the team"
    )


def latencies(index: SearchIndex, queries: list[str]) -> tuple[float, float]:
    timings = []
    for query in queries:
        started = time.perf_counter()
        index.search(query, 10)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.99)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--tools", type=int, default=10_000)
    args = parser.parse_args()
    if not (args.data / "plugin_des.json").exists():
        sys.exit(f"MetaTool data not found in {args.data} (use --data)")
    quality(args.data)
    scale(args.tools)


if __name__ == "__main__":
    main()
