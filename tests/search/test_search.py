"""The search index: every ranker counts, updates re-embed only what changed, filters hold."""

from __future__ import annotations

import numpy as np

from mcpgate.search import Document, SearchIndex
from mcpgate.search.embeddings import AttentionPooledEmbeddings, StaticEmbeddings, bundled_embeddings
from mcpgate.search.text import content_words, split_name, terms

TOOLS = [
    Document("github_search_code", split_name("github_search_code"), "Search code in repositories.", "github"),
    Document("calendar_book", split_name("calendar_book"), "Book a meeting room for a time slot.", "calendar"),
    Document("flights_find", split_name("flights_find"), "Find cheap airline tickets between two cities.", "travel"),
    Document("weather_now", split_name("weatherNow"), "Current temperature and rain where you are.", "weather"),
]


class CountingEmbeddings(StaticEmbeddings):
    def __init__(self, bundled: StaticEmbeddings) -> None:
        super().__init__(bundled.table, bundled.tokenizer, bundled.name)
        self.bundled = bundled
        self.embedded: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return self.bundled.embed(texts)


def test_names_and_text_become_words() -> None:
    assert split_name("PDF&URLTool") == "pdf url tool"
    assert split_name("github_createIssue.v2") == "github create issue v2"
    assert terms("Can you find me the cheapest flights?") == ["find", "cheapest", "flight"]
    assert content_words("Can you find me the cheapest flights?") == "find cheapest flights"
    assert content_words("you and me") == "you and me"  # nothing left: the query as it is


def test_a_paraphrase_and_an_exact_name_both_find_their_tool() -> None:
    index = SearchIndex()
    index.update(TOOLS)
    assert index.search("I need a plane to Rome on the cheap", 1)[0].id == "flights_find"  # no word shared
    assert index.search("github search code", 1)[0].id == "github_search_code"
    assert index.search("is it going to be hot outside", 2)[0].id == "weather_now"
    filtered = index.search("book a meeting", 5, groups={"travel", "weather"})
    assert {h.id for h in filtered} == {"flights_find", "weather_now"}  # the best match is in another group
    assert index.search("", 5) == [] and index.search("anything", 0) == []


def test_both_bundled_tables_load_and_each_alone_finds_a_paraphrase() -> None:
    wordllama, minilm = bundled_embeddings()
    assert (wordllama.name, wordllama.dimensions) == ("wordllama", 256)
    assert (minilm.name, minilm.dimensions) == ("minilm", 128)
    for embeddings in (wordllama, minilm):
        vectors = embeddings.embed(["search code on github", ""])
        assert np.isclose(np.linalg.norm(vectors[0]), 1.0) and not vectors[1].any()
        index = SearchIndex(embeddings, lexical_weight=0)
        index.update(TOOLS)
        assert index.search("I need a plane to Rome on the cheap", 1)[0].id == "flights_find", embeddings.name
    bm25_only = SearchIndex([], semantic_weight=0)
    bm25_only.update(TOOLS)
    assert bm25_only.search("github code", 1)[0].id == "github_search_code"


def test_updates_embed_only_new_or_changed_documents_and_drop_removed_ones() -> None:
    both = [CountingEmbeddings(e) for e in bundled_embeddings()]
    index = SearchIndex(both)
    index.update(TOOLS)
    assert all(len(e.embedded) == len(TOOLS) for e in both)
    edited = Document("weather_now", "weather now", "Forecast of snow and wind for the week.", "weather")
    for embeddings in both:
        embeddings.embedded.clear()
    index.update([*TOOLS[:3], edited])
    assert all(e.embedded == [edited.full_text] for e in both)
    assert index.search("will it snow this week", 1)[0].id == "weather_now"
    index.update(TOOLS[:2])
    assert len(index) == 2 and {h.id for h in index.search("cheap tickets to fly", 5)} <= {
        "github_search_code",
        "calendar_book",
    }


def test_minilm_tables_pool_tokens_by_attention() -> None:
    _, minilm = bundled_embeddings()
    assert isinstance(minilm, AttentionPooledEmbeddings)
    ids = minilm.tokenizer.encode("stock market cap", add_special_tokens=False).ids
    bag_of_words = minilm.table[ids].sum(axis=0)  # the same tokens' rows, without the context term
    with_context = minilm.vector(ids)
    assert np.linalg.norm(with_context - bag_of_words) > 0.05 * np.linalg.norm(bag_of_words)
    # Each word's context row is weighted by the attention it receives, not by its position:
    # a single word attends only to itself, and word order does not matter.
    one = minilm.tokenizer.encode("market", add_special_tokens=False).ids
    assert np.allclose(minilm.vector(one), minilm.table[one[0]] + minilm.weights[one[0]] * minilm.context[one[0]])
    assert np.allclose(minilm.embed_one("cap stock market"), minilm.embed_one("stock market cap"), atol=1e-6)


def test_many_texts_embed_as_each_alone() -> None:
    """An index build embeds in padded batches of similar lengths; a query alone: the same vectors."""
    for embeddings in bundled_embeddings():
        texts = [d.full_text for d in TOOLS] * 3 + ["", "a much longer text " * 40, "x", "beyond one window " * 200]
        together = embeddings.embed(texts)
        alone = np.stack([embeddings.embed_one(text) for text in texts])
        assert np.allclose(together, alone, atol=1e-5), embeddings.name
