"""The overview's figures: calls per second and the error rate over the last minute, and each
upstream's tools, restarts and last error, as the live region refreshes them."""

from __future__ import annotations

import os
import re
import signal
import sys
import time

import pytest
from playwright.async_api import Browser, expect

from mcpgate.edge.metrics import Metrics
from tests.admin_ui.browser import sign_in, watched_page
from tests.admin_ui.conftest import ADMIN_KEY, config
from tests.conftest import DECLARES_EVERYTHING, Gateway, running_gateway, wait_until

pytestmark = pytest.mark.anyio

BROKEN = {"command": sys.executable, "args": ["-c", "raise SystemExit(3)"]}  # exits before the handshake


def _metrics(gateway: Gateway) -> Metrics:
    return next(o.__self__ for o in gateway.hub.observers if isinstance(getattr(o, "__self__", None), Metrics))


async def test_calls_errors_restarts_and_the_last_error_are_shown(browser: Browser) -> None:
    settings = config()
    settings["mcpServers"]["broken"] = BROKEN
    async with running_gateway(settings) as gateway:
        await wait_until(lambda: gateway.hub.upstreams["demo"].is_ready)
        recent = _metrics(gateway).recent
        now = [time.monotonic()]
        recent.clock = lambda: now[0]  # the minute's figures count whole buckets: the test moves time on

        # A client declaring every capability is served by the upstream's shared connection, the one
        # the overview reports (hub/profiles.py).
        async with gateway.client("streamable_http", headers={"x-api-key": ADMIN_KEY}, **DECLARES_EVERYTHING) as client:
            pid = (await client.call_tool("demo_pid", {})).structured_content["result"]
            for text in ("one", "two"):
                await client.call_tool("demo_echo", {"text": text})
            failed = await client.call_tool("demo_add", {"a": "not a number", "b": 1})
            assert failed.is_error
        now[0] += recent.bucket_seconds  # the bucket of those four calls is now a whole one
        os.kill(pid, signal.SIGKILL)
        await wait_until(lambda: gateway.hub.upstreams["demo"].status.restarts >= 1, timeout=20)
        await wait_until(lambda: gateway.hub.upstreams["demo"].is_ready, timeout=20)
        await wait_until(lambda: gateway.hub.upstreams["broken"].status.restarts >= 1, timeout=20)

        async with watched_page(browser, gateway.url) as page:
            await sign_in(page, gateway.url, ADMIN_KEY)
            # 4 calls over the last minute's 6 whole buckets of 10 s; 1 of the 4 failed.
            await expect(page.locator("#rate")).to_have_text(f"{4 / 60:.2f}")
            await expect(page.locator("#error-rate")).to_contain_text("25.0")
            demo = page.locator("#upstream-health tr[data-upstream=demo] td")
            await expect(demo.nth(2)).to_have_text(str(len(gateway.hub.upstreams["demo"].tools)))
            await expect(demo.nth(3)).not_to_have_text("0")  # restarted after its child was killed
            broken = page.locator("#upstream-health tr[data-upstream=broken] td")
            await expect(broken.nth(1)).not_to_contain_text("ready")
            await expect(broken.nth(3)).not_to_have_text("0")
            # Its last error: while it is retried "… closed the connection during initialize", once
            # given up on (10 attempts, ~3 s: a slow machine gets there first) "… is unavailable
            # (closed the connection) (gave up …)".
            await expect(broken.nth(4)).to_contain_text(re.compile(r"upstream 'broken' .*closed the connection"))
