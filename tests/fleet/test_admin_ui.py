"""The web UI in a fleet: a session begun on one replica is served by every other (its digest is in
the shared registry), signing out on one ends it on all, and the overview lists every replica with
the minute's calls of each, and counts them all in its calls/s."""

from __future__ import annotations

import re

import anyio
import httpx
import pytest

from tests.fleet.conftest import FleetFactory

pytestmark = pytest.mark.anyio

ADMIN_KEY = "fleet-ui-admin-key"


async def test_a_browser_signed_in_on_one_replica_is_served_by_every_replica(fleet_factory: FleetFactory) -> None:
    async with fleet_factory(2, api_key=ADMIN_KEY) as fleet:
        r0, r1 = fleet.replicas
        async with httpx.AsyncClient(base_url=r0.url, timeout=10) as on_r0:
            signed = await on_r0.post("/admin/sign-in", data={"api_key": ADMIN_KEY, "next": "/admin"})
            assert signed.status_code == 303, signed.text
            cookie = on_r0.cookies["mcpgate_admin"]
        async with httpx.AsyncClient(base_url=r1.url, timeout=10, cookies={"mcpgate_admin": cookie}) as on_r1:
            with anyio.fail_after(10):  # r1 hears of r0 by its next beat or two (it may have started first)
                while True:
                    overview = await on_r1.get("/admin/live")
                    assert overview.status_code == 200
                    listed = set(re.findall(r'<th scope="row"><code>([^<]+)</code>', overview.text))
                    if len(listed) == 2:  # both replicas, as the fleet's heartbeats say
                        break
                    await anyio.sleep(0.1)
            page = (await on_r1.get("/admin")).text
            token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
            assert token is not None
            assert (await on_r1.post("/admin/sign-out", data={"csrf": token.group(1)})).status_code == 303
        async with httpx.AsyncClient(base_url=r0.url, timeout=10, cookies={"mcpgate_admin": cookie}) as again:
            assert (await again.get("/admin/live")).status_code == 401  # signed out everywhere


async def test_the_overview_counts_the_calls_of_every_replica(fleet_factory: FleetFactory) -> None:
    async with fleet_factory(2, api_key=ADMIN_KEY) as fleet:
        r0, r1 = fleet.replicas
        async with httpx.AsyncClient(timeout=10, headers={"x-api-key": ADMIN_KEY}) as http:
            for n in range(3):  # on r0 only
                called = await http.post(
                    f"{r0.url}/call-tool", json={"name": "demo_echo", "arguments": {"text": f"{n}"}}
                )
                assert called.status_code == 200, called.text
        r0_id = (await r0.wait_healthy())["fleet"]["replica"]
        async with httpx.AsyncClient(base_url=r1.url, timeout=10) as on_r1:
            assert (await on_r1.post("/admin/sign-in", data={"api_key": ADMIN_KEY})).status_code == 303
            # The calls count once their 10 s bucket is whole, on r1 once r0's next beat says so.
            with anyio.fail_after(30):
                while True:
                    live = (await on_r1.get("/admin/live")).text
                    row = re.search(rf'<tr data-replica="{r0_id}">.*?<td class="calls">([^<]*)<', live, re.S)
                    if row and row.group(1).strip() == "3":
                        break
                    await anyio.sleep(0.2)
            assert "all 2 replicas" in live
            rate = re.search(r'id="rate">([0-9.]+)<', live)
            assert rate is not None and float(rate.group(1)) == round(3 / 60, 2)  # r1 served none itself
        # What a replica's beat says of its traffic is for the UI, not for /health, which anyone may read.
        replicas = (await r1.health()).json()["fleet"]["replicas"]
        assert len(replicas) == 2 and all("figures" not in replica for replica in replicas)
