"""`oauth.mode: external`: the gateway as a resource server for another issuer's JWT access tokens —
an issuer served by the test (discovery + JWKS, tokens signed with joserfc), and another mcpgate's
built-in authorization server. Every bad token is a 401 with `error="invalid_token"`."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from mcpgate.config import settings_from_mapping
from mcpgate.errors import Unauthorized
from mcpgate.hub.gateway import Hub
from mcpgate.oauth.external import ExternalIssuer
from mcpgate.oauth.resources import DEFAULT
from mcpgate.settings import OAuthSettings
from tests.conftest import Gateway, running_gateway, stdio_echo
from tests.oauth.issuer_app import OPENID, RFC8414, IssuerApp, new_key, running_issuer
from tests.oauth.person import MemoryStorage, Person, oauth_client, oauth_provider

pytestmark = pytest.mark.anyio

ADMIN = "static-admin-key-for-external-oauth-0123456789"
AUDIENCE = "https://gateway.example/mcp"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def config(issuer: str, audience: str = AUDIENCE, **oauth: Any) -> dict[str, Any]:
    return {
        "mcpServers": {"demo": stdio_echo("demo")},
        "virtualServers": {
            "alpha": {"mode": "NORMAL", "selectedTools": ["demo_echo"]},
            "beta": {"mode": "NORMAL", "selectedTools": ["demo_whoami"]},
        },
        "api_key": ADMIN,
        "oauth": {"mode": "external", "issuer": issuer, "audience": [audience], **oauth},
    }


async def initialize(url: str, token: str, **headers: str) -> httpx.Response:
    """A bare `initialize` POST bearing `token` (`url` is an MCP endpoint)."""
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(
            url,
            json=INITIALIZE,
            headers={"authorization": f"Bearer {token}", "accept": "application/json, text/event-stream", **headers},
        )


def assert_token_refused(answer: httpx.Response, token: str, reason: str, *, tool_endpoint: bool = True) -> None:
    """A 401 saying `reason`, its challenge `invalid_token` (and, at a tool endpoint, where the
    resource's metadata is), the token itself nowhere in the answer."""
    assert answer.status_code == 401, answer.text
    challenge = answer.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge, challenge
    assert ("resource_metadata=" in challenge) is tool_endpoint, challenge
    assert reason in answer.text, answer.text
    assert token not in answer.text and token not in challenge


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def text(gateway: Gateway, token: str, tool: str, server: str | None = None, **arguments: Any) -> str:
    """What `tool` answers to the official SDK client sending `token`."""
    async with gateway.client("streamable_http", server, headers=bearer(token)) as client:
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, result.content
        return result.content[0].text


@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
async def test_a_token_of_the_issuer_calls_tools_through_the_sdk_client(transport: str) -> None:
    async with running_issuer() as issuer, running_gateway(config(issuer.url)) as gateway:
        async with gateway.client(transport, headers=bearer(issuer.token(aud=AUDIENCE))) as client:
            result = await client.call_tool("demo_echo", {"text": "hi"})
            assert result.content[0].text.endswith("hi")


async def test_bad_tokens_are_refused_with_invalid_token() -> None:
    async with running_issuer() as issuer, running_gateway(config(issuer.url)) as gateway:
        now = int(time.time())
        good = issuer.token(aud=AUDIENCE)
        header, payload, signature = good.split(".")
        stranger = new_key()
        other_payload = issuer.token(aud=AUDIENCE, sub="mallory").split(".")[1]
        bad = {
            "wrong audience": (issuer.token(aud="https://elsewhere.example/mcp"), "issued for another audience"),
            "no audience": (issuer.token(), "issued for another audience"),
            "expired": (issuer.token(aud=AUDIENCE, exp=now - 120), "expired"),
            "not yet valid": (issuer.token(aud=AUDIENCE, nbf=now + 600), "not valid yet"),
            "no exp": (issuer.token(aud=AUDIENCE, exp=None), "no expiry"),
            "wrong issuer": (issuer.token(aud=AUDIENCE, iss="https://other-issuer.example"), "not issued by"),
            "other signer": (issuer.token(stranger, aud=AUDIENCE), "key the issuer does not publish"),
            "other signer, the issuer's kid": (
                issuer.token(stranger, {"kid": issuer.keys[-1].kid}, aud=AUDIENCE),
                "signature is not valid",
            ),
            "claims swapped under the signature": (f"{header}.{other_payload}.{signature}", "signature is not valid"),
            "RSA where the issuer has EC keys": (issuer.token(new_key("RSA"), aud=AUDIENCE), "does not publish"),
            "alg none": (issuer.unsigned(aud=AUDIENCE), "algorithm is not one taken here"),
            "HS256 keyed with the public key": (issuer.hmac_with_public_key(aud=AUDIENCE), "algorithm is not one"),
            "garbage": ("not-a-token", "not a signed JWT"),
            "five parts (JWE)": ("a.b.c.d.e", "not a signed JWT"),
            "a subject no user is named": (issuer.token(aud=AUDIENCE, sub="a b"), "is not a user name"),
            "a subject with a line break": (issuer.token(aud=AUDIENCE, sub="alice\n"), "is not a user name"),
        }
        for kind, (token, reason) in bad.items():
            answer = await initialize(f"{gateway.url}/mcp", token)
            assert answer.status_code == 401, kind
            assert_token_refused(answer, token, reason)
        assert (await initialize(f"{gateway.url}/mcp", good)).status_code == 200


async def test_a_rotated_key_is_picked_up_and_unknown_key_ids_fetch_at_most_once() -> None:
    async with running_issuer() as issuer, running_gateway(config(issuer.url)) as gateway:
        assert (await initialize(f"{gateway.url}/mcp", issuer.token(aud=AUDIENCE))).status_code == 200
        fetched = issuer.jwks_fetches
        old = issuer.keys[-1]
        issuer.rotate()
        assert await text(gateway, issuer.token(aud=AUDIENCE), "demo_echo", text="new key") == "new key"
        assert issuer.jwks_fetches == fetched + 1
        # Tokens under key ids the issuer never published: refused, and no fetch for each.
        for _ in range(20):
            forged = issuer.token(new_key(), aud=AUDIENCE)
            assert_token_refused(await initialize(f"{gateway.url}/mcp", forged), forged, "does not publish")
        assert issuer.jwks_fetches <= fetched + 2
        # The withdrawn key's kid is no longer among those read.
        withdrawn = issuer.token(old, aud=AUDIENCE)
        assert (await initialize(f"{gateway.url}/mcp", withdrawn)).status_code == 401


async def test_scopes_come_from_scope_or_scp_and_tools_call_is_needed() -> None:
    async with running_issuer() as issuer, running_gateway(config(issuer.url)) as gateway:
        for scopes in (
            {"scp": ["tools:call"], "scope": None},
            {"scp": "openid tools:call", "scope": None},
            {"scope": "openid tools:call"},
        ):
            assert await text(gateway, issuer.token(aud=AUDIENCE, **scopes), "demo_echo", text="x") == "x"
        # Without tools:call (an issuer's `admin` or `*` is nothing here either): 403, naming the scope.
        for scopes in ({"scope": "openid profile"}, {"scope": None}, {"scp": ["admin", "*"], "scope": None}):
            answer = await initialize(f"{gateway.url}/mcp", issuer.token(aud=AUDIENCE, **scopes))
            assert answer.status_code == 403, answer.text
            challenge = answer.headers["www-authenticate"]
            assert 'error="insufficient_scope"' in challenge and 'scope="tools:call"' in challenge


@pytest.mark.parametrize("user_claim", ["sub", "email"])
async def test_the_tokens_user_reaches_that_users_connections_without_x_username(user_claim: str) -> None:
    async with (
        running_issuer() as issuer,
        running_gateway(config(issuer.url, userClaim=user_claim)) as gateway,
        gateway.http({"x-api-key": ADMIN}) as admin,
    ):
        users = {"alice": "alice@example.com", "bob": "bob@example.com"}
        for sub, email in users.items():
            name = sub if user_claim == "sub" else email
            stored = await admin.put(f"/api/v1/users/{name}/connections/demo", json={"env": {"TOKEN": f"{sub}-env"}})
            assert stored.status_code == 200, stored.text
        for sub, email in users.items():
            token = issuer.token(aud=AUDIENCE, sub=sub, email=email)
            assert await text(gateway, token, "demo_env", name="TOKEN") == f"{sub}-env"
        name = "alice" if user_claim == "sub" else "alice@example.com"
        audit = (await admin.get("/api/v1/audit", params={"user": name, "kind": "tool_call"})).json()["data"]
        assert audit and audit[0]["tool"] == "demo_env" and audit[0]["keyId"].startswith("ext:")

        alice = issuer.token(aud=AUDIENCE, sub="alice", email="alice@example.com")
        assert (await initialize(f"{gateway.url}/mcp", alice, **{"x-username": name})).status_code == 200
        other = await initialize(f"{gateway.url}/mcp", alice, **{"x-username": "bob"})
        assert other.status_code == 403 and "x-username differs" in other.text
        if user_claim == "email":
            nameless = issuer.token(aud=AUDIENCE, sub="carol")
            assert_token_refused(await initialize(f"{gateway.url}/mcp", nameless), nameless, "no 'email' claim")


async def test_a_token_for_one_virtual_server_is_taken_there_only() -> None:
    async with running_issuer() as issuer, running_gateway(config(issuer.url)) as gateway:
        alpha = gateway.hub.find_server("alpha")
        assert alpha is not None
        token = issuer.token(aud=f"{gateway.url}/servers/alpha")
        assert await text(gateway, token, "demo_echo", "alpha", text="a") == "a"
        for path in ("/servers/alpha/mcp", f"/api/v1/mcp/{alpha.id}"):
            assert (await initialize(f"{gateway.url}{path}", token)).status_code == 200, path
        for path in ("/servers/beta/mcp", "/mcp"):
            assert_token_refused(await initialize(f"{gateway.url}{path}", token), token, "another audience")
        # `oauth.audience` names the whole gateway: every endpoint.
        everywhere = issuer.token(aud=["https://unrelated.example", AUDIENCE])
        for path in ("/servers/beta/mcp", "/mcp"):
            assert (await initialize(f"{gateway.url}{path}", everywhere)).status_code == 200, path


async def test_api_keys_keep_working_beside_tokens_and_tokens_stay_out_of_the_management_api() -> None:
    async with running_issuer() as issuer, running_gateway(config(issuer.url)) as gateway:
        async with gateway.client("streamable_http", headers={"x-api-key": ADMIN}) as client:
            assert (await client.call_tool("demo_echo", {"text": "k"})).content[0].text == "k"
        assert (await initialize(f"{gateway.url}/mcp", ADMIN)).status_code == 200
        token = issuer.token(aud=AUDIENCE, scope="tools:call users:act")
        async with gateway.http(bearer(token)) as http:
            refused = await http.get("/api/v1/upstreams")
            assert_token_refused(refused, token, "MCP and REST tool endpoints only", tool_endpoint=False)


async def test_resource_metadata_sends_clients_to_the_issuer() -> None:
    async with running_issuer() as issuer, running_gateway(config(issuer.url)) as gateway, gateway.http() as http:
        for path, resource in (("", "/"), ("/servers/alpha", "/servers/alpha")):
            document = (await http.get(f"/.well-known/oauth-protected-resource{path}")).json()
            assert document["authorization_servers"] == [issuer.url]
            assert document["resource"] == f"{gateway.url}{resource}"
        refused = await initialize(f"{gateway.url}/mcp", "not-a-token")
        assert (
            f'resource_metadata="{gateway.url}/.well-known/oauth-protected-resource"'
            in (refused.headers["www-authenticate"])
        )


async def test_the_gateway_starts_while_the_issuer_is_down_and_refuses_tokens_saying_so() -> None:
    async with running_issuer(down=True) as issuer, running_gateway(config(issuer.url)) as gateway:
        async with gateway.http() as http:
            assert (await http.get("/health")).status_code == 200
        token = issuer.token(aud=AUDIENCE)
        answer = await initialize(f"{gateway.url}/mcp", token)
        assert_token_refused(answer, token, f"the keys of the issuer {issuer.url} could not be fetched")
        assert "503" in answer.json()["error"]["message"]


# -- the judge alone, on a clock of the test's ----------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def judge_of(issuer: IssuerApp, clock: Clock | None = None) -> ExternalIssuer:
    settings = OAuthSettings(mode="external", issuer=issuer.url, audience=[AUDIENCE])
    hub = Hub(settings_from_mapping({}, "test"))
    return ExternalIssuer(settings, hub, clock=clock or time.time)


async def test_an_issuer_back_up_is_tried_again_after_the_refetch_interval() -> None:
    clock = Clock()
    async with running_issuer(down=True) as issuer, judge_of(issuer, clock) as judge:
        token = issuer.token(aud=AUDIENCE)
        with pytest.raises(Unauthorized, match="could not be fetched"):
            await judge.judge(token, DEFAULT, "http://gateway.test")
        issuer.down = False
        asked = sum(issuer.fetched.values())
        with pytest.raises(Unauthorized, match="could not be fetched"):  # tried a moment ago: not yet again
            await judge.judge(token, DEFAULT, "http://gateway.test")
        assert sum(issuer.fetched.values()) == asked
        clock.now += 11
        principal, user = await judge.judge(token, DEFAULT, "http://gateway.test")
        assert user == "alice" and principal.scopes == {"tools:call"} and principal.servers is None


async def test_clock_leeway_and_keys_read_again_after_an_hour() -> None:
    clock = Clock()
    async with running_issuer() as issuer, judge_of(issuer, clock) as judge:
        now = int(clock.now)

        async def judged(token: str) -> str | None:
            return (await judge.judge(token, DEFAULT, "http://gateway.test"))[1]

        assert await judged(issuer.token(aud=AUDIENCE, exp=now - 30)) == "alice"  # within the leeway
        assert await judged(issuer.token(aud=AUDIENCE, nbf=now + 30)) == "alice"
        with pytest.raises(Unauthorized, match="expired"):
            await judged(issuer.token(aud=AUDIENCE, exp=now - 61))
        with pytest.raises(Unauthorized, match="not valid yet"):
            await judged(issuer.token(aud=AUDIENCE, nbf=now + 61))
        # The issuer withdraws its key (keeping its kid known would need no fetch): an hour on,
        # the keys are read again and a token of the withdrawn key is refused.
        old = issuer.keys[-1]
        issuer.rotate()
        clock.now += 3601
        fetched = issuer.jwks_fetches
        later = int(clock.now)
        with pytest.raises(Unauthorized, match="does not publish"):
            await judged(issuer.token(old, aud=AUDIENCE, iat=later, exp=later + 60))
        assert issuer.jwks_fetches == fetched + 1
        assert await judged(issuer.token(aud=AUDIENCE, iat=later, exp=later + 60)) == "alice"


@pytest.mark.parametrize(
    ("path", "metadata_at"),
    [("", OPENID), ("", RFC8414), ("/tenant", RFC8414), ("/tenant", OPENID)],
    ids=["openid", "rfc8414", "rfc8414-path-inserted", "openid-path-appended"],
)
async def test_the_issuers_metadata_is_found_where_either_spec_puts_it(path: str, metadata_at: str) -> None:
    async with running_issuer(path=path, metadata_at=metadata_at) as issuer, judge_of(issuer) as judge:
        principal, user = await judge.judge(issuer.token(aud=AUDIENCE, sub="dana"), DEFAULT, "http://gateway.test")
        assert user == "dana" and principal.kind == "oauth"


# -- another mcpgate's built-in authorization server as the issuer ------------------------


async def test_the_built_in_authorization_server_of_another_gateway_is_an_issuer() -> None:
    issuing_config: dict[str, Any] = {
        "mcpServers": {"demo": stdio_echo("demo")},
        "api_key": ADMIN,
        "oauth": {"mode": "builtin"},
    }
    async with running_gateway(issuing_config) as issuing:
        async with issuing.http({"x-api-key": ADMIN}) as admin:
            created = (await admin.post("/api/v1/keys", json={"name": "person", "scopes": ["tools:call"]})).json()
        storage = MemoryStorage()
        endpoint = f"{issuing.url}/mcp"
        async with oauth_client(endpoint, "streamable_http", oauth_provider(endpoint, Person(created["key"]), storage)):
            pass
        assert storage.tokens is not None
        token = storage.tokens.access_token
        # The issuing gateway's tokens name its default endpoint as their audience.
        async with running_gateway(config(issuing.url, audience=f"{issuing.url}/")) as gateway:
            assert (await initialize(f"{gateway.url}/mcp", token)).status_code == 200
            assert await text(gateway, token, "demo_echo", text="relayed") == "relayed"
            async with gateway.http({"x-api-key": ADMIN}) as admin:
                audit = (await admin.get("/api/v1/audit", params={"kind": "tool_call"})).json()["data"]
            assert audit[0]["user"] == created["id"]  # `sub`: the key the person signed in with
            tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
            assert_token_refused(await initialize(f"{gateway.url}/mcp", tampered), tampered, "signature is not valid")
