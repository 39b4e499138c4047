"""The built-in authorization server across a fleet (#28 on #27): whatever replica a step of the
flow reaches, the flow completes, and a revocation made on one replica is served by the others
within a second.

As deployed, clients know one URL, the balancer's, and every replica names itself by the Host it
was reached at (no `oauth.issuer`): issuer and resource URLs are the balancer's, whichever replica
answers. The SDK client goes through the balancer, which the test steers (one replica in
maintenance) so that a step lands where the test wants it. Checks that must reach one replica at
one moment — a revocation on r0, then r1 polled — go to that replica's port directly, with the
Host the balancer would have passed on (`through`).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import httpx2
import mcp
import pytest
from mcp.client.auth.oauth2 import PKCEParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import AuthorizationCodeResult

from tests.fleet.balancer import BACKEND
from tests.fleet.cluster import Fleet, Replica
from tests.fleet.conftest import FleetFactory
from tests.oauth.person import MemoryStorage, Person, Registered, oauth_provider

pytestmark = pytest.mark.anyio

ADMIN_KEY = "fleet-oauth-admin-key-0123456789abcdef"
WITHIN = 1.0  # seconds: what the fleet promises of a change made on another replica
OAUTH = {"MCPGATE_OAUTH_MODE": "builtin"}


@asynccontextmanager
async def through(fleet: Fleet, replica: Replica, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `replica` alone, sending the Host a client of the fleet sends (the balancer's):
    what that replica sees when the balancer passes a request to it."""
    public = urlsplit(fleet.url).netloc
    async with httpx.AsyncClient(base_url=replica.url, headers={"host": public, **headers}, timeout=10) as client:
        yield client


async def only(fleet: Fleet, name: str) -> None:
    """Every request through the balancer goes to replica `name` (the others in maintenance)."""
    assert fleet.balancer is not None
    for replica in fleet.replicas:
        state = "ready" if replica.name == name else "maint"
        await fleet.balancer.command(f"set server {BACKEND}/{replica.name} state {state}")
    await fleet.balancer.wait_for(up={name})


async def everyone(fleet: Fleet) -> None:
    assert fleet.balancer is not None
    for replica in fleet.replicas:
        await fleet.balancer.command(f"set server {BACKEND}/{replica.name} state ready")
    await fleet.balancer.wait_for(up=[replica.name for replica in fleet.replicas])


async def served_within(seconds: float, check: Callable[[], Awaitable[bool]]) -> float:
    """How long `check()` took to hold; fails past `seconds`."""
    started = time.monotonic()
    with anyio.fail_after(seconds):
        while not await check():
            await anyio.sleep(0.02)
    return time.monotonic() - started


async def make_key(fleet: Fleet, **body: Any) -> tuple[str, str]:
    """A key made on r0 (its secret, its id), once every replica accepts it."""
    r0 = fleet.replicas[0]
    async with through(fleet, r0, authorization=f"Bearer {ADMIN_KEY}") as admin:
        made = await admin.post("/api/v1/keys", json={"name": "person", "scopes": ["tools:call"], **body})
    assert made.status_code == 201, made.text
    key, key_id = made.json()["key"], made.json()["id"]
    for replica in fleet.replicas:

        async def accepted(replica: Replica = replica) -> bool:
            return await tools_status(fleet, replica, key) == 200

        await served_within(5, accepted)
    return key, key_id


async def tools_status(fleet: Fleet, replica: Replica, credential: str) -> int:
    """GET /tools on `replica` with `credential` as a bearer token: 200 while it is served, 401 once not."""
    async with through(fleet, replica, authorization=f"Bearer {credential}") as http:
        return (await http.get("/tools")).status_code


def claims(token: str) -> dict[str, Any]:
    """A JWT's claims, unchecked (the gateway checks them; the test reads what they say)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass
class Traffic:
    """Which replica answered each request of an SDK client (method, path, replica)."""

    seen: list[tuple[str, str, str]]

    async def record(self, response: httpx2.Response) -> None:
        request = response.request
        self.seen.append((request.method, request.url.path, response.headers.get("x-served-by", "?")))

    def replicas(self, method: str, path: str) -> set[str]:
        return {replica for m, p, replica in self.seen if (m, p) == (method, path)}


@dataclass
class ReturningElsewhere(Person):
    """A person whose browser, back at the client with the code, finds the balancer sending the
    client's next request (the token request) to another replica."""

    on_return: Callable[[], Awaitable[None]] | None = None

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self.on_return is not None:
            await self.on_return()
        return await super().callback_handler()


