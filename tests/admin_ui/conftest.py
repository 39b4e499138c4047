"""A gateway with a key and an upstream, and a browser, for the web UI's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser

from tests.admin_ui.browser import chromium
from tests.conftest import Gateway, running_gateway, stdio_echo, wait_until

ADMIN_KEY = "ui-admin-key-0123456789abcdef"


def config(**extra: Any) -> dict[str, Any]:
    return {"mcpServers": {"demo": stdio_echo("demo")}, "api_key": ADMIN_KEY, **extra}


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    async with running_gateway(config()) as gateway:
        await wait_until(lambda: gateway.hub.upstreams["demo"].is_ready)
        yield gateway


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser
