"""What a search index holds and answers: light, so modules that only describe documents
don't load numpy, BM25 and the embedding tables (see `DeferredIndex`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcpgate.search.index import SearchIndex


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    name: str  # as words (see text.split_name): both rankers read it
    text: str  # description, and whatever else describes it (parameters…)
    group: str | None = None  # what `search(groups=…)` filters on (a tool's upstream)
    # What the sentence encoder reads besides the name, when not all of `text`: a tool's title and
    # description without its parameters, whose names and details dilute the one vector a text gets
    # (on real MCP servers' tools: +0.03 recall@5 for multi-step tasks and single requests; BM25
    # still reads the parameters). None: the whole text.
    gist: str | None = None

    @property
    def full_text(self) -> str:
        return f"{self.name}: {self.text}" if self.text else self.name

    @property
    def encoder_text(self) -> str:
        if self.gist is None:
            return self.full_text
        return f"{self.name}: {self.gist}" if self.gist else self.name


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    score: float


class DeferredIndex:
    """A `SearchIndex` over `documents()`, built at its first search: a gateway that never
    searches a catalog never pays for numpy, BM25 and the tables (~50 MB, ~0.5 s of start).
    Thread-safe, so callers may search from worker threads (the build takes a while)."""

    def __init__(self, documents: Callable[[], Iterable[Document]]) -> None:
        self._documents = documents
        self._index: SearchIndex | None = None
        self._lock = threading.Lock()

    def search(self, query: str, limit: int, groups: Collection[str] | None = None) -> list[Hit]:
        return self.built().search(query, limit, groups)

    def built(self) -> SearchIndex:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    from mcpgate.search.index import SearchIndex  # the heavy part, on first use only

                    index = SearchIndex()
                    index.update(self._documents())
                    self._index = index
        return self._index
