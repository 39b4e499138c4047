"""What the management API accepts and answers, as pydantic models (and so as OpenAPI schemas).

Field names are camelCase on the wire, as the API shape in DESIGN.md has them. Secret
values (headers, env) are answered as `********`; sending that mask back in an update
keeps the stored value.

Every string of a request body is refused (422, naming the field) if it holds a NUL: it would
become a path, a URL, a process argument or a database value, and each of those fails on one.
Every URL field must be an http(s) URL the HTTP clients accept (a host, a numeric port, no
spaces or control characters), and every header a valid field name with a value on one line:
checked here rather than failing wherever they are first used.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from mcpgate.access.principal import USERNAME
from mcpgate.settings import (
    HTTP_HEADER_NAME,
    SERVER_SLUG,
    SLUG_RULE,
    UPSTREAM_NAME,
    UPSTREAM_NAME_RULE,
    HeaderMap,
    http_url,
    path_or_url,
    without_nul,
)

_SLUG = SERVER_SLUG.pattern
HeaderName = Annotated[str, Field(pattern=HTTP_HEADER_NAME, max_length=128)]
_NAME = UPSTREAM_NAME.pattern


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return without_nul(value)


HTTPURL = Annotated[str, Field(pattern=r"^https?://", max_length=2048), AfterValidator(http_url)]
# Header fields as the HTTP clients will send them, refused here rather than at the first request.
Headers = HeaderMap
PathOrURL = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(path_or_url)]


# -- errors ------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    type: str = Field(description="Machine-readable kind: not_found, conflict, read_only, validation_error, …")
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


# What any operation may answer (401/403/429 come from the guard in front of them all) …
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 404, 409, 413, 422, 429)
}
# … and what only an operation that calls a remote server while the request waits may add:
# 502 unreachable or not MCP, 504 too slow.
UPSTREAM_ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorResponse} for status in (502, 504)}

# -- upstreams ---------------------------------------------------------------------------


class ToolSummary(BaseModel):
    name: str
    description: str = ""


class UpstreamOut(BaseModel):
    name: str
    kind: Literal["stdio", "sse", "streamable_http", "remote", "openapi", "collection"]
    source: Literal["config", "api"]
    enabled: bool
    state: str = Field(description="connecting, ready, down (retried), failed (given up on until changed) or disabled")
    error: str | None = None
    prefix: bool | str
    timeout: float | None = None
    command: str | None = None
    args: list[str] | None = None
    env: dict[str, str] | None = Field(None, description="Values masked.")
    cwd: str | None = None
    perSession: bool | None = None
    url: str | None = None
    headers: dict[str, str] | None = Field(None, description="Values masked.")
    passthroughHeaders: list[str] | None = None
    credentialsRequired: bool | None = None
    spec: str | None = None
    baseUrl: str | None = None
    guides: str | None = None
    liveTools: str | None = None
    maxResponseChars: int | None = None
    location: str | None = None
    record: str | None = None
    idField: str | None = None
    titleField: str | None = None
    categoryField: str | None = None
    textFields: list[str] | None = None
    records: int | None = Field(None, description="A collection's number of records, once loaded.")
    tools: list[ToolSummary] = Field(default_factory=list, description="As the upstream lists them (its own names).")
    exposedAs: str = Field(description="How its tool names appear to clients.")
    createdAt: datetime | None = None
    updatedAt: datetime | None = None


class UpstreamList(BaseModel):
    data: list[UpstreamOut]


class _UpstreamIn(_Wire):
    name: str = Field(
        json_schema_extra={"pattern": _NAME},
        description="Unique; the prefix of its tools unless `prefix` says otherwise.",
    )
    enabled: bool = True
    prefix: bool | str = Field(True, description="true: '<name>_<tool>'; false: the tool's own name; or a prefix.")
    timeout: float | None = Field(None, gt=0, description="Seconds per call; overrides the gateway's default.")

    @field_validator("name")
    @classmethod
    def _name_rule(cls, value: str) -> str:
        # The rule in words: "String should match pattern '^[A-Za-z0-9]…'" helps nobody.
        if not UPSTREAM_NAME.match(value):
            raise ValueError(f"upstream name {value!r} must be {UPSTREAM_NAME_RULE}")
        return value


class StdioUpstreamIn(_UpstreamIn):
    kind: Literal["stdio"]
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict, description="Stored encrypted, shown masked.")
    cwd: str | None = None
    perSession: bool = Field(False, description="A child process per client session.")


class _RemoteIn(_UpstreamIn):
    url: HTTPURL
    headers: Headers = Field(default_factory=dict, description="Stored encrypted, shown masked.")
    passthroughHeaders: list[HeaderName] = Field(
        default_factory=list, description="Headers of the caller's own request forwarded on this upstream's calls."
    )
    credentialsRequired: bool = Field(False, description="Calls without a passthrough header get a tool error.")


class SSEUpstreamIn(_RemoteIn):
    kind: Literal["sse"]


class StreamableHTTPUpstreamIn(_RemoteIn):
    kind: Literal["streamable_http"]


class RemoteUpstreamIn(_RemoteIn):
    """A remote server whose transport is detected when it connects."""

    kind: Literal["remote"]


class OpenAPICatalogIn(_UpstreamIn):
    """A REST API described by OpenAPI, served as tools: reference tools from the document (no
    credentials) and live tools calling the API with the caller's or the end user's credentials."""

    kind: Literal["openapi"]
    spec: PathOrURL = Field(description="Path or http(s) URL of the document (JSON or YAML), or 'self'.")
    baseUrl: HTTPURL | None = Field(None, description="Where calls go; default: the document's server.")
    headers: Headers = Field(default_factory=dict, description="Static credential; stored encrypted.")
    passthroughHeaders: list[HeaderName] | None = Field(
        None, description="Caller headers forwarded on calls; default: those the document's security schemes use."
    )
    guides: str | None = Field(None, description="A folder of Markdown guides (resources + search).")
    liveTools: Literal["none", "endpoint", "operations"] = Field(
        "endpoint", description="'endpoint': one call_endpoint tool; 'operations': also a tool per operation."
    )
    maxResponseChars: int = Field(50_000, ge=1_000, description="Longer response bodies are cut, with a marker.")


class CollectionIn(_UpstreamIn):
    """Reference records (workflow nodes, events, guides…) served as read-only tools — categories,
    search, get — and as resources `<name>://<id>`, with no credentials. Refused at registration
    (422, naming the record) when the records cannot be read, lack the id or repeat one."""

    kind: Literal["collection"]
    prefix: bool | str = Field(False, description="Its tools are named '<name>_search' etc. already.")
    location: PathOrURL = Field(description="A JSON, JSONL or YAML file of records, a folder, or an http(s) URL.")
    record: str = Field("record", min_length=1, max_length=80, description="What one record is: 'workflow node'.")
    idField: str | None = Field(None, min_length=1, description="Default: inferred (id, key, slug, name, type…).")
    titleField: str | None = Field(None, min_length=1, description="Default: inferred (title, displayName, label…).")
    categoryField: str | None = Field(None, min_length=1, description="Default: inferred (category, group, kind…).")
    textFields: list[str] | None = Field(None, min_length=1, description="Default: every string in a record.")
    headers: Headers = Field(default_factory=dict, description="Sent when fetching a URL; stored encrypted.")


UpstreamIn = Annotated[
    StdioUpstreamIn | SSEUpstreamIn | StreamableHTTPUpstreamIn | RemoteUpstreamIn | OpenAPICatalogIn | CollectionIn,
    Field(discriminator="kind"),
]


class UpstreamPatch(_Wire):
    """Fields to change; the rest stay as they are."""

    enabled: bool | None = None
    prefix: bool | str | None = None
    timeout: float | None = Field(None, gt=0)
    command: str | None = Field(None, min_length=1)
    args: list[str] | None = None
    env: dict[str, str] | None = None
    cwd: str | None = None
    perSession: bool | None = None
    url: HTTPURL | None = None
    headers: Headers | None = None
    passthroughHeaders: list[HeaderName] | None = None
    credentialsRequired: bool | None = None
    spec: PathOrURL | None = None
    baseUrl: HTTPURL | None = None
    guides: str | None = None
    liveTools: Literal["none", "endpoint", "operations"] | None = None
    maxResponseChars: int | None = Field(None, ge=1_000)
    location: PathOrURL | None = None
    record: str | None = Field(None, min_length=1, max_length=80)
    idField: str | None = Field(None, min_length=1)
    titleField: str | None = Field(None, min_length=1)
    categoryField: str | None = Field(None, min_length=1)
    textFields: list[str] | None = Field(None, min_length=1)


# -- virtual servers ---------------------------------------------------------------------


class ExternalMCPConfigIn(_Wire):
    name: str = Field(pattern=_NAME, description="Prefix of its tools in this server.")
    url: HTTPURL
    headers: Headers = Field(default_factory=dict, description="Sent with every request; stored encrypted.")
    tools: list[str] = Field(default_factory=list, description="Its tools to expose (own names); empty = all.")


class ExternalMCPConfigOut(BaseModel):
    name: str
    url: str
    headers: dict[str, str] = Field(description="Values masked.")
    tools: list[str]
    state: str | None = Field(None, description="The connection's state: connecting, ready, down or failed.")
    error: str | None = None


def _slug(value: str | None) -> str | None:
    if value is not None and not SERVER_SLUG.match(value):
        raise ValueError(f"name {value!r} must be {SLUG_RULE}")
    return value


class ServerCreate(_Wire):
    name: str = Field(json_schema_extra={"pattern": _SLUG}, description="Slug: lowercase letters, digits, '-' and '_'.")
    description: str = Field("", max_length=4000)
    mode: Literal["SMART", "NORMAL"] = "SMART"
    selectedTools: list[str] = Field(default_factory=list, description="Tool names as the gateway exposes them.")
    externalMcpConfigs: list[ExternalMCPConfigIn] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict, description="Free-form settings kept with the server.")
    isPublic: bool = False

    _name_rule = field_validator("name")(_slug)


class ServerPatch(_Wire):
    name: str | None = Field(None, json_schema_extra={"pattern": _SLUG})
    description: str | None = Field(None, max_length=4000)
    mode: Literal["SMART", "NORMAL"] | None = None
    selectedTools: list[str] | None = None
    externalMcpConfigs: list[ExternalMCPConfigIn] | None = None
    config: dict[str, Any] | None = None
    isPublic: bool | None = None

    _name_rule = field_validator("name")(_slug)


class Endpoints(BaseModel):
    sse: str
    messages: str
    mcp: str
    api: str


class ServerOut(BaseModel):
    id: str
    name: str
    description: str
    mode: Literal["SMART", "NORMAL"]
    selectedTools: list[str]
    externalMcpConfigs: list[ExternalMCPConfigOut]
    config: dict[str, Any]
    isPublic: bool
    source: Literal["config", "api"]
    endpoints: Endpoints
    createdAt: datetime | None = None
    updatedAt: datetime | None = None


class Pagination(BaseModel):
    page: int | None = None
    limit: int
    total: int
    hasMore: bool
    nextCursor: str | None = None


class ServerList(BaseModel):
    data: list[ServerOut]
    pagination: Pagination


class ToolDefinition(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    description: str | None = None
    inputSchema: dict[str, Any] = Field(default_factory=dict)


class ServerConfig(BaseModel):
    id: str
    name: str
    mode: Literal["SMART", "NORMAL"]
    tools: list[ToolDefinition] = Field(description="What a client of this server lists (SMART: the meta-tools).")
    reachableTools: list[str] = Field(description="Every tool a client can reach through it, by gateway name.")
    missingTools: list[str] = Field(description="Selected tools that no upstream offers right now.")
    externalMcpConfigs: list[ExternalMCPConfigOut]
    collisions: list[str] = Field(default_factory=list)


class LoadToolsRequest(_Wire):
    url: HTTPURL
    headers: Headers = Field(default_factory=dict)
    cacheMinutes: float = Field(5, ge=0, le=1440, description="Reuse an answer this recent; 0 always asks again.")


class LoadToolsResponse(BaseModel):
    url: str
    transport: Literal["streamable_http", "sse"]
    tools: list[ToolDefinition]
    cached: bool
    fetchedAt: datetime


# -- API keys ----------------------------------------------------------------------------


class KeyCreate(_Wire):
    name: str = Field(min_length=1, max_length=128)
    scopes: list[str] = Field(
        default_factory=lambda: ["tools:call"],
        min_length=1,
        description="admin, servers:read, servers:write, tools:call, users:act, or * for all.",
    )
    servers: list[str] | None = Field(
        None, description="Virtual servers (ids or names) the key may use; omitted = any, and the default endpoint."
    )
    expiresAt: datetime | None = Field(None, description="When the key stops working (ISO 8601 with a zone).")


class KeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it; not enough to use it.")
    scopes: list[str]
    servers: list[str] | None
    state: Literal["active", "expired", "revoked"]
    expiresAt: datetime | None = None
    createdAt: datetime
    lastUsedAt: datetime | None = None
    revokedAt: datetime | None = None


class KeyCreated(KeyOut):
    key: str = Field(description="The secret. Shown this once; only its digest is stored.")


class KeyList(BaseModel):
    data: list[KeyOut]


# -- end users ---------------------------------------------------------------------------


class UserCreate(_Wire):
    name: str = Field(
        json_schema_extra={"pattern": r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$"},
        description="The value clients send as x-username.",
    )

    @field_validator("name")
    @classmethod
    def _username(cls, value: str) -> str:
        if not USERNAME.match(value):
            raise ValueError(
                "a user name is 1-128 letters, digits or . _ @ + - characters, starting with a letter or digit"
            )
        return value


class UserOut(BaseModel):
    name: str
    connections: list[str] = Field(description="Upstreams this user has stored credentials for.")
    createdAt: datetime


class UserList(BaseModel):
    data: list[UserOut]


class ConnectionIn(_Wire):
    headers: Headers = Field(default_factory=dict, description="For remote upstreams; stored encrypted.")
    env: dict[str, str] = Field(default_factory=dict, description="For stdio upstreams; stored encrypted.")


class ConnectionOut(BaseModel):
    user: str
    upstream: str
    headers: dict[str, str] = Field(description="Values masked.")
    env: dict[str, str] = Field(description="Values masked.")
    createdAt: datetime | None = None
    updatedAt: datetime | None = None


class ConnectionList(BaseModel):
    data: list[ConnectionOut]


# -- audit -------------------------------------------------------------------------------


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    kind: Literal["tool_call", "auth_failure"]
    outcome: str = Field(description="ok, tool_error, error, cancelled (tool calls); denied (authentication)")
    keyId: str | None = Field(
        None, description="The key's id; `static` for the key set by MCPGATE_API_KEY (or `api_key` in the config)."
    )
    keyName: str | None = None
    user: str | None = None
    server: str | None = None
    tool: str | None = None
    durationMs: float | None = None
    sourceIp: str | None = None
    reason: str | None = Field(
        None,
        description="Why it failed: the error a tool call with outcome `error` was answered with (at most 300"
        " characters; a tool's own error output is not kept), or why authentication was refused.",
    )
    argumentsDigest: str | None = Field(None, description="SHA-256 of the arguments; they are never stored.")


class AuditPage(BaseModel):
    limit: int
    nextCursor: str | None = None


class AuditList(BaseModel):
    data: list[AuditEventOut]
    pagination: AuditPage
