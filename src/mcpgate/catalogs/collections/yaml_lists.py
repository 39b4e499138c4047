"""YAML to Python objects from libyaml's event stream: ~3x faster than `yaml.CSafeLoader` on
reference data (10,000 records: 0.5 s against 1.6 s — libyaml parses in 0.25 s, PyYAML's node
composition and constructors take the rest; docs/benchmarks.md, "Reference collections").

    load_yaml(text)   # what yaml.load(text, Loader=yaml.CSafeLoader) returns

Only plain YAML is built here — mappings, sequences and scalars, typed by the same implicit
rules as the safe loader (int, float, bool, null, timestamps…); a document using anything else
(anchors and aliases, explicit tags, merge keys, several documents) is handed to the safe loader
whole, so the result is always the safe loader's.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers  # first character → [(tag, pattern)]


class _NotPlain(Exception):
    """The document uses a feature only the full loader builds."""


def load_yaml(text: bytes | str) -> Any:
    try:
        return _build(text)
    except _NotPlain:
        return yaml.load(text, Loader=_LOADER)


def _build(text: bytes | str) -> Any:
    constructor = yaml.constructor.SafeConstructor()
    stack: list[Any] = []  # open containers; a mapping's pending key rides along as [dict, key]
    result: Any = None
    documents = 0
    for event in yaml.parse(text, Loader=_LOADER):
        kind = type(event)
        if kind is ScalarEvent:
            value = _scalar(event, constructor)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.anchor is not None or not event.implicit:
                raise _NotPlain
            stack.append([{}, None] if kind is MappingStartEvent else [[], None])
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            value = stack.pop()[0]
        elif kind is AliasEvent:
            raise _NotPlain
        elif kind is DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _NotPlain  # the safe loader refuses several documents; let it say so
            continue
        else:
            continue  # stream and document boundaries
        if not stack:
            result = value
            continue
        top = stack[-1]
        container = top[0]
        if type(container) is list:
            container.append(value)
        elif top[1] is None:  # a key
            if value == "<<" and kind is ScalarEvent and not event.style:
                raise _NotPlain  # a merge key
            if isinstance(value, dict | list):
                raise _NotPlain  # a complex key
            top[1] = (value,)
        else:
            container[top[1][0]] = value
            top[1] = None
    return result


def _scalar(event: ScalarEvent, constructor: yaml.constructor.SafeConstructor) -> Any:
    if event.anchor is not None:
        raise _NotPlain
    value = event.value
    if event.style or not event.implicit[0]:  # quoted, block, or explicitly tagged (plain: None or "")
        if event.tag not in (None, "!", _STR_TAG) and not event.implicit[1]:
            raise _NotPlain
        return value
    for tag, pattern in _IMPLICIT.get(value[:1] if value else "", ()):
        if pattern.match(value):
            if tag == _STR_TAG:
                return value
            node = yaml.ScalarNode(tag, value)
            return constructor.construct_object(node, deep=True)
    return value
