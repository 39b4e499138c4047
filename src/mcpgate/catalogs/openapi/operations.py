"""The operations of an OpenAPI document: what the reference tools list, search and describe.

    operations = Operations.of(document)
    operations.services()                      # [{"service": "pets", "endpoints": 12, …}, …]
    operations.search("adopt a cat", service="pets", method="POST", limit=5)
    operations.find(method="GET", path="/pets/42")   # → the GET /pets/{petId} operation, {"petId": "42"}
    operations.details(operation)              # parameters, body schema (refs expanded), responses, security

A service is a tag (an operation with several tags is in each); untagged operations are
grouped by the first segment of their path. Search is the tool-search engine
(`search`: BM25 + static embeddings) over method, path, summary, description,
parameters and tags.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mcpgate.catalogs.openapi.document import Document
from mcpgate.search import DeferredIndex
from mcpgate.search import Document as SearchDocument
from mcpgate.search.text import split_name

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_TOOL_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_TEMPLATE_PART = re.compile(r"\{([^}/]+)\}")


class EndpointNotFound(LookupError):
    """No operation of the document matches; the message says what to do instead."""


@dataclass(frozen=True, slots=True)
class Operation:
    id: str  # the operationId, or "<method>_<path>" made name-safe when the document has none
    method: str  # upper case
    path: str  # the template, as the document writes it ("/pets/{petId}")
    summary: str
    description: str
    services: tuple[str, ...]
    parameters: tuple[dict[str, Any], ...]  # refs resolved; path-level ones merged in
    request_body: dict[str, Any] | None  # as the document has it (refs not yet expanded)
    responses: dict[str, Any]
    security: list[dict[str, list[str]]]  # requirement alternatives; [] = none needed
    deprecated: bool = False
    pattern: re.Pattern[str] = field(repr=False, compare=False, default=re.compile(""))

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def path_values(self, concrete: str) -> dict[str, str]:
        """The parameter values a concrete path ("/pets/42") holds for this template ({"petId": "42"})."""
        match = self.pattern.fullmatch(concrete)
        if match is None or concrete == self.path:
            return {}
        return dict(zip(_TEMPLATE_PART.findall(self.path), match.groups(), strict=True))

    def line(self) -> str:
        return _one_line(self.summary or self.description) or self.label


class Operations:
    def __init__(self, document: Document, operations: list[Operation], index: DeferredIndex) -> None:
        self.document = document
        self.all = operations
        self.by_id = {operation.id: operation for operation in operations}
        self._index = index

    @classmethod
    def of(cls, document: Document) -> Operations:
        operations = _read_operations(document)
        return cls(document, operations, DeferredIndex(lambda: map(_search_document, operations)))

    def __len__(self) -> int:
        return len(self.all)

    def services(self) -> list[dict[str, Any]]:
        """Each service with its endpoint count: the document's tags in its order, then the rest."""
        counts = Counter(service for operation in self.all for service in operation.services)
        described = {
            str(tag.get("name")): _one_line(str(tag.get("description") or ""))
            for tag in self.document.raw.get("tags") or []
            if isinstance(tag, dict) and tag.get("name")
        }
        ordered = [name for name in described if name in counts] + sorted(set(counts) - set(described))
        return [
            {"service": name, "endpoints": counts[name], **({"description": d} if (d := described.get(name)) else {})}
            for name in ordered
        ]

    def search(
        self, query: str, *, service: str | None = None, method: str | None = None, limit: int = 10
    ) -> list[Operation]:
        wanted_service = service.casefold() if service else None
        wanted_method = method.upper() if method else None
        found: list[Operation] = []
        for hit in self._index.search(query, limit=len(self.all)):
            operation = self.by_id[hit.id]
            if wanted_method and operation.method != wanted_method:
                continue
            if wanted_service and wanted_service not in (s.casefold() for s in operation.services):
                continue
            found.append(operation)
            if len(found) == limit:
                break
        return found

    def find(self, *, operation_id: str | None = None, method: str | None = None, path: str | None = None) -> Operation:
        """The operation named by id, or by method and path (a template or a concrete path)."""
        if operation_id:
            operation = self.by_id.get(operation_id)
            if operation is None:
                raise EndpointNotFound(f"no operation {operation_id!r} in this API; search_endpoints finds one")
            return operation
        if not method or not path:
            raise EndpointNotFound("name the endpoint: `operationId`, or `method` and `path`")
        method, bare = method.upper(), path.split("?", 1)[0]
        candidates = [op for op in self.all if op.path == bare] or [op for op in self.all if op.pattern.fullmatch(bare)]
        for operation in candidates:
            if operation.method == method:
                return operation
        if candidates:
            allowed = ", ".join(sorted({op.method for op in candidates}))
            raise EndpointNotFound(f"{bare} has no {method} operation (it has {allowed})")
        raise EndpointNotFound(f"no path {bare!r} in this API; search_endpoints finds one")

    def details(self, operation: Operation) -> dict[str, Any]:
        """Everything a caller needs to call it, `$ref`s expanded."""
        document = self.document
        detail: dict[str, Any] = {
            "operationId": operation.id,
            "method": operation.method,
            "path": operation.path,
            "summary": operation.summary,
            "description": operation.description,
            "services": list(operation.services),
            "parameters": [
                {
                    "name": p.get("name"),
                    "in": p.get("in"),
                    "required": bool(p.get("required")) or p.get("in") == "path",
                    **({"description": p["description"]} if p.get("description") else {}),
                    "schema": document.inline(p.get("schema") or _media_schema(p.get("content")) or {}),
                }
                for p in operation.parameters
            ],
        }
        if operation.request_body is not None:
            body = document.deref(operation.request_body)
            content = body.get("content") if isinstance(body, dict) else None
            detail["requestBody"] = {
                "required": bool(body.get("required")) if isinstance(body, dict) else False,
                "contentTypes": list(content or {}),
                "schema": document.inline(_media_schema(content) or {}),
            }
        detail["responses"] = {
            str(status): _response(document, response) for status, response in operation.responses.items()
        }
        detail["security"] = _security(document, operation.security)
        if operation.deprecated:
            detail["deprecated"] = True
        return detail

    def input_schema(self, operation: Operation) -> dict[str, Any]:
        """A JSON Schema for calling `operation` as a tool: one property per path, query and header
        parameter, and `body` for the request body."""
        document = self.document
        properties: dict[str, Any] = {}
        required: list[str] = []
        for parameter in operation.parameters:
            where, name = parameter.get("in"), str(parameter.get("name"))
            if where not in ("path", "query", "header") or _is_credential_header(document, where, name):
                continue
            schema = document.inline(
                parameter.get("schema") or _media_schema(parameter.get("content")) or {}, json_schema=True
            )
            if parameter.get("description") and isinstance(schema, dict):
                schema = {**schema, "description": _one_line(str(parameter["description"]))}
            properties[name] = schema
            if parameter.get("required") or where == "path":
                required.append(name)
        if operation.request_body is not None:
            body = document.deref(operation.request_body)
            content = body.get("content") if isinstance(body, dict) else None
            properties["body"] = document.inline(_media_schema(content) or {}, json_schema=True)
            if isinstance(body, dict) and body.get("required"):
                required.append("body")
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return schema


