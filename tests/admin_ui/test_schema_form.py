"""The "try a tool" form: a schema's fields rendered by the real template, posted back as a browser
would post them, give the arguments they showed; bad input names its field, and nothing else raises."""

from __future__ import annotations

import json
from datetime import UTC
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import FormData

from mcpgate.admin_ui.rendering import Pages
from mcpgate.admin_ui.schema_form import MAX_DEPTH, FormError, arguments, fields

_TEMPLATE = Pages().env.from_string(
    '{% import "tool_fields.html" as t %}{% for f in fields %}{{ t.render(f, errors) }}{% endfor %}'
)


def render(schema: Any, form: FormData | None = None) -> str:
    return _TEMPLATE.render(fields=fields(schema, form), errors={})


class Browser(HTMLParser):
    """The name/value pairs a browser submits for a form's controls (the WHATWG "form data set")."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pairs: list[tuple[str, str]] = []
        self.ids: list[str] = []
        self.labelled: set[str] = set()
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._option: list[Any] | None = None
        self._textarea: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "label" and a.get("for"):
            self.labelled.add(a["for"])
        if tag == "input":
            kind = a.get("type", "text")
            if kind == "checkbox":
                if "checked" in a:
                    self.pairs.append((a["name"], a.get("value", "on")))
                return
            value = a.get("value", "").replace("\r", "").replace("\n", "")  # a single-line control drops them
            if kind in ("email", "url"):
                value = value.strip()
            self.pairs.append((a["name"], value))
        elif tag == "select":
            self._select = (a["name"], [])
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "selected" in a, ""]
        elif tag == "textarea":
            self._textarea = [a["name"]]

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.append(data)
        elif self._option is not None:
            self._option[2] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" and self._option is not None and self._select is not None:
            value, selected, text = self._option
            self._select[1].append((text if value is None else value, selected))
            self._option = None
        elif tag == "select" and self._select is not None:
            name, options = self._select
            chosen = next((v for v, selected in options if selected), options[0][0] if options else None)
            if chosen is not None:
                self.pairs.append((name, chosen))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, *parts = self._textarea
            text = "".join(parts)
            text = text[1:] if text.startswith("\n") else text  # the parser drops the first newline
            self.pairs.append((name, text.replace("\r\n", "\n").replace("\n", "\r\n")))  # sent as CRLF
            self._textarea = None


def submitted(html: str) -> Browser:
    browser = Browser()
    browser.feed(html)
    browser.close()
    return browser


def post(schema: Any, form: FormData | None = None) -> FormData:
    return FormData(submitted(render(schema, form)).pairs)


# -- generated schemas and values they allow ------------------------------------------------------

_TEXT = st.characters(exclude_categories=("Cs", "Cc", "Cn", "Co"))
line = st.text(_TEXT, min_size=1, max_size=12)
words = line.filter(lambda s: s.strip() != "")
paragraph = st.lists(st.text(_TEXT, max_size=10), min_size=2, max_size=4).map("\n".join).filter(lambda s: s != "")
keys = st.text(alphabet="abz.~ _-é0", min_size=1, max_size=5)
primitive = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(_TEXT, max_size=6)
json_values = st.recursive(
    primitive | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def integers(draw: st.DrawFn) -> tuple[dict, Any]:
    low = draw(st.none() | st.integers(-100, 100))
    schema: dict[str, Any] = {"type": "integer"}
    if low is not None:
        schema["minimum"] = low
    value = draw(st.integers(min_value=low if low is not None else -(10**30), max_value=10**30))
    return schema, value


def pair(schema: dict, values: st.SearchStrategy) -> st.SearchStrategy:
    return values.map(lambda v: (schema, v))


@st.composite
def enums(draw: st.DrawFn) -> tuple[dict, Any]:
    choices = draw(st.lists(primitive, min_size=1, max_size=5, unique_by=json.dumps))
    schema = (
        {"enum": choices}
        if draw(st.booleans())
        else {"oneOf": [{"const": c, "title": f"choice {n}"} for n, c in enumerate(choices)]}
    )
    return schema, draw(st.sampled_from(choices))


@st.composite
def lines(draw: st.DrawFn) -> tuple[dict, Any]:
    kind, items = draw(
        st.sampled_from(
            [
                ("string", words.filter(lambda s: "\n" not in s)),
                ("integer", st.integers()),
                ("number", st.floats(allow_nan=False, allow_infinity=False)),
                ("boolean", st.booleans()),
            ]
        )
    )
    return {"type": "array", "items": {"type": kind}}, draw(st.lists(items, min_size=1, max_size=4))


@st.composite
def choices(draw: st.DrawFn) -> tuple[dict, Any]:
    options = draw(st.lists(st.text(_TEXT, max_size=5), min_size=1, max_size=5, unique=True))
    chosen = draw(st.lists(st.sampled_from(options), min_size=1, unique=True))
    return {"type": "array", "items": {"enum": options}}, [o for o in options if o in chosen]


leaves = st.one_of(
    pair({"type": "string"}, line.filter(lambda s: "\n" not in s)),
    pair({"type": "string", "maxLength": 5000}, paragraph),
    pair({"type": "string", "format": "date"}, st.dates().map(lambda d: d.isoformat())),
    pair(
        {"type": "string", "format": "date-time"},
        st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0, tzinfo=None).isoformat() + "Z"),
    ),
    pair({"type": "string", "format": "email"}, st.from_regex(r"[a-z]{1,6}@[a-z]{1,6}\.[a-z]{2,3}", fullmatch=True)),
    integers(),
    pair({"type": "number"}, st.floats(allow_nan=False, allow_infinity=False) | st.integers()),
    pair({"type": "boolean"}, st.booleans()),
    pair({"type": ["string", "null"]}, line.filter(lambda s: "\n" not in s)),
    enums(),
    lines(),
    choices(),
    pair({"anyOf": [{"type": "string"}, {"type": "integer"}]}, st.text(max_size=5) | st.integers()),
    pair({"type": "object", "additionalProperties": {"type": "integer"}}, st.dictionaries(st.text(), st.integers())),
    pair({"type": "array", "items": {"type": "object"}}, st.lists(st.dictionaries(st.text(), json_values))),
)


@st.composite
def objects(draw: st.DrawFn, members: st.SearchStrategy) -> tuple[dict, Any]:
    """An object schema and a value with every required property and some others (never empty)."""
    chosen = draw(st.dictionaries(keys, members, min_size=1, max_size=4))
    required = draw(st.lists(st.sampled_from(sorted(chosen)), unique=True))
    present = draw(st.lists(st.sampled_from(sorted(chosen)), unique=True, min_size=1))
    schema = {
        "type": "object",
        "properties": {k: s for k, (s, _) in chosen.items()},
        "required": required,
    }
    value = {k: v for k, (_, v) in chosen.items() if k in required or k in present}
    return schema, value


schemas_and_values = objects(st.recursive(leaves, lambda inner: objects(inner), max_leaves=8))


def with_default(schema: dict, value: Any) -> dict:
    return {**schema, "default": value}


# -- round trips ----------------------------------------------------------------------------------


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(schemas_and_values)
def test_a_form_showing_values_posts_back_those_values(case: tuple[dict, Any]) -> None:
    schema, value = case
    assert arguments(schema, post(with_default(schema, value))) == value


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(schemas_and_values)
def test_a_form_shown_again_after_a_post_keeps_what_was_sent(case: tuple[dict, Any]) -> None:
    schema, value = case
    sent = post(with_default(schema, value))
    again = post(schema, sent)  # no defaults now: only what the form sent
    assert sorted(again.multi_items()) == sorted(sent.multi_items())
    assert arguments(schema, again) == value


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(schemas_and_values)
def test_every_input_has_a_label_and_a_distinct_id(case: tuple[dict, Any]) -> None:
    schema, value = case
    page = submitted(render(with_default(schema, value)))
    assert len(page.ids) == len(set(page.ids))
    controls = [i for i in page.ids if not i.endswith(("-hint", "-error"))]
    fieldsets = {f.id for f in _walk(fields(schema)) if f.kind in ("group", "choices")}
    assert {i for i in controls if i not in fieldsets} <= page.labelled


def _walk(tree: list) -> list:
    return [f for top in tree for f in (top, *_walk(list(top.children)))]


# -- bad input ----------------------------------------------------------------------------------------


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(schemas_and_values, st.data())
def test_any_posted_text_gives_arguments_or_an_error_naming_the_field(case: tuple[dict, Any], data: Any) -> None:
    schema, _ = case
    names = [f.name for f in _walk(fields(schema)) if f.kind != "group"]
    form = data.draw(st.lists(st.tuples(st.sampled_from(names), st.text(max_size=12)), max_size=8))
    try:
        result = arguments(schema, FormData(form))
    except FormError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.name in names
            assert str(problem).startswith(problem.path + ": ")
            assert problem.path.split("[")[0] in {f.path for f in _walk(fields(schema))}
    else:
        json.dumps(result)


_KEYWORDS = st.sampled_from(
    [
        "type",
        "properties",
        "items",
        "enum",
        "const",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "required",
        "default",
        "format",
        "minimum",
        "maximum",
        "multipleOf",
        "maxLength",
        "title",
        "description",
        "additionalProperties",
        "$defs",
    ]
)
garbage = st.recursive(
    primitive | st.sampled_from(["object", "string", "integer", "array", "boolean", "#", "#/$defs/a", "date-time"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(_KEYWORDS | st.sampled_from(["a", "b"]), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(garbage, st.data())
def test_any_schema_gives_a_form_and_any_form_gives_arguments_or_a_form_error(schema: Any, data: Any) -> None:
    schema = {"type": "object", "properties": schema} if isinstance(schema, dict) else schema
    render(schema)
    names = [f.name for f in _walk(fields(schema))] or ["arg.a"]
    form = data.draw(st.lists(st.tuples(st.sampled_from(names), st.text(max_size=8)), max_size=6))
    try:
        arguments(schema, FormData(form))
    except FormError:
        pass


# -- what each kind of field does ---------------------------------------------------------------------

TRIP = {
    "type": "object",
    "properties": {
        "count": {"type": "integer", "minimum": 1},
        "ratio": {"type": "number"},
        "title": {"type": "string"},
        "urgent": {"type": "boolean"},
        "confirm": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "sizes": {"type": "array", "items": {"type": "integer"}},
        "at": {"type": "string", "format": "date-time"},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            "required": ["city"],
        },
    },
    "required": ["confirm"],
}


def form(**values: str | list[str]) -> FormData:
    pairs = []
    for key, value in values.items():
        for one in value if isinstance(value, list) else [value]:
            pairs.append((f"arg.{key.replace('__', '.')}", one))
    return FormData(pairs)


def test_text_is_turned_into_the_schemas_types() -> None:
    sent = form(
        count="3", ratio="2.5", title="", urgent="false", tags="a\r\n\r\nb c\r\n", sizes="1\n2", at="2025-01-31T12:00"
    )
    assert arguments(TRIP, sent) == {
        "count": 3,
        "ratio": 2.5,
        "urgent": False,
        "confirm": False,
        "tags": ["a", "b c"],
        "sizes": [1, 2],
        "at": "2025-01-31T12:00:00Z",
    }


def test_an_optional_boolean_can_be_left_unset_and_a_required_one_is_a_checkbox() -> None:
    by_name = {f.key: f for f in fields(TRIP)}
    assert by_name["urgent"].kind == "select"
    assert [o.value for o in by_name["urgent"].options] == ["", "true", "false"]
    assert by_name["confirm"].kind == "checkbox"
    assert arguments(TRIP, form(confirm="true")) == {"confirm": True}
    assert "urgent" not in arguments(TRIP, form(urgent=""))


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        (form(count="x"), "count: not an integer: 'x'"),
        (form(count="2.5"), "count: not an integer: '2.5'"),
        (form(ratio="1e999"), "ratio: not a number: '1e999'"),
        (form(ratio="nan"), "ratio: not a number: 'nan'"),
        (form(sizes="1\nx\n3"), "sizes[1]: not an integer: 'x'"),
        (form(urgent="maybe"), "urgent: not one of the choices: 'maybe'"),
        (form(at="yesterday"), "at: not a date and time: 'yesterday'"),
        (form(address__zip="0150"), "address.city: required"),
    ],
)
def test_bad_input_names_the_field(sent: FormData, message: str) -> None:
    with pytest.raises(FormError) as caught:
        arguments(TRIP, sent)
    assert str(caught.value) == message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(FormError) as caught:
        arguments(TRIP, form(count="x", ratio="y"))
    assert [str(p) for p in caught.value.problems] == ["count: not an integer: 'x'", "ratio: not a number: 'y'"]


def test_an_optional_object_left_empty_is_left_out() -> None:
    assert arguments(TRIP, form(address__city="", address__zip="")) == {"confirm": False}
    assert arguments(TRIP, form(address__city="Oslo"))["address"] == {"city": "Oslo"}


PYDANTIC = {
    "$defs": {
        "Stop": {
            "properties": {"city": {"title": "City", "type": "string"}, "next": {"$ref": "#/$defs/Stop"}},
            "required": ["city"],
            "title": "Stop",
            "type": "object",
        },
        "Mode": {"enum": ["train", "bus"], "title": "Mode", "type": "string"},
    },
    "properties": {
        "first": {"$ref": "#/$defs/Stop"},
        "mode": {"anyOf": [{"$ref": "#/$defs/Mode"}, {"type": "null"}], "default": None},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "Note"},
        "either": {"anyOf": [{"type": "string"}, {"type": "integer"}], "title": "Either"},
    },
    "required": ["first"],
    "title": "plan_tripArguments",
    "type": "object",
}


def test_pydantic_schemas_refs_and_optionals_become_fields_and_recursion_json() -> None:
    tree = {f.key: f for f in fields(PYDANTIC)}
    assert tree["first"].kind == "group"
    assert [(c.key, c.kind) for c in tree["first"].children] == [("city", "input"), ("next", "json")]
    assert tree["mode"].kind == "select" and [o.value for o in tree["mode"].options] == ["", "train", "bus"]
    assert tree["note"].kind == "input" and tree["note"].label == "Note"
    assert tree["either"].kind == "json"
    sent = FormData([("arg.first.city", "Oslo"), ("arg.first.next", '{"city": "Bergen"}'), ("arg.either", "7")])
    assert arguments(PYDANTIC, sent) == {"first": {"city": "Oslo", "next": {"city": "Bergen"}}, "either": 7}


def test_objects_deeper_than_the_limit_are_json() -> None:
    schema: dict[str, Any] = {"type": "object", "properties": {"leaf": {"type": "string"}}}
    for _ in range(MAX_DEPTH + 2):
        schema = {"type": "object", "properties": {"inner": schema}}
    kinds = []
    level = fields(schema)
    while level:
        kinds.append(level[0].kind)
        level = list(level[0].children)
    assert kinds == ["group"] * (MAX_DEPTH - 1) + ["json"]


def test_the_html_required_attribute_never_blocks_an_optional_object() -> None:
    by_name = {f.key: f for f in fields(TRIP)}
    city = by_name["address"].children[0]
    assert city.required and not city.enforced
    assert "required" not in render(TRIP).split('id="f-arg.address.city"')[1].split(">")[0]


def test_names_with_dots_stay_distinct_fields() -> None:
    schema = {
        "type": "object",
        "properties": {"a.b": {"type": "string"}, "a": {"type": "object", "properties": {"b": {"type": "string"}}}},
    }
    names = [f.name for f in _walk(fields(schema))]
    assert names == ["arg.a~1b", "arg.a", "arg.a.b"]
    assert arguments(schema, FormData([("arg.a~1b", "x"), ("arg.a.b", "y")])) == {"a.b": "x", "a": {"b": "y"}}


def test_labelled_choices_show_their_titles_and_post_their_values() -> None:
    schema = {
        "type": "object",
        "properties": {"speed": {"oneOf": [{"const": 1, "title": "Slow"}, {"const": 2, "title": "Fast"}]}},
    }
    (speed,) = fields(schema)
    assert [(o.value, o.label) for o in speed.options] == [("", "(not set)"), ("1", "Slow (1)"), ("2", "Fast (2)")]
    assert arguments(schema, FormData([("arg.speed", "2")])) == {"speed": 2}
