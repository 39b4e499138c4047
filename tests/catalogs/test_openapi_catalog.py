"""OpenAPI catalogs through the official SDK client, against a real REST API on loopback
(tests/upstreams/pets_api.py): reference tools answer on a public virtual server with no key
and no token; live calls carry the caller's passed-through token or the end user's stored
one, are refused without either (saying what to send), and surface API errors, timeouts,
large and non-JSON bodies as such."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcpgate.catalogs.openapi import open_openapi_catalog
from mcpgate.settings import OpenAPICatalogUpstream
from tests.conftest import running_gateway, serve_asgi
from tests.upstreams.pets_api import build_app, document

pytestmark = pytest.mark.anyio

ADMIN = "admin-secret"
REFERENCE = [
    "pets_list_services",
    "pets_search_endpoints",
    "pets_get_endpoint",
    "pets_search_guides",
    "pets_read_guide",
]


def write_guides(folder: Path) -> str:
    folder.mkdir()
    (folder / "adoption.md").write_text(
        "# Adopting a pet\n\nHow adoption works.\n\n## Fees\n\nAdoption costs 50 euros, vaccinations included.\n"
    )
    (folder / "care.md").write_text("# Daily care\n\nFeed cats twice a day; walk dogs three times.\n")
    return str(folder)


def config(api: str, guides: str, **catalog: Any) -> dict[str, Any]:
    return {
        "api_key": ADMIN,
        "mcpServers": {
            "pets": {
                "type": "openapi",
                "spec": f"{api}/openapi.json",
                "guides": guides,
                "passthroughHeaders": ["Authorization", "X-Workspace-Id"],
                **catalog,
            }
        },
        "virtualServers": {
            "shelter": {"mode": "NORMAL", "selectedTools": [*REFERENCE, "pets_call_endpoint"], "isPublic": True}
        },
    }


async def call(client: Any, tool: str, arguments: dict[str, Any]) -> Any:
    return await client.call_tool(tool, arguments)


@pytest.mark.parametrize("transport", ["sse", "streamable_http"])
async def test_reference_tools_answer_without_any_key_or_token(transport: str, tmp_path: Path) -> None:
    async with (
        serve_asgi(build_app()) as api,
        running_gateway(config(api, write_guides(tmp_path / "guides"))) as gateway,
        gateway.client(transport, server="shelter") as client,  # public server: no key, no token
    ):
        services = (await call(client, "pets_list_services", {})).structured_content
        assert services["endpoints"] == 9
        assert services["services"] == [
            {"service": "pets", "endpoints": 4, "description": "Adopt, list and look after pets."},
            {"service": "reports", "endpoints": 3, "description": "Exports and reports."},
            {"service": "ops", "endpoints": 2},
        ]

        found = (
            await call(client, "pets_search_endpoints", {"query": "put an animal up for adoption"})
        ).structured_content
        assert "createPet" in [e["operationId"] for e in found["endpoints"][:3]]
        only_get = await call(
            client, "pets_search_endpoints", {"query": "put an animal up for adoption", "method": "get"}
        )
        assert {e["method"] for e in only_get.structured_content["endpoints"]} == {"GET"}
        reports = await call(client, "pets_search_endpoints", {"query": "pets", "service": "reports", "limit": 50})
        assert {e["operationId"] for e in reports.structured_content["endpoints"]} == {
            "slowReport",
            "exportPets",
            "textReport",
        }

        tree = (await call(client, "pets_get_endpoint", {"operationId": "getFamilyTree"})).structured_content
        schema = tree["responses"]["200"]["schema"]
        assert schema["properties"]["pet"]["allOf"][0]["required"] == ["name", "species"]  # refs expanded
        assert "recursive: FamilyNode" in schema["properties"]["parents"]["items"]["description"]  # and finite
        assert tree["security"] == [
            {
                "allOf": [
                    {
                        "name": "bearer",
                        "scopes": [],
                        "type": "http",
                        "httpScheme": "bearer",
                        "header": "Authorization",
                        "send": "Authorization: Bearer <token>",
                    }
                ]
            }
        ]

        # By method and a concrete path: the path-level parameter is merged in.
        pet = (await call(client, "pets_get_endpoint", {"method": "GET", "path": "/pets/7"})).structured_content
        assert pet["operationId"] == "getPet"
        assert pet["parameters"][0] == {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}
        assert pet["url"] == f"{api}/pets/{{petId}}"
        created = (await call(client, "pets_get_endpoint", {"operationId": "createPet"})).structured_content
        assert created["requestBody"]["required"] is True
        assert created["requestBody"]["schema"]["properties"]["species"]["enum"] == ["dog", "cat", "rabbit"]
        missing = await call(client, "pets_get_endpoint", {"method": "DELETE", "path": "/pets/7"})
        assert missing.is_error and "has no DELETE operation (it has GET)" in missing.content[0].text

        hits = (await call(client, "pets_search_guides", {"query": "how much does adopting cost"})).structured_content
        assert hits["guides"][0]["uri"] == "guide:///adoption.md" and hits["guides"][0]["section"] == "Fees"
        guide = await call(client, "pets_read_guide", {"uri": hits["guides"][0]["uri"]})
        assert "50 euros" in guide.content[0].text

        # A live call without a token: refused before anything is sent, saying what to send.
        refused = await call(client, "pets_call_endpoint", {"method": "GET", "path": "/pets"})
        assert refused.is_error
        text = refused.content[0].text
        assert "`Authorization: Bearer <token>`" in text and "manage_connections" in text
        # …but an operation the document marks public goes through.
        status = await call(client, "pets_call_endpoint", {"operationId": "status"})
        assert not status.is_error and status.structured_content == {
            "status": 200,
            "contentType": "application/json",
            "body": {"up": True},
        }


async def test_guides_are_resources_at_the_default_endpoint(tmp_path: Path) -> None:
    async with (
        serve_asgi(build_app()) as api,
        running_gateway(config(api, write_guides(tmp_path / "guides"))) as gateway,
        gateway.client("streamable_http", headers={"x-api-key": ADMIN}) as client,
    ):
        resources = {str(r.uri): r for r in (await client.list_resources()).resources}
        assert set(resources) == {"pets+guide:///adoption.md", "pets+guide:///care.md"}
        assert resources["pets+guide:///care.md"].mime_type == "text/markdown"
        read = await client.read_resource("pets+guide:///care.md")
        assert "walk dogs" in read.contents[0].text


@pytest.mark.parametrize("transport", ["sse", "streamable_http"])
async def test_live_calls_carry_the_callers_token_or_the_end_users_stored_one(transport: str, tmp_path: Path) -> None:
    async with (
        serve_asgi(build_app()) as api,
        running_gateway(config(api, write_guides(tmp_path / "guides"))) as gateway,
    ):
        passthrough = {"Authorization": "Bearer alice-token", "X-Workspace-Id": "ws-7"}
        async with gateway.client(transport, server="shelter", headers=passthrough) as alice:
            listed = await call(
                alice, "pets_call_endpoint", {"method": "GET", "path": "/pets", "query": {"species": "cat"}}
            )
            assert not listed.is_error
            assert listed.structured_content["body"] == {
                "caller": "alice",
                "pets": [{"id": 2, "name": "Tom", "species": "cat"}],
            }
            where = await call(alice, "pets_call_endpoint", {"method": "GET", "path": "/workspace"})
            assert where.structured_content["body"]["workspace"] == "ws-7"

        # Bob's token is stored for him (sealed) and used when a caller acts as bob.
        async with gateway.http({"x-api-key": ADMIN}) as admin:
            stored = await admin.put(
                "/api/v1/users/bob/connections/pets", json={"headers": {"Authorization": "Bearer bob-token"}}
            )
            assert stored.status_code in (200, 201), stored.text
        async with gateway.client(
            transport, server="shelter", headers={"x-api-key": ADMIN, "x-username": "bob"}
        ) as bob:
            created = await call(
                bob,
                "pets_call_endpoint",
                {"method": "POST", "path": "/pets", "body": {"name": "Bun", "species": "rabbit"}},
            )
            assert not created.is_error
            assert created.structured_content["status"] == 201
            assert created.structured_content["body"]["registeredBy"] == "bob"

            # The API's own errors come back with their status and body.
            nobody = await call(bob, "pets_call_endpoint", {"method": "GET", "path": "/pets/99"})
            assert nobody.is_error and nobody.structured_content == {
                "status": 404,
                "contentType": "application/json",
                "body": {"error": "no pet 99"},
            }
            assert "GET /pets/{petId} → 404 Not Found" in nobody.content[0].text
            invalid = await call(
                bob, "pets_call_endpoint", {"method": "POST", "path": "/pets", "body": {"species": "dog"}}
            )
            assert invalid.is_error and invalid.structured_content["body"]["field"] == "name"

            # A path parameter cannot reach another endpoint: it is encoded whole.
            sneaky = await call(
                bob, "pets_call_endpoint", {"operationId": "getPet", "pathParams": {"petId": "../export"}}
            )
            assert sneaky.structured_content["status"] == 404
            unknown = await call(bob, "pets_call_endpoint", {"method": "GET", "path": "/admin/secrets"})
            assert unknown.is_error and "no path '/admin/secrets'" in unknown.content[0].text

            # Text and large bodies.
            text = await call(bob, "pets_call_endpoint", {"operationId": "textReport"})
            assert text.structured_content["bodyText"] == "2 pets, 0 adopted"
            big = await call(bob, "pets_call_endpoint", {"operationId": "exportPets"})
            assert big.structured_content["truncated"] is True and "body" not in big.structured_content
            assert "…[truncated: 50,000 of" in big.content[0].text


async def test_a_slow_api_is_a_clear_tool_error_within_the_upstream_timeout(tmp_path: Path) -> None:
    async with (
        serve_asgi(build_app()) as api,
        running_gateway(config(api, write_guides(tmp_path / "guides"), timeout=1.0)) as gateway,
        gateway.client("streamable_http", server="shelter", headers={"Authorization": "Bearer alice-token"}) as client,
    ):
        slow = await call(client, "pets_call_endpoint", {"operationId": "slowReport"})
        assert slow.is_error and slow.content[0].text == "GET /slow: the API did not answer within 0.9s"


async def test_one_tool_per_operation_with_typed_arguments(tmp_path: Path) -> None:
    async with (
        serve_asgi(build_app("3.0.3")) as api,
        running_gateway(
            config(api, write_guides(tmp_path / "guides"), liveTools="operations", maxResponseChars=1000)
        ) as gateway,
        gateway.client(
            "streamable_http", headers={"x-api-key": ADMIN, "Authorization": "Bearer alice-token"}
        ) as client,
    ):
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        create = tools["pets_createPet"].input_schema
        assert create["required"] == ["body"]
        assert create["properties"]["body"]["properties"]["tag"] == {"type": ["string", "null"]}  # 3.0 nullable
        assert set(tools["pets_listPets"].input_schema["properties"]) == {"species", "limit"}
        assert tools["pets_getPet"].input_schema["required"] == ["petId"]
        assert tools["pets_listPets"].annotations.read_only_hint is True

        pet = await client.call_tool("pets_getPet", {"petId": 1})
        assert pet.structured_content["body"] == {"id": 1, "name": "Rex", "species": "dog"}
        tagged = await client.call_tool("pets_currentWorkspace", {"X-Request-Tag": "t-1"})
        assert tagged.structured_content["body"]["tag"] == "t-1"
        undeclared = await client.call_tool(
            "pets_call_endpoint", {"operationId": "status", "headers": {"X-Admin": "1"}}
        )
        assert undeclared.is_error and "declares no header X-Admin" in undeclared.content[0].text


@pytest.mark.parametrize(
    ("title", "named"), [("Pets", "Pets API"), ("Pets API", "Pets API"), ("Shop REST api", "Shop REST api")]
)
async def test_descriptions_name_the_api_once_whether_or_not_its_title_ends_in_api(
    title: str, named: str, tmp_path: Path
) -> None:
    spec = tmp_path / "pets.json"
    spec.write_text(json.dumps({**document(), "info": {"title": title, "version": "1.0"}}))
    catalog = OpenAPICatalogUpstream(name="pets", spec=str(spec), base_url="http://127.0.0.1:9")
    async with open_openapi_catalog(catalog, connect_timeout=5, call_timeout=5) as server:
        said = [server.instructions(), *(tool["description"] for tool in server.tools())]
    assert f"The {named} (" in said[0]
    assert f"of the {named} with" in " ".join(said) and f"Search the {named}'s endpoints" in " ".join(said)
    assert not [text for text in said if "API API" in text or "api API" in text], said
