"""Search over the gateway's own documents — tools now; endpoints and records later.

    index = SearchIndex()
    index.update({"github_search": Document("github_search", "Search code on GitHub", …)})
    index.search("find code in a repository", limit=5)   → [Hit("github_search", 0.93), …]

`text.py` turns names and prose into words and stems, `embeddings.py` turns text into
vectors with static token tables shipped in installed wheels (WordLlama's, and one distilled
from all-MiniLM-L6-v2 in `tables/`: no download, no GPU, no torch), `index.py` ranks documents
by BM25 and each table, fused.
"""

from mcpgate.hub.search.index import Document, Hit, SearchIndex

__all__ = ["Document", "Hit", "SearchIndex"]
