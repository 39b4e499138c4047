"""Naming and collisions of the merged catalog."""

from __future__ import annotations

import pytest

from mcpgate.errors import ToolNameCollision
from mcpgate.hub.catalog import Route, ToolCatalog, UpstreamTools
from tests.conftest import running_gateway, stdio_echo


def tools(*names: str) -> tuple[dict, ...]:
    return tuple({"name": n, "description": f"{n} tool", "inputSchema": {"type": "object"}} for n in names)


def test_tools_are_prefixed_with_their_upstream_and_routed_back():
    catalog = ToolCatalog.build(
        [UpstreamTools("github", "github", tools("search")), UpstreamTools("fs", None, tools("read"))]
    )
    assert [t["name"] for t in catalog.tools] == ["github_search", "read"]
    assert catalog.route("github_search") == Route("github", "search")
    assert catalog.route("read") == Route("fs", "read")
    assert catalog.route("search") is None
    assert catalog.tools[0]["description"] == "search tool"


def test_collisions_name_both_upstreams_and_keep_the_first():
    catalog = ToolCatalog.build(
        [UpstreamTools("a", None, tools("echo", "only_a")), UpstreamTools("b", None, tools("echo"))], "_"
    )
    assert [t["name"] for t in catalog.tools] == ["echo", "only_a"]
    assert catalog.route("echo") == Route("a", "echo")
    (collision,) = catalog.collisions
    assert "upstream 'a'" in collision.describe() and "upstream 'b'" in collision.describe()


def test_prefix_and_separator_can_collide_too():
    # "a_b" + "c" and "a" + "b_c" both give "a_b_c".
    catalog = ToolCatalog.build([UpstreamTools("x", "a_b", tools("c")), UpstreamTools("y", "a", tools("b_c"))])
    assert len(catalog.collisions) == 1


@pytest.mark.anyio
async def test_collision_at_start_up_is_an_error_naming_both_upstreams():
    config = {"mcpServers": {"one": stdio_echo(prefix=False), "two": stdio_echo(prefix=False)}}
    with pytest.raises(ToolNameCollision) as excinfo:
        async with running_gateway(config):
            pass
    message = str(excinfo.value)
    assert message.startswith("upstreams 'one' and 'two' both expose tool names 'echo', 'whoami', 'pid'")
