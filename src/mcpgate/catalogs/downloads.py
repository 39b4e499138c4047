"""Fetching a catalog's source over http(s): the whole body or an error, never more than a limit.

    body = await download(url, seconds=30, limit=64 * 2**20)   # or DownloadError

The error names the URL as `errors.shown_url` does (no user info, no query string: either may
hold a token), and so does its reason, even where httpx's own message quotes the URL.
"""

from __future__ import annotations

from collections.abc import Mapping

from mcpgate.errors import shown_url

_ACCEPT = {"accept": "application/json, application/yaml, */*"}


class DownloadError(Exception):
    """`shown`: the URL as it may be shown; `reason`: why, e.g. "HTTP 404" or "larger than 64 MB"."""

    def __init__(self, shown: str, reason: str) -> None:
        super().__init__(f"{shown}: {reason}")
        self.shown = shown
        self.reason = reason


async def download(url: str, *, seconds: float, limit: int, headers: Mapping[str, str] | None = None) -> bytes:
    import httpx  # with the first source fetched by URL only

    shown = shown_url(url)
    chunks: list[bytes] = []
    size = 0
    try:
        async with httpx.AsyncClient(timeout=seconds, follow_redirects=True, headers=dict(headers or {})) as client:
            async with client.stream("GET", url, headers=_ACCEPT) as response:
                if response.status_code != 200:
                    raise DownloadError(shown, f"HTTP {response.status_code}")
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise DownloadError(shown, f"larger than {limit // 2**20} MB")
                    chunks.append(chunk)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL: a bad port or host, a control character
        said = str(exc).replace(url, shown).split("?", 1)[0]
        raise DownloadError(shown, f"{type(exc).__name__}: {said}" if said else type(exc).__name__) from None
    return b"".join(chunks)
