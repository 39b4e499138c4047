"""The management API, called from the web UI's pages as the person signed in.

    api = ManagementAPI(guarded_app, principal)
    upstreams = await api.get("/api/v1/upstreams")
    await api.post("/api/v1/keys", {"name": "ci", "scopes": ["tools:call"]})   # APIError if refused

The UI has no path of its own to the registry: every page reads and writes through the same
routes the CLI and scripts use, in-process (no socket), through the guard, which judges the
signed-in key's principal exactly as it would judge that key sent over HTTP — scopes, servers,
rate limits, audit. What the API refuses reaches the page as the API worded it.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from mcpgate.access.principal import Principal
from mcpgate.edge.http import IN_PROCESS_CALLER

TIMEOUT_SECONDS = 60.0  # a tool run from the UI may take a while; the API bounds its own waits too


class APIError(Exception):
    """What the management API answered instead of success: its status and its own message."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body


class ManagementAPI:
    def __init__(self, app: ASGIApp, principal: Principal, origin: str = "http://admin-ui.invalid") -> None:
        """`origin`: where the person's browser reaches the gateway — what the API's links (endpoint
        URLs, authorization links) are built from, as they would be for that browser's own request."""

        async def as_principal(scope: Scope, receive: Receive, send: Send) -> None:
            await app({**scope, IN_PROCESS_CALLER: principal}, receive, send)

        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=as_principal),  # type: ignore[arg-type]
            base_url=origin,
            timeout=TIMEOUT_SECONDS,
        )

    async def __aenter__(self) -> ManagementAPI:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def every(self, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a paged listing (`data` + `pagination.nextCursor`), page after page."""
        items: list[Any] = []
        query = {**(params or {}), "limit": 100}
        while True:
            page = await self.get(path, query)
            items += page["data"]
            pagination = page.get("pagination") or {}
            if not pagination.get("hasMore"):
                return items
            query["cursor"] = pagination["nextCursor"]

    async def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return await self.request("POST", path, body, headers=headers)

    async def patch(self, path: str, body: Any) -> Any:
        return await self.request("PATCH", path, body)

    async def put(self, path: str, body: Any) -> Any:
        return await self.request("PUT", path, body)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path)

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        accept: tuple[int, ...] = (),
    ) -> Any:
        """The answer's JSON; `APIError` for a failure, unless its status is in `accept`."""
        answer = await self._client.request(
            method,
            path,
            json=body,
            params={k: v for k, v in (params or {}).items() if v not in (None, "")},
            headers=headers,
        )
        if answer.status_code == 204 or not answer.content:
            if answer.is_success:
                return None
            raise APIError(answer.status_code, answer.reason_phrase)
        try:
            parsed = answer.json()
        except ValueError:
            parsed = answer.text
        if not answer.is_success and answer.status_code not in accept:
            raise APIError(answer.status_code, _message(parsed, answer.reason_phrase), parsed)
        return parsed


def _message(body: Any, fallback: str) -> str:
    """The API's own wording of a refusal, whichever of its shapes it came in."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return body.get("message") or error
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list):  # pydantic's list of problems
            return "; ".join(_problem(item) for item in detail)
        if body.get("message"):
            return str(body["message"])
    return str(body) if isinstance(body, str) and body else fallback


def _problem(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
    return f"{where}: {item.get('msg')}" if where else str(item.get("msg"))
