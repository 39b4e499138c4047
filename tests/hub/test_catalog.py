"""Naming and collisions of the merged catalog."""

from __future__ import annotations

import pytest

from mcpgate.errors import ToolNameCollision
from mcpgate.hub.catalog import Catalog, Route, UpstreamListing
from tests.conftest import running_gateway, stdio_echo


def tools(*names: str) -> tuple[dict, ...]:
    return tuple({"name": n, "description": f"{n} tool", "inputSchema": {"type": "object"}} for n in names)


def test_tools_are_prefixed_with_their_upstream_and_routed_back():
    catalog = Catalog(
        [UpstreamListing("github", "github", tools("search")), UpstreamListing("fs", None, tools("read"))]
    )
    assert [t["name"] for t in catalog.tools] == ["github_search", "read"]
    assert catalog.tool("github_search") == Route("github", "search")
    assert catalog.tool("read") == Route("fs", "read")
    assert catalog.tool("search") is None
    assert catalog.tools[0]["description"] == "search tool"


def test_collisions_name_both_upstreams_and_keep_the_first():
    catalog = Catalog(
        [UpstreamListing("a", None, tools("echo", "only_a")), UpstreamListing("b", None, tools("echo"))], "_"
    )
    assert [t["name"] for t in catalog.tools] == ["echo", "only_a"]
    assert catalog.tool("echo") == Route("a", "echo")
    (collision,) = catalog.collisions
    assert "upstream 'a'" in collision.describe() and "upstream 'b'" in collision.describe()


def test_prefix_and_separator_can_collide_too():
    # "a_b" + "c" and "a" + "b_c" both give "a_b_c".
    catalog = Catalog([UpstreamListing("x", "a_b", tools("c")), UpstreamListing("y", "a", tools("b_c"))])
    assert len(catalog.collisions) == 1


@pytest.mark.anyio
async def test_collision_at_start_up_is_an_error_naming_both_upstreams():
    config = {"mcpServers": {"one": stdio_echo(prefix=False), "two": stdio_echo(prefix=False)}}
    with pytest.raises(ToolNameCollision) as excinfo:
        async with running_gateway(config):
            pass
    message = str(excinfo.value)
    assert message.startswith("upstreams 'one' and 'two' both expose tool names 'echo', 'whoami', 'pid'")


def test_prompts_are_named_like_tools():
    prompts = ({"name": "review", "arguments": [{"name": "code"}]},)
    catalog = Catalog([UpstreamListing("git", "git", prompts=prompts), UpstreamListing("docs", None, prompts=prompts)])
    assert [p["name"] for p in catalog.prompts] == ["git_review", "review"]
    assert catalog.prompt("git_review") == Route("git", "review")
    assert catalog.prompt("review") == Route("docs", "review")
    assert catalog.prompts[0]["arguments"] == [{"name": "code"}]


def test_resource_uris_of_prefixed_upstreams_are_marked_and_map_back():
    resources = ({"uri": "file:///README.md", "name": "readme"},)
    templates = ({"uriTemplate": "file:///{path}", "name": "file"},)
    catalog = Catalog(
        [
            UpstreamListing("a", "a", resources=resources, templates=templates),
            UpstreamListing("b", "b", resources=resources, templates=templates),
        ]
    )
    assert [r["uri"] for r in catalog.resources] == ["a+file:///README.md", "b+file:///README.md"]
    assert [t["uriTemplate"] for t in catalog.templates] == ["a+file:///{path}", "b+file:///{path}"]
    assert not catalog.collisions
    assert catalog.resource("b+file:///README.md") == Route("b", "file:///README.md")
    # Not listed, but the marker says whose it is (a template's expansion, a link a tool returned).
    assert catalog.resource("a+file:///src/x.py") == Route("a", "file:///src/x.py")
    assert catalog.expose_uri("b", "file:///x") == "b+file:///x"
    # A raw URI both could serve is ambiguous: never guessed.
    assert catalog.resource("file:///README.md") is None


def test_a_raw_uri_is_routed_when_it_can_only_mean_one_upstream():
    catalog = Catalog(
        [
            UpstreamListing("notes", "notes", templates=({"uriTemplate": "note://{id}", "name": "n"},)),
            UpstreamListing("files", "files", resources=({"uri": "file:///a", "name": "a"},)),
            UpstreamListing("tools_only", "tools_only", tools("x")),
        ]
    )
    assert catalog.resource("note://42") == Route("notes", "note://42")
    assert catalog.resource("file:///a") == Route("files", "file:///a")
    assert catalog.resource("other://thing") is None
    single = Catalog([UpstreamListing("only", "only", serves_resources=True)])
    assert single.resource("anything://at/all") == Route("only", "anything://at/all")


def test_unprefixed_upstreams_listing_the_same_uri_collide():
    resources = ({"uri": "mem://x", "name": "x"},)
    listings = [UpstreamListing("a", None, resources=resources), UpstreamListing("b", None, resources=resources)]
    catalog = Catalog(listings)
    (collision,) = catalog.collisions
    assert collision.kind == "resource" and "upstream 'b'" in collision.describe()
    assert catalog.resource("mem://x") == Route("a", "mem://x")