def _search_document(op: Operation) -> SearchDocument:
    return SearchDocument(op.id, f"{op.method.lower()} {split_name(op.id)} {_path_words(op.path)}", _search_text(op))


def _read_operations(document: Document) -> list[Operation]:
    operations: list[Operation] = []
    taken: set[str] = set()
    global_security = document.raw.get("security")
    for path, item in document.raw["paths"].items():
        item = document.deref(item)
        if not isinstance(item, dict):
            continue
        shared = [document.deref(p) for p in item.get("parameters") or []]
        for method in METHODS:
            spec = item.get(method)
            if not isinstance(spec, dict):
                continue
            own = [document.deref(p) for p in spec.get("parameters") or []]
            # An operation's parameter overrides the path item's one of the same name and location.
            keys = {(p.get("in"), p.get("name")) for p in own if isinstance(p, dict)}
            parameters = [p for p in shared if isinstance(p, dict) and (p.get("in"), p.get("name")) not in keys]
            parameters += [p for p in own if isinstance(p, dict)]
            tags = tuple(str(t) for t in spec.get("tags") or [] if t) or (_first_segment(path),)
            security = spec.get("security", global_security)
            operations.append(
                Operation(
                    id=_unique(_operation_id(spec, method, path), taken),
                    method=method.upper(),
                    path=path,
                    summary=str(spec.get("summary") or ""),
                    description=str(spec.get("description") or ""),
                    services=tags,
                    parameters=tuple(parameters),
                    request_body=spec.get("requestBody"),
                    responses=dict(spec.get("responses") or {}),
                    security=[r for r in security or [] if isinstance(r, dict)],
                    deprecated=bool(spec.get("deprecated")),
                    pattern=_path_pattern(path),
                )
            )
    return operations


