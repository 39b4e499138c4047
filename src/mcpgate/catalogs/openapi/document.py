"""An OpenAPI document, loaded, checked once, and with its `$ref`s resolvable.

    document = await load_document("https://api.example.com/openapi.json", timeout=10)
    document.version                      # "3.1.0"
    document.inline({"$ref": "#/components/schemas/Pet"})   # the schema, refs expanded

OpenAPI 3.0 and 3.1 are read (JSON or YAML, a file or a URL). Swagger 2.0 is refused with a
message saying how to convert it; so are documents whose `$ref`s point outside the document
(bundle it first) or at nothing. Every problem is a `SpecError` naming where it is.

`inline` expands references for people and models to read: a schema that refers to itself
(a tree, a linked list) is expanded once and the repeat is cut to a short marker, so the
result is always finite.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin

import anyio
import orjson
import yaml

from mcpgate.catalogs.downloads import DownloadError, download
from mcpgate.errors import ConfigError, shown_url

_INLINE_DEPTH = 24  # a guard against pathological nesting; real schemas are far shallower
_MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


class SpecError(ConfigError):
    """The OpenAPI document cannot be served; the message says why and, where it can, how to fix it."""


@dataclass(frozen=True, slots=True)
class Document:
    raw: dict[str, Any]
    source: str  # the path or URL it was read from (for messages and relative server URLs)

    @property
    def version(self) -> str:
        return str(self.raw.get("openapi", ""))

    @property
    def is_30(self) -> bool:
        return self.version.startswith("3.0")

    @property
    def title(self) -> str:
        info = self.raw.get("info")
        return str(info.get("title", "")) if isinstance(info, dict) else ""

    def server_url(self) -> str | None:
        """The first `servers` URL with its variables at their defaults, made absolute against a
        URL source; None when the document names none (or only a relative one, read from a file)."""
        servers = self.raw.get("servers")
        if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
            return None
        url = str(servers[0].get("url", ""))
        for name, variable in (servers[0].get("variables") or {}).items():
            if isinstance(variable, dict) and "default" in variable:
                url = url.replace("{" + name + "}", str(variable["default"]))
        if url.startswith(("http://", "https://")):
            return url
        if self.source.startswith(("http://", "https://")):
            return urljoin(self.source, url or "/")
        return None

    def resolve(self, ref: str) -> Any:
        """The object a local `$ref` ("#/components/schemas/Pet") points at."""
        node: Any = self.raw
        for token in _pointer_tokens(ref):
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise SpecError(f"$ref {ref!r} points at nothing in {self.source}")
        return node

    def deref(self, node: Any) -> Any:
        """`node`, or what it refers to when it is a `$ref` (through chains of refs)."""
        seen: set[str] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise SpecError(f"$ref {ref!r} refers to itself in {self.source}")
            seen.add(ref)
            node = self.resolve(ref)
        return node

    def inline(self, node: Any, *, json_schema: bool = False) -> Any:
        """A copy of `node` with every `$ref` expanded; a reference already being expanded above
        (a recursive schema) becomes `{"description": "(recursive: <name>, as above)"}`.

        `json_schema`: also rewrite OpenAPI 3.0's schema dialect into JSON Schema (`nullable`,
        boolean `exclusiveMinimum`/`exclusiveMaximum`), for tool input schemas."""
        return self._inline(node, (), json_schema and self.is_30, 0)

    def _inline(self, node: Any, expanding: tuple[str, ...], rewrite_30: bool, depth: int) -> Any:
        if depth > _INLINE_DEPTH:
            return {"description": "(nested too deeply to show)"}
        if isinstance(node, list):
            return [self._inline(item, expanding, rewrite_30, depth + 1) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in expanding:
                return {"description": f"(recursive: {ref.rsplit('/', 1)[-1]}, as above)"}
            target = self._inline(self.resolve(ref), (*expanding, ref), rewrite_30, depth + 1)
            siblings = {k: v for k, v in node.items() if k != "$ref"}  # 3.1 allows e.g. a description beside $ref
            return {**target, **siblings} if isinstance(target, dict) else target
        copied = {key: self._inline(value, expanding, rewrite_30, depth + 1) for key, value in node.items()}
        return _as_json_schema(copied) if rewrite_30 else copied


async def load_document(source: str, *, timeout: float) -> Document:  # noqa: ASYNC109 - a fetch deadline
    """Read, parse and check the document at `source` (a path or an http(s) URL)."""
    if source.startswith(("http://", "https://")):
        text = await _fetch(source, timeout)
    else:
        text = await anyio.to_thread.run_sync(_read_file, source)
    # Parsing a large YAML document takes a good part of a second: not on the event loop.
    shown = shown_url(source)  # named in messages, and the base of relative server URLs
    document = Document(await anyio.to_thread.run_sync(parse_document, text, shown), shown)
    check(document)
    return document


async def _fetch(url: str, timeout: float) -> bytes:  # noqa: ASYNC109
    try:
        return await download(url, seconds=timeout, limit=_MAX_DOCUMENT_BYTES)
    except DownloadError as exc:
        raise SpecError(f"cannot fetch the OpenAPI document at {exc}") from None


def _read_file(path: str) -> bytes:
    file = Path(path).expanduser()
    try:
        if file.stat().st_size > _MAX_DOCUMENT_BYTES:
            raise SpecError(f"{path} is larger than {_MAX_DOCUMENT_BYTES // 2**20} MB")
        return file.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise SpecError(f"cannot read the OpenAPI document {path}: {getattr(exc, 'strerror', None) or exc}") from None


def parse_document(text: bytes | str, source: str) -> dict[str, Any]:
    """JSON or YAML text → the document's mapping (JSON first: it is the common case and fast)."""
    data: Any
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise SpecError(f"{source} is neither JSON nor YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{source} is not an OpenAPI document (expected a mapping at the top)")
    return data


