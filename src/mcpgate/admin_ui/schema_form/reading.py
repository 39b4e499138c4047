"""A posted form read back along the same tree of `Field`s: JSON values, or every problem."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mcpgate.admin_ui.schema_form.model import OMIT, Field, Form, Problem

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def read(tree: list[Field], form: Form) -> tuple[dict[str, Any], list[Problem]]:
    """The object `tree`'s fields make from `form`, and the problems found on the way."""
    problems: list[Problem] = []
    values, _ = _members(tree, form, problems)
    return values, problems


class _Bad(ValueError):
    pass


def _members(children: tuple[Field, ...] | list[Field], form: Form, problems: list[Problem]) -> tuple[dict, bool]:
    """The object these fields make, and whether the person entered anything in any of them."""
    values: dict[str, Any] = {}
    used = False
    for child in children:
        value, entered = _read(child, form, problems)
        used = used or entered
        if value is not OMIT:
            values[child.key] = value
    return values, used


def _read(f: Field, form: Form, problems: list[Problem]) -> tuple[Any, bool]:
    """A field's JSON value (or `OMIT`), and whether anything was entered in it."""
    if f.kind == "group":
        inner: list[Problem] = []
        values, used = _members(f.children, form, inner)
        if not used and not f.required:
            return OMIT, False  # an optional object left empty: its own required fields do not count
        problems += inner
        return values, used
    texts = [v for v in form.getlist(f.name) if isinstance(v, str)]
    if f.kind == "checkbox":
        return bool(texts), bool(texts)
    if f.kind == "choices":
        by_value = {o.value: o.data for o in f.options}
        unknown = [t for t in texts if t not in by_value]
        if unknown:
            problems.append(Problem(f.name, f.path, f"not one of the choices: {_quoted(unknown[0])}"))
        chosen = [o.data for o in f.options if o.value in texts]
        return (chosen if chosen or f.required else OMIT), bool(texts)
    text = texts[0] if texts else ""
    if f.kind in ("textarea", "lines", "json"):
        text = text.replace("\r\n", "\n").replace("\r", "\n")  # browsers send CRLF
    blank = not text.strip() if f.kind in ("json", "lines") or f.input_type != "text" else text == ""
    if blank:
        if f.kind == "lines":
            return ([] if f.required else OMIT), False
        if f.required:
            problems.append(Problem(f.name, f.path, "required"))
        return OMIT, False
    try:
        return _value(f, text, problems), True
    except _Bad as exc:
        problems.append(Problem(f.name, f.path, str(exc)))
        return OMIT, True


def _value(f: Field, text: str, problems: list[Problem]) -> Any:
    if f.kind == "select":
        found = next((o for o in f.options if o.value == text and o.data is not OMIT), None)
        if found is None:
            raise _Bad(f"not one of the choices: {_quoted(text)}")
        return found.data
    if f.kind == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise _Bad(f"not valid JSON: {exc}") from None
    if f.kind == "lines":
        items = []
        for line in (line for line in text.split("\n") if line.strip()):
            try:
                items.append(_scalar(line, f.type))
            except _Bad as exc:
                problems.append(Problem(f.name, f"{f.path}[{len(items)}]", str(exc)))
                items.append(None)
        return items
    if f.input_type == "datetime-local":
        return _datetime_sent(text)
    if f.input_type == "date" and not (_DATE.match(text.strip()) and _is_date(text.strip())):
        raise _Bad(f"not a date (YYYY-MM-DD): {_quoted(text)}")
    return _scalar(text, f.type)


def _scalar(text: str, kind: str) -> Any:
    if kind == "string":
        return text
    if kind == "boolean":
        word = text.strip().lower()
        if word not in ("true", "false"):
            raise _Bad(f"not true or false: {_quoted(text)}")
        return word == "true"
    plain = text.strip()
    if kind == "integer":
        if not _NUMBER.match(plain):
            raise _Bad(f"not an integer: {_quoted(text)}")
        try:
            exact = Decimal(plain)
            if exact.adjusted() > 4000 or exact != exact.to_integral_value():
                raise _Bad(f"not an integer: {_quoted(text)}")
            return int(exact)
        except (InvalidOperation, ValueError):
            raise _Bad(f"not an integer: {_quoted(text)}") from None
    if not _NUMBER.match(plain):
        raise _Bad(f"not a number: {_quoted(text)}")
    if re.fullmatch(r"[+-]?\d{1,4000}", plain):
        return int(plain)
    number = float(plain)
    if not math.isfinite(number):
        raise _Bad(f"not a number: {_quoted(text)}")
    return number


def _quoted(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _datetime_sent(text: str) -> str:
    """What a datetime-local input sent (`2025-01-31T12:00`), as RFC 3339 in UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _Bad(f"not a date and time: {_quoted(text)}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    shown = moment.replace(microsecond=0).isoformat()
    if moment.microsecond:
        shown += f".{moment.microsecond:06d}".rstrip("0")
    return f"{shown}Z"
