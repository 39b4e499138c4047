"""/api/v1/mcp_manager: virtual servers — CRUD, paging, validation, read-only config
servers, and the config endpoint."""

from __future__ import annotations

import pytest

from tests.conftest import running_gateway, stdio_echo

pytestmark = pytest.mark.anyio

CONFIG = {
    "mcpServers": {"demo": stdio_echo("demo"), "other": stdio_echo("other")},
    "virtualServers": {"declared": {"mode": "NORMAL", "selectedTools": ["demo_echo"], "description": "from the file"}},
}


async def test_create_get_patch_delete_and_the_config_endpoint() -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        created = await http.post(
            "/api/v1/mcp_manager",
            json={
                "name": "support-desk",
                "description": "What support agents need",
                "mode": "NORMAL",
                "selectedTools": ["demo_echo", "other_add"],
                "config": {"team": "support"},
                "isPublic": True,
            },
        )
        assert created.status_code == 201, created.text
        server = created.json()
        assert server["source"] == "api" and server["isPublic"] is True and server["config"] == {"team": "support"}
        assert server["endpoints"]["mcp"] == "/servers/support-desk/mcp"
        assert server["endpoints"]["api"] == f"/api/v1/mcp/{server['id']}"

        fetched = (await http.get(f"/api/v1/mcp_manager/{server['id']}")).json()
        assert fetched == server

        config = (await http.get(f"/api/v1/mcp_manager/{server['id']}/config")).json()
        assert config["mode"] == "NORMAL"
        assert [t["name"] for t in config["tools"]] == ["demo_echo", "other_add"]
        assert config["tools"][1]["inputSchema"]["properties"].keys() == {"a", "b"}
        assert config["tools"][0]["description"] == "Echo the text back unchanged."

        patched = await http.patch(
            f"/api/v1/mcp_manager/{server['id']}", json={"selectedTools": ["other_whoami"], "mode": "SMART"}
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["mode"] == "SMART" and patched.json()["description"] == "What support agents need"
        smart = (await http.get(f"/api/v1/mcp_manager/{server['id']}/config")).json()
        assert {t["name"] for t in smart["tools"]} == {
            "search_tools",
            "get_tool_schemas",
            "execute_tool",
            "manage_connections",
        }
        assert smart["reachableTools"] == ["other_whoami"]

        assert (await http.delete(f"/api/v1/mcp_manager/{server['id']}")).status_code == 204
        assert (await http.get(f"/api/v1/mcp_manager/{server['id']}")).status_code == 404
        assert server["id"] not in gateway.hub.servers


async def test_listing_pages_by_page_and_by_cursor_with_config_servers_first() -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        for i in range(6):
            response = await http.post("/api/v1/mcp_manager", json={"name": f"s{i}"})
            assert response.status_code == 201
        everything = ["declared"] + [f"s{i}" for i in range(6)]

        first = (await http.get("/api/v1/mcp_manager", params={"limit": 3})).json()
        assert [s["name"] for s in first["data"]] == everything[:3]
        assert first["data"][0]["source"] == "config"
        assert first["pagination"] == {
            "page": 1,
            "limit": 3,
            "total": 7,
            "hasMore": True,
            "nextCursor": first["pagination"]["nextCursor"],
        }
        third = (await http.get("/api/v1/mcp_manager", params={"limit": 3, "page": 3})).json()
        assert [s["name"] for s in third["data"]] == everything[6:]
        assert third["pagination"]["hasMore"] is False and third["pagination"]["nextCursor"] is None
        assert (await http.get("/api/v1/mcp_manager", params={"page": 9})).json()["data"] == []

        walked, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await http.get("/api/v1/mcp_manager", params=params)).json()
            walked += [s["name"] for s in page["data"]]
            cursor = page["pagination"]["nextCursor"]
            if cursor is None:
                break
        assert walked == everything

        for bad in ({"limit": 0}, {"limit": 101}, {"page": 0}, {"limit": "x"}):
            assert (await http.get("/api/v1/mcp_manager", params=bad)).status_code == 422
        garbled = await http.get("/api/v1/mcp_manager", params={"cursor": "not-a-cursor"})
        assert garbled.status_code == 400 and "cursor" in garbled.json()["error"]["message"]


