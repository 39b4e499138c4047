"""Search over the gateway's own documents: tools, endpoints, guide sections, records.

    index = SearchIndex()
    index.update({"github_search": Document("github_search", "Search code on GitHub", …)})
    index.search("find code in a repository", limit=5)   → [Hit("github_search", 0.93), …]

`text.py` turns names and prose into words and stems, `embeddings.py` turns text into
vectors with static token tables shipped in installed wheels (WordLlama's, and one distilled
from all-MiniLM-L6-v2 in `tables/`: no download, no GPU, no torch), `index.py` ranks documents
by BM25 and each table, fused. `documents.py` is the light part: importing this package loads
none of numpy, BM25 or the tables until a `SearchIndex` is asked for (`DeferredIndex` waits for
the first search).
"""

from typing import TYPE_CHECKING, Any

from mcpgate.search.documents import DeferredIndex, Document, Hit

if TYPE_CHECKING:
    from mcpgate.search.index import SearchIndex

__all__ = ["DeferredIndex", "Document", "Hit", "SearchIndex"]


def __getattr__(name: str) -> Any:  # PEP 562: `SearchIndex` (and its numpy) only when named
    if name == "SearchIndex":
        from mcpgate.search.index import SearchIndex

        return SearchIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
