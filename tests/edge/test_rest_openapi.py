"""The REST face's documents: valid OpenAPI 3.1 whose schemas mean what the tools' schemas mean,
OpenAI tool definitions that pass OpenAI's own format, names OpenAI accepts that call the
right tool — and schemathesis finding no 5xx and no answer the document does not promise."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from schemathesis.checks import not_a_server_error, positive_data_acceptance

from mcpgate.config import settings_from_mapping
from mcpgate.edge.openapi import hoist
from mcpgate.edge.tool_formats import function_names
from tests.conftest import TESTS, running_gateway, stdio_echo, threaded_gateway

SHAPES_SERVER = str(TESTS / "upstreams" / "shapes_server.py")
OPENAI_FORMAT = json.loads((Path(__file__).parent / "openai_tools.schema.json").read_text())
TRIP = {"traveller": "ann", "legs": [{"mode": "bus", "stops": [{"city": "Oslo", "nights": 1}]}]}
LONG = "a-rather-long-upstream-name.for-the-team-that-names-things-fully"  # 64 characters


def config(**extra: Any) -> dict[str, Any]:
    return {
        "mcpServers": {
            "shapes.v2": {"command": sys.executable, "args": [SHAPES_SERVER], "timeout": 2},
            LONG: stdio_echo("long"),
        },
        "virtualServers": {"trips": {"mode": "NORMAL", "selectedTools": ["shapes.v2_plan_trip", "shapes.v2_fail"]}},
        **extra,
    }


def checker(document: dict[str, Any], component: str) -> Draft202012Validator:
    """A validator for one component schema, resolving its `$ref`s inside the whole document."""
    registry = Registry().with_resource("urn:doc", Resource.from_contents(document, DRAFT202012))
    return Draft202012Validator({"$ref": f"urn:doc#/components/schemas/{component}"}, registry=registry)


@pytest.mark.anyio
async def test_documents_are_valid_openapi_31_and_their_schemas_mean_the_tools_schemas() -> None:
    async with running_gateway(config()) as gateway, gateway.http() as http:
        root = (await http.get("/openapi.json")).json()
        trips = (await http.get("/servers/trips/openapi.json")).json()
        for document in (root, trips):
            validate(document)  # raises on anything OpenAPI 3.1 does not allow
            assert document["openapi"] == "3.1.0"
        assert trips["servers"] == [{"url": f"{gateway.url}/servers/trips"}]
        assert root["servers"] == [{"url": gateway.url}]
        assert set(trips["paths"]) == {"/tools", "/call-tool", "/tools/shapes.v2_plan_trip", "/tools/shapes.v2_fail"}
        assert {"/resources", "/resources/read", "/prompts", "/prompts/shapes.v2_summarize"} <= set(root["paths"])

        operation = trips["paths"]["/tools/shapes.v2_plan_trip"]["post"]
        assert operation["operationId"] == "shapes_v2_plan_trip"
        request_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        component = request_ref.rsplit("/", 1)[1]
        request = checker(trips, component)
        assert request.is_valid(TRIP)
        for wrong in (
            {**TRIP, "legs": [{"mode": "car", "stops": [{"city": "Oslo", "nights": 1}]}]},  # enum, via $ref
            {**TRIP, "legs": [{"mode": "bus", "stops": [{"city": "Oslo", "nights": "2"}]}]},  # nested array item
            {**TRIP, "legs": [{"mode": "bus", "stops": [{"city": "Oslo", "nights": 1}], "budget": 1.5}]},  # anyOf
            {"legs": TRIP["legs"]},
        ):
            assert not request.is_valid(wrong), wrong
        # The documented response is the tool's output schema under structuredContent.
        response_ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        response = checker(trips, response_ref.rsplit("/", 1)[1])
        answered = (await http.post("/servers/trips/tools/shapes.v2_plan_trip", json=TRIP)).json()
        assert response.is_valid(answered)
        assert not response.is_valid({**answered, "structuredContent": {"traveller": "ann"}})


@pytest.mark.anyio
async def test_openai_tool_definitions_pass_openais_format_and_their_names_call_the_right_tool() -> None:
    async with running_gateway(config()) as gateway, gateway.http() as http:
        listed = (await http.get("/tools")).json()["tools"]
        chat = (await http.get("/tools", params={"format": "openai"})).json()["tools"]
        responses = (await http.get("/tools", params={"format": "openai-responses"})).json()["tools"]
        registry = Registry().with_resource("urn:openai", Resource.from_contents(OPENAI_FORMAT, DRAFT202012))
        chat_tool = Draft202012Validator({"$ref": "urn:openai#/$defs/ChatCompletionTool"}, registry=registry)
        responses_tool = Draft202012Validator({"$ref": "urn:openai#/$defs/ResponsesFunctionTool"}, registry=registry)
        assert len(chat) == len(responses) == len(listed)
        for tool in chat:
            errors = [e.message for e in chat_tool.iter_errors(tool)]
            assert not errors, (tool["function"]["name"], errors)
            Draft202012Validator.check_schema(tool["function"]["parameters"])  # a JSON Schema, as OpenAI wants
            assert tool["function"]["parameters"]["type"] == "object"
        for tool in responses:
            assert not [e.message for e in responses_tool.iter_errors(tool)], tool["name"]

        names = [tool["function"]["name"] for tool in chat]
        assert len(set(names)) == len(names)
        assert "shapes_v2_plan_trip" in names  # the dot is not allowed
        # A model's tool call, posted back under the function name, reaches the tool.
        by_function = await http.post("/call-tool", json={"name": "shapes_v2_plan_trip", "arguments": TRIP})
        assert by_function.status_code == 200 and by_function.json()["structuredContent"]["legs"] == 1
        function_of_echo = function_names(t["name"] for t in listed)[f"{LONG}_echo"]
        assert function_of_echo in names and len(function_of_echo) <= 64 < len(f"{LONG}_echo")
        echoed = await http.post(f"/tools/{function_of_echo}", json={"text": "long way"})
        assert echoed.status_code == 200 and echoed.json()["content"][0]["text"] == "long way"


def test_function_names_are_allowed_distinct_and_stable() -> None:
    names = ["plain", "with.dot", "with_dot", "x" * 100, "x" * 99 + "y", "ünïcode"]
    chosen = function_names(names)
    assert chosen["plain"] == "plain" and chosen["with_dot"] == "with_dot"
    assert chosen["with.dot"] != "with_dot" and chosen["with.dot"].startswith("with_dot_")
    assert len(set(chosen.values())) == len(names)
    assert all(len(n) <= 64 and n.replace("_", "").replace("-", "").isalnum() and n.isascii() for n in chosen.values())
    assert function_names(names) == chosen


def test_hoisting_keeps_every_reference_resolvable() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "tree": {"$ref": "#/definitions/Node"},
            "same": {"$ref": "#/properties/tree"},
            "self": {"$ref": "#"},
            "remote": {"$ref": "https://example.com/schema.json"},
            "missing": {"$ref": "#/$defs/Nope"},
        },
        "definitions": {
            "Node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/definitions/Node"}}},
            },
            "odd name/with~slash": {"type": "string"},
        },
    }
    components: dict[str, Any] = {"t.input": {}}  # a name already taken
    ref = hoist(schema, "t.input", components)
    assert ref == {"$ref": "#/components/schemas/t.input"}
    document = {"openapi": "3.1.0", "components": {"schemas": components}}
    root = components["t.input"]
    assert "definitions" not in root and "$schema" not in root
    assert root["properties"]["tree"] == {"$ref": "#/components/schemas/t.input.Node"}
    assert root["properties"]["self"] == {"$ref": "#/components/schemas/t.input"}
    assert "$ref" not in root["properties"]["remote"] and "$ref" not in root["properties"]["missing"]
    assert any(name.startswith("t.input.odd_name_with_slash") for name in components)
    valid = checker(document, "t.input")
    assert valid.is_valid({"tree": {"children": [{"children": []}]}, "same": {"children": []}})
    assert not valid.is_valid({"tree": {"children": [{"children": 3}]}})
    assert not valid.is_valid({"self": {"tree": {"children": "no"}}})


# -- schemathesis against a live gateway's documents -----------------------------------------


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("rest-schemathesis")
    settings_ = settings_from_mapping(
        {
            "mcpServers": {"shapes": {"command": sys.executable, "args": [SHAPES_SERVER], "timeout": 1}},
            "virtualServers": {"fuzz": {"mode": "NORMAL", "selectedTools": ["shapes_plan_trip", "shapes_fail"]}},
            "database_url": f"sqlite+aiosqlite:///{data / 'registry.db'}",
            "data_dir": str(data),
        },
        "rest-schemathesis",
    )
    with threaded_gateway(settings_) as url:
        yield url


@pytest.mark.parametrize("base", ["", "/servers/fuzz"])
def test_the_rest_face_keeps_the_promises_of_its_openapi_document(gateway_url: str, base: str) -> None:
    schema = schemathesis.openapi.from_url(f"{gateway_url}{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= (4 if base else 9)
    failures = []
    for operation in operations:
        if operation.path == "/tools/shapes_slow":
            continue  # every example would wait for the upstream's timeout; its 504 is tested directly
        # A 502 is what `?errors=http` asks for when a tool fails (checked below instead);
        # a schema-valid name or URI can still name nothing (404): only these two take one.
        excluded = [not_a_server_error]
        if operation.path in ("/call-tool", "/resources/read"):
            excluded.append(positive_data_acceptance)

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            response = case.call_and_validate(excluded_checks=excluded)  # noqa: B023 - runs within this iteration
            asked_for_502 = (case.query or {}).get("errors") == "http"
            assert response.status_code < 500 or (response.status_code == 502 and asked_for_502), response.text

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
