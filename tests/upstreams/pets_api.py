"""A small real REST API with its OpenAPI document, served on loopback for the catalog tests.

Bearer tokens name who calls (`TOKENS`); every endpoint but /status needs one and answers
with the caller it saw, so a test can tell whose credentials went out. /slow never answers
(the timeout test), /export is large (truncation), /report is plain text, /workspace
echoes a passed-through `X-Workspace-Id`.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

TOKENS = {"alice-token": "alice", "bob-token": "bob", "service-token": "service"}
PETS = {1: {"id": 1, "name": "Rex", "species": "dog"}, 2: {"id": 2, "name": "Tom", "species": "cat"}}


def document(version: str = "3.1.0") -> dict[str, Any]:
    nullable_tag = {"type": ["string", "null"]} if version.startswith("3.1") else {"type": "string", "nullable": True}
    return {
        "openapi": version,
        "info": {"title": "Pets", "version": "1.0"},
        "servers": [{"url": "/"}],  # relative: against where the document was fetched
        "tags": [
            {"name": "pets", "description": "Adopt, list and look after pets."},
            {"name": "reports", "description": "Exports and reports."},
        ],
        "security": [{"bearer": []}],
        "paths": {
            "/status": {"get": {"operationId": "status", "summary": "Is the API up", "security": [], "tags": ["ops"]}},
            "/pets": {
                "get": {
                    "operationId": "listPets",
                    "summary": "List the pets in the shelter",
                    "tags": ["pets"],
                    "parameters": [
                        {"name": "species", "in": "query", "schema": {"type": "string"}, "description": "dog, cat…"},
                        {"$ref": "#/components/parameters/Limit"},
                    ],
                    "responses": {"200": {"$ref": "#/components/responses/PetList"}},
                },
                "post": {
                    "operationId": "createPet",
                    "summary": "Register a newly arrived pet for adoption",
                    "tags": ["pets"],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}},
                    },
                    "responses": {"201": {"description": "Created"}, "422": {"description": "Invalid pet"}},
                },
            },
            "/pets/{petId}": {
                "parameters": [{"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "get": {
                    "operationId": "getPet",
                    "summary": "One pet by id",
                    "tags": ["pets"],
                    "responses": {"200": {"description": "The pet"}, "404": {"description": "No such pet"}},
                },
            },
            "/pets/{petId}/family": {
                "get": {
                    "operationId": "getFamilyTree",
                    "summary": "A pet's family tree: parents, their parents, and so on",
                    "tags": ["pets"],
                    "parameters": [{"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}],
                    "responses": {
                        "200": {
                            "description": "The tree",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FamilyNode"}}},
                        }
                    },
                }
            },
            "/slow": {
                "get": {"operationId": "slowReport", "summary": "A report that takes forever", "tags": ["reports"]}
            },
            "/export": {"get": {"operationId": "exportPets", "summary": "Export every record", "tags": ["reports"]}},
            "/report": {"get": {"operationId": "textReport", "summary": "A plain text report", "tags": ["reports"]}},
            "/workspace": {
                "get": {
                    "operationId": "currentWorkspace",
                    "summary": "Which workspace the caller is in",
                    "tags": ["ops"],
                    "parameters": [{"name": "X-Request-Tag", "in": "header", "schema": nullable_tag}],
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {
                "Limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}
            },
            "responses": {
                "PetList": {
                    "description": "Pets",
                    "content": {
                        "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}}
                    },
                }
            },
            "schemas": {
                "NewPet": {
                    "type": "object",
                    "required": ["name", "species"],
                    "properties": {
                        "name": {"type": "string", "description": "What the pet answers to"},
                        "species": {"type": "string", "enum": ["dog", "cat", "rabbit"]},
                        "tag": nullable_tag,
                    },
                },
                "Pet": {
                    "allOf": [{"$ref": "#/components/schemas/NewPet"}, {"properties": {"id": {"type": "integer"}}}]
                },
                "FamilyNode": {
                    "type": "object",
                    "properties": {
                        "pet": {"$ref": "#/components/schemas/Pet"},
                        "parents": {"type": "array", "items": {"$ref": "#/components/schemas/FamilyNode"}},
                    },
                },
            },
        },
    }


def _caller(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return TOKENS.get(auth.removeprefix("Bearer ").strip()) if auth.startswith("Bearer ") else None


def _unauthorized() -> JSONResponse:
    return JSONResponse({"error": "missing or unknown bearer token"}, status_code=401)


async def status(request: Request) -> Response:
    return JSONResponse({"up": True})


async def pets(request: Request) -> Response:
    who = _caller(request)
    if who is None:
        return _unauthorized()
    if request.method == "POST":
        body = await request.json()
        if not isinstance(body, dict) or not body.get("name"):
            return JSONResponse({"error": "a pet needs a name", "field": "name"}, status_code=422)
        return JSONResponse({"id": 3, **body, "registeredBy": who}, status_code=201)
    species = request.query_params.get("species")
    found = [p for p in PETS.values() if species is None or p["species"] == species]
    return JSONResponse({"caller": who, "pets": found})


async def pet(request: Request) -> Response:
    if _caller(request) is None:
        return _unauthorized()
    raw = request.path_params["pet_id"]
    if not raw.isdigit() or int(raw) not in PETS:
        return JSONResponse({"error": f"no pet {raw}"}, status_code=404)
    return JSONResponse(PETS[int(raw)])


async def slow(request: Request) -> Response:
    await anyio.sleep_forever()  # the client's timeout ends it
    raise AssertionError


async def export(request: Request) -> Response:
    if _caller(request) is None:
        return _unauthorized()
    return JSONResponse([{"id": i, "name": f"pet {i}", "notes": "x" * 40} for i in range(2000)])


async def report(request: Request) -> Response:
    if _caller(request) is None:
        return _unauthorized()
    return PlainTextResponse("2 pets, 0 adopted")


async def workspace(request: Request) -> Response:
    who = _caller(request)
    if who is None:
        return _unauthorized()
    return JSONResponse(
        {"caller": who, "workspace": request.headers.get("x-workspace-id"), "tag": request.headers.get("x-request-tag")}
    )


def build_app(version: str = "3.1.0") -> Starlette:
    spec = document(version)

    async def openapi(request: Request) -> Response:
        return JSONResponse(spec)

    return Starlette(
        routes=[
            Route("/openapi.json", openapi),
            Route("/status", status),
            Route("/pets", pets, methods=["GET", "POST"]),
            Route("/pets/{pet_id}", pet),
            Route("/slow", slow),
            Route("/export", export),
            Route("/report", report),
            Route("/workspace", workspace),
        ]
    )
