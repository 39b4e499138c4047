"""The sentence encoder at search time: what it embeds, that it runs in the background without ever
holding a search up, that it re-encodes only what changed, and that each need of a request counts."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest

from mcpgate.search import Document, SearchIndex
from mcpgate.search import index as index_module
from mcpgate.search.encoder import SentenceEncoder
from mcpgate.search.text import needs, split_name
from tests.search.test_search import TOOLS

WAIT = 60.0  # seconds: every wait on the background encoding is bounded


class HeldEncoder(SentenceEncoder):
    """The bundled encoder, counting what it encodes for documents and on which thread at what
    niceness, and able to hold that back."""

    def __init__(self) -> None:
        bundled = SentenceEncoder.bundled()
        super().__init__(bundled._model, bundled.tokenizer)
        self.encoded: list[str] = []
        self.niceness: dict[str, int] = {}  # a thread that encoded documents → its niceness then
        self.release = threading.Event()
        self.release.set()

    def embed(self, texts: list[str], threads: int = 1) -> np.ndarray:
        thread = threading.current_thread()
        if thread.name.startswith("search-encoder"):  # documents, not a query
            assert self.release.wait(WAIT)
            self.encoded.extend(texts)
            if texts:
                self.niceness[thread.name] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return super().embed(texts, threads)


def test_the_encoder_embeds_meaning_and_batches_change_nothing() -> None:
    encoder = SentenceEncoder.bundled()
    texts = ["search code on github", "find a repository's source files", "book a flight to Oslo", ""]
    vectors = encoder.embed(texts, threads=2)
    assert vectors.shape == (4, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    for text, vector in zip(texts, vectors, strict=True):
        assert np.array_equal(encoder.embed_one(text), vector)  # each alone: neighbours change nothing


def test_a_request_splits_into_its_needs() -> None:
    assert needs("Get the top posts, then save them as a PDF") == ["Get the top posts", "save them as a PDF"]
    assert needs("Find this week's top post and post a summary to Slack.") == [
        "Find this week's top post",
        "post a summary to Slack.",
    ]
    assert needs("book a flight") == [] and needs("search and replace") == []  # one need


def test_searches_never_wait_for_the_encoder_which_joins_when_done() -> None:
    encoder = HeldEncoder()
    encoder.release.clear()
    index = SearchIndex(encoder=encoder)
    index.update(TOOLS)
    assert not index.wait_encoded(0.05)
    assert index.search("I need a plane to Rome on the cheap", 1)[0].id == "flights_find"  # BM25 and tables
    before = {h.id: h.score for h in index.search("book a room for the meeting", 4)}
    encoder.release.set()
    assert index.wait_encoded(WAIT)
    after = {h.id: h.score for h in index.search("book a room for the meeting", 4)}
    assert max(after, key=after.__getitem__) == "calendar_book"
    assert after != before  # the encoder's ranker now counts
    assert sorted(encoder.encoded) == sorted(d.encoder_text for d in TOOLS)


def test_only_new_or_changed_documents_are_encoded_again() -> None:
    encoder = HeldEncoder()
    index = SearchIndex(encoder=encoder)
    index.update(TOOLS)
    assert index.wait_encoded(WAIT)
    encoder.encoded.clear()
    edited = Document("weather_now", split_name("weatherNow"), "Temperature, wind and rain right now.", "weather")
    added = Document("notes_write", split_name("notes_write"), "Write a note to a notebook.", "notes")
    index.update([*TOOLS[:3], edited, added])
    assert index.wait_encoded(WAIT)
    assert sorted(encoder.encoded) == sorted([edited.encoder_text, added.encoder_text])
    index.update(TOOLS[:2])  # removals only: nothing to encode, ready at once
    assert index.wait_encoded(0) and sorted(encoder.encoded) == sorted([edited.encoder_text, added.encoder_text])


def test_the_background_encoding_shares_the_tools_among_threads_niced_below_the_gateway() -> None:
    encoder = HeldEncoder()
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    index = SearchIndex(encoder=encoder, encoder_threads=3)
    index.update(TOOLS)
    assert index.wait_encoded(WAIT)
    assert len(encoder.niceness) == 3  # this index's thread and two helpers each encoded a share
    if sys.platform == "linux":  # niceness is a thread's own there; elsewhere nothing is changed
        assert set(encoder.niceness.values()) == {min(ours + index_module.BACKGROUND_NICENESS, 19)}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == ours  # the caller's is untouched
    alone = SentenceEncoder.bundled().embed([d.encoder_text for d in TOOLS])
    assert np.array_equal(index._state.encoded, alone)  # each tool's own vector, in the tools' order


def test_an_update_while_encoding_is_the_one_that_lands() -> None:
    encoder = HeldEncoder()
    encoder.release.clear()
    index = SearchIndex(encoder=encoder)
    index.update(TOOLS)
    newer = [*TOOLS, Document("notes_write", split_name("notes_write"), "Write a note to a notebook.", "notes")]
    index.update(newer)
    encoder.release.set()
    assert index.wait_encoded(WAIT)
    assert index.search("jot this down in my notebook", 1)[0].id == "notes_write"
    assert len(index._state.encoded) == len(newer)


def test_each_need_of_a_request_finds_its_tool() -> None:
    tools = [
        Document("reddit_hot", split_name("reddit_hot"), "The hot posts of a subreddit right now.", "reddit"),
        Document("pdf_create", split_name("pdf_create"), "Render Markdown text as a PDF file.", "pdf"),
        Document("weather_now", split_name("weather_now"), "Current temperature and rain.", "weather"),
        Document("calendar_book", split_name("calendar_book"), "Book a meeting room.", "calendar"),
        Document("flights_find", split_name("flights_find"), "Find cheap airline tickets.", "travel"),
    ]
    index = SearchIndex([], lexical_weight=0, encoder=SentenceEncoder.bundled())  # the encoder alone
    index.update(tools)
    assert index.wait_encoded(WAIT)
    top = [h.id for h in index.search("Grab what's trending on r/python, then turn it into a PDF report", 2)]
    assert set(top) == {"reddit_hot", "pdf_create"}


def test_vectors_are_kept_across_restarts_and_only_new_texts_encoded(tmp_path) -> None:
    from mcpgate.search.vector_cache import VectorCache

    path = tmp_path / "search" / "vectors.npz"
    first = HeldEncoder()
    index = SearchIndex(encoder=first, vector_cache=VectorCache(path, first.name))
    index.update(TOOLS)
    assert index.wait_encoded(WAIT) and len(first.encoded) == len(TOOLS) and path.exists()

    again = HeldEncoder()  # a restart: a new process, the same file
    edited = Document("weather_now", split_name("weatherNow"), "Temperature, wind and rain right now.", "weather")
    restarted = SearchIndex(encoder=again, vector_cache=VectorCache(path, again.name))
    restarted.update([*TOOLS[:3], edited])
    assert restarted.wait_encoded(WAIT)
    assert again.encoded == [edited.encoder_text]  # the unchanged three came from the file
    assert restarted.search("is it raining", 1)[0].id == "weather_now"
    same = restarted._state.encoded[0]
    assert np.array_equal(same, index._state.encoded[0])

    assert VectorCache(path, "another-model").get(TOOLS[0].encoder_text) is None  # another model's: ignored
    path.write_bytes(b"not a cache")
    assert VectorCache(path, again.name).get(TOOLS[0].encoder_text) is None  # unreadable: ignored, not fatal


def test_the_encoder_reads_a_tools_gist_while_bm25_reads_its_parameters_too() -> None:
    encoder = HeldEncoder()
    index = SearchIndex(encoder=encoder)
    convert = Document(
        "pandoc_convert",
        split_name("pandoc_convert"),
        "Convert a document between formats. output_format: rst, docx or latex",
        "pandoc",
        gist="Convert a document between formats",
    )
    index.update([*TOOLS, convert])
    assert index.wait_encoded(WAIT)
    assert f"{convert.name}: Convert a document between formats" in encoder.encoded
    assert not any("output_format" in text for text in encoder.encoded)
    assert index.search("turn this into latex", 1)[0].id == "pandoc_convert"  # a parameter's word
    bm25_only = SearchIndex([], semantic_weight=0)
    bm25_only.update([*TOOLS, convert])
    assert bm25_only.search("latex", 1)[0].id == "pandoc_convert"  # BM25 read the parameters
    encoder.encoded.clear()
    reworded = Document(convert.id, convert.name, "Convert a document. to: rst or docx", "pandoc", convert.gist)
    index.update([*TOOLS, reworded])  # only the parameters changed: the vector stays
    assert index.wait_encoded(0) and encoder.encoded == []


def test_each_clear_need_of_a_request_gets_a_place_near_the_top(monkeypatch: pytest.MonkeyPatch) -> None:
    posts = [
        Document(f"reddit_{kind}_posts", split_name(f"reddit_{kind}_posts"), f"List the {kind} posts of a subreddit.")
        for kind in ("hot", "top", "new", "rising", "controversial", "best")
    ]
    others = [
        Document(f"{verb}_{thing}", split_name(f"{verb}_{thing}"), f"{verb.capitalize()} a {split_name(thing)}.")
        for verb in ("create", "delete", "rename", "archive", "share", "export")
        for thing in ("calendar_event", "spreadsheet_row", "contact_card", "support_ticket", "invoice", "playlist")
    ]
    pdf = Document("pdf_render", split_name("pdf_render"), "Render Markdown text as a PDF file.")
    index = SearchIndex(encoder=SentenceEncoder.bundled())
    index.update([*posts, *others, pdf])
    assert index.wait_encoded(WAIT)
    request = "Get the hot posts, the top posts and the rising posts of r/python, then save them as a PDF"
    found = [hit.id for hit in index.search(request, 4)]
    assert found[0] == "reddit_hot_posts" and "pdf_render" in found
    monkeypatch.setattr(index_module, "NEED_STANDS_OUT", float("inf"))  # by score alone: posts all the way
    assert "pdf_render" not in [hit.id for hit in index.search(request, 4)]
