"""A folder of Markdown guides: MCP resources, and a search over their sections.

    guides = Guides.load("docs/")
    guides.resources()                        # [{"uri": "guide:///rest.md", "name": "REST fallback", …}]
    guides.read("guide:///rest.md")           # the file's text
    guides.search("how do I call a tool over plain HTTP", limit=3)

Sections (a heading and the text under it) are what search ranks, so a hit points at the part
of a long guide that answers; the same engine as tool search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpgate.catalogs.openapi.document import SpecError
from mcpgate.catalogs.tool_results import snippet
from mcpgate.search import DeferredIndex, Document

SCHEME = "guide"
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_MAX_GUIDE_BYTES = 4 * 1024 * 1024
_SNIPPET_CHARS = 300


@dataclass(frozen=True, slots=True)
class Guide:
    uri: str
    path: str  # relative to the folder, with '/'
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Section:
    guide: Guide
    heading: str
    text: str


class Guides:
    def __init__(self, guides: list[Guide]) -> None:
        self.by_uri = {guide.uri: guide for guide in guides}
        self._sections = [section for guide in guides for section in _sections(guide)]
        self._index = DeferredIndex(
            lambda: (Document(str(i), f"{s.guide.title} {s.heading}", s.text) for i, s in enumerate(self._sections))
        )

    @classmethod
    def load(cls, folder: str) -> Guides:
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise SpecError(f"guides folder {folder} is not a directory")
        guides = []
        for file in sorted(root.rglob("*.md")):
            if file.stat().st_size > _MAX_GUIDE_BYTES:
                continue
            text = file.read_text(encoding="utf-8", errors="replace")
            relative = file.relative_to(root).as_posix()
            heading = _HEADING.search(text)
            title = heading.group(2) if heading else file.stem.replace("-", " ").replace("_", " ")
            guides.append(Guide(f"{SCHEME}:///{relative}", relative, title, text))
        return cls(guides)

    def __len__(self) -> int:
        return len(self.by_uri)

    def resources(self) -> list[dict[str, Any]]:
        return [
            {"uri": g.uri, "name": g.path, "title": g.title, "mimeType": "text/markdown", "size": len(g.text.encode())}
            for g in self.by_uri.values()
        ]

    def find(self, uri_or_path: str) -> Guide | None:
        return self.by_uri.get(uri_or_path) or self.by_uri.get(f"{SCHEME}:///{uri_or_path.lstrip('/')}")

    def search(self, query: str, limit: int = 5) -> list[dict[str, Any]]:
        found = []
        for hit in self._index.search(query, limit=limit):
            section = self._sections[int(hit.id)]
            found.append(
                {
                    "uri": section.guide.uri,
                    "guide": section.guide.title,
                    "section": section.heading,
                    "snippet": snippet(section.text, _SNIPPET_CHARS),
                }
            )
        return found


def _sections(guide: Guide) -> list[Section]:
    """One section per heading (the text before the first heading belongs to the title)."""
    marks = list(_HEADING.finditer(guide.text))
    if not marks:
        return [Section(guide, guide.title, guide.text)]
    sections = []
    if guide.text[: marks[0].start()].strip():
        sections.append(Section(guide, guide.title, guide.text[: marks[0].start()]))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(guide.text)
        body = guide.text[mark.end() : end].strip()
        if body:
            sections.append(Section(guide, mark.group(2), body))
    return sections
