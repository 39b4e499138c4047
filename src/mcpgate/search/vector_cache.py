"""The encoder's vectors kept across restarts, by the digest of the text they encode.

    cache = VectorCache(data_dir / "search" / "minilm-l6-int8.npz", "minilm-l6-int8")
    cache.get("github search code: Search code in repositories.")   # a vector, or None
    cache.put(texts, vectors); cache.save()                         # atomically, at most `limit` kept

Encoding 10,000 tools takes most of a minute of one core; a restart, or a `list_changed` that
brings back tools seen before, should not pay it again. A vector depends only on its text and the
model (encoder.py encodes each text alone), so a digest of the text is a sufficient key; a file
written for another model is ignored. One process may hold several indexes (one per SMART view):
they share one cache, and each save writes what all of them know, newest first, up to `limit`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


class VectorCache:
    def __init__(self, path: Path, model: str, limit: int = 100_000) -> None:
        self.path = path
        self.model = model
        self.limit = limit
        self._vectors: dict[bytes, np.ndarray] | None = None  # read at the first use
        self._lock = threading.Lock()
        # One save at a time: two indexes' encoder threads would otherwise write the same partial file.
        self._saving = threading.Lock()

    def get(self, text: str) -> np.ndarray | None:
        with self._lock:
            return self._loaded().get(_digest(text))

    def put(self, texts: list[str], vectors: np.ndarray) -> None:
        with self._lock:
            known = self._loaded()
            for text, vector in zip(texts, vectors, strict=True):
                known.pop(key := _digest(text), None)
                known[key] = vector  # newest last: what `save` keeps when over the limit

    def save(self) -> None:
        with self._saving:
            with self._lock:  # the newest snapshot, taken by the writer that holds the file
                known = self._loaded()
                keys = list(known)[-self.limit :]
                digests = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 16)
                vectors = np.stack([known[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)
            self._write(digests, vectors)

    def _write(self, digests: np.ndarray, vectors: np.ndarray) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            with partial.open("wb") as file:
                np.savez(file, model=np.array(self.model), digests=digests, vectors=vectors)
            os.replace(partial, self.path)  # a reader sees the old file or the new, never half of one
        except OSError as exc:  # a cache: searching goes on without it
            logger.warning("could not keep search vectors in %s: %s", self.path, exc)

    def _loaded(self) -> dict[bytes, np.ndarray]:
        if self._vectors is None:
            self._vectors = {}
            try:
                with np.load(self.path, allow_pickle=False) as stored:
                    if str(stored["model"]) == self.model:
                        for digest, vector in zip(stored["digests"], stored["vectors"], strict=True):
                            self._vectors[digest.tobytes()] = vector
            except FileNotFoundError:
                pass
            except (OSError, ValueError, KeyError) as exc:
                logger.warning("ignoring the search vectors in %s: %s", self.path, exc)
        return self._vectors


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()
