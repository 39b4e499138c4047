"""The built-in authorization server, driven by the official SDK's OAuth client: discovery from a
401, registration, PKCE, the sign-in page, tokens bound to one resource, refresh, revocation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from mcp.client.auth.oauth2 import PKCEParameters

from tests.conftest import running_gateway, serve_asgi, stdio_echo
from tests.oauth.person import REDIRECT, MemoryStorage, Person, Registered, oauth_client, oauth_provider
from tests.upstreams.echo_server import build_server

pytestmark = pytest.mark.anyio

ADMIN = "static-admin-key-for-oauth-tests-0123456789"
CONFIG: dict[str, Any] = {
    "mcpServers": {"demo": stdio_echo("demo")},
    "virtualServers": {
        "alpha": {"mode": "NORMAL", "selectedTools": ["demo_echo"]},
        "beta": {"mode": "NORMAL", "selectedTools": ["demo_whoami"]},
    },
    "api_key": ADMIN,
    "oauth": {"mode": "builtin"},
}


async def make_key(url: str, **body: Any) -> str:
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": ADMIN}, timeout=10) as admin:
        answer = await admin.post("/api/v1/keys", json={"name": "person", **body})
        assert answer.status_code == 201, answer.text
        return answer.json()["key"]


async def granted(gateway: Any) -> tuple[Registered, dict[str, Any]]:
    """A client registered by hand, and the tokens a person with a fresh tools:call key allowed it at /mcp."""
    key = await make_key(gateway.url, scopes=["tools:call"])
    client = await Registered.at(gateway.url)
    pkce = PKCEParameters.generate()
    code = await client.code(Person(key), pkce.code_challenge, f"{gateway.url}/mcp")
    return client, (await client.exchange(code, pkce.code_verifier)).json()


@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
async def test_a_client_that_speaks_only_oauth_connects(transport: str) -> None:
    async with running_gateway(CONFIG) as gateway:
        key = await make_key(gateway.url, scopes=["tools:call"])
        person = Person(key)
        endpoint = f"{gateway.url}/mcp" if transport == "streamable_http" else f"{gateway.url}/sse"
        async with oauth_client(endpoint, transport, oauth_provider(endpoint, person)) as client:
            result = await client.call_tool("demo_echo", {"text": "hi"})
            assert result.content[0].text.endswith("hi")
        page = person.pages[0]
        assert 'name="api_key"' in page.text and "<script" not in page.text
        assert "tools:call" in page.text and "every tool" in page.text


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
ACCEPT = {"accept": "application/json, text/event-stream"}


async def initialize(url: str, token: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, json=INITIALIZE, headers={**ACCEPT, "authorization": f"Bearer {token}", **headers})


def challenge_of(answer: httpx.Response) -> dict[str, str]:
    value = answer.headers["www-authenticate"]
    assert value.startswith("Bearer "), value
    return dict(re.findall(r'(\w+)="([^"]*)"', value))


async def test_every_protected_endpoint_points_to_its_resource_metadata() -> None:
    async with running_gateway(CONFIG) as gateway:
        alpha = gateway.hub.find_server("alpha")
        assert alpha is not None
        expected = {
            "/mcp": "/",
            "/sse": "/",
            "/messages": "/",
            "/tools": "/",
            "/servers/alpha/mcp": "/servers/alpha",
            "/servers/alpha/sse": "/servers/alpha",
            "/servers/alpha/tools": "/servers/alpha",
            f"/api/v1/mcp/{alpha.id}": f"/api/v1/mcp/{alpha.id}",
        }
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
            for path, resource_path in expected.items():
                answer = await (http.get(path) if path.endswith(("/sse", "/tools")) else http.post(path, json={}))
                assert answer.status_code == 401, (path, answer.text)
                metadata_url = challenge_of(answer)["resource_metadata"]
                suffix = "" if resource_path == "/" else resource_path
                assert metadata_url == f"{gateway.url}/.well-known/oauth-protected-resource{suffix}", path
                document = (await http.get(metadata_url)).json()
                assert document["resource"] == f"{gateway.url}{resource_path}"
                assert document["authorization_servers"] == [gateway.url]
            # The per-path forms a client builds from the endpoint it was given.
            for path, resource in [("/mcp", "/"), ("/servers/alpha/mcp", "/servers/alpha"), ("/sse", "/")]:
                document = (await http.get(f"/.well-known/oauth-protected-resource{path}")).json()
                assert document["resource"] == f"{gateway.url}{resource}"
            assert (await http.get("/.well-known/oauth-protected-resource/servers/nope")).status_code == 404
            server = (await http.get("/.well-known/oauth-authorization-server")).json()
            assert server["issuer"] == gateway.url
            assert server["code_challenge_methods_supported"] == ["S256"]
            assert server["registration_endpoint"] == f"{gateway.url}/oauth/register"
            assert server["client_id_metadata_document_supported"] is True
            jwks = (await http.get(server["jwks_uri"])).json()
            assert jwks["keys"] and all("d" not in key for key in jwks["keys"])  # public halves only
            # The management API still wants a key, and says so without pointing to any resource.
            answer = await http.get("/api/v1/upstreams")
            assert answer.status_code == 401 and "resource_metadata" not in answer.headers["www-authenticate"]


async def test_a_token_for_one_virtual_server_is_refused_by_another() -> None:
    async with running_gateway(CONFIG) as gateway:
        key = await make_key(gateway.url, scopes=["tools:call"])
        storage = MemoryStorage()
        endpoint = f"{gateway.url}/servers/alpha/mcp"
        async with oauth_client(endpoint, "streamable_http", oauth_provider(endpoint, Person(key), storage)) as client:
            assert [tool.name for tool in (await client.list_tools()).tools] == ["demo_echo"]
        assert storage.tokens is not None
        token = storage.tokens.access_token
        assert (await initialize(endpoint, token)).status_code == 200
        alpha = gateway.hub.find_server("alpha")
        assert alpha is not None
        assert (await initialize(f"{gateway.url}/api/v1/mcp/{alpha.id}", token)).status_code == 200
        for elsewhere in ("/servers/beta/mcp", "/mcp"):
            answer = await initialize(f"{gateway.url}{elsewhere}", token)
            assert answer.status_code == 401, elsewhere
            assert challenge_of(answer)["error"] == "invalid_token"
            assert "another resource" in answer.json()["error"]["message"]
        async with httpx.AsyncClient(timeout=10) as http:  # tokens are for the tool endpoints only
            answer = await http.get(f"{gateway.url}/api/v1/upstreams", headers={"authorization": f"Bearer {token}"})
        assert answer.status_code == 401


async def test_the_token_carries_at_most_the_keys_rights() -> None:
    async with running_gateway(CONFIG) as gateway:
        alpha = gateway.hub.find_server("alpha")
        assert alpha is not None
        only_alpha = await make_key(gateway.url, scopes=["tools:call"], servers=[alpha.id])
        client = await Registered.at(gateway.url, scope="tools:call users:act")
        pkce = PKCEParameters.generate()
        # The default endpoint reaches every tool: a key limited to one server may not allow it.
        person = Person(only_alpha)
        page = await person.open(client.authorization_url(pkce.code_challenge, f"{gateway.url}/mcp"))
        answer = await person.submit(page)
        assert answer.status_code == 403 and "may not use the default endpoint" in answer.text
        # Asked for users:act, which the key lacks: the token gets tools:call only.
        code = await client.code(
            Person(only_alpha), pkce.code_challenge, f"{gateway.url}/servers/alpha", "tools:call users:act"
        )
        tokens = (await client.exchange(code, pkce.code_verifier)).json()
        assert tokens["scope"] == "tools:call"
        token = tokens["access_token"]
        assert (await initialize(f"{gateway.url}/servers/alpha/mcp", token)).status_code == 200
        answer = await initialize(f"{gateway.url}/servers/alpha/mcp", token, **{"x-username": "ann"})
        assert answer.status_code == 403 and "users:act" in answer.text
        # A key that cannot call tools cannot let a client in at all.
        reader = await make_key(gateway.url, scopes=["servers:read"])
        page = await Person(reader).open(client.authorization_url(pkce.code_challenge, f"{gateway.url}/servers/alpha"))
        answer = await Person(reader).submit(page)
        assert answer.status_code == 403 and "tools:call" in answer.text


async def test_refresh_rotates_and_a_replayed_refresh_token_revokes_the_grant() -> None:
    async with running_gateway(CONFIG) as gateway:
        client, first = await granted(gateway)
        answer = await client.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert answer.status_code == 200, answer.text
        second = answer.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        assert (await initialize(f"{gateway.url}/mcp", second["access_token"])).status_code == 200
        # The rotated-away token used again: someone else holds a copy. The whole grant goes.
        replay = await client.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        assert (await initialize(f"{gateway.url}/mcp", second["access_token"])).status_code == 401
        answer = await client.token(grant_type="refresh_token", refresh_token=second["refresh_token"])
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


async def test_codes_are_single_use_and_bound_to_their_verifier() -> None:
    async with running_gateway(CONFIG) as gateway:
        key = await make_key(gateway.url, scopes=["tools:call"])
        client = await Registered.at(gateway.url)
        pkce = PKCEParameters.generate()
        code = await client.code(Person(key), pkce.code_challenge, f"{gateway.url}/mcp")
        wrong = await client.exchange(code, PKCEParameters.generate().code_verifier)
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        other = await Registered.at(gateway.url)  # another client cannot spend it either
        assert (await other.exchange(code, pkce.code_verifier)).json()["error"] == "invalid_grant"
        tokens = (await client.exchange(code, pkce.code_verifier)).json()
        assert (await initialize(f"{gateway.url}/mcp", tokens["access_token"])).status_code == 200
        reused = await client.exchange(code, pkce.code_verifier)
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        # The code was stolen: what its first exchange issued is revoked too.
        assert (await initialize(f"{gateway.url}/mcp", tokens["access_token"])).status_code == 401
        # PKCE is S256 only.
        page = await Person(key).open(client.authorization_url(pkce.code_challenge, None).replace("S256", "plain"))
        assert page.url.startswith(REDIRECT) and "error=invalid_request" in page.url


async def test_bad_tokens_are_refused() -> None:
    async with running_gateway(CONFIG) as gateway:
        _, tokens = await granted(gateway)
        token = tokens["access_token"]
        decoded = jwt.decode(token, KeySet.import_key_set(await jwks(gateway.url)))
        header, claims = decoded.header, decoded.claims
        # The same claims signed by another key: not ours.
        stranger = ECKey.generate_key("P-256", private=True)
        forged = jwt.encode({**header, "kid": stranger.thumbprint()}, claims, stranger)
        forged_same_kid = jwt.encode(header, claims, stranger)
        for bad in (forged, forged_same_kid, "not-a-token", token[:-4] + "AAAA", token + "x"):
            answer = await initialize(f"{gateway.url}/mcp", bad)
            assert answer.status_code == 401, bad
            assert challenge_of(answer)["error"] == "invalid_token"
        assert (await initialize(f"{gateway.url}/mcp", token)).status_code == 200
        # Expired: the gateway's clock moved past the token's hour.
        issuer = gateway.oauth.issuer
        later = datetime.now(UTC) + timedelta(hours=2)
        issuer.clock = lambda: later
        answer = await initialize(f"{gateway.url}/mcp", token)
        assert answer.status_code == 401 and "expired" in answer.text


async def jwks(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        return (await http.get(f"{url}/oauth/jwks")).json()


async def test_revoking_the_key_revokes_its_tokens_and_ends_their_sessions() -> None:
    async with running_gateway(CONFIG) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url, headers={"x-api-key": ADMIN}, timeout=10) as admin:
            created = (await admin.post("/api/v1/keys", json={"name": "p", "scopes": ["tools:call"]})).json()
            storage = MemoryStorage()
            endpoint = f"{gateway.url}/mcp"
            async with oauth_client(
                endpoint, "streamable_http", oauth_provider(endpoint, Person(created["key"]), storage)
            ):
                assert any(session.owner.startswith(created["id"] + "#") for session in gateway.hub.sessions)
                assert (await admin.delete(f"/api/v1/keys/{created['id']}")).status_code == 200
                assert not any(session.owner.startswith(created["id"]) for session in gateway.hub.sessions)
            assert storage.tokens is not None
            answer = await initialize(endpoint, storage.tokens.access_token)
            assert answer.status_code == 401 and "revoked" in answer.text
            refresh = await Registered(gateway.url, storage.client.client_id).token(  # type: ignore[union-attr]
                grant_type="refresh_token", refresh_token=storage.tokens.refresh_token or ""
            )
            assert refresh.json()["error"] == "invalid_grant"


async def test_the_sign_in_page() -> None:
    async with running_gateway(CONFIG) as gateway:
        key = await make_key(gateway.url, scopes=["tools:call"])
        client = await Registered.at(gateway.url, client_name="Some <b>Client</b>")
        pkce = PKCEParameters.generate()
        url = client.authorization_url(pkce.code_challenge, f"{gateway.url}/servers/beta")
        person = Person("mcpg_wrong-key")
        page = await person.open(url)
        assert "Some &lt;b&gt;Client&lt;/b&gt;" in page.text and "<b>Client" not in page.text
        assert "beta" in page.text and "127.0.0.1:1/callback" in page.text
        answer = await person.submit(page)
        assert answer.status_code == 400 and "not valid" in answer.text and 'role="alert"' in answer.text
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-store"
        declined = await Person(key, decision="deny").submit(page)
        assert declined.status_code == 303
        assert "error=access_denied" in declined.headers["location"] and "state=s-1" in declined.headers["location"]
        sealed = page.field("request")
        tampered = await Person(key).submit(page, request=sealed[:-6] + "AAAAAA")
        assert tampered.status_code == 400 and "not valid" in tampered.text
        unregistered = await Person(key).open(url.replace(client.client_id, "no-such-client"))
        assert unregistered.status == 400
        # A resource that is not one of this gateway's.
        elsewhere = await Person(key).open(client.authorization_url(pkce.code_challenge, "https://example.com/mcp"))
        assert elsewhere.url.startswith(REDIRECT) and "error=invalid_target" in elsewhere.url


async def test_keys_keep_working_beside_oauth() -> None:
    async with running_gateway(CONFIG) as gateway:
        key = await make_key(gateway.url, scopes=["tools:call"])
        for credential in (ADMIN, key):
            assert (await initialize(f"{gateway.url}/mcp", credential)).status_code == 200
            async with httpx.AsyncClient(timeout=10) as http:
                answer = await http.post(
                    f"{gateway.url}/mcp", json=INITIALIZE, headers={**ACCEPT, "x-api-key": credential}
                )
            assert answer.status_code == 200
        answer = await initialize(f"{gateway.url}/mcp", "mcpg_not-a-key")
        assert answer.status_code == 401


async def test_the_gateways_own_token_is_never_passed_through_to_an_upstream() -> None:
    async with serve_asgi(build_server("crm").streamable_http_app()) as upstream:
        config = {
            **CONFIG,
            "mcpServers": {"crm": {"url": f"{upstream}/mcp", "type": "http", "passthroughHeaders": ["Authorization"]}},
            "virtualServers": {},
        }
        async with running_gateway(config) as gateway:
            key = await make_key(gateway.url, scopes=["tools:call"])
            endpoint = f"{gateway.url}/mcp"
            async with oauth_client(endpoint, "streamable_http", oauth_provider(endpoint, Person(key))) as client:
                seen = await client.call_tool("crm_header", {"name": "authorization"})
            assert seen.content[0].text == ""


async def test_a_public_client_revokes_its_refresh_token_and_the_grant_goes() -> None:
    async with running_gateway(CONFIG) as gateway:
        client, tokens = await granted(gateway)
        async with httpx.AsyncClient(timeout=10) as http:
            form = {"client_id": client.client_id, "token": tokens["refresh_token"]}  # no secret: it has none
            answer = await http.post(f"{gateway.url}/oauth/revoke", data=form)
            assert answer.status_code == 200, answer.text
            unknown = await http.post(f"{gateway.url}/oauth/revoke", data={**form, "token": "nothing-like-it"})
            assert unknown.status_code == 200  # RFC 7009: the same answer, nothing to learn
        assert (await initialize(f"{gateway.url}/mcp", tokens["access_token"])).status_code == 401
