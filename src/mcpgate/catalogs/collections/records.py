"""A reference collection's records: read from JSON, JSONL or YAML (a file, a folder, a URL),
checked whole, and described by which fields are the id, the title, the category and the text.

    records = read_records(raw_bytes, "nodes.json")        # a list of dicts, or CollectionError
    collection = Collection.of(records, record="workflow node")   # fields inferred where not given
    collection.by_id["slack.sendMessage"], collection.categories  # {"action": 161, …}

Everything is checked before a collection exists — a file that is not a list of records, a
record without the id, two records with one id — so a collection is whole or not at all, and
the error names the record and the field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from mcpgate.errors import ConfigError

# Tried in order when the operator names no field; the first that fits every record wins.
ID_FIELDS = ("id", "key", "slug", "name", "type", "uri", "code")
TITLE_FIELDS = ("title", "displayName", "display_name", "label", "summary", "name")
CATEGORY_FIELDS = ("category", "group", "kind", "section", "topic", "type")
# Keys that only give a nested value its shape; their words would be noise in every record's text.
_STRUCTURAL_KEYS = frozenset({"name", "type", "description", "title", "id", "required", "default", "items"})
_MAX_TEXT_CHARS = 4_000
_MAX_CATEGORY_CHARS = 100


class CollectionError(ConfigError):
    """The records cannot be served as a collection; the message says which record and why."""


def read_records(data: bytes, source: str, *, single: bool = False) -> list[dict[str, Any]]:
    """The records in one file's bytes: a JSON/YAML list of objects (or an object whose one key
    holds that list, as `{"items": […]}`), or JSON Lines of objects. With `single`, any other
    object is one record (a folder often holds one file per record)."""
    parsed = _parse(data, source)
    if isinstance(parsed, dict):
        if len(parsed) == 1 and isinstance(next(iter(parsed.values())), list):
            parsed = next(iter(parsed.values()))
        elif single:
            parsed = [parsed]
        else:
            raise CollectionError(
                f"{source} holds an object, not a list of records (nor an object whose one key holds that list)"
            )
    if not isinstance(parsed, list):
        raise CollectionError(f"{source} holds {_kind(parsed)}, not a list of records")
    for position, record in enumerate(parsed, 1):
        if not isinstance(record, dict):
            raise CollectionError(f"{source}: record {position} is {_kind(record)}, not an object")
    return parsed


def _parse(data: bytes, source: str) -> Any:
    lower = source.lower().split("?", 1)[0]
    if lower.endswith((".jsonl", ".ndjson")):
        return _json_lines(data, source)
    try:
        return orjson.loads(data)  # JSON first: the common case, and fast
    except orjson.JSONDecodeError as exc:
        if lower.endswith(".json"):
            raise CollectionError(f"{source} is not valid JSON: {exc}") from None
    if data.lstrip()[:1] == b"{" and b"\n{" in data:
        return _json_lines(data, source)  # JSON Lines under another name
    import yaml  # with the first YAML collection only

    from mcpgate.catalogs.collections.yaml_lists import load_yaml

    try:
        return load_yaml(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise CollectionError(f"{source} is neither JSON nor YAML{where}: {getattr(exc, 'problem', exc)}") from None


def _json_lines(data: bytes, source: str) -> list[Any]:
    records = []
    for number, line in enumerate(data.splitlines(), 1):
        if line.strip():
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise CollectionError(f"{source}: line {number} is not JSON: {exc}") from None
    return records


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


@dataclass(frozen=True, slots=True)
class Fields:
    """Which field of a record is its id, title, category, and which make its searchable text
    (None: no title / no category; text None: every string in the record)."""

    id: str
    title: str | None
    category: str | None
    text: tuple[str, ...] | None

    def category_of(self, item: Mapping[str, Any]) -> str | None:
        value = item.get(self.category) if self.category is not None else None
        return None if value in (None, "") else str(value)[:_MAX_CATEGORY_CHARS]


@dataclass(frozen=True, slots=True)
class Collection:
    record: str  # what one record is, in words: "workflow node"
    fields: Fields
    by_id: dict[str, dict[str, Any]]  # in the source's order
    categories: dict[str, int]  # category → how many records, most first

    @classmethod
    def of(
        cls,
        records: Sequence[dict[str, Any]],
        *,
        record: str = "record",
        id_field: str | None = None,
        title_field: str | None = None,
        category_field: str | None = None,
        text_fields: Sequence[str] | None = None,
    ) -> Collection:
        if not records:
            raise CollectionError("the collection holds no records")
        ident = id_field or _infer_id(records)
        by_id = _indexed(records, ident)
        title = title_field or _first_present(records, TITLE_FIELDS, exclude={ident})
        category = category_field or _infer_category(records, exclude={ident, title})
        for name, given in (("titleField", title_field), ("categoryField", category_field)):
            if given is not None and not any(given in r for r in records):
                raise CollectionError(f"{name} {given!r}: no record has that field")
        if category is not None:
            for position, item in enumerate(records, 1):
                value = item.get(category)
                if value is not None and not isinstance(value, str | int | float | bool):
                    raise CollectionError(
                        f"record {position}: its category field {category!r} is {_kind(value)}, not a single value"
                    )
        fields = Fields(ident, title, category, tuple(text_fields) if text_fields else None)
        counts = Counter(c for c in map(fields.category_of, records) if c is not None)
        return cls(record, fields, by_id, dict(counts.most_common()))

    def __len__(self) -> int:
        return len(self.by_id)

    def title_of(self, item: Mapping[str, Any]) -> str:
        value = item.get(self.fields.title) if self.fields.title else None
        return str(value) if value not in (None, "") else str(item[self.fields.id])

    def category_of(self, item: Mapping[str, Any]) -> str | None:
        return self.fields.category_of(item)

    def text_of(self, item: Mapping[str, Any]) -> str:
        """What search reads besides the title: the text fields, else every string in the record."""
        fields = self.fields
        if fields.text is not None:
            parts = [_flat(item.get(name)) for name in fields.text]
        else:
            skip = {fields.id, fields.title, fields.category}
            parts = [_flat(value) for key, value in item.items() if key not in skip]
        return " ".join(p for p in parts if p)[:_MAX_TEXT_CHARS]


def _indexed(records: Sequence[dict[str, Any]], ident: str) -> dict[str, dict[str, Any]]:
    by_id: dict[str, dict[str, Any]] = {}
    first_seen: dict[str, int] = {}
    for position, item in enumerate(records, 1):
        value = item.get(ident)
        if value is None or value == "":
            raise CollectionError(f"record {position} has no {ident!r} (the id field)")
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise CollectionError(f"record {position}: its id {ident!r} is {_kind(value)}, not a string or number")
        key = str(value)
        if key in by_id:
            raise CollectionError(f"id {key!r} appears twice: records {first_seen[key]} and {position}")
        by_id[key] = item
        first_seen[key] = position
    return by_id


def _infer_id(records: Sequence[dict[str, Any]]) -> str:
    """The first candidate present and unique in every record; else the first present in any, so
    the error names the record that lacks it or repeats it."""
    for candidate in ID_FIELDS:
        values = [r.get(candidate) for r in records]
        if all(isinstance(v, str | int) and not isinstance(v, bool) and v != "" for v in values):
            if len({str(v) for v in values}) == len(values):
                return candidate
    for candidate in ID_FIELDS:
        if any(candidate in r for r in records):
            return candidate
    raise CollectionError(
        f"no record has an id field ({', '.join(ID_FIELDS)}); name the field that identifies a record with idField"
    )


def _first_present(
    records: Sequence[dict[str, Any]], candidates: Iterable[str], exclude: set[str | None]
) -> str | None:
    for candidate in candidates:
        if candidate not in exclude and sum(isinstance(r.get(candidate), str) for r in records) * 2 >= len(records):
            return candidate
    return None


def _infer_category(records: Sequence[dict[str, Any]], exclude: set[str | None]) -> str | None:
    """The first candidate holding short single values in most records, shared by several of them."""
    for candidate in CATEGORY_FIELDS:
        if candidate in exclude:
            continue
        values = [r.get(candidate) for r in records]
        scalars = [v for v in values if isinstance(v, str) and 0 < len(v) <= _MAX_CATEGORY_CHARS]
        if len(scalars) * 2 >= len(records) and len(set(scalars)) < max(2, len(scalars) * 0.9):
            return candidate
    return None


def _flat(value: Any, depth: int = 0) -> str:
    """The words of a value: strings, and the keys of nested objects (field names like `owner_id`)."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    if depth > 4:
        return ""
    if isinstance(value, dict):
        parts = []
        for key, inner in value.items():
            if str(key) not in _STRUCTURAL_KEYS:
                parts.append(str(key))
            parts.append(_flat(inner, depth + 1))
        return " ".join(p for p in parts if p)
    if isinstance(value, list):
        return " ".join(p for p in (_flat(v, depth + 1) for v in value) if p)
    return ""
