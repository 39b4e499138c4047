"""A tool's input schema as a tree of `Field`s, filled with its defaults or with what was posted."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mcpgate.admin_ui.schema_form.model import LONG_TEXT, MAX_DEPTH, MAX_FIELDS, OMIT, ROOT, Field, Form, Option

_INPUT_TYPES = {"date": "date", "date-time": "datetime-local", "email": "email", "uri": "url"}
_LINE_ITEMS = ("string", "integer", "number", "boolean")
Choice = tuple[Any, str | None]  # a value a field offers, and its title if the schema gives one


def build(schema: Mapping[str, Any], form: Form | None) -> list[Field]:
    """The fields for an object schema's properties (none when it is not one)."""
    builder = _Builder(schema, form)
    resolved, refs = builder.resolve(schema, frozenset())
    if resolved is None or not isinstance(resolved.get("properties"), Mapping):
        return []
    default = resolved.get("default")
    return list(builder.members(resolved, ROOT, "", 1, True, default if isinstance(default, Mapping) else {}, refs))


class _Builder:
    def __init__(self, root: Mapping[str, Any], form: Form | None) -> None:
        self.root = root
        self.form = form
        self.count = 0

    def resolve(self, schema: Any, refs: frozenset[str]) -> tuple[dict[str, Any] | None, frozenset[str]]:
        """`schema` with local `$ref`s followed and `X | None` read as X; None when it cannot be
        (a reference that is not local, missing, or recursive)."""
        for _ in range(16):
            if not isinstance(schema, Mapping):
                return None, refs
            ref = schema.get("$ref")
            if ref is not None:
                target = _pointer(self.root, ref) if isinstance(ref, str) and ref not in refs else None
                if not isinstance(target, Mapping):
                    return None, refs
                refs = refs | {ref}
                schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
                continue
            one = _single_branch(schema)
            if one is not None:
                schema = one
                continue
            kind = schema.get("type")
            if isinstance(kind, list) and "null" in kind and len(kind) == 2:
                schema = {**schema, "type": next(k for k in kind if k != "null")}
            return dict(schema), refs
        return None, refs

    def members(
        self,
        schema: Mapping[str, Any],
        name: str,
        path: str,
        depth: int,
        enforced: bool,
        default: Mapping[str, Any],
        refs: frozenset[str],
    ) -> Iterator[Field]:
        properties = schema["properties"]
        listed = schema.get("required")
        required = {r for r in listed if isinstance(r, str)} if isinstance(listed, list) else set()
        for key, sub in properties.items():
            if not isinstance(key, str):
                continue
            given = default[key] if key in default else OMIT
            yield self.field(
                sub,
                key,
                f"{name}.{_escaped(key)}",
                f"{path}.{key}" if path else key,
                depth,
                key in required,
                enforced and key in required,
                given,
                refs,
            )

    def field(
        self,
        raw: Any,
        key: str,
        name: str,
        path: str,
        depth: int,
        required: bool,
        enforced: bool,
        default: Any,
        refs: frozenset[str],
    ) -> Field:
        self.count += 1
        schema, refs = self.resolve(raw, refs)
        base = {"name": name, "path": path, "key": key, "required": required, "enforced": enforced}
        if default is OMIT:
            source = schema if schema is not None else raw
            default = source.get("default", OMIT) if isinstance(source, Mapping) else OMIT
        if schema is None or self.count > MAX_FIELDS:
            return self.json(raw, base, default, key)
        title = schema.get("title")
        base["label"] = title.strip() if isinstance(title, str) and title.strip() else key
        described = schema.get("description")
        hint = described.strip() if isinstance(described, str) else ""
        choices = _choices(schema)
        kind = schema.get("type")
        if choices is not None:
            return self.select(base, hint, choices, default, required)
        if kind == "string":
            return self.text(schema, base, hint, default)
        if kind in ("integer", "number"):
            return self.number(schema, kind, base, hint, default)
        if kind == "boolean":
            return self.boolean(base, hint, default, enforced)
        if kind == "array":
            items, _ = self.resolve(schema.get("items"), refs)
            item_choices = _choices(items) if items is not None else None
            if item_choices is not None:
                return self.checkboxes(base, hint, item_choices, default)
            if items is not None and items.get("type") in _LINE_ITEMS and "prefixItems" not in schema:
                return self.lines(base, hint, items["type"], default)
        if (
            (kind == "object" or (kind is None and "properties" in schema))
            and isinstance(schema.get("properties"), Mapping)
            and depth < MAX_DEPTH
            and not schema.get("patternProperties")
            and not (isinstance(schema.get("additionalProperties"), Mapping) and schema["additionalProperties"])
        ):
            inner = default if isinstance(default, Mapping) else {}
            children = tuple(self.members(schema, name, path, depth + 1, enforced, inner, refs))
            return Field("group", **base, type="object", hint=hint, children=children)
        return self.json(schema, base, default, key, hint)

    def posted(self, name: str) -> str | None:
        """What the form sent for `name` (its first text value), or None when building from defaults."""
        if self.form is None:
            return None
        return next((v for v in self.form.getlist(name) if isinstance(v, str)), "")

    def text(self, schema: Mapping[str, Any], base: dict[str, Any], hint: str, default: Any) -> Field:
        shown = self.posted(base["name"])
        form_type = schema.get("format")
        input_type = _INPUT_TYPES.get(form_type, "text") if isinstance(form_type, str) else "text"
        if shown is None:
            shown = default if isinstance(default, str) else ""
            if input_type == "datetime-local":
                shown = _datetime_shown(shown)
        attrs = []
        most, least = _count(schema.get("maxLength")), _count(schema.get("minLength"))
        if most is not None:
            attrs.append(("maxlength", str(most)))
        if least is not None:
            attrs.append(("minlength", str(least)))
        notes = [hint] if hint else []
        if input_type == "datetime-local":
            notes.append("In UTC.")
        if isinstance(schema.get("pattern"), str):
            notes.append(f"Pattern: {schema['pattern']}")
        long = input_type == "text" and (
            (most is not None and most > LONG_TEXT) or "contentMediaType" in schema or "\n" in shown
        )
        return Field(
            "textarea" if long else "input",
            **base,
            hint=" ".join(notes),
            value=shown,
            input_type=input_type,
            attrs=tuple(attrs),
        )

    def number(self, schema: Mapping[str, Any], kind: str, base: dict[str, Any], hint: str, default: Any) -> Field:
        shown = self.posted(base["name"])
        if shown is None:
            shown = _number_text(default)
        low, high = _bound(schema.get("minimum")), _bound(schema.get("maximum"))
        notes = [hint] if hint else []
        if schema.get("exclusiveMinimum") is True:
            notes.append(f"More than {low}.")
            low = None
        elif (above := _bound(schema.get("exclusiveMinimum"))) is not None:
            notes.append(f"More than {_number_text(above)}.")
        if schema.get("exclusiveMaximum") is True:
            notes.append(f"Less than {high}.")
            high = None
        elif (below := _bound(schema.get("exclusiveMaximum"))) is not None:
            notes.append(f"Less than {_number_text(below)}.")
        step = "1" if kind == "integer" else "any"
        multiple = _bound(schema.get("multipleOf"))
        # The browser counts steps from `min`: only a step that agrees with it is given.
        if multiple is not None and multiple > 0 and (low is None or _multiple_of(low, multiple)):
            if kind == "number" or float(multiple).is_integer():
                step = _number_text(multiple)
        attrs = [("step", step)]
        if low is not None:
            attrs.append(("min", _number_text(low)))
        if high is not None:
            attrs.append(("max", _number_text(high)))
        return Field(
            "input", **base, type=kind, hint=" ".join(notes), value=shown, input_type="number", attrs=tuple(attrs)
        )

    def boolean(self, base: dict[str, Any], hint: str, default: Any, enforced: bool) -> Field:
        if enforced:  # always sent: unchecked means false
            posted = self.form.getlist(base["name"]) if self.form is not None else None
            checked = bool(posted) if posted is not None else default is True
            return Field("checkbox", **base, type="boolean", hint=hint, checked=checked)
        return self.select(base, hint, [(True, None), (False, None)], default, False, kind="boolean")

    def select(
        self, base: dict[str, Any], hint: str, choices: list[Choice], default: Any, required: bool, kind: str = "enum"
    ) -> Field:
        shown = self.posted(base["name"])
        options = [Option("", "Choose…" if required else "(not set)", OMIT, not shown if shown is not None else True)]
        for value, label, choice in _posted_as(choices):
            selected = shown == value if shown is not None else _same(choice, default)
            options.append(Option(value, label, choice, selected))
        if any(o.selected for o in options[1:]):
            options[0] = Option("", options[0].label, OMIT, False)
        return Field("select", **base, type=kind, hint=hint, options=tuple(options))

    def checkboxes(self, base: dict[str, Any], hint: str, choices: list[Choice], default: Any) -> Field:
        posted = set(self.form.getlist(base["name"])) if self.form is not None else None
        given = default if isinstance(default, list) else []
        options = []
        for value, label, choice in _posted_as(choices):
            selected = value in posted if posted is not None else any(_same(choice, g) for g in given)
            options.append(Option(value, label, choice, selected))
        return Field("choices", **base, type="enum", hint=hint, options=tuple(options))

    def lines(self, base: dict[str, Any], hint: str, item_type: str, default: Any) -> Field:
        shown = self.posted(base["name"])
        if shown is None:
            given = default if isinstance(default, list) else []
            shown = "\n".join(_item_text(item, item_type) for item in given)
        note = "One per line." if item_type == "string" else f"One {item_type} per line."
        return Field("lines", **base, type=item_type, hint=f"{hint} {note}".strip(), value=shown)

    def json(self, schema: Any, base: dict[str, Any], default: Any, key: str, hint: str = "") -> Field:
        shown = self.posted(base["name"])
        if shown is None:
            shown = "" if default is OMIT else json.dumps(default, indent=2, ensure_ascii=False, default=str)
        shown_schema = json.dumps(schema, indent=2, ensure_ascii=False, default=str)
        if len(shown_schema) > 4000:
            shown_schema = shown_schema[:4000] + "\n…"
        base.setdefault("label", key)
        return Field("json", **base, type="any", hint=f"{hint} As JSON.".strip(), value=shown, schema=shown_schema)