async def test_a_code_made_on_one_replica_is_exchanged_on_the_other_and_rotation_holds_across_them(
    fleet_factory: FleetFactory,
) -> None:
    async with fleet_factory(api_key=ADMIN_KEY, env=OAUTH) as fleet:
        r0, r1 = fleet.replicas
        key, _ = await make_key(fleet)
        # The documents name the balancer, whichever replica serves them.
        async with httpx.AsyncClient(base_url=fleet.url, timeout=10) as http:
            answers = [await http.get("/.well-known/oauth-authorization-server") for _ in range(4)]
        assert {answer.headers["x-served-by"] for answer in answers} == {"r0", "r1"}
        assert all(answer.json() == answers[0].json() for answer in answers)
        assert answers[0].json()["issuer"] == fleet.url

        # Registration, the sign-in page and the code on r0; the token request on r1.
        await only(fleet, "r0")
        person = ReturningElsewhere(key, on_return=lambda: only(fleet, "r1"))
        storage, traffic = MemoryStorage(), Traffic([])
        endpoint = f"{fleet.url}/mcp"
        http_client = create_mcp_http_client(auth=oauth_provider(endpoint, person, storage))
        http_client.event_hooks["response"].append(traffic.record)
        async with mcp.Client(streamable_http_client(endpoint, http_client=http_client), mode="legacy") as client:
            assert (await client.call_tool("demo_echo", {"text": "on r1"})).content[0].text == "on r1"
            assert traffic.replicas("POST", "/oauth/register") == {"r0"}
            assert traffic.replicas("POST", "/oauth/token") == {"r1"}
            [page] = person.pages
            assert page.url.startswith(f"{fleet.url}/oauth/sign-in?request=")
            # Both replicas back in rotation: the session's requests alternate, the token serves on each.
            await everyone(fleet)
            traffic.seen.clear()
            for call in range(4):
                assert (await client.call_tool("demo_echo", {"text": f"{call}"})).content[0].text == f"{call}"
            assert traffic.replicas("POST", "/mcp") == {"r0", "r1"}
        assert storage.tokens is not None and storage.client is not None
        first = storage.tokens
        assert first.refresh_token is not None
        for replica in (r0, r1):
            assert await tools_status(fleet, replica, first.access_token) == 200
        assert claims(first.access_token)["iss"] == fleet.url  # minted on r1, in the fleet's name

        # The refresh token rotated on r1; the one it replaced, replayed on r0, is refused and takes
        # the grant with it: what r1 just issued (and holds in memory) stops working there too.
        client_id = storage.client.client_id
        async with through(fleet, r1) as on_r1:
            rotated = await on_r1.post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": first.refresh_token, "client_id": client_id},
            )
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()
        assert second["refresh_token"] != first.refresh_token
        assert claims(second["access_token"])["iss"] == fleet.url
        assert await tools_status(fleet, r1, second["access_token"]) == 200
        assert await tools_status(fleet, r0, first.access_token) == 200  # rotation alone revokes nothing
        async with through(fleet, r0) as on_r0:
            replayed = await on_r0.post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": first.refresh_token, "client_id": client_id},
            )
        assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant", replayed.text

        async def refused_on_r1() -> bool:
            return await tools_status(fleet, r1, second["access_token"]) == 401

        await served_within(WITHIN, refused_on_r1)
        async with through(fleet, r1) as on_r1:
            after = await on_r1.post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"], "client_id": client_id},
            )
        assert after.status_code == 400 and after.json()["error"] == "invalid_grant"


async def signed_in(fleet: Fleet, key: str) -> tuple[Registered, dict[str, Any]]:
    """A client registered, let in with `key` and its tokens: every step through the balancer,
    so each reaches whichever replica comes next."""
    client = await Registered.at(fleet.url)
    pkce = PKCEParameters.generate()
    code = await client.code(Person(key), pkce.code_challenge, f"{fleet.url}/mcp")
    answer = await client.exchange(code, pkce.code_verifier)
    assert answer.status_code == 200, answer.text
    return client, answer.json()


async def test_a_key_or_a_grant_revoked_on_one_replica_stops_its_tokens_on_the_other(
    fleet_factory: FleetFactory,
) -> None:
    async with fleet_factory(api_key=ADMIN_KEY, env=OAUTH) as fleet:
        r0, r1 = fleet.replicas

        # The key revoked on r0: r1 refuses the token it has been serving.
        key, key_id = await make_key(fleet)
        _, tokens = await signed_in(fleet, key)
        assert await tools_status(fleet, r1, tokens["access_token"]) == 200
        async with through(fleet, r0, authorization=f"Bearer {ADMIN_KEY}") as admin:
            assert (await admin.delete(f"/api/v1/keys/{key_id}")).status_code in (200, 204)

        async def key_revoked_on_r1() -> bool:
            return await tools_status(fleet, r1, tokens["access_token"]) == 401

        await served_within(WITHIN, key_revoked_on_r1)

        # The grant revoked on r0 (RFC 7009, its refresh token): r1 refuses the access token it has
        # been serving, though the key behind it is still good.
        key, _ = await make_key(fleet)
        client, tokens = await signed_in(fleet, key)
        assert await tools_status(fleet, r1, tokens["access_token"]) == 200
        # An empty client_secret beside client_id: the SDK's handler requires the field even of a
        # public client, which RFC 7009 does not (answered 400 "client_secret: Field required").
        revocation = {"token": tokens["refresh_token"], "client_id": client.client_id, "client_secret": ""}
        async with through(fleet, r0) as on_r0:
            revoked = await on_r0.post("/oauth/revoke", data=revocation)
        assert revoked.status_code == 200, revoked.text

        async def grant_revoked_on_r1() -> bool:
            return await tools_status(fleet, r1, tokens["access_token"]) == 401

        await served_within(WITHIN, grant_revoked_on_r1)
        assert await tools_status(fleet, r0, tokens["access_token"]) == 401
        assert await tools_status(fleet, r1, key) == 200
