"""A tool's input schema as a form, and a posted form back as the tool's arguments.

    tree = fields(tool["inputSchema"])            # Fields, rendered by templates/tool_fields.html
    tree = fields(tool["inputSchema"], posted)    # the same tree showing what was sent
    arguments(tool["inputSchema"], posted)        # {"count": 3, "address": {"city": "Oslo"}}
    → FormError("count: not an integer: 'x'")     # every problem, each naming its field

A form field's name encodes its path (`arg.address.city`; a `.` or `~` in a property name is
escaped as `~1` / `~0`), and `arguments` walks the same tree `fields` builds, so the two can
never disagree. What becomes a field: strings (a text input, or a textarea for long text;
`format` date, date-time, email and uri get those input types), numbers and integers (with
min/max/step), booleans (a checkbox when the value must be sent; otherwise a select that can
say "not set"), enums and `oneOf` of `const`s (a select), arrays of primitives (a textarea,
one item per line) and of enum values (checkboxes), and objects with `properties` (a
fieldset, to `MAX_DEPTH` levels). Local `$ref`s are followed, and the two shapes pydantic
writes for `X | None` (`anyOf` with `null`, a `type` list with "null") count as X. Anything
else — `anyOf`/`oneOf`/`allOf` proper, tuples, arrays of objects, maps (`additionalProperties`
or `patternProperties`), recursion, deeper nesting — is a JSON textarea for that value.

Pure functions: no I/O, no Jinja, no Starlette (a form is anything with `getlist`). The form
turns text into JSON types and says which field is wrong; it does not judge ranges, lengths or
patterns — the gateway checks the arguments against the schema itself (edge/arguments.py: a
422 naming the field) and the page shows that as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcpgate.admin_ui.schema_form.building import build
from mcpgate.admin_ui.schema_form.model import MAX_DEPTH, ROOT, Field, Form, FormError, Option, Problem
from mcpgate.admin_ui.schema_form.reading import read


def fields(schema: Any, form: Form | None = None) -> list[Field]:
    """The form for `schema` (a tool's inputSchema): defaults filled in, or what `form` posted."""
    return build(schema, form) if isinstance(schema, Mapping) else []


def arguments(schema: Any, form: Form) -> dict[str, Any]:
    """The arguments `form` stands for under `schema`; `FormError` naming every field that is wrong."""
    values, problems = read(fields(schema), form)
    if problems:
        raise FormError(problems)
    return values


__all__ = ["MAX_DEPTH", "ROOT", "Field", "Form", "FormError", "Option", "Problem", "arguments", "fields"]