def _operation_id(spec: dict[str, Any], method: str, path: str) -> str:
    given = spec.get("operationId")
    if isinstance(given, str) and given.strip():
        return _TOOL_NAME.sub("_", given.strip()).strip("_")[:64] or method
    return _TOOL_NAME.sub("_", f"{method}_{path}").strip("_")[:64]


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name[: 64 - len(str(n)) - 1]}_{n}"
    taken.add(candidate)
    return candidate


def _path_pattern(path: str) -> re.Pattern[str]:
    parts = _TEMPLATE_PART.split(path)
    # split() alternates literal text and parameter names: literals escaped, parameters one segment.
    return re.compile("".join(re.escape(part) if i % 2 == 0 else "([^/]+)" for i, part in enumerate(parts)))


def _first_segment(path: str) -> str:
    for segment in path.strip("/").split("/"):
        if segment and not segment.startswith("{"):
            return segment
    return "root"


def _path_words(path: str) -> str:
    return " ".join(split_name(part) for part in re.split(r"[/{}]+", path) if part)


def _search_text(operation: Operation) -> str:
    parameters = " ".join(
        f"{split_name(str(p.get('name', '')))} {_one_line(str(p.get('description') or ''))}"
        for p in operation.parameters
    )
    return " ".join(
        part for part in (operation.summary, operation.description, parameters, " ".join(operation.services)) if part
    )


def _one_line(text: str) -> str:
    first = text.strip().split("\n\n", 1)[0]
    return " ".join(first.split())[:300]


def _media_schema(content: Any) -> Any:
    """The schema of the JSON media type if there is one, else of the first."""
    if not isinstance(content, dict) or not content:
        return None
    for media, entry in content.items():
        if "json" in media and isinstance(entry, dict):
            return entry.get("schema")
    first = next(iter(content.values()))
    return first.get("schema") if isinstance(first, dict) else None


def _response(document: Document, response: Any) -> dict[str, Any]:
    response = document.deref(response)
    if not isinstance(response, dict):
        return {}
    described: dict[str, Any] = {"description": str(response.get("description") or "")}
    schema = _media_schema(response.get("content"))
    if schema is not None:
        described["schema"] = document.inline(schema)
    return described


def _security(document: Document, requirements: list[dict[str, list[str]]]) -> list[dict[str, Any]]:
    """Each alternative way to authenticate, with its schemes, scopes and what to send."""
    schemes = (document.raw.get("components") or {}).get("securitySchemes") or {}
    alternatives = []
    for requirement in requirements:
        alternatives.append(
            [
                {"name": name, "scopes": list(scopes or []), **describe_scheme(document.deref(schemes.get(name, {})))}
                for name, scopes in requirement.items()
            ]
        )
    return [{"anyOf": alternatives}] if len(alternatives) > 1 else [{"allOf": a} for a in alternatives]


def describe_scheme(scheme: Any) -> dict[str, Any]:
    """A security scheme as the header a caller sends (`header`, `send`), when it is one."""
    if not isinstance(scheme, dict):
        return {}
    kind = scheme.get("type")
    if kind == "apiKey":
        where, name = scheme.get("in"), str(scheme.get("name", ""))
        described: dict[str, Any] = {"type": "apiKey", "in": where, "name": name}
        if where == "header":
            described |= {"header": name, "send": f"{name}: <key>"}
        return described
    if kind == "http":
        auth = str(scheme.get("scheme", "bearer")).lower()
        example = "Bearer <token>" if auth == "bearer" else f"{auth.capitalize()} <credentials>"
        return {"type": "http", "httpScheme": auth, "header": "Authorization", "send": f"Authorization: {example}"}
    if kind in ("oauth2", "openIdConnect"):
        return {"type": kind, "header": "Authorization", "send": "Authorization: Bearer <access token>"}
    return {"type": str(kind)}


def _is_credential_header(document: Document, where: Any, name: str) -> bool:
    """Header parameters that are really credentials are the caller's token's business, not the tool's."""
    if where != "header":
        return False
    if name.lower() == "authorization":
        return True
    schemes = (document.raw.get("components") or {}).get("securitySchemes") or {}
    return any(describe_scheme(document.deref(s)).get("header", "").lower() == name.lower() for s in schemes.values())
