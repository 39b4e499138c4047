"""The form's tree: one `Field` per input, and the problems a posted form can have."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ROOT = "arg"  # every argument field's name starts "arg.", so no argument can take "csrf" or "raw"
MAX_DEPTH = 4  # nested objects shown as fieldsets; deeper ones are JSON
MAX_FIELDS = 250  # a schema larger than this shows the rest as JSON
LONG_TEXT = 256  # a string allowed more characters than this is a textarea

Kind = Literal["input", "textarea", "select", "checkbox", "choices", "lines", "json", "group"]
OMIT: Any = object()  # a value the arguments leave out
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.~-]")


class Form(Protocol):
    """A posted form: Starlette's FormData, or any multi-dict."""

    def getlist(self, key: Any) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class Option:
    value: str  # what the form posts
    label: str
    data: Any  # the JSON value it stands for
    selected: bool = False


@dataclass(frozen=True, slots=True)
class Field:
    kind: Kind
    name: str  # the form field's name: "arg.address.city"
    path: str  # how errors name it: "address.city"
    key: str  # the property's own name
    label: str
    type: str = "string"  # a JSON type; for "lines" and "choices", the items' type
    hint: str = ""
    required: bool = False  # the schema requires it (in its object)
    enforced: bool = False  # ...and every object above it: an HTML `required` blocks nothing optional
    value: str = ""  # the text an input, textarea or JSON field shows
    input_type: str = "text"
    options: tuple[Option, ...] = ()
    checked: bool = False
    attrs: tuple[tuple[str, str], ...] = ()  # min, max, step, maxlength, minlength
    children: tuple[Field, ...] = ()
    schema: str = ""  # a JSON field: the part of the schema it stands for, to show

    @property
    def id(self) -> str:
        """An HTML id, distinct for distinct names (anything but letters, digits, `.~-` escaped)."""
        return "f-" + _ID_UNSAFE.sub(lambda m: f"_{ord(m.group()):x}_", self.name)


@dataclass(frozen=True, slots=True)
class Problem:
    name: str  # the form field it is about
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class FormError(ValueError):
    """What is wrong with a posted form: one problem per field, each naming it."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
