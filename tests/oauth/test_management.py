"""The built-in authorization server's clients and grants in the management API and the CLI:
listed with names, revoked so that the tokens stop at once, refused to all but admin keys."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import running_gateway
from tests.oauth.person import MemoryStorage, Person, oauth_client, oauth_provider
from tests.oauth.test_builtin import ADMIN, CONFIG, make_key
from tests.test_manage import run

pytestmark = pytest.mark.anyio

PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


def admin(url: str, key: str = ADMIN) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"{url}/api/v1/oauth", headers={"x-api-key": key}, timeout=10)


async def granted(url: str, key: str, client_name: str = "test client") -> MemoryStorage:
    """Tokens (and a registered client) from the whole flow: a person signs in with `key`."""
    storage = MemoryStorage()
    endpoint = f"{url}/mcp"
    provider = oauth_provider(endpoint, Person(key), storage, client_name=client_name)
    async with oauth_client(endpoint, "streamable_http", provider) as client:
        assert (await client.call_tool("demo_echo", {"text": "hi"})).content[0].text.endswith("hi")
    assert storage.tokens is not None and storage.client is not None
    return storage


async def status_with(url: str, access_token: str) -> int:
    """What /mcp answers a ping with this token: 400 once let in (no session id), 401 if refused."""
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(f"{url}/mcp", json=PING, headers={"Authorization": f"Bearer {access_token}"})
        return answer.status_code


async def refreshed(url: str, storage: MemoryStorage) -> httpx.Response:
    assert storage.tokens is not None and storage.client is not None
    form = {
        "grant_type": "refresh_token",
        "refresh_token": storage.tokens.refresh_token or "",
        "client_id": storage.client.client_id or "",
    }
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(f"{url}/oauth/token", data=form)


async def test_a_grant_is_listed_and_revoking_it_stops_its_tokens_at_once() -> None:
    async with running_gateway(CONFIG) as gateway, admin(gateway.url) as api:
        key = await make_key(gateway.url, scopes=["tools:call"])
        storage = await granted(gateway.url, key)
        assert storage.client is not None
        client_id = storage.client.client_id

        clients = (await api.get("/clients")).json()["data"]
        assert clients == [
            {
                "clientId": client_id,
                "clientName": "test client",
                "redirectUris": ["http://127.0.0.1:1/callback"],
                "tokenEndpointAuthMethod": "none",
                "createdAt": clients[0]["createdAt"],
                "activeGrants": 1,
            }
        ]
        [grant] = (await api.get("/grants")).json()["data"]
        assert grant["clientId"] == client_id and grant["clientName"] == "test client"
        assert grant["keyName"] == "person" and grant["state"] == "active" and grant["revokedAt"] is None
        assert grant["serverId"] is None and grant["serverName"] is None and grant["resource"] == f"{gateway.url}/"
        assert grant["scopes"] == ["tools:call"]
        assert (await api.get(f"/grants/{grant['id']}")).json() == grant

        # The refresh token works until the grant is revoked (and the fresh tokens are the ones tried after).
        answer = await refreshed(gateway.url, storage)
        assert answer.status_code == 200, answer.text
        storage.tokens = storage.tokens.model_validate(answer.json())  # type: ignore[union-attr]
        assert await status_with(gateway.url, storage.tokens.access_token) == 400

        revoked = await api.delete(f"/grants/{grant['id']}")
        assert revoked.status_code == 200 and revoked.json()["state"] == "revoked" and revoked.json()["revokedAt"]
        assert await status_with(gateway.url, storage.tokens.access_token) == 401
        refused = await refreshed(gateway.url, storage)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        assert (await api.get("/clients")).json()["data"][0]["activeGrants"] == 0


async def test_grants_are_filtered_and_a_revoked_key_revokes_its_grants() -> None:
    async with running_gateway(CONFIG) as gateway, admin(gateway.url) as api:
        first = await make_key(gateway.url, name="first", scopes=["tools:call"])
        second = await make_key(gateway.url, name="second", scopes=["tools:call"])
        one = await granted(gateway.url, first, "one")
        await granted(gateway.url, second, "two")
        grants = {g["keyName"]: g for g in (await api.get("/grants")).json()["data"]}
        assert {name: g["clientName"] for name, g in grants.items()} == {"first": "one", "second": "two"}

        assert one.client is not None
        by_client = (await api.get("/grants", params={"clientId": one.client.client_id})).json()["data"]
        assert [g["keyName"] for g in by_client] == ["first"]
        by_key = (await api.get("/grants", params={"keyId": grants["second"]["keyId"]})).json()["data"]
        assert [g["clientName"] for g in by_key] == ["two"]

        async with httpx.AsyncClient(base_url=gateway.url, headers={"x-api-key": ADMIN}) as keys:
            assert (await keys.delete(f"/api/v1/keys/{grants['first']['keyId']}")).status_code == 200
        revoked = (await api.get("/grants", params={"state": "revoked"})).json()["data"]
        assert [(g["keyName"], g["revokedAt"]) for g in revoked] == [("first", None)]  # its key is, not it
        active = (await api.get("/grants", params={"state": "active"})).json()["data"]
        assert [g["keyName"] for g in active] == ["second"]
        assert (await api.get("/grants", params={"state": "gone"})).status_code == 422


async def test_removing_a_client_revokes_its_grants_and_no_other() -> None:
    async with running_gateway(CONFIG) as gateway, admin(gateway.url) as api:
        key = await make_key(gateway.url, scopes=["tools:call"])
        removed, kept = await granted(gateway.url, key, "removed"), await granted(gateway.url, key, "kept")
        assert removed.client is not None and removed.tokens is not None and kept.tokens is not None
        client_id = removed.client.client_id or ""

        answer = await api.delete(f"/clients/{client_id}")
        assert answer.status_code == 200, answer.text
        [grant_id] = answer.json()["revokedGrants"]
        assert answer.json()["clientId"] == client_id
        assert [c["clientName"] for c in (await api.get("/clients")).json()["data"]] == ["kept"]
        states = {g["clientName"]: g["state"] for g in (await api.get("/grants")).json()["data"]}
        assert states == {"removed": "revoked", "kept": "active"}
        assert (await api.get(f"/grants/{grant_id}")).json()["state"] == "revoked"
        assert await status_with(gateway.url, removed.tokens.access_token) == 401
        assert await status_with(gateway.url, kept.tokens.access_token) == 400
        assert (await refreshed(gateway.url, removed)).status_code in (400, 401)  # the client itself is unknown now
        assert (await api.delete(f"/clients/{client_id}")).status_code == 404


async def test_unknown_clients_and_grants_answer_404_a_metadata_url_included() -> None:
    async with running_gateway(CONFIG) as gateway, admin(gateway.url) as api:
        url = "https://app.example/oauth/client.json"
        for path in (f"/clients/{url}", f"/clients/{quote(url, safe='')}"):
            answer = await api.delete(path)
            assert answer.status_code == 404 and url in answer.json()["error"]["message"], answer.text
        for method in ("GET", "DELETE"):
            answer = await api.request(method, "/grants/no-such-grant")
            assert answer.status_code == 404 and "no-such-grant" in answer.json()["error"]["message"]


async def test_only_an_admin_key_sees_or_revokes_oauth_grants() -> None:
    async with running_gateway(CONFIG) as gateway:
        operator = await make_key(gateway.url, scopes=["servers:read", "servers:write", "tools:call"])
        async with admin(gateway.url, operator) as api:
            for method, path in (("GET", "/clients"), ("GET", "/grants"), ("DELETE", "/grants/x")):
                answer = await api.request(method, path)
                assert answer.status_code == 403, (method, path, answer.text)
        async with admin(gateway.url, "wrong") as api:
            assert (await api.get("/grants")).status_code == 401


@pytest.mark.parametrize("oauth", [{}, {"oauth": {"mode": "off"}}])
async def test_with_the_builtin_server_off_the_routes_say_so(oauth: dict[str, Any]) -> None:
    config = {key: value for key, value in CONFIG.items() if key != "oauth"} | oauth
    async with running_gateway(config) as gateway, admin(gateway.url) as api:
        for method, path in (("GET", "/clients"), ("DELETE", "/clients/c"), ("GET", "/grants"), ("GET", "/grants/g")):
            answer = await api.request(method, path)
            assert answer.status_code == 404, answer.text
            assert answer.json()["error"]["message"] == "OAuth's built-in server is off: set oauth.mode builtin"


# -- the CLI -----------------------------------------------------------------------------


async def test_the_cli_lists_and_revokes_through_the_gateway_and_offline(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
    config = {**CONFIG, "database_url": database, "data_dir": str(tmp_path)}
    env = {
        **os.environ,
        "MCPGATE_DATABASE_URL": database,
        "MCPGATE_DATA_DIR": str(tmp_path),
        "MCPGATE_API_KEY": ADMIN,
    }
    async with running_gateway(config) as gateway:
        url = gateway.url
        key = await make_key(url, scopes=["tools:call"])
        online, offline = await granted(url, key, "online"), await granted(url, key, "offline")
        assert online.tokens is not None and offline.tokens is not None

        clients = (await run(env, "oauth", "clients", gateway=url)).stdout.decode().splitlines()
        assert clients[0].split() == ["CLIENTID", "CLIENTNAME", "TOKENENDPOINTAUTHMETHOD", "ACTIVEGRANTS", "CREATEDAT"]
        assert sorted(line.split()[1] for line in clients[1:]) == ["offline", "online"]
        grants = json.loads((await run(env, "oauth", "grants", "--json", gateway=url)).stdout)
        ids = {g["clientName"]: g["id"] for g in grants}
        client_ids = {g["clientName"]: g["clientId"] for g in grants}
        by_client = await run(env, "oauth", "grants", "--client", client_ids["online"], gateway=url)
        assert ids["online"] in by_client.stdout.decode() and ids["offline"] not in by_client.stdout.decode()

        revoked = await run(env, "oauth", "revoke-grant", ids["online"], gateway=url)
        assert "revoked" in revoked.stdout.decode() and "working on the database" not in revoked.stderr.decode()
        assert await status_with(url, online.tokens.access_token) == 401

        # Offline: the database directly; a refresh token stops at once, an access token the gateway
        # has seen only when it expires (no running gateway is told).
        removed = await run(env, "oauth", "revoke-client", client_ids["offline"], "--offline", gateway=url)
        assert f"removed OAuth client {client_ids['offline']}: 1 grant revoked" in removed.stdout.decode()
        assert "until they expire" in removed.stderr.decode()
        assert (await refreshed(url, offline)).status_code in (400, 401)
        listed = json.loads((await run(env, "oauth", "grants", "--json", "--offline", gateway=url)).stdout)
        assert {g["clientName"]: g["state"] for g in listed} == {"online": "revoked", "offline": "revoked"}
        assert {g["keyName"] for g in listed} == {"person"}
        clients = json.loads((await run(env, "oauth", "clients", "--json", "--offline", gateway=url)).stdout)
        assert [(c["clientName"], c["activeGrants"]) for c in clients] == [("online", 0)]

        missing = await run(env, "oauth", "revoke-grant", "no-such-grant", gateway=url, check=False)
        assert missing.returncode == 1 and "HTTP 404" in missing.stderr.decode()
        missing = await run(env, "oauth", "revoke-grant", "no-such-grant", "--offline", gateway=url, check=False)
        assert missing.returncode == 1 and "no OAuth grant with id 'no-such-grant'" in missing.stderr.decode()
