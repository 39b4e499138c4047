"""Reading OpenAPI documents: what is refused and how it is said, `$ref`s (recursive ones
included) expanded to finite schemas, OpenAPI 3.0's dialect made JSON Schema for tool inputs,
and a realistic document of ~1,100 operations (tests/upstreams/big_openapi.py) read whole,
grouped and searched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mcpgate.catalogs.openapi.document import Document, SpecError, load_document
from mcpgate.catalogs.openapi.operations import Operations
from tests.conftest import serve_asgi
from tests.upstreams.big_openapi import SERVICES, big_spec, operation_count
from tests.upstreams.pets_api import document as pets_document

pytestmark = pytest.mark.anyio


async def load(tmp_path: Path, content: str, name: str = "spec.json") -> Document:
    file = tmp_path / name
    file.write_text(content)
    return await load_document(str(file), timeout=5)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (json.dumps({"swagger": "2.0", "paths": {}}), "is Swagger 2.0; mcpgate reads OpenAPI 3.0 and 3.1. Convert it"),
        (json.dumps({"openapi": "4.0.0", "paths": {"/a": {}}}), "unsupported `openapi` version '4.0.0'"),
        (json.dumps({"info": {}}), "is not an OpenAPI document: it has no `openapi` field"),
        (json.dumps([1, 2]), "is not an OpenAPI document (expected a mapping at the top)"),
        (json.dumps({"openapi": "3.1.0", "paths": {}}), "declares no paths"),
        ("openapi: 3.1.0\npaths: {/a: [unclosed\n", "is neither JSON nor YAML (line"),
        (
            json.dumps(
                {"openapi": "3.1.0", "paths": {"/a": {"get": {"responses": {"200": {"$ref": "other.yaml#/R"}}}}}}
            ),
            "#/paths/~1a/get/responses/200 refers outside the document ('other.yaml#/R'); bundle",
        ),
        (
            json.dumps({"openapi": "3.0.3", "paths": {"/a": {"get": {"parameters": [{"$ref": "#/components/x"}]}}}}),
            "$ref '#/components/x' points at nothing",
        ),
    ],
)
async def test_unservable_documents_are_refused_saying_why(tmp_path: Path, content: str, reason: str) -> None:
    with pytest.raises(SpecError) as refused:
        await load(tmp_path, content)
    assert reason.replace("~1", "/") in str(refused.value).replace("~1", "/")


async def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read the OpenAPI document .*nope.yaml: No such file"):
        await load_document(str(tmp_path / "nope.yaml"), timeout=5)


async def test_yaml_and_json_read_alike(tmp_path: Path) -> None:
    as_json = await load(tmp_path, json.dumps(pets_document()))
    as_yaml = await load(tmp_path, yaml.safe_dump(pets_document()), "spec.yaml")
    assert as_json.raw == as_yaml.raw and as_yaml.version == "3.1.0"


def test_recursive_schemas_expand_once_then_stop() -> None:
    document = Document(big_spec(), "big")
    folder = document.inline({"$ref": "#/components/schemas/Folder"})
    child = folder["properties"]["children"]["items"]
    assert child == {"description": "(recursive: Folder, as above)"}
    assert folder["properties"]["address"]["properties"]["city"] == {"type": "string", "nullable": True}
    json.dumps(folder)  # finite, plain data


def test_tool_input_schemas_are_json_schema(tmp_path: Path) -> None:
    operations = Operations.of(Document(big_spec(), "big"))
    create = operations.input_schema(operations.by_id["createInvoice"])
    assert create["required"] == ["locationId", "body"]
    body = create["properties"]["body"]
    assert body["properties"]["description"]["type"] == ["string", "null"]  # 3.0's nullable
    validator = jsonschema.Draft202012Validator(create)
    validator.check_schema(create)
    good: dict[str, Any] = {"locationId": "loc1", "body": {"name": "March", "description": None}}
    assert not list(validator.iter_errors(good))
    bad = {"locationId": "loc1", "body": {"amount": {"value": -1, "currency": "euro"}}}  # and no name
    assert {e.validator for e in validator.iter_errors(bad)} == {"minimum", "pattern", "required"}


def test_a_thousand_operations_are_read_grouped_and_searched() -> None:
    spec = big_spec()
    operations = Operations.of(Document(spec, "big"))
    assert len(operations) == operation_count(spec) >= 1100
    services = operations.services()
    assert [s["service"] for s in services] == list(SERVICES)
    assert sum(s["endpoints"] for s in services) == len(operations)

    needs = {
        "remind a customer that their invoice is overdue": "sendInvoiceReminder",
        "get the invoice as a pdf file": "downloadInvoicePdf",
        "reset the password of a team member": "resetUserPassword",
        "which time slots are free for an appointment": "listFreeSlots",
        "text a customer on their phone": "sendSms",
    }
    for need, wanted in needs.items():
        assert wanted in [op.id for op in operations.search(need, limit=3)], need
    posts = operations.search("invoice", method="post", service="billing", limit=50)
    assert posts and all(op.method == "POST" and "billing" in op.services for op in posts)

    found = operations.find(method="get", path="/invoices/in_42/pdf")
    assert found.id == "downloadInvoicePdf" and found.path_values("/invoices/in_42/pdf") == {"id": "in_42"}
    detail = operations.details(found)
    assert detail["security"][0]["allOf"][0]["scopes"] == ["invoices.readonly"]
    assert detail["parameters"][0]["name"] == "locationId" and detail["parameters"][0]["required"] is True


async def _documents(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """`/bad.json`: a document with a dangling `$ref`; anything else: 404."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/bad.json":
        dangling = {"get": {"parameters": [{"$ref": "#/x"}]}}
        status, body = 200, json.dumps({"openapi": "3.1.0", "paths": {"/a": dangling}})
    else:
        status, body = 404, "{}"
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body.encode()})


async def test_a_documents_url_is_named_without_its_user_info_or_query_string() -> None:
    async with serve_asgi(_documents) as base:
        secret_url = base.replace("http://", "http://user:pw-s3cret@")
        with pytest.raises(SpecError) as missing:
            await load_document(f"{secret_url}/gone.json?token=s3cret", timeout=5)
        with pytest.raises(SpecError) as dangling:
            await load_document(f"{secret_url}/bad.json?token=s3cret", timeout=5)
    with pytest.raises(SpecError) as unreachable:
        await load_document(f"{secret_url}/spec.json?token=s3cret", timeout=5)  # the server is gone
    assert str(missing.value) == f"cannot fetch the OpenAPI document at {base}/gone.json: HTTP 404"
    assert str(dangling.value).startswith(f"{base}/bad.json: ") and "$ref '#/x' points at nothing" in str(
        dangling.value
    )
    assert str(unreachable.value).startswith(f"cannot fetch the OpenAPI document at {base}/spec.json: ConnectError")
    assert not [e for e in (missing, dangling, unreachable) if "s3cret" in str(e.value)]