async def test_config_file_servers_are_listed_and_read_only() -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        declared = (await http.get("/api/v1/mcp_manager")).json()["data"][0]
        assert declared["name"] == "declared" and declared["source"] == "config"
        for response in (
            await http.patch(f"/api/v1/mcp_manager/{declared['id']}", json={"description": "x"}),
            await http.delete(f"/api/v1/mcp_manager/{declared['id']}"),
        ):
            assert response.status_code == 409 and response.json()["error"]["type"] == "read_only"
        clash = await http.post("/api/v1/mcp_manager", json={"name": "declared"})
        assert clash.status_code == 409
        # The config endpoint works for it like for any other.
        config = (await http.get(f"/api/v1/mcp_manager/{declared['id']}/config")).json()
        assert [t["name"] for t in config["tools"]] == ["demo_echo"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"name": "Not A Slug"}, 422, "name"),
        ({"name": "-leading"}, 422, "name"),
        ({"name": "ok", "mode": "CLEVER"}, 422, "mode"),
        ({"name": "ok", "selectedTools": ["demo_echo", "ghost_tool", "nope"]}, 422, "ghost_tool, nope"),
        ({"name": "ok", "selectedTools": ["demo_echo", "demo_echo"]}, 422, "more than once"),
        ({"name": "ok", "externalMcpConfigs": [{"name": "x", "url": "ftp://x"}]}, 422, "url"),
        (
            {"name": "ok", "externalMcpConfigs": [{"name": "x", "url": "http://a"}, {"name": "x", "url": "http://b"}]},
            422,
            "name of its own",
        ),
        ({"name": "ok", "unknownField": 1}, 422, "unknownField"),
        ({}, 422, "name"),
    ],
)
async def test_bad_server_input_is_rejected_and_nothing_is_written(body: dict, status: int, says: str) -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        response = await http.post("/api/v1/mcp_manager", json=body)
        assert response.status_code == status, response.text
        assert says in response.json()["error"]["message"]
        assert (await gateway.registry.servers(limit=10))[1] == 0
        assert [s.name for s in gateway.hub.servers.values()] == ["declared"]


async def test_unknown_tools_are_listed_conflicts_404s_and_failed_patches_change_nothing() -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        unknown = await http.post("/api/v1/mcp_manager", json={"name": "a", "selectedTools": ["ghost"]})
        assert unknown.json()["error"]["details"] == {"unknownTools": ["ghost"]}
        a = (await http.post("/api/v1/mcp_manager", json={"name": "a", "mode": "NORMAL"})).json()
        assert (await http.post("/api/v1/mcp_manager", json={"name": "b"})).status_code == 201
        assert (await http.post("/api/v1/mcp_manager", json={"name": "a"})).status_code == 409
        taken = await http.patch(f"/api/v1/mcp_manager/{a['id']}", json={"name": "b"})
        assert taken.status_code == 409
        invalid = await http.patch(f"/api/v1/mcp_manager/{a['id']}", json={"selectedTools": ["ghost"], "name": "c"})
        assert invalid.status_code == 422
        nulled = await http.patch(f"/api/v1/mcp_manager/{a['id']}", json={"mode": None})
        assert nulled.status_code == 422
        assert (await http.get(f"/api/v1/mcp_manager/{a['id']}")).json() == a
        for response in (
            await http.get("/api/v1/mcp_manager/00000000-0000-0000-0000-000000000000"),
            await http.get("/api/v1/mcp_manager/00000000-0000-0000-0000-000000000000/config"),
            await http.patch("/api/v1/mcp_manager/nope", json={}),
            await http.delete("/api/v1/mcp_manager/nope"),
        ):
            assert response.status_code == 404 and response.json()["error"]["type"] == "not_found"
        huge = await http.post("/api/v1/mcp_manager", json={"name": "big", "config": {"x": "y" * (5 * 1024 * 1024)}})
        assert huge.status_code == 413
