"""The management API's refusals: bad input is a 4xx naming the field (never a 500), and every
error — FastAPI's and Starlette's own included — has the one documented shape
`{"error": {"type", "message", "details"?}}`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import running_gateway, stdio_echo

pytestmark = pytest.mark.anyio

CONFIG = {"mcpServers": {"demo": stdio_echo("demo")}, "timeouts": {"connect": 2}}
UPSTREAMS = "/api/v1/upstreams"
SERVERS = "/api/v1/mcp_manager"
LOAD_TOOLS = "/api/v1/mcp_manager/load-tools-from-url"

NUL = "a\u0000b"
NUL_IN_STRINGS: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", UPSTREAMS, {"name": "x", "kind": "openapi", "spec": NUL}, "body.openapi.spec"),
    ("POST", UPSTREAMS, {"name": "x", "kind": "collection", "location": NUL}, "body.collection.location"),
    ("POST", UPSTREAMS, {"name": "x", "kind": "openapi", "spec": "/x.json", "guides": NUL}, "body.openapi.guides"),
    ("POST", UPSTREAMS, {"name": "x", "kind": "stdio", "command": "python", "cwd": NUL}, "body.stdio.cwd"),
    ("POST", UPSTREAMS, {"name": "x", "kind": "stdio", "command": "python", "env": {NUL: "v"}}, "body.stdio.env"),
    ("PATCH", f"{UPSTREAMS}/demo", {"location": NUL}, "body.location"),
    ("POST", SERVERS, {"name": "s", "description": NUL}, "body.description"),
    ("POST", SERVERS, {"name": "s", "config": {"deep": [{"k": NUL}]}}, "body.config"),
    ("POST", "/api/v1/keys", {"name": NUL}, "body.name"),
]


def the_error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and {"type", "message"} <= set(body["error"]), body
    return body["error"]


async def test_a_nul_in_any_string_of_a_body_a_path_or_a_query_is_a_422_naming_it() -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        for method, path, body, field in NUL_IN_STRINGS:
            response = await http.request(method, path, json=body)
            assert response.status_code == 422, (field, response.text)
            error = the_error(response)
            assert error["type"] == "validation_error"
            assert f"{field}: must not contain a NUL character" in error["message"]
            assert error["details"][0]["loc"] == field

        for path, field in ((f"{UPSTREAMS}/a%00b", "path.name"), ("/api/v1/audit?tool=a%00b", "query.tool")):
            response = await http.get(path)
            assert response.status_code == 422 and f"{field}: must not contain a NUL" in the_error(response)["message"]

        assert [upstream["name"] for upstream in (await http.get(UPSTREAMS)).json()["data"]] == ["demo"]
        assert (await http.get(SERVERS)).json()["data"] == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://[bad/", "not a valid URL: Invalid IPv6 URL"),
        ("http://host:abc/", "not a valid URL: Port could not be cast to integer value"),
        ("http://host:99999/", "not a valid URL: Port out of range"),
        (f"http://{'a' * 64}.example/", "the host name 'aaaa"),
        ("http://a..b/", "the host name 'a..b' is not valid"),
        ("http://a b/", "a URL must not contain spaces or control characters"),
        ("http://a\u2028b/", "a URL must not contain spaces or control characters"),
        ("http:///path", "the URL names no host"),
    ],
)
async def test_a_url_the_http_clients_cannot_use_is_a_422_naming_the_field(url: str, says: str) -> None:
    cases = [
        (UPSTREAMS, {"name": "x", "kind": "openapi", "spec": url}, "body.openapi.spec"),
        (UPSTREAMS, {"name": "x", "kind": "openapi", "spec": "/x.json", "baseUrl": url}, "body.openapi.baseUrl"),
        (UPSTREAMS, {"name": "x", "kind": "collection", "location": url}, "body.collection.location"),
        (UPSTREAMS, {"name": "x", "kind": "remote", "url": url}, "body.remote.url"),
        (SERVERS, {"name": "s", "externalMcpConfigs": [{"name": "e", "url": url}]}, "body.externalMcpConfigs.0.url"),
        (LOAD_TOOLS, {"url": url}, "body.url"),
    ]
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        for path, body, field in cases:
            response = await http.post(path, json=body)
            assert response.status_code == 422, (field, response.text)
            assert f"{field}: {says}" in the_error(response)["message"]


async def test_unknown_paths_and_methods_answer_in_the_one_error_shape() -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        unknown = await http.get("/api/v1/no-such-thing")
        assert unknown.status_code == 404
        assert the_error(unknown) == {
            "type": "not_found",
            "message": "no such path: GET /api/v1/no-such-thing (the API's operations: /api/v1/openapi.json)",
        }

        # FastAPI makes a route per method; the answer names them all, in the message and in Allow.
        refused = await http.delete(UPSTREAMS)
        assert refused.status_code == 405 and refused.headers["allow"] == "GET, POST"
        assert the_error(refused) == {
            "type": "method_not_allowed",
            "message": "DELETE is not allowed on /api/v1/upstreams; allowed: GET, POST",
        }
        one = await http.put(f"{UPSTREAMS}/demo")
        assert one.status_code == 405 and one.headers["allow"] == "GET, PATCH, DELETE"


async def test_a_body_that_is_not_json_is_a_400_and_json_of_the_wrong_shape_a_422() -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        headers = {"content-type": "application/json"}
        malformed = await http.post(UPSTREAMS, content=b'{"name": "x",', headers=headers)
        assert malformed.status_code == 400
        assert the_error(malformed) == {
            "type": "bad_request",
            "message": "the body is not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 14 (char 13)",
        }

        wrong_shape = await http.post(UPSTREAMS, json=[{"name": "x"}])
        assert wrong_shape.status_code == 422
        assert the_error(wrong_shape)["details"][0]["loc"] == "body"
        missing = await http.post(UPSTREAMS, json={"name": "x", "kind": "openapi"})
        assert missing.status_code == 422
        assert "body.openapi.spec: Field required" in the_error(missing)["message"]


async def test_headers_the_http_clients_would_refuse_are_a_422_naming_them() -> None:
    cases = [
        (UPSTREAMS, {"name": "x", "kind": "remote", "url": "http://127.0.0.1:9/mcp"}, "body.remote.headers"),
        (SERVERS, {"name": "s", "externalMcpConfigs": [{"name": "e", "url": "http://127.0.0.1:9/mcp"}]}, None),
        (LOAD_TOOLS, {"url": "http://127.0.0.1:9/mcp"}, "body.headers"),
    ]
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        for path, body, field in cases:
            for headers, says in (
                ({"X-Tenant": "a\r\nX-Admin: yes"}, "X-Tenant: a header value must not contain a line break"),
                ({"X Tenant": "t"}, "X Tenant.[key]: String should match pattern"),
            ):
                if field is None:  # an external config's headers, inside its list
                    sent = {**body, "externalMcpConfigs": [{**body["externalMcpConfigs"][0], "headers": headers}]}
                    where = "body.externalMcpConfigs.0.headers"
                else:
                    sent, where = {**body, "headers": headers}, field
                response = await http.post(path, json=sent)
                assert response.status_code == 422, (path, response.text)
                assert f"{where}.{says}" in the_error(response)["message"]
