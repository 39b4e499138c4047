"""Search over the gateway's own documents — tools now; endpoints and records later.

    index = SearchIndex()
    index.update({"github_search": Document("github_search", "Search code on GitHub", …)})
    index.search("find code in a repository", limit=5)   → [Hit("github_search", 0.93), …]

`text.py` turns names and prose into words and stems, `embeddings.py` turns text into
vectors with static word embeddings shipped in an installed wheel (no download, no GPU),
`index.py` ranks documents by both, fused.
"""

from mcpgate.hub.search.index import Document, Hit, SearchIndex

__all__ = ["Document", "Hit", "SearchIndex"]
