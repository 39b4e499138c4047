"""Registering OpenAPI catalogs through the management API, the CLI and the config file; a
document that cannot be served is refused at once with the reason, and nothing is stored.
And the embedded default's catalog of mcpgate's own API: described without a key, called
as the caller (their key's scopes apply)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from mcpgate.cli import default_settings
from mcpgate.config import load_config
from tests.conftest import running_gateway, serve_asgi
from tests.test_cli import mcpgate
from tests.test_manage import NO_GATEWAY, run
from tests.upstreams.pets_api import build_app, document

pytestmark = pytest.mark.anyio

ADMIN = "admin-secret"
SWAGGER = {"swagger": "2.0", "info": {"title": "old", "version": "1"}, "paths": {"/a": {"get": {}}}}


async def test_registered_through_the_api_and_refused_when_unservable(tmp_path: Path) -> None:
    swagger = tmp_path / "swagger.json"
    swagger.write_text(json.dumps(SWAGGER))
    async with (
        serve_asgi(build_app()) as api,
        running_gateway({"api_key": ADMIN}) as gateway,
        gateway.http({"x-api-key": ADMIN}) as admin,
    ):
        made = await admin.post(
            "/api/v1/upstreams",
            json={
                "name": "pets",
                "kind": "openapi",
                "spec": f"{api}/openapi.json",
                "headers": {"Authorization": "Bearer service-token"},
            },
        )
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["state"] == "ready" and body["headers"] == {"Authorization": "********"}
        assert body["passthroughHeaders"] == ["Authorization"]  # from the document's security scheme
        assert [t["name"] for t in body["tools"]] == [
            "list_services",
            "search_endpoints",
            "get_endpoint",
            "call_endpoint",
        ]
        async with gateway.client("streamable_http", headers={"x-api-key": ADMIN}) as client:
            # The static credential is used when the caller brings none.
            listed = await client.call_tool("pets_call_endpoint", {"operationId": "listPets"})
            assert listed.structured_content["body"]["caller"] == "service"

        changed = await admin.patch("/api/v1/upstreams/pets", json={"liveTools": "operations"})
        assert changed.status_code == 200 and "createPet" in [t["name"] for t in changed.json()["tools"]]

        for spec, reason in [
            (str(swagger), "is Swagger 2.0; mcpgate reads OpenAPI 3.0 and 3.1. Convert it first"),
            ("http://127.0.0.1:9/openapi.json", "cannot fetch the OpenAPI document at http://127.0.0.1:9/openapi.json"),
            (f"{api}/status", "is not an OpenAPI document: it has no `openapi` field"),
        ]:
            refused = await admin.post("/api/v1/upstreams", json={"name": "bad", "kind": "openapi", "spec": spec})
            assert refused.status_code == 422 and reason in refused.json()["error"]["message"], refused.text
            assert (await admin.get("/api/v1/upstreams/bad")).status_code == 404
        # No base URL to call: refused unless the catalog is reference-only.
        local = tmp_path / "local.json"
        local.write_text(json.dumps({**document(), "servers": []}))
        refused = await admin.post("/api/v1/upstreams", json={"name": "bad", "kind": "openapi", "spec": str(local)})
        assert refused.status_code == 422 and "set `baseUrl`" in refused.json()["error"]["message"]
        reference = {"name": "docs", "kind": "openapi", "spec": str(local), "liveTools": "none"}
        assert (await admin.post("/api/v1/upstreams", json=reference)).status_code == 201


async def test_registered_through_the_cli_online_and_offline(tmp_path: Path) -> None:
    swagger = tmp_path / "swagger.json"
    swagger.write_text(json.dumps(SWAGGER))
    env = {**os.environ, "MCPGATE_DATA_DIR": str(tmp_path / "data")}
    async with serve_asgi(build_app()) as api, mcpgate("serve", "--port", "0", env=env) as url:
        await run(
            env,
            "upstreams",
            "add",
            "pets",
            "--openapi",
            f"{api}/openapi.json",
            "--live-tools",
            "operations",
            gateway=url,
        )
        listed = json.loads((await run(env, "upstreams", "list", "--json", gateway=url)).stdout)
        pets = next(u for u in listed if u["name"] == "pets")
        assert pets["kind"] == "openapi" and pets["state"] == "ready" and "getPet" in [t["name"] for t in pets["tools"]]
        refused = await run(env, "upstreams", "add", "old", "--openapi", str(swagger), gateway=url, check=False)
        assert refused.returncode == 1 and "Swagger 2.0" in refused.stderr.decode()
    # With no gateway running the CLI checks the document itself before writing the database.
    offline = await run(env, "upstreams", "add", "old", "--openapi", str(swagger), gateway=NO_GATEWAY, check=False)
    assert offline.returncode != 0 and "Swagger 2.0" in offline.stderr.decode()
    stored = json.loads((await run(env, "upstreams", "list", "--json", gateway=NO_GATEWAY)).stdout)
    assert "old" not in {u["name"] for u in stored} and "pets" in {u["name"] for u in stored}


async def test_declared_in_the_config_file_with_paths_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "pets.yaml").write_text(json.dumps(document("3.0.3")))  # JSON is YAML too
    (tmp_path / "api" / "guides").mkdir()
    (tmp_path / "api" / "guides" / "intro.md").write_text("# Intro\n\nThe pets API in five minutes.\n")
    async with serve_asgi(build_app()) as api:
        (tmp_path / "gateway.yaml").write_text(
            "mcpServers:\n"
            f"  pets: {{type: openapi, spec: api/pets.yaml, baseUrl: '{api}', guides: api/guides, liveTools: none}}\n"
        )
        settings = load_config(tmp_path / "gateway.yaml")
        async with running_gateway(settings) as gateway, gateway.client("streamable_http") as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert names == {
                "pets_list_services",
                "pets_search_endpoints",
                "pets_get_endpoint",
                "pets_search_guides",
                "pets_read_guide",
            }
            guide = await client.call_tool("pets_read_guide", {"uri": "intro.md"})
            assert "five minutes" in guide.content[0].text


async def test_the_default_gateway_describes_its_own_api_and_calls_it_as_the_caller() -> None:
    settings = default_settings().model_copy(update={"api_key": SecretStr(ADMIN)})
    async with running_gateway(settings) as gateway:
        async with gateway.http({"x-api-key": ADMIN}) as admin:
            made = await admin.post("/api/v1/keys", json={"name": "agent", "scopes": ["tools:call"]})
            agent_key = made.json()["key"]
        async with gateway.client("streamable_http", headers={"x-api-key": agent_key}) as agent:
            services = (await agent.call_tool("mcpgate_list_services", {})).structured_content
            assert {"API keys", "upstreams", "virtual servers"} <= {s["service"] for s in services["services"]}
            found = await agent.call_tool("mcpgate_search_endpoints", {"query": "make a new API key", "limit": 3})
            assert ("POST", "/api/v1/keys") in [(e["method"], e["path"]) for e in found.structured_content["endpoints"]]
            guides = await agent.call_tool("mcpgate_search_guides", {"query": "plain HTTP REST calls for OpenAI"})
            assert "guide:///rest.md" in [g["uri"] for g in guides.structured_content["guides"]]
            # Called as the agent: its key lacks the scope, and the API says so.
            denied = await agent.call_tool("mcpgate_call_endpoint", {"method": "GET", "path": "/api/v1/upstreams"})
            assert denied.is_error and denied.structured_content["status"] == 403
            assert "servers:read" in denied.structured_content["body"]["error"]["message"]
        async with gateway.client("streamable_http", headers={"x-api-key": ADMIN}) as operator:
            listed = await operator.call_tool("mcpgate_call_endpoint", {"method": "GET", "path": "/api/v1/upstreams"})
            assert not listed.is_error
            assert {u["name"] for u in listed.structured_content["body"]["data"]} == {"demo", "mcpgate"}
