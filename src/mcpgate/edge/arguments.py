"""Tool arguments checked against the tool's input schema before a REST call goes upstream.

    checker = ArgumentChecker()
    checker.check(tool["inputSchema"], {"items": [{"qty": "x"}]})
    → [{"field": "items[0].qty", "message": "'x' is not of type 'integer'"}]

An MCP client gets the upstream's own verdict; a REST caller gets a 422 that names the
field, which is what codegen'd clients and GPT Actions need to correct themselves. The
check never refuses what it cannot judge: a schema that is itself invalid, or refers to
something it cannot resolve, lets the call through for the upstream to decide.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jsonschema (~3 MB with its deps) loads with the first REST call that is checked
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

logger = logging.getLogger(__name__)

_MAX_PROBLEMS = 20
_MAX_MESSAGE = 300
_CACHE_LIMIT = 4096


class ArgumentChecker:
    def __init__(self) -> None:
        # id(schema) → (schema, its validator or None when it cannot be used); the schema is
        # held so its id is not reused while cached. Catalog rebuilds bring new schema objects.
        self._validators: dict[int, tuple[Any, Validator | None]] = {}

    def check(self, schema: Any, arguments: Mapping[str, Any]) -> list[dict[str, str]]:
        """The problems with `arguments` under `schema`, most relevant first; empty when they pass."""
        validator = self._validator(schema)
        if validator is None:
            return []
        from jsonschema.exceptions import best_match
        from referencing.exceptions import Unresolvable

        try:
            errors = list(validator.iter_errors(arguments))
        except Unresolvable as exc:
            logger.debug("input schema refers to %s, which cannot be resolved: not checked", exc)
            return []
        if not errors:
            return []
        first = best_match(errors)
        ordered = [first, *(e for e in errors if e is not first)]
        return [{"field": _field(e), "message": _message(e)} for e in ordered[:_MAX_PROBLEMS]]

    def _validator(self, schema: Any) -> Validator | None:
        if not isinstance(schema, Mapping):
            return None
        cached = self._validators.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        from jsonschema import Draft202012Validator, SchemaError
        from jsonschema.validators import validator_for

        validator: Validator | None
        try:
            cls = validator_for(schema, default=Draft202012Validator)
            cls.check_schema(schema)
            validator = cls(schema)
        except SchemaError as exc:
            logger.debug("input schema is not a valid JSON Schema (%s): arguments not checked", exc.message)
            validator = None
        if len(self._validators) >= _CACHE_LIMIT:
            self._validators.clear()
        self._validators[id(schema)] = (schema, validator)
        return validator


def _field(error: ValidationError) -> str:
    """Where the problem is, as `items[0].qty`; for a missing property, the property itself."""
    path: list[Any] = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, Mapping):
        missing = [name for name in error.validator_value if name not in instance]
        if missing:
            path.append(missing[0])
    elif error.validator == "additionalProperties" and isinstance(instance, Mapping):
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        extra = [name for name in instance if name not in known]
        if extra:
            path.append(extra[0])
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: ValidationError) -> str:
    message = error.message
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"