def _single_branch(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """`anyOf`/`oneOf` of X and null, or `allOf` of one X: X with the outer keywords; else None."""
    for word in ("anyOf", "oneOf", "allOf"):
        branches = schema.get(word)
        if not isinstance(branches, list):
            continue
        kept = [b for b in branches if not (isinstance(b, Mapping) and b.get("type") == "null" and len(b) == 1)]
        if len(kept) != 1 or not isinstance(kept[0], Mapping) or (word == "allOf" and len(branches) != 1):
            return None
        if word != "allOf" and len(kept) == len(branches):
            return None  # one branch and no null: leave it to JSON rather than guess
        outer = {k: v for k, v in schema.items() if k != word}
        return {**kept[0], **outer}
    return None


def _choices(schema: Mapping[str, Any]) -> list[Choice] | None:
    """The values a select offers: `enum`, `const`, or `oneOf`/`anyOf` of `const`s (with their titles)."""
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and all(_primitive(v) for v in enum):
        return _distinct([(v, None) for v in enum])
    if "const" in schema and _primitive(schema["const"]):
        return [(schema["const"], None)]
    for word in ("oneOf", "anyOf"):
        branches = schema.get(word)
        if isinstance(branches, list) and branches:
            if all(isinstance(b, Mapping) and "const" in b and _primitive(b["const"]) for b in branches):
                titled = [(b["const"], b.get("title") if isinstance(b.get("title"), str) else None) for b in branches]
                return _distinct(titled)
    return None


def _distinct(choices: list[Choice]) -> list[Choice]:
    seen: set[str] = set()
    kept = []
    for choice in choices:
        if (key := json.dumps(choice[0])) not in seen:
            seen.add(key)
            kept.append(choice)
    return kept


def _posted_as(choices: list[Choice]) -> Iterator[tuple[str, str, Any]]:
    """Each choice's value in the form, its label, and its JSON value. Strings post as themselves
    unless one is "" (the select's unset option); anything else posts as JSON."""
    plain = all(isinstance(value, str) and value for value, _ in choices)
    for value, title in choices:
        posted = value if plain else json.dumps(value)
        yield posted, (f"{title} ({posted})" if title and title != posted else posted), value


def _pointer(root: Mapping[str, Any], ref: str) -> Any:
    """A local reference (`#/$defs/Address`) in `root`; None for anything else."""
    if not ref.startswith("#"):
        return None
    node: Any = root
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


# -- text shown ----------------------------------------------------------------------------


def _escaped(key: str) -> str:
    return key.replace("~", "~0").replace(".", "~1")


def _primitive(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values (`1 == True` in Python, not in JSON)."""
    return isinstance(a, bool) == isinstance(b, bool) and (a is None) == (b is None) and a == b


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _bound(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _multiple_of(value: float, step: float) -> bool:
    try:
        return Decimal(str(value)) % Decimal(str(step)) == 0
    except InvalidOperation:
        return False


def _number_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return repr(value)


def _item_text(item: Any, kind: str) -> str:
    if kind == "string":
        return item if isinstance(item, str) else json.dumps(item)
    if kind == "boolean":
        return json.dumps(item)
    return _number_text(item) or json.dumps(item)


def _datetime_shown(value: str) -> str:
    """An RFC 3339 date-time as a datetime-local input shows it: in UTC, to the millisecond."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
