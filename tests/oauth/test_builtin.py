"""The built-in authorization server, driven by the official SDK's OAuth client: discovery from a
401, registration, PKCE, the sign-in page, tokens bound to one resource, refresh, revocation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import running_gateway, stdio_echo
from tests.oauth.person import MemoryStorage, Person, oauth_client, oauth_provider

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
