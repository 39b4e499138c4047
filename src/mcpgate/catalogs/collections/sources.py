"""Where a collection's records come from: a file, a folder of files, or an http(s) URL.

    records = await fetch_records("data/nodes/", fetch_seconds=30)    # every record, or CollectionError

A folder's files (`.json`, `.jsonl`, `.ndjson`, `.yaml`, `.yml`, in name order, sub-folders
included) each hold a list of records or one record. Reading is all or nothing: the first
file that cannot be read or parsed fails the whole source, naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

from mcpgate.catalogs.collections.records import CollectionError, read_records
from mcpgate.errors import shown_url

SUFFIXES = (".json", ".jsonl", ".ndjson", ".yaml", ".yml")
MAX_SOURCE_BYTES = 256 * 1024 * 1024


async def fetch_records(
    source: str, *, fetch_seconds: float, headers: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    if source.startswith(("http://", "https://")):
        data = await _download(source, fetch_seconds, headers or {})
        return await anyio.to_thread.run_sync(read_records, data, shown_url(source))
    return await anyio.to_thread.run_sync(_read_path, source)


def _read_path(source: str) -> list[dict[str, Any]]:
    root = Path(source).expanduser()
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
        if not files:
            raise CollectionError(f"folder {source} holds no {', '.join(SUFFIXES)} files")
        records: list[dict[str, Any]] = []
        for file in files:
            shown = f"{source.rstrip('/')}/{file.relative_to(root).as_posix()}"
            records.extend(read_records(_read_file(file, shown), shown, single=True))
        return records
    return read_records(_read_file(root, source), source)


def _read_file(path: Path, shown: str) -> bytes:
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise CollectionError(f"{shown} is larger than {MAX_SOURCE_BYTES // 2**20} MB")
        return path.read_bytes()
    except OSError as exc:
        raise CollectionError(f"cannot read {shown}: {exc.strerror or exc}") from None


async def _download(url: str, seconds: float, headers: Mapping[str, str]) -> bytes:
    import httpx  # with the first collection fetched by URL only

    shown = shown_url(url)
    try:
        async with httpx.AsyncClient(timeout=seconds, follow_redirects=True, headers=dict(headers)) as client:
            async with client.stream("GET", url, headers={"accept": "application/json, application/yaml, */*"}) as r:
                if r.status_code != 200:
                    raise CollectionError(f"cannot fetch {shown}: HTTP {r.status_code}")
                chunks, size = [], 0
                async for chunk in r.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_SOURCE_BYTES:
                        raise CollectionError(f"{shown} is larger than {MAX_SOURCE_BYTES // 2**20} MB")
                    chunks.append(chunk)
    except httpx.HTTPError as exc:
        reason = str(exc).replace(url, shown).split("?", 1)[0] or type(exc).__name__
        raise CollectionError(f"cannot fetch {shown}: {type(exc).__name__}: {reason}") from None
    return b"".join(chunks)
