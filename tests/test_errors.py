"""How errors and log lines name a URL: never its secrets, and never by raising."""

from __future__ import annotations

import pytest

from mcpgate.errors import shown_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@host/x?token=1#f", "https://host/x"),
        ("plain/path?token=1", "plain/path"),
        ("http://[bad", "http://[bad"),  # urlsplit raises on this one
        ("http://u:p@[bad/x?token=1", "http://[bad/x"),
        ("http://x:abc/p?k=v", "http://x:abc/p"),
    ],
)
def test_a_url_is_shown_without_user_info_query_or_fragment(url: str, shown: str) -> None:
    assert shown_url(url) == shown
