"""Reference collections through the official SDK client: a few hundred workflow nodes and events
(tests/collections/records.py) on a public virtual server with no key — categories with counts,
paraphrased searches, get by id, records read as resources — registered through the config, the
management API and the CLI; records that cannot be served are refused with the reason, and
nothing is stored."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcpgate.config import load_config
from tests.collections.records import PARAPHRASED_QUERIES, events, workflow_nodes, write_collection
from tests.conftest import running_gateway, serve_asgi
from tests.test_cli import mcpgate
from tests.test_manage import NO_GATEWAY, run

pytestmark = pytest.mark.anyio

ADMIN = "admin-secret"
TOOLS = {"nodes_categories", "nodes_search", "nodes_get", "events_categories", "events_search", "events_get"}


def config(nodes: Path, events_file: Path) -> dict[str, Any]:
    return {
        "api_key": ADMIN,
        "mcpServers": {
            "nodes": {"type": "collection", "location": str(nodes), "record": "workflow node"},
            "events": {"location": str(events_file), "record": "event"},  # the type is implied by `location`
        },
        "virtualServers": {"reference": {"mode": "NORMAL", "selectedTools": sorted(TOOLS), "isPublic": True}},
    }


@pytest.mark.parametrize("transport", ["sse", "streamable_http"])
async def test_collections_answer_on_a_public_server_without_any_key(transport: str, tmp_path: Path) -> None:
    nodes, events_file = workflow_nodes(), events()
    cfg = config(
        write_collection(tmp_path / "nodes.json", nodes, "json"),
        write_collection(tmp_path / "events.yaml", events_file, "yaml"),
    )
    async with running_gateway(cfg) as gateway, gateway.client(transport, server="reference") as client:
        with anyio.fail_after(90):  # a hang fails here, at the call that waits, not in the runner
            assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS

            listed = (await client.call_tool("nodes_categories", {})).structured_content
            assert listed["total"] == len(nodes) and listed["record"] == "workflow node"
            assert listed["categoryField"] == "group"  # inferred: no field was named
            expected = Counter(node["group"] for node in nodes)
            assert {c["category"]: c["count"] for c in listed["categories"]} == expected
            assert [c["count"] for c in listed["categories"]] == sorted(expected.values(), reverse=True)
            by_family = (await client.call_tool("events_categories", {})).structured_content
            assert by_family["categories"][0] == {
                "category": "ticket",
                "count": Counter(e["category"] for e in events_file)["ticket"],
            }

            # Needs in a user's own words find the record that answers them, in the first three.
            misses = []
            for collection, query, wanted in PARAPHRASED_QUERIES:
                found = (
                    await client.call_tool(f"{collection}_search", {"query": query, "limit": 3})
                ).structured_content
                if wanted not in [hit["id"] for hit in found["results"]]:
                    misses.append((query, wanted, [hit["id"] for hit in found["results"]]))
            assert len(misses) <= len(PARAPHRASED_QUERIES) // 8, misses
            slack = (
                await client.call_tool("nodes_search", {"query": "post a message into a Slack channel"})
            ).structured_content
            top = next(hit for hit in slack["results"][:3] if hit["id"] == "slack.sendMessage")
            assert top["uri"] == "nodes://slack.sendMessage" and top["category"] == "action"
            assert top["title"] and top["snippet"]

            # Within one category only; an unknown category names the real ones.
            triggers = (
                await client.call_tool("nodes_search", {"query": "slack", "category": "trigger", "limit": 20})
            ).structured_content
            assert triggers["results"] and {hit["category"] for hit in triggers["results"]} == {"trigger"}
            wrong = await client.call_tool("events_search", {"query": "paid", "category": "nonsense"})
            assert wrong.is_error

            # In full, by id; an unknown id suggests close ones.
            record = (await client.call_tool("events_get", {"id": "contact.updated"})).structured_content
            assert record["record"] == next(e for e in events_file if e["name"] == "contact.updated")
            missing = await client.call_tool("events_get", {"id": "contact.updatd"})
            assert missing.is_error and "'contact.updated'" in missing.content[0].text

            # Every record is a resource <collection>://<id>.
            resources = (await client.list_resources()).resources
            assert len(resources) == len(nodes) + len(events_file)
            read = await client.read_resource("nodes://slack.sendMessage")
            assert json.loads(read.contents[0].text) == next(n for n in nodes if n["type"] == "slack.sendMessage")


async def test_folders_json_lines_and_named_fields(tmp_path: Path) -> None:
    folder = tmp_path / "nodes"
    folder.mkdir()
    nodes = workflow_nodes()
    for node in nodes[:40]:  # one file per record…
        (folder / f"{node['type']}.json").write_text(json.dumps(node))
    (folder / "more").mkdir()
    write_collection(folder / "more" / "rest.jsonl", nodes[40:], "jsonl")  # …and the rest in one file below
    cfg = {
        "mcpServers": {
            "nodes": {"type": "collection", "location": str(folder)},
            "plain": {
                "type": "collection",
                "location": str(write_collection(tmp_path / "events.jsonl", events(), "jsonl")),
                "idField": "name",
                "titleField": "name",
                "categoryField": "category",
                "textFields": ["description"],
            },
        }
    }
    async with running_gateway(cfg) as gateway, gateway.client("streamable_http") as client:
        counted = (await client.call_tool("nodes_categories", {})).structured_content
        assert counted["total"] == len(nodes) and counted["record"] == "record"
        found = (await client.call_tool("plain_search", {"query": "a card payment was declined"})).structured_content
        assert "payment.failed" in [hit["id"] for hit in found["results"][:3]]
        assert found["results"][0]["title"] == found["results"][0]["id"]  # the title field is the name


async def test_registered_through_the_api_and_refused_when_the_records_cannot_be_served(tmp_path: Path) -> None:
    good = write_collection(tmp_path / "events.json", events(), "json")
    cases = {
        "an object": ({"nodes": [{"id": 1}], "edges": []}, "holds an object, not a list of records"),
        "a string record": ([{"id": "a"}, "b"], "record 2 is a string, not an object"),
        "duplicate ids": ([{"id": "a"}, {"id": "b"}, {"id": "a"}], "id 'a' appears twice: records 1 and 3"),
        "no id anywhere": ([{"text": "x"}, {"text": "y"}], "no record has an id field (id, key, slug, name"),
        "a record without": ([{"name": "x"}, {"title": "y"}], "record 2 has no 'name' (the id field)"),
    }
    async with (
        serve_asgi(_records_app(events())) as site,
        running_gateway({"api_key": ADMIN}) as gateway,
        gateway.http({"x-api-key": ADMIN}) as admin,
    ):
        made = await admin.post(
            "/api/v1/upstreams",
            json={"name": "events", "kind": "collection", "location": str(good), "record": "event"},
        )
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["state"] == "ready" and body["records"] == len(events()) and body["prefix"] is False
        assert {t["name"] for t in body["tools"]} == {"events_categories", "events_search", "events_get"}

        by_url = await admin.post(
            "/api/v1/upstreams",
            json={"name": "remote", "kind": "collection", "location": f"{site}/events.json?token=s3cret"},
        )
        assert by_url.status_code == 201 and "s3cret" not in by_url.text

        for label, (content, reason) in cases.items():
            path = tmp_path / f"{label.replace(' ', '-')}.json"
            path.write_text(json.dumps(content))
            refused = await admin.post(
                "/api/v1/upstreams", json={"name": "bad", "kind": "collection", "location": str(path)}
            )
            assert refused.status_code == 422 and reason in refused.json()["error"]["message"], (label, refused.text)
        missing_id = await admin.post(
            "/api/v1/upstreams",
            json={"name": "bad", "kind": "collection", "location": str(good), "idField": "summaryx"},
        )
        assert "record 1 has no 'summaryx' (the id field)" in missing_id.json()["error"]["message"]
        unfetchable = await admin.post(
            "/api/v1/upstreams",
            json={"name": "bad", "kind": "collection", "location": f"{site}/gone.json?token=s3cret"},
        )
        message = unfetchable.json()["error"]["message"]
        assert unfetchable.status_code == 422 and f"cannot fetch {site}/gone.json: HTTP 404" in message
        assert "s3cret" not in message
        scheme = await admin.post(
            "/api/v1/upstreams", json={"name": "bad_name", "kind": "collection", "location": str(good)}
        )
        assert scheme.status_code == 422 and "<name>://<id>" in scheme.json()["error"]["message"]
        # Nothing half-registered.
        assert (await admin.get("/api/v1/upstreams/bad")).status_code == 404
        assert {u["name"] for u in (await admin.get("/api/v1/upstreams")).json()["data"]} == {"events", "remote"}


async def test_registered_through_the_cli_and_declared_relative_to_the_config_file(tmp_path: Path) -> None:
    env = {**os.environ, "MCPGATE_DATA_DIR": str(tmp_path / "data")}
    nodes = write_collection(tmp_path / "nodes.yaml", workflow_nodes(), "yaml")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps([{"id": "a"}, {"id": "a"}]))
    async with mcpgate("serve", "--port", "0", env=env) as url:
        await run(
            env, "upstreams", "add", "nodes", "--collection", str(nodes), "--record", "workflow node", gateway=url
        )
        listed = json.loads((await run(env, "upstreams", "list", "--json", gateway=url)).stdout)
        added = next(u for u in listed if u["name"] == "nodes")
        assert added["kind"] == "collection" and added["state"] == "ready" and len(added["tools"]) == 3
        refused = await run(env, "upstreams", "add", "dup", "--collection", str(broken), gateway=url, check=False)
        assert refused.returncode == 1 and "id 'a' appears twice" in refused.stderr.decode()
    offline = await run(env, "upstreams", "add", "dup", "--collection", str(broken), gateway=NO_GATEWAY, check=False)
    assert offline.returncode != 0 and "id 'a' appears twice" in offline.stderr.decode()

    (tmp_path / "gateway.yaml").write_text("mcpServers:\n  nodes: {type: collection, location: nodes.yaml}\n")
    settings = load_config(tmp_path / "gateway.yaml")
    async with running_gateway(settings) as gateway, gateway.client("streamable_http") as client:
        got = (await client.call_tool("nodes_get", {"id": "core.if"})).structured_content
        assert got["record"]["type"] == "core.if"


def _records_app(records: list[dict[str, Any]]) -> Any:
    """A web server holding one collection at /events.json (and nothing else)."""
    body = json.dumps(records).encode()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        found = scope["path"] == "/events.json"
        await send(
            {
                "type": "http.response.start",
                "status": 200 if found else 404,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body if found else b"{}"})

    return app
