"""A collection's folder source is walked within bounds: a location such as `/` is a quick,
clear refusal, never a walk of the whole machine or a 500."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from mcpgate.catalogs.collections import sources
from mcpgate.catalogs.collections.records import CollectionError

pytestmark = pytest.mark.anyio


async def test_a_folder_with_too_many_entries_is_refused_naming_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sources, "MAX_FOLDER_ENTRIES", 50)
    for index in range(60):
        (tmp_path / f"r{index}.json").write_text(f'[{{"id": "{index}"}}]')
    with pytest.raises(CollectionError, match=f"folder {tmp_path} holds more than 50 files and folders"):
        await sources.fetch_records(str(tmp_path), fetch_seconds=5)
    monkeypatch.setattr(sources, "MAX_FOLDER_ENTRIES", 100)
    assert len(await sources.fetch_records(str(tmp_path), fetch_seconds=5)) == 60


async def test_the_root_of_the_filesystem_is_refused_quickly() -> None:
    with anyio.fail_after(10), pytest.raises(CollectionError, match=r"folder /(:| holds more than)"):
        await sources.fetch_records("/", fetch_seconds=5)
