"""The web UI behind a reverse proxy that serves the gateway below a path (`publicUrl` with one):
every link, redirect and cookie carries the path browsers see; the UI's own calls do not."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import unquote

import pytest

from tests.admin_ui.conftest import ADMIN_KEY, config
from tests.conftest import Gateway, running_gateway, wait_until

pytestmark = pytest.mark.anyio

PUBLIC = "https://gw.example.com/tools-gw"


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    async with running_gateway(config(publicUrl=PUBLIC)) as gateway:
        await wait_until(lambda: gateway.hub.upstreams["demo"].is_ready)
        yield gateway


async def test_links_redirects_and_cookies_carry_the_public_path(gateway: Gateway) -> None:
    async with gateway.http({"x-api-key": ADMIN_KEY}) as admin:
        made = await admin.post("/api/v1/mcp_manager", json={"name": "maths", "selectedTools": ["demo_add"]})
        server = made.json()["id"]

    # The proxy takes /tools-gw off before the gateway sees a request; the browser never does.
    async with gateway.http() as http:
        away = await http.get("/admin/keys")
        assert away.status_code == 303
        assert away.headers["location"] == "/tools-gw/admin/sign-in?next=%2Fadmin%2Fkeys"
        signed = await http.post("/admin/sign-in", data={"api_key": ADMIN_KEY, "next": "/admin/keys"})
        assert signed.status_code == 303 and signed.headers["location"] == "/tools-gw/admin/keys"
        cookie = signed.headers["set-cookie"]
        assert "Path=/tools-gw/admin" in cookie and "Secure" in cookie and "HttpOnly" in cookie
        session = {"cookie": cookie.split(";", 1)[0]}

        listing = await http.get("/admin/upstreams", headers=session)
        assert listing.status_code == 200, listing.text
        assert 'href="/tools-gw/admin/upstreams/demo"' in listing.text
        assert not re.search(r'(href|action|src)="/admin', listing.text)  # nothing skips the public path

        detail = (await http.get(f"/admin/servers/{server}", headers=session)).text
        assert f"{PUBLIC}/servers/maths/mcp" in detail  # endpoints as clients reach them

        csrf = re.search(r'name="csrf" value="([^"]+)"', listing.text)
        assert csrf is not None
        out = await http.post("/admin/sign-out", data={"csrf": csrf.group(1)}, headers=session)
        assert out.headers["location"] == "/tools-gw/admin/sign-in"

        # A form posted after the session ended: back to sign-in, then to the page it came from.
        late = await http.post(
            "/admin/keys/new",
            data={"name": "x"},
            headers={**session, "referer": f"{PUBLIC}/admin/keys?x=1"},
        )
        assert late.status_code == 303
        assert unquote(late.headers["location"]) == "/tools-gw/admin/sign-in?next=/admin/keys?x=1"
