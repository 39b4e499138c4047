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

With an `encoder` (encoder.py: a transformer, ~4-9 ms of CPU per document) the documents are
encoded in the background after each update (a thread per core, niced below the gateway's: idle
cores do it), and until that is done a search answers from the rankers above; the encoder's
ranker joins once every current document has its vector. At
search time the query is encoded whole and, when it has several parts (`text.needs`: "get the top
posts, then save them as a PDF"), part by part: a document's encoder score is its best cosine to
any of them, so each need of a multi-step request finds its own tools instead of one vector
pointing between them; and a part whose best tool stands out clearly gets that tool a place right
after the first result, so five neighbours of one need cannot push out the only match of another.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import bm25s
import numpy as np

from mcpgate.search.documents import Document, Hit
from mcpgate.search.embeddings import StaticEmbeddings, bundled_embeddings, limit_blas_threads
from mcpgate.search.text import content_words, needs, terms

if TYPE_CHECKING:
    from mcpgate.search.encoder import SentenceEncoder
    from mcpgate.search.vector_cache import VectorCache

# bm25s sets its logger to DEBUG when imported, so its progress lines showed whatever the gateway's
# --log-level; back to inheriting the gateway's level.
logging.getLogger("bm25s").setLevel(logging.NOTSET)

# How far a part's best document must stand above the mean of its fused scores to be moved up
# (`_covering_needs`), in standard deviations and as a multiple of sqrt(2 ln n), about where the
# best of n unrelated scores lands (so a catalog of 40 tools is judged like one of 1,000). Chosen
# on half A of the MCP servers' multi-step tasks (1,257 tools: 1.1-1.3 equal there; 1.3 costs
# MetaTool's single requests least), reported on half B.
NEED_STANDS_OUT = 1.3

# How far below the gateway's threads the background encoding runs: at nice 10 a thread gets about
# a tenth of a core that a normal thread also wants, and all of an idle one.
BACKGROUND_NICENESS = 10
# Threads that encode one index's tools at most (by default one per core): four bring 10,000 tools
# to about a quarter of a minute, and a host with many SMART servers does not start hundreds.
MAX_ENCODER_THREADS = 4


@dataclass(frozen=True, slots=True)
class _State:
    documents: list[Document]
    vectors: tuple[np.ndarray, ...]  # per embedding, one unit row per document (contiguous: one pass each)
    groups: np.ndarray
    bm25: bm25s.BM25 | None
    encoded: np.ndarray | None = None  # the encoder's unit row per document, once all are encoded


@dataclass(frozen=True, slots=True)
class _Signals:
    """What each ranker says of every document for a request's texts: the whole request, then each
    of its parts (`text.needs`); one row per text."""

    texts: int
    documents: int
    tables: list[np.ndarray]  # per table: (texts, documents) cosines
    lexical: list[np.ndarray | None]  # per text: BM25's scores (None: no term to look for)
    cosines: np.ndarray | None  # the encoder's (texts, documents), once every document has its vector


class SearchIndex:
    def __init__(
        self,
        embeddings: StaticEmbeddings | Sequence[StaticEmbeddings] | None = None,
        *,
        lexical_weight: float = 0.5,
        semantic_weight: float = 1.0,
        encoder: SentenceEncoder | None = None,
        encoder_weight: float = 2.0,
        encoder_threads: int | None = None,
        query_threads: int = 2,
        vector_cache: VectorCache | None = None,
    ) -> None:
        """`semantic_weight` is each embedding's, `lexical_weight` BM25's, `encoder_weight` the
        encoder's; any may be 0 (ranker off). `encoder_threads`: how many tools are encoded at once
        in the background (by default one per core up to MAX_ENCODER_THREADS, on threads niced
        below the gateway's: an idle core is used, a busy one is left to serving and searches;
        10,000 tools take ~50-115 s on one core here, depending on the machine);
        `query_threads`: a request's (two: a request of three needs is encoded in 6 ms, not 8.5)."""
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
        self.encoder = encoder
        self.encoder_weight = encoder_weight
        self.encoder_threads = encoder_threads or min(_cores(), MAX_ENCODER_THREADS)
        self.query_threads = query_threads
        self.vector_cache = vector_cache  # the encoder's vectors of earlier runs, by text
        self._encoded: dict[str, tuple[str, np.ndarray]] = {}  # id → (encoder text, the encoder's vector)
        self._encoding = threading.Condition()  # guards the three below
        self._pending: list[Document] | None = None  # the newest documents still to encode
        self._encoder_busy = False
        self._encoded_event = threading.Event()  # set while the state has every document's vector

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
        groups = np.array([d.group for d in documents], dtype=object)
        with self._encoding:
            encoded = self._encoded_rows(documents)
            # One assignment: a search running meanwhile sees the old state or the new, never a mix.
            self._state = _State(documents, vectors, groups, bm25, encoded)
            if self.encoder is None or not self.encoder_weight or encoded is not None:
                self._pending = None
                self._forget_all_but(documents)
                self._encoded_event.set()
                return
            self._encoded_event.clear()
            self._pending = documents
            if not self._encoder_busy:
                self._encoder_busy = True
                threading.Thread(target=self._encode_pending, name="search-encoder", daemon=True).start()

    def wait_encoded(self, timeout: float) -> bool:
        """Whether every current document has its encoder vector (waiting up to `timeout` s)."""
        return self._encoded_event.wait(timeout)

    def _encoded_rows(self, documents: list[Document]) -> np.ndarray | None:
        if self.encoder is None:
            return None
        rows = [self._encoded.get(d.id) for d in documents]
        if any(row is None or row[0] != d.encoder_text for row, d in zip(rows, documents, strict=True)):
            return None
        if not rows:
            return np.zeros((0, self.encoder.dimensions), dtype=np.float32)
        return np.stack([row[1] for row in rows if row is not None])

    def _forget_all_but(self, documents: list[Document]) -> None:
        kept = {d.id for d in documents}
        for gone in [key for key in self._encoded if key not in kept]:
            del self._encoded[gone]

    def _encode_pending(self) -> None:
        """The background encoding: the newest update's documents whose vectors are missing, a batch
        at a time (a newer update is picked up between batches), then a state with them all."""
        _lower_priority()
        with ThreadPoolExecutor(max(self.encoder_threads - 1, 1), "search-encoder", _lower_priority) as helpers:
            self._encode_all_pending(helpers)

    def _encode_all_pending(self, helpers: ThreadPoolExecutor) -> None:
        assert self.encoder is not None
        while True:
            with self._encoding:
                documents = self._pending
                if documents is None:
                    self._encoder_busy = False
                    return
            missing = [d for d in documents if self._encoded.get(d.id, ("",))[0] != d.encoder_text]
            missing = self._recalled(missing)
            for start in range(0, len(missing), 256):
                batch = missing[start : start + 256]
                vectors = self._embedded([d.encoder_text for d in batch], helpers)
                if self.vector_cache is not None:
                    self.vector_cache.put([d.encoder_text for d in batch], vectors)
                with self._encoding:
                    for d, vector in zip(batch, vectors, strict=True):
                        self._encoded[d.id] = (d.encoder_text, vector)
                    if self._pending is not documents:
                        break  # a newer update: encode that instead (what was done is kept)
            if self.vector_cache is not None and missing and self._pending is documents:
                self.vector_cache.save()  # before the vectors are in use: what a restart will find
            with self._encoding:
                if self._pending is not documents:
                    continue
                self._pending = None
                self._forget_all_but(documents)
                if self._state.documents is documents:
                    self._state = replace(self._state, encoded=self._encoded_rows(documents))
                    self._encoded_event.set()

    def _embedded(self, texts: list[str], helpers: ThreadPoolExecutor) -> np.ndarray:
        """`texts`' vectors, one share per thread: this one and each helper encode theirs a text at
        a time on one core (a text's vector does not depend on the others: encoder.py)."""
        assert self.encoder is not None
        encoder = self.encoder
        shares = np.array_split(np.arange(len(texts)), self.encoder_threads)
        done = [helpers.submit(encoder.embed, [texts[i] for i in share]) for share in shares[1:]]
        first = encoder.embed([texts[i] for i in shares[0]])
        return np.concatenate([first, *(future.result() for future in done)])

    def _recalled(self, missing: list[Document]) -> list[Document]:
        """`missing` without the documents whose vectors the cache has (those are taken from it)."""
        if self.vector_cache is None:
            return missing
        left = []
        for d in missing:
            vector = self.vector_cache.get(d.encoder_text)
            if vector is None:
                left.append(d)
            else:
                with self._encoding:
                    self._encoded[d.id] = (d.encoder_text, vector)
        return left

    def search(self, query: str, limit: int = 5, groups: Collection[str] | None = None) -> list[Hit]:
        """The best `limit` documents for `query`, best first (only those in `groups`, if given).
        A hit's score is the whole request's; for a request of several needs the order is not
        by score alone (see `_covering_needs`)."""
        state = self._state
        if not state.documents or limit < 1 or not query.strip():
            return []
        signals = self._signals(state, [query, *needs(query)])
        scores = self._fused(signals, 0)
        allowed = None if groups is None else np.isin(state.groups, list(groups))
        if allowed is not None:
            scores[~allowed] = -np.inf
        limit = min(limit, len(scores))
        top = np.argpartition(-scores, limit - 1)[:limit]
        ranked = [int(i) for i in top[np.argsort(-scores[top], kind="stable")] if np.isfinite(scores[i])]
        if signals.texts > 1 and len(ranked) > 1:
            ranked = self._covering_needs(signals, ranked, allowed)[:limit]
        return [Hit(state.documents[i].id, float(scores[i])) for i in ranked]

    def _signals(self, state: _State, texts: list[str]) -> _Signals:
        """What every ranker says of every document for each of `texts`."""
        tables = []
        if self.semantic_weight:
            for embeddings, vectors in zip(self.embeddings, state.vectors, strict=True):
                tables.append(_products(vectors, embeddings.embed([content_words(text) for text in texts])))
        lexical: list[np.ndarray | None] = []
        if state.bm25 is not None and self.lexical_weight:
            for text in texts:
                query_terms = terms(text)
                lexical.append(state.bm25.get_scores(query_terms) if query_terms else None)
        cosines = None
        if state.encoded is not None and self.encoder is not None and len(state.encoded):
            cosines = _products(state.encoded, self.encoder.embed(texts, self.query_threads))
        return _Signals(len(texts), len(state.documents), tables, lexical, cosines)

    def _fused(self, signals: _Signals, text: int) -> np.ndarray:
        """Every document's fused score for text number `text` (0: the whole request, whose
        encoder score is its best cosine to the request or to any of its parts)."""
        scores = np.zeros(signals.documents, dtype=np.float32)
        for table in signals.tables:
            _add_standardised(scores, table[text], self.semantic_weight)
        if signals.cosines is not None:
            cosines = signals.cosines.max(axis=0) if text == 0 else signals.cosines[text]
            _add_standardised(scores, cosines, self.encoder_weight)
        lexical = signals.lexical[text] if signals.lexical else None
        if lexical is not None:
            _add_standardised(scores, lexical, self.lexical_weight)
        return scores

    def _covering_needs(self, signals: _Signals, ranked: list[int], allowed: np.ndarray | None) -> list[int]:
        """`ranked` (the whole request's order) with, right after its first, the best document of
        each part that stands out clearly from the rest for that part (most distinct first): five
        neighbours of one need must not push out the only match of another. A part that names no
        tool of its own ("summarise them") stands out for nothing and moves nothing."""
        standouts = []
        for part in range(1, signals.texts):
            scores = self._fused(signals, part)
            mean, spread = float(scores.mean()), float(scores.std())
            if spread == 0:
                continue
            if allowed is not None:
                scores[~allowed] = -np.inf
            best = int(np.argmax(scores))
            distinct = (float(scores[best]) - mean) / spread
            if distinct >= NEED_STANDS_OUT * math.sqrt(2 * math.log(len(scores))):
                standouts.append((-distinct, best))
        promoted = [best for _, best in sorted(standouts)]
        return list(dict.fromkeys([ranked[0], *promoted, *ranked[1:]]))

    def _stacked(self, rows: list[list[np.ndarray]]) -> tuple[np.ndarray, ...]:
        """Per-document vectors (one per embedding) → one matrix per embedding."""
        return tuple(
            np.stack([r[n] for r in rows]) if rows else np.zeros((0, e.dimensions), dtype=np.float32)
            for n, e in enumerate(self.embeddings)
        )


def _products(matrix: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Each of `vectors` times `matrix`'s rows: one row per vector, contiguous. One matrix product,
    the matrix as its left operand: at 10k rows it is read from memory once (at 10k × 384, four
    vectors: 2.5 ms, against 4.3 ms for four matrix-vector products and 4.0 for vectors @ matrix.T)."""
    return np.ascontiguousarray((matrix @ vectors.T).T)


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _lower_priority() -> None:
    """The calling thread niced below the gateway's (by BACKGROUND_NICENESS), so a search or a
    proxied call that wants its core takes it first. Only on Linux, where niceness is a thread's
    own (elsewhere it is the whole process's); for threads that end with their work, since
    raising it back takes privileges."""
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    try:
        # The process's main thread's niceness + BACKGROUND_NICENESS: a thread started by a niced
        # thread inherits its niceness, which must not be lowered twice.
        wanted = min(os.getpriority(os.PRIO_PROCESS, os.getpid()) + BACKGROUND_NICENESS, 19)
        if os.getpriority(os.PRIO_PROCESS, thread) < wanted:
            os.setpriority(os.PRIO_PROCESS, thread, wanted)
    except OSError as error:  # a sandbox that forbids it: the usual priority, and still correct
        logging.getLogger(__name__).debug("search encoder keeps its priority: %s", error)


def _add_standardised(total: np.ndarray, scores: np.ndarray, weight: float) -> None:
    """total += weight × scores at zero mean and unit spread; nothing when every document scores the
    same (nothing to say). `scores` is left as it is (a row of signals is read again for each part)."""
    spread = float(scores.std())
    if spread == 0:
        return
    total += (scores - np.float32(scores.mean())) * np.float32(weight / spread)
