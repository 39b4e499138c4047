"""A ranked search over a changing set of documents: BM25 and static embeddings, fused.

    index = SearchIndex()
    index.update([Document("github_search", "github search", "Search code in repositories.", "github")])
    index.search("find code", limit=5, groups={"github"})

Rankers with different failures: BM25 (stemmed, stopwords out) rewards the exact words of a
name or an identifier; the cosine of each embedding table (by default two: WordLlama's and one
distilled from MiniLM, see embeddings.py) finds a paraphrase that shares no word with the
description, and the two tables miss different paraphrases. Each ranker's scores are
z-normalised per query and added, weighted, so no ranker's scale decides; a ranker with nothing
to say (no word in common) adds nothing. BM25 counts half as much as one table by default: on
MetaTool it then adds +0.01 R@5 to the two tables, at full weight it costs -0.01 (a weight
chosen while looking at MetaTool, from a flat range: 0.3-0.5 differ by 0.004; docs/benchmarks.md).

`update` keeps every vector of a document whose text did not change: only new or edited
documents are embedded, and the BM25 statistics (cheap) are recomputed.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np

from mcpgate.search.documents import Document, Hit
from mcpgate.search.embeddings import StaticEmbeddings, bundled_embeddings, limit_blas_threads
from mcpgate.search.text import content_words, terms

# bm25s sets its logger to DEBUG when imported, so its progress lines showed whatever the gateway's
# --log-level; back to inheriting the gateway's level.
logging.getLogger("bm25s").setLevel(logging.NOTSET)


@dataclass(frozen=True, slots=True)
class _State:
    documents: list[Document]
    vectors: tuple[np.ndarray, ...]  # per embedding, one unit row per document (contiguous: one pass each)
    groups: np.ndarray
    bm25: bm25s.BM25 | None


class SearchIndex:
    def __init__(
        self,
        embeddings: StaticEmbeddings | Sequence[StaticEmbeddings] | None = None,
        *,
        lexical_weight: float = 0.5,
        semantic_weight: float = 1.0,
    ) -> None:
        """`semantic_weight` is each embedding's, `lexical_weight` BM25's; either may be 0 (ranker off)."""
        limit_blas_threads()
        if embeddings is None:
            embeddings = bundled_embeddings()
        elif isinstance(embeddings, StaticEmbeddings):
            embeddings = (embeddings,)
        self.embeddings = tuple(embeddings)
        self.lexical_weight = lexical_weight
        self.semantic_weight = semantic_weight
        self._cached: dict[str, tuple[str, list[np.ndarray]]] = {}  # id → (full text, its vector per embedding)
        self._state = _State([], self._stacked([]), np.zeros(0), None)

    def __len__(self) -> int:
        return len(self._state.documents)

    def update(self, documents: Iterable[Document]) -> None:
        """Hold exactly `documents` from now on."""
        documents = list(documents)
        texts = [d.full_text for d in documents]
        stale = [
            i for i, (d, t) in enumerate(zip(documents, texts, strict=True)) if self._cached.get(d.id, ("",))[0] != t
        ]
        if stale:
            fresh = [e.embed([texts[i] for i in stale]) for e in self.embeddings]
            for row, i in enumerate(stale):
                self._cached[documents[i].id] = (texts[i], [vectors[row] for vectors in fresh])
        kept = {d.id for d in documents}
        for gone in [key for key in self._cached if key not in kept]:
            del self._cached[gone]
        vectors = self._stacked([self._cached[d.id][1] for d in documents])
        corpus = [terms(t) for t in texts]
        bm25 = None
        if any(corpus):
            bm25 = bm25s.BM25()
            bm25.index(corpus, show_progress=False)
        # One assignment: a search running meanwhile sees the old state or the new, never a mix.
        self._state = _State(documents, vectors, np.array([d.group for d in documents], dtype=object), bm25)

    def search(self, query: str, limit: int = 5, groups: Collection[str] | None = None) -> list[Hit]:
        """The best `limit` documents for `query`, best first (only those in `groups`, if given)."""
        state = self._state
        if not state.documents or limit < 1 or not query.strip():
            return []
        scores = np.zeros(len(state.documents), dtype=np.float32)
        if self.semantic_weight:
            text = content_words(query)
            for embeddings, vectors in zip(self.embeddings, state.vectors, strict=True):
                _add_standardised(scores, vectors @ embeddings.embed_one(text), self.semantic_weight)
        if state.bm25 is not None and self.lexical_weight:
            query_terms = terms(query)
            if query_terms:
                _add_standardised(scores, state.bm25.get_scores(query_terms), self.lexical_weight)
        if groups is not None:
            scores[~np.isin(state.groups, list(groups))] = -np.inf
        limit = min(limit, len(scores))
        top = np.argpartition(-scores, limit - 1)[:limit]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [Hit(state.documents[i].id, float(scores[i])) for i in top if np.isfinite(scores[i])]

    def _stacked(self, rows: list[list[np.ndarray]]) -> tuple[np.ndarray, ...]:
        """Per-document vectors (one per embedding) → one matrix per embedding."""
        return tuple(
            np.stack([r[n] for r in rows]) if rows else np.zeros((0, e.dimensions), dtype=np.float32)
            for n, e in enumerate(self.embeddings)
        )


def _add_standardised(total: np.ndarray, scores: np.ndarray, weight: float) -> None:
    """total += weight × scores at zero mean and unit spread; nothing when every document scores the
    same (nothing to say). In float32 and in place: at 10k documents each pass over the scores counts."""
    spread = float(scores.std())
    if spread == 0:
        return
    mean = float(scores.mean())
    scores = np.asarray(scores, dtype=np.float32)
    scores -= mean  # `scores` is always a fresh array here (a product's or BM25's result)
    scores *= weight / spread
    total += scores