def check(document: Document) -> None:
    """Refuse what cannot be served, with the reason; accept what merely lacks niceties."""
    raw, source = document.raw, document.source
    if "swagger" in raw:
        raise SpecError(
            f"{source} is Swagger {raw['swagger']}; mcpgate reads OpenAPI 3.0 and 3.1. Convert it first, "
            "e.g. `npx swagger2openapi swagger.json -o openapi.json`"
        )
    version = raw.get("openapi")
    if version is None:
        raise SpecError(f"{source} is not an OpenAPI document: it has no `openapi` field")
    if not isinstance(version, str) or not version.startswith(("3.0", "3.1")):
        raise SpecError(f"{source}: unsupported `openapi` version {version!r}; 3.0.x and 3.1.x are read")
    paths = raw.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise SpecError(f"{source} declares no paths, so there is nothing to serve")
    for where, ref in _refs(raw, "#"):
        if not ref.startswith("#"):
            raise SpecError(
                f"{source}: {where} refers outside the document ({ref!r}); bundle the document into one "
                "file first, e.g. `npx @redocly/cli bundle openapi.yaml -o bundled.json`"
            )
        try:
            document.resolve(ref)
        except SpecError:
            raise SpecError(f"{source}: {where}: $ref {ref!r} points at nothing") from None


def _refs(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield where, ref
        for key, value in node.items():
            if isinstance(value, dict | list):
                yield from _refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, dict | list):
                yield from _refs(value, f"{where}/{index}")


def _pointer_tokens(ref: str) -> list[str]:
    if not ref.startswith("#"):
        raise SpecError(f"$ref {ref!r} is not local to the document")
    pointer = unquote(ref[1:])
    if not pointer:
        return []
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer.lstrip("/").split("/")]


def _as_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0's schema dialect → JSON Schema, for the parts that differ in meaning."""
    if schema.get("nullable") is True:  # `is True`: a property may be *named* "nullable"
        del schema["nullable"]
        kind = schema.get("type")
        if isinstance(kind, str):
            schema["type"] = [kind, "null"]
        elif "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if schema.get(bound) is True and limit in schema:
            schema[bound] = schema.pop(limit)
        elif schema.get(bound) is False:
            del schema[bound]
    return schema
