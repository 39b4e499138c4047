"""The management API as a FastAPI router under `/api/v1`, with its error answers.

    router = admin_router(Admin(hub, registry, settings))
    app.include_router(router)              # OpenAPI at /api/v1/openapi.json

Every error is JSON: `{"error": {"type", "message", "details"?}}` with the status of the
gateway error it comes from (see `errors.py`) — 400 a body that is not JSON, 404 unknown id
or path, 405 a method the path does not take (with `Allow`), 409 name taken or a config-file
object, 413 body too large, 422 invalid input naming the field (a NUL in any string of the
path, query or body included). A 500 is a bug.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcpgate.admin import PREFIX, accounts, audit, keys, oauth, servers, upstreams, users
from mcpgate.admin.context import Admin
from mcpgate.errors import GatewayError, PayloadTooLarge, Unprocessable, error_body, error_kind


def admin_router(admin: Admin) -> APIRouter:
    router = APIRouter(prefix=PREFIX, dependencies=[Depends(_no_nul_in_path_or_query)])
    router.include_router(upstreams.router(admin))
    router.include_router(servers.router(admin))
    router.include_router(keys.router(admin))
    router.include_router(users.router(admin))
    router.include_router(audit.router(admin))
    router.include_router(oauth.router(admin))
    router.include_router(accounts.router(admin))
    return router


def describe_security(app: FastAPI) -> None:
    """Say in the OpenAPI document how requests authenticate (the guard enforces it)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An mcpgate API key."},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            }
            document["security"] = [{"bearer": []}, {"apiKey": []}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _gateway_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]


async def _no_nul_in_path_or_query(request: Request) -> None:
    """A NUL in a path or query parameter is refused like one in the body: it would reach the
    database (PostgreSQL refuses it) or a file name."""
    given = [("path", k, v) for k, v in request.path_params.items()] + [
        ("query", k, v) for k, v in request.query_params.multi_items()
    ]
    for where, name, value in given:
        if "\x00" in f"{name}{value}":
            message = "must not contain a NUL character (\\u0000)"
            raise Unprocessable(
                f"invalid request: {where}.{name}: {message}", data=[{"loc": f"{where}.{name}", "message": message}]
            )


async def _gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
    status = exc.http_status if 400 <= exc.http_status < 600 else 500
    return JSONResponse(error_body(error_kind(exc), exc.message, exc.data), status_code=status)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    undecodable = next((e for e in errors if e["type"] == "json_invalid"), None)
    if undecodable is not None:  # not JSON at all: a malformed request, as REST answers it
        reason = json.JSONDecodeError(undecodable["ctx"]["error"], exc.body or "", undecodable["loc"][-1])
        return JSONResponse(error_body("bad_request", f"the body is not valid JSON: {reason}"), status_code=400)
    fields = [{"loc": ".".join(str(part) for part in error["loc"]), "message": error["msg"]} for error in errors]
    summary = "; ".join(f"{f['loc']}: {f['message']}" for f in fields[:5])
    return JSONResponse(error_body("validation_error", f"invalid request: {summary}", fields), status_code=422)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own refusals (no such path, a method the path does not take) in the one error shape."""
    method, path = request.method, request.url.path
    headers = dict(exc.headers or {})
    phrase = HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404:
        message = f"no such path: {method} {path} (the API's operations: {PREFIX}/openapi.json)"
    elif exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request)) or headers.get("Allow", "")
        message = f"{method} is not allowed on {path}; allowed: {headers['Allow']}"
    else:
        message = exc.detail if exc.detail != phrase else f"{phrase}: {method} {path}"
    kind = re.sub(r"\W+", "_", phrase).strip("_").lower()  # "Method Not Allowed" → method_not_allowed
    return JSONResponse(error_body(kind, message), status_code=exc.status_code, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the API takes at this path: FastAPI makes a route per method, and Starlette's
    405 names only those of the first route whose path matched."""
    routes = request.app.router.routes
    return [
        method
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


class BodyLimit:
    """413 for management requests whose body exceeds `limit` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int, prefix: str = PREFIX) -> None:
        self.app = app
        self.limit = limit
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise PayloadTooLarge(f"the request body exceeds {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


async def _too_large(send: Send, limit: int) -> None:
    response = JSONResponse(error_body("payload_too_large", f"the request body exceeds {limit} bytes"), status_code=413)
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
