"""The OpenAPI 3.1 document of one endpoint's REST face (see `rest.py`), built from what it offers now.

    document = rest_document(RESTSurface(title=…, server_url=…, tools=[…], prompts=[…], …))

Tool schemas go in as the upstream wrote them, with one change OpenAPI forces: inside a
JSON Schema, `#` is the schema itself (`{"$ref": "#/$defs/Item"}`), inside an OpenAPI
document it is the document. Each schema is therefore *hoisted* into
`components/schemas` — `<op>.input`, its `$defs` as `<op>.input.Item` — and its local
references rewritten to point there. References that cannot be resolved (another
document, a missing definition) are replaced by an unconstrained schema saying so,
so the document stays valid and the upstream still judges the arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, unquote

from mcpgate.edge.tool_formats import FORMATS, function_names

Security = Literal["none", "optional", "required"]

_SCHEMAS = "#/components/schemas/"
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")
_DEF_KEYWORDS = ("$defs", "definitions")


@dataclass
class RESTSurface:
    """What one endpoint offers over REST, and where."""

    title: str
    version: str
    server_url: str  # absolute base URL of the endpoint: the REST paths hang below it
    tools: Sequence[Mapping[str, Any]]
    prompts: Sequence[Mapping[str, Any]] = ()
    resources: bool = False  # whether resources (and templates) are offered
    description: str = ""
    security: Security = "none"
    operation_names: dict[str, str] = field(default_factory=dict)  # tool name → operationId (function name)


def rest_document(surface: RESTSurface) -> dict[str, Any]:
    components: dict[str, Any] = {name: dict(schema) for name, schema in _FIXED_SCHEMAS.items()}
    paths: dict[str, Any] = {
        "/tools": {"get": _list_tools_operation()},
        "/call-tool": {"post": _call_tool_operation()},
    }
    names = surface.operation_names or function_names(t["name"] for t in surface.tools)
    for tool in surface.tools:
        operation_id = names[tool["name"]]
        paths[f"/tools/{quote(tool['name'], safe='')}"] = {"post": _tool_operation(tool, operation_id, components)}
    if surface.resources:
        paths["/resources"] = {"get": _get("listResources", "List the resources", "ResourceList")}
        paths["/resource-templates"] = {
            "get": _get("listResourceTemplates", "List the resource templates", "ResourceTemplateList")
        }
        paths["/resources/read"] = {"get": _read_resource_operation()}
    if surface.prompts:
        paths["/prompts"] = {"get": _get("listPrompts", "List the prompts", "PromptList")}
        taken = set(names.values())
        prompt_names = function_names(p["name"] for p in surface.prompts)
        for prompt in surface.prompts:
            operation_id = f"prompt_{prompt_names[prompt['name']]}"
            while operation_id in taken:
                operation_id += "_"
            taken.add(operation_id)
            paths[f"/prompts/{quote(prompt['name'], safe='')}"] = {"post": _prompt_operation(prompt, operation_id)}
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": surface.title, "version": surface.version, "description": _info(surface)},
        "servers": [{"url": surface.server_url}],
        "paths": paths,
        "components": {"schemas": components, "responses": _error_responses()},
    }
    if surface.security != "none":
        document["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "An mcpgate API key."},
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
        }
        document["security"] = [{"bearer": []}, {"apiKey": []}]
        if surface.security == "optional":
            document["security"].append({})  # a public virtual server: no key needed
    return document


def _info(surface: RESTSurface) -> str:
    lines = [surface.description] if surface.description else []
    lines.append(
        "The tools of this mcpgate endpoint as plain HTTP. `POST /tools/<name>` takes the tool's arguments as "
        "its body; a tool that fails answers 200 with `isError: true` (add `?errors=http` for a 502). Send "
        "`x-username` to act for an end user."
    )
    return "\n\n".join(lines)


# -- operations ------------------------------------------------------------------------


def _ok(schema: str | dict[str, Any], description: str = "OK") -> dict[str, Any]:
    body = {"$ref": _SCHEMAS + schema} if isinstance(schema, str) else schema
    return {"description": description, "content": {"application/json": {"schema": body}}}


def _errors(*statuses: int) -> dict[str, Any]:
    always = (400, 401, 403, 429)
    return {str(status): {"$ref": f"#/components/responses/{status}"} for status in sorted({*always, *statuses})}


def _get(operation_id: str, summary: str, schema: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "responses": {"200": _ok(schema), **_errors(502, 503, 504)},
    }


_ERRORS_PARAMETER = {
    "name": "errors",
    "in": "query",
    "required": False,
    "description": "`http`: a tool result with isError: true is answered 502 instead of 200.",
    "schema": {"type": "string", "enum": ["result", "http"], "default": "result"},
}


def _list_tools_operation() -> dict[str, Any]:
    return {
        "operationId": "listTools",
        "summary": "List the tools",
        "description": "As MCP lists them, or (`format=openai`, `openai-responses`) as function definitions ready "
        "for the `tools` field of an OpenAI Chat Completions or Responses request.",
        "parameters": [
            {
                "name": "format",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": list(FORMATS), "default": "mcp"},
            }
        ],
        "responses": {
            "200": _ok(
                {
                    "oneOf": [
                        {"$ref": _SCHEMAS + "ToolList"},
                        {"$ref": _SCHEMAS + "OpenAIToolList"},
                        {"$ref": _SCHEMAS + "OpenAIResponsesToolList"},
                    ]
                }
            ),
            **_errors(),
        },
    }


def _call_tool_operation() -> dict[str, Any]:
    return {
        "operationId": "callTool",
        "summary": "Call a tool by name",
        "description": "`name` is the tool's name (or its function name from `GET /tools?format=openai`).",
        "parameters": [_ERRORS_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _SCHEMAS + "CallToolRequest"}}},
        },
        "responses": {"200": _ok("CallToolResult"), **_errors(404, 413, 422, 502, 503, 504)},
    }


def _tool_operation(tool: Mapping[str, Any], operation_id: str, components: dict[str, Any]) -> dict[str, Any]:
    description = tool.get("description") if isinstance(tool.get("description"), str) else ""
    title = tool.get("title") if isinstance(tool.get("title"), str) else None
    summary = title or (description.strip().splitlines()[0][:120] if description.strip() else tool["name"])
    input_schema = tool.get("inputSchema")
    input_ref = hoist(
        input_schema if input_schema is not None else {"type": "object"}, f"{operation_id}.input", components
    )
    result: str | dict[str, Any] = "CallToolResult"
    output_schema = tool.get("outputSchema")
    if isinstance(output_schema, Mapping):
        output_ref = hoist(output_schema, f"{operation_id}.output", components)
        components[f"{operation_id}.result"] = {
            "allOf": [{"$ref": _SCHEMAS + "CallToolResult"}],
            "properties": {"structuredContent": output_ref},
        }
        result = f"{operation_id}.result"
    required = isinstance(input_schema, Mapping) and bool(input_schema.get("required"))
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description or summary,
        "parameters": [_ERRORS_PARAMETER],
        "requestBody": {
            "required": required,
            "description": "The tool's arguments.",
            "content": {"application/json": {"schema": input_ref}},
        },
        "responses": {"200": _ok(result, "The tool's result"), **_errors(404, 413, 422, 502, 503, 504)},
    }


def _read_resource_operation() -> dict[str, Any]:
    return {
        "operationId": "readResource",
        "summary": "Read a resource",
        "parameters": [{"name": "uri", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1}}],
        "responses": {"200": _ok("ReadResourceResult"), **_errors(404, 422, 502, 503, 504)},
    }


def _prompt_operation(prompt: Mapping[str, Any], operation_id: str) -> dict[str, Any]:
    arguments = [a for a in prompt.get("arguments") or () if isinstance(a, Mapping) and isinstance(a.get("name"), str)]
    properties = {
        a["name"]: {
            "type": "string",
            **({"description": a["description"]} if isinstance(a.get("description"), str) else {}),
        }
        for a in arguments
    }
    required = [a["name"] for a in arguments if a.get("required")]
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    description = prompt.get("description") if isinstance(prompt.get("description"), str) else ""
    return {
        "operationId": operation_id,
        "summary": f"Get the prompt {prompt['name']}",
        "description": description or f"The prompt {prompt['name']}, filled with its arguments.",
        "requestBody": {"required": bool(required), "content": {"application/json": {"schema": schema}}},
        "responses": {"200": _ok("GetPromptResult"), **_errors(404, 413, 422, 502, 503, 504)},
    }


def _error_responses() -> dict[str, Any]:
    described = {
        400: "The body is not JSON",
        401: "No valid API key",
        403: "The key may not do this",
        404: "No such tool, prompt or resource",
        413: "The body is too large",
        422: "The input does not match its schema; `details` names each field",
        429: "Rate limited; retry after `Retry-After` seconds",
        502: "The upstream answered with an error (or the tool failed and `errors=http` was asked)",
        503: "The upstream is unavailable; retry after `Retry-After` seconds",
        504: "The upstream did not answer in time",
    }
    responses = {}
    for status, text in described.items():
        response: dict[str, Any] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": _SCHEMAS + "Error"}}},
        }
        if status in (429, 503):
            response["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}}
        responses[str(status)] = response
    return responses


# -- hoisting schemas into components -----------------------------------------------------


def hoist(schema: Any, name: str, components: dict[str, Any]) -> dict[str, Any]:
    """Put `schema` (and its `$defs`) into `components` under `name`; return a `$ref` to it."""
    if schema is True or not isinstance(schema, Mapping | bool):
        schema = {}
    elif schema is False:
        schema = {"not": {}}
    definitions: dict[tuple[str, str], str] = {}
    for keyword in _DEF_KEYWORDS:
        defs = schema.get(keyword)
        if isinstance(defs, Mapping):
            for def_name in defs:
                definitions[(keyword, def_name)] = _free_name(f"{name}.{_NOT_IN_NAME.sub('_', def_name)}", components)
    rewriter = _Rewriter(schema, name, definitions)
    components[name] = rewriter.rewrite({k: v for k, v in schema.items() if k not in _DEF_KEYWORDS})
    for (keyword, def_name), component in definitions.items():
        components[component] = rewriter.rewrite(schema[keyword][def_name])
    return {"$ref": _SCHEMAS + name}


def _free_name(wanted: str, components: Mapping[str, Any]) -> str:
    name, n = wanted, 1
    while name in components:
        n += 1
        name = f"{wanted}_{n}"
    return name


class _Rewriter:
    """Copies a schema with its local references pointed at the hoisted components."""

    def __init__(self, root: Mapping[str, Any], name: str, definitions: dict[tuple[str, str], str]) -> None:
        self.root = root
        self.name = name
        self.definitions = definitions

    def rewrite(self, node: Any) -> Any:
        if isinstance(node, Mapping):
            copied: dict[str, Any] = {}
            for key, value in node.items():
                if key in ("$schema", "$id", "$anchor", "$dynamicAnchor"):
                    continue  # they would re-base references inside the OpenAPI document
                if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                    target = self._target(value)
                    if target is None:
                        copied.setdefault("description", f"(reference {value!r} not resolvable here: any value)")
                        continue
                    copied["$ref"] = target
                    continue
                copied[key] = self.rewrite(value)
            return copied
        if isinstance(node, list):
            return [self.rewrite(item) for item in node]
        return node

    def _target(self, ref: str) -> str | None:
        if ref == "#":
            return _SCHEMAS + self.name
        if not ref.startswith("#/"):
            return None  # another document, or an anchor: nothing here to point at
        tokens = [unquote(t).replace("~1", "/").replace("~0", "~") for t in ref[2:].split("/")]
        if not _resolves(self.root, tokens):
            return None
        if len(tokens) >= 2 and (tokens[0], tokens[1]) in self.definitions:
            rest = ref[2:].split("/")[2:]
            return "/".join([_SCHEMAS + self.definitions[(tokens[0], tokens[1])], *rest])
        return _SCHEMAS + self.name + ref[1:]


def _resolves(node: Any, tokens: Sequence[str]) -> bool:
    for token in tokens:
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


# -- the fixed schemas of MCP's results ------------------------------------------------------

_OBJECT = {"type": "object"}


def _list_of(field_name: str, item: dict[str, Any]) -> dict[str, Any]:
    """An MCP list result: `{"<field>": [<item>, …]}`."""
    return {"type": "object", "required": [field_name], "properties": {field_name: {"type": "array", "items": item}}}


_FIXED_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}, "details": {}},
            }
        },
    },
    "ContentBlock": {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string"}},
        "description": "An MCP content block: text, image, audio, resource_link or resource.",
    },
    "CallToolResult": {
        "type": "object",
        "required": ["content"],
        "properties": {
            "content": {"type": "array", "items": {"$ref": _SCHEMAS + "ContentBlock"}},
            "structuredContent": _OBJECT,
            "isError": {"type": "boolean"},
        },
    },
    "CallToolRequest": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "arguments": {"type": "object", "description": "The tool's arguments, per its input schema."},
        },
    },
    "Tool": {
        "type": "object",
        "required": ["name", "inputSchema"],
        "properties": {
            "name": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "inputSchema": _OBJECT,
            "outputSchema": _OBJECT,
            "annotations": _OBJECT,
        },
    },
    "ToolList": _list_of("tools", {"$ref": _SCHEMAS + "Tool"}),
    "OpenAIFunction": {
        "type": "object",
        "required": ["name", "parameters"],
        "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
            "description": {"type": "string"},
            "parameters": _OBJECT,
        },
    },
    "OpenAIToolList": {
        "type": "object",
        "required": ["tools"],
        "properties": {
            "tools": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "function"],
                    "properties": {"type": {"const": "function"}, "function": {"$ref": _SCHEMAS + "OpenAIFunction"}},
                },
            }
        },
    },
    "OpenAIResponsesToolList": {
        "type": "object",
        "required": ["tools"],
        "properties": {
            "tools": {
                "type": "array",
                "items": {
                    "allOf": [{"$ref": _SCHEMAS + "OpenAIFunction"}],
                    "required": ["type", "strict"],
                    "properties": {"type": {"const": "function"}, "strict": {"type": "boolean"}},
                },
            }
        },
    },
    "Resource": {
        "type": "object",
        "required": ["uri", "name"],
        "properties": {"uri": {"type": "string"}, "name": {"type": "string"}, "mimeType": {"type": "string"}},
    },
    "ResourceList": _list_of("resources", {"$ref": _SCHEMAS + "Resource"}),
    "ResourceTemplateList": {
        "type": "object",
        "required": ["resourceTemplates"],
        "properties": {
            "resourceTemplates": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["uriTemplate", "name"],
                    "properties": {"uriTemplate": {"type": "string"}, "name": {"type": "string"}},
                },
            }
        },
    },
    "ReadResourceResult": {
        "type": "object",
        "required": ["contents"],
        "properties": {
            "contents": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["uri"],
                    "properties": {"uri": {"type": "string"}, "text": {"type": "string"}, "blob": {"type": "string"}},
                },
            }
        },
    },
    "Prompt": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "description": {"type": "string"}, "arguments": {"type": "array"}},
    },
    "PromptList": _list_of("prompts", {"$ref": _SCHEMAS + "Prompt"}),
    "GetPromptResult": {
        "type": "object",
        "required": ["messages"],
        "properties": {
            "description": {"type": "string"},
            "messages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["role", "content"],
                    "properties": {"role": {"type": "string"}, "content": {"$ref": _SCHEMAS + "ContentBlock"}},
                },
            },
        },
    },
}
