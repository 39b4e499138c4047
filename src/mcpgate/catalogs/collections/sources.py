"""Where a collection's records come from: a file, a folder of files, or an http(s) URL.

    records = await fetch_records("data/nodes/", fetch_seconds=30)    # every record, or CollectionError

A folder's files (`.json`, `.jsonl`, `.ndjson`, `.yaml`, `.yml`, in name order, sub-folders
included) each hold a list of records or one record. Reading is all or nothing: the first
file that cannot be read or parsed fails the whole source, naming the file. A folder is walked
within bounds (entries seen, bytes read; symbolic links to folders are not followed), so a
location such as `/` is refused quickly instead of walking the whole machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

from mcpgate.catalogs.collections.records import CollectionError, read_records
from mcpgate.catalogs.downloads import DownloadError, download
from mcpgate.errors import shown_url

SUFFIXES = (".json", ".jsonl", ".ndjson", ".yaml", ".yml")
MAX_SOURCE_BYTES = 256 * 1024 * 1024
MAX_FOLDER_ENTRIES = 10_000  # files and folders looked at while walking one folder source


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
        files = _files_under(root, source)
        if not files:
            raise CollectionError(f"folder {source} holds no {', '.join(SUFFIXES)} files")
        records: list[dict[str, Any]] = []
        total = 0
        for file in files:
            shown = f"{source.rstrip('/')}/{file.relative_to(root).as_posix()}"
            data = _read_file(file, shown)
            total += len(data)
            if total > MAX_SOURCE_BYTES:
                raise CollectionError(
                    f"the files of folder {source} add up to more than {MAX_SOURCE_BYTES // 2**20} MB"
                )
            records.extend(read_records(data, shown, single=True))
        return records
    return read_records(_read_file(root, source), source)


def _files_under(root: Path, source: str) -> list[Path]:
    """The record files below `root`, in name order; a folder too large or unreadable to walk is an error."""
    found: list[Path] = []
    seen = 0

    def refuse(error: OSError) -> None:
        raise CollectionError(f"cannot read folder {source}: {error.strerror or error}")

    for folder, subfolders, names in os.walk(root, onerror=refuse):
        seen += len(subfolders) + len(names)
        if seen > MAX_FOLDER_ENTRIES:
            raise CollectionError(
                f"folder {source} holds more than {MAX_FOLDER_ENTRIES} files and folders: "
                "name the folder that holds the records"
            )
        found += [Path(folder, name) for name in names if Path(name).suffix.lower() in SUFFIXES]
    return sorted(path for path in found if path.is_file())


def _read_file(path: Path, shown: str) -> bytes:
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise CollectionError(f"{shown} is larger than {MAX_SOURCE_BYTES // 2**20} MB")
        return path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise CollectionError(f"cannot read {shown}: {getattr(exc, 'strerror', None) or exc}") from None
