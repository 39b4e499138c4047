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
from mcpgate.catalogs.downloads import DownloadError, download
from mcpgate.errors import shown_url

SUFFIXES = (".json", ".jsonl", ".ndjson", ".yaml", ".yml")
MAX_SOURCE_BYTES = 256 * 1024 * 1024


async def fetch_records(
    source: str, *, fetch_seconds: float, headers: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    if source.startswith(("http://", "https://")):
        try:
            data = await download(source, seconds=fetch_seconds, limit=MAX_SOURCE_BYTES, headers=headers)
        except DownloadError as exc:
            raise CollectionError(f"cannot fetch {exc}") from None
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
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise CollectionError(f"cannot read {shown}: {getattr(exc, 'strerror', None) or exc}") from None
