"""Words from names and prose, as both rankers want them.

    split_name("PDF&URLTool")       → "pdf url tool"
    split_name("github_createIssue") → "github create issue"
    terms("Can you find me the cheapest flights?") → ["find", "cheapest", "flight"]  (stemmed)
    needs("Get the top posts, then save them as a PDF") → ["Get the top posts", "save them as a PDF"]

Stopwords are a fixed, generic English list (not derived from any data set): with a few
hundred documents BM25's IDF cannot tell that "you" or "can" say nothing, and a mean of
word vectors is pulled toward them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")  # "PDFReader" → "PDF Reader"
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")  # "createIssue" → "create Issue"
_SEPARATORS = re.compile(r"[_\-./&:+]+")
_TERM = re.compile(r"[a-z0-9]+")
_QUERY_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'&+-]*")
# Where a request turns to its next need: a sentence's end, a comma, "and (then)", "then", "plus".
_NEED_BREAK = re.compile(
    r"(?:[.;!?]\s+|,\s*(?:and\s+|then\s+)?|\s+(?:and then|and also|then|and|as well as|plus|also)\s+)", re.IGNORECASE
)

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her
    here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves s t don let
    i'm i'd i'll it's you're let's can't please
    """.split()
)

_stemmers: list[Any] = []  # PyStemmer's, made at the first use: a gateway that never searches needs none


def split_name(name: str) -> str:
    """A tool or field name as words: camelCase, acronyms, snake_case, kebab-case, dots split; lowercased."""
    spaced = _CAMEL.sub(r"\1 \2", _ACRONYM.sub(r"\1 \2", name))
    return _SEPARATORS.sub(" ", spaced).lower().strip()


def terms(text: str) -> list[str]:
    """BM25's view of a text: lowercase alphanumeric words, stopwords out, Snowball-stemmed."""
    if not _stemmers:
        import Stemmer

        _stemmers.append(Stemmer.Stemmer("english"))
    return _stemmers[0].stemWords([w for w in _TERM.findall(text.lower()) if w not in STOPWORDS])


@lru_cache(maxsize=4096)
def content_words(query: str) -> str:
    """A query without its stopwords (or as it is, if nothing else is left): what the embedding should see."""
    kept = " ".join(w for w in _QUERY_WORD.findall(query) if w.lower() not in STOPWORDS)
    return kept or query


def needs(query: str) -> list[str]:
    """A request's parts that each could be a need of their own (two content words at least), when
    it has more than one; else nothing. Crude on purpose: a part that is not a need of its own costs
    little, since a part's match only counts where it beats the whole request's (index.py)."""
    parts = [part.strip() for part in _NEED_BREAK.split(query) if part and part.strip()]
    parts = [part for part in parts if len(content_words(part).split()) >= 2]
    return parts if len(parts) > 1 else []
