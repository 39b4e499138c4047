"""Typed settings for every subsystem, one nested group each.

`GatewaySettings` is what `create_app` consumes. It is built from a config file
(see `config.py`), from CLI flags, or both; `MCPGATE_*` environment variables fill
in what neither gives. Values here are validated once, at start-up.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

UPSTREAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Virtual server names appear in URLs (/servers/<name>/mcp): lowercase, digits, '-' and '_'.
SERVER_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")
SLUG_RULE = "1-64 lowercase letters, digits, '-' or '_', starting and ending with a letter or digit"
UPSTREAM_NAME_RULE = "1-64 characters of letters, digits, '_', '-' or '.', starting with a letter or digit"


# Never a caller's credential for an upstream: the hop's own headers and the gateway's key and user.
NEVER_PASSED_THROUGH = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "accept",
        "connection",
        "transfer-encoding",
        "mcp-session-id",
        "mcp-protocol-version",
        "x-api-key",
        "x-username",
        "cookie",
        "last-event-id",
    }
)


def default_data_dir() -> Path:
    """Where the embedded SQLite database and the generated secret key live by default."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "mcpgate"


# -- checks shared by the config file and the management API: refused where they are written,
# rather than failing wherever the value is first used (a path, a URL, a header, a process).


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    return False


def without_nul(value: Any) -> Any:
    """`value`, unless a string anywhere in it holds a NUL: every one becomes a path, a URL, a process
    argument or a database value somewhere, and each of those fails on one."""
    if has_nul(value):
        raise PydanticCustomError("nul_character", "must not contain a NUL character (\\u0000)")
    return value


def http_url(value: str) -> str:
    """`value` if it is an http(s) URL that can be fetched as written; else why not, as a field error."""
    if any(not char.isprintable() or char.isspace() for char in value):
        raise PydanticCustomError("url", "a URL must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port  # the port is checked when read
    except ValueError as exc:
        raise PydanticCustomError("url", "not a valid URL: {reason}", {"reason": str(exc)}) from None
    if parts.scheme not in ("http", "https"):
        raise PydanticCustomError("url", "must be an http:// or https:// URL")
    if not host:
        raise PydanticCustomError("url", "the URL names no host")
    try:
        host.encode("idna")  # what name resolution does with it: labels of 1-63 characters
    except UnicodeError:
        raise PydanticCustomError("url", "the host name {host} is not valid", {"host": repr(host)}) from None
    return value


def path_or_url(value: str) -> str:
    return http_url(value) if value.startswith(("http://", "https://")) else value


def one_line_header_value(value: str) -> str:
    if any((char < " " and char != "\t") or char == "\x7f" for char in value):
        raise PydanticCustomError("header_value", "a header value must not contain a line break or control character")
    return value


HTTP_HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"
HeaderMap = dict[
    Annotated[str, Field(pattern=HTTP_HEADER_NAME, max_length=128)],
    Annotated[str, AfterValidator(one_line_header_value)],
]
HTTPURL = Annotated[str, AfterValidator(http_url)]
PathOrURL = Annotated[str, Field(min_length=1), AfterValidator(path_or_url)]


class _Model(BaseModel):
    # Config files come from people: reject typos instead of silently ignoring them,
    # and accept both camelCase and snake_case spellings.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return without_nul(value)


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class TimeoutSettings(_Model):
    """Seconds; every upstream call is bounded so a stuck upstream never hangs a client."""

    connect: float = Field(30.0, gt=0, description="Start/handshake of one upstream.")
    call: float = Field(60.0, gt=0, description="One request forwarded to an upstream.")
    list: float = Field(15.0, gt=0, validation_alias=_alias("list", "listTools", "list_tools"))
    # Liveness: an upstream quiet this long (no message at all: any reply counts) gets an MCP
    # ping; `missedPings` unanswered in a row and it is taken down and reconnected (a stdio child
    # is killed and restarted). A frozen upstream is noticed within pingInterval + missedPings ×
    # ping seconds (25 by default): before a call's own timeout. 0 turns pings off.
    ping_interval: float = Field(15.0, ge=0, validation_alias=_alias("ping_interval", "pingInterval"))
    ping: float = Field(5.0, gt=0, description="How long one ping's answer may take.")
    missed_pings: int = Field(2, ge=1, validation_alias=_alias("missed_pings", "missedPings"))


class _UpstreamBase(_Model):
    name: str = ""
    enabled: bool = True
    # True: "<upstream><sep><tool>"; False: the tool's own name; a string: that prefix instead.
    prefix: bool | str = True
    timeout: float | None = Field(None, gt=0, description="Overrides timeouts.call for this upstream.")

    @model_validator(mode="before")
    @classmethod
    def _claude_disabled(cls, data: object) -> object:
        # Several clients write `"disabled": true` in the mcpServers format.
        if isinstance(data, dict) and "disabled" in data:
            data = dict(data)
            data["enabled"] = not data.pop("disabled")
        return data


class StdioUpstream(_UpstreamBase):
    kind: Literal["stdio"] = "stdio"
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    # One child per client session instead of one shared child: a stdio wire cannot say which
    # session a log line or a sampling/elicitation request belongs to, so with concurrent
    # sessions only a child of their own makes that exact (at the cost of a process each).
    per_session: bool = Field(False, validation_alias=_alias("per_session", "perSession"))


class _RemoteBase(_UpstreamBase):
    url: HTTPURL
    headers: HeaderMap = Field(default_factory=dict)
    # Headers of the caller's own request forwarded on this upstream's calls (e.g. Authorization,
    # x-workspace-id); they override a static header of the same name.
    passthrough_headers: list[str] = Field(
        default_factory=list, validation_alias=_alias("passthrough_headers", "passthroughHeaders")
    )
    # Calls without a passthrough header answer with a tool error naming what to send.
    credentials_required: bool = Field(False, validation_alias=_alias("credentials_required", "credentialsRequired"))

    @field_validator("passthrough_headers")
    @classmethod
    def _header_names(cls, names: list[str]) -> list[str]:
        return _passable_headers(names)


def _passable_headers(names: list[str]) -> list[str]:
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
            raise ValueError(f"{name!r} is not an HTTP header name")
        if name.lower() in NEVER_PASSED_THROUGH:
            raise ValueError(f"{name!r} cannot be passed through (it belongs to the gateway's own hop)")
    return names


class SSEUpstream(_RemoteBase):
    kind: Literal["sse"] = "sse"


class StreamableHTTPUpstream(_RemoteBase):
    kind: Literal["streamable_http"] = "streamable_http"


class RemoteUpstream(_RemoteBase):
    """A remote MCP server whose transport (Streamable HTTP or SSE) is detected on connecting."""

    kind: Literal["remote"] = "remote"


SELF_SPEC = "self"  # an OpenAPI catalog's `spec` naming this gateway's own management API


class OpenAPICatalogUpstream(_UpstreamBase):
    """A REST API described by OpenAPI, served as MCP tools (see `catalogs/`): reference tools
    answered from the spec (no credentials), and live tools that call the API with the caller's
    token (passed through), the end user's stored credentials, or the static `headers`."""

    kind: Literal["openapi"] = "openapi"
    # A file path or an http(s) URL of the document (JSON or YAML), or "self": this gateway's own
    # management API, called in-process as the caller (their own key and scopes apply).
    spec: PathOrURL
    # Where live calls go; unset = the spec's first `servers` URL (relative ones against the spec's URL).
    base_url: str | None = Field(None, validation_alias=_alias("base_url", "baseUrl"))
    headers: HeaderMap = Field(default_factory=dict)
    # The caller's headers forwarded on live calls; unset = those the spec's security schemes name
    # (`Authorization` for http/oauth2/openIdConnect, an apiKey's header).
    passthrough_headers: list[str] | None = Field(
        None, validation_alias=_alias("passthrough_headers", "passthroughHeaders")
    )
    # A folder of Markdown guides, served as resources with a search over them.
    guides: str | None = None
    # "endpoint": one `call_endpoint` tool; "operations": also one tool per operation (operationId).
    live_tools: Literal["none", "endpoint", "operations"] = Field(
        "endpoint", validation_alias=_alias("live_tools", "liveTools")
    )
    max_response_chars: int = Field(50_000, ge=1_000, validation_alias=_alias("max_response_chars", "maxResponseChars"))

    @field_validator("passthrough_headers")
    @classmethod
    def _header_names(cls, names: list[str] | None) -> list[str] | None:
        return None if names is None else _passable_headers(names)

    @property
    def is_own_api(self) -> bool:
        """Served only once the gateway's app exists (the hub does not wait for it at start-up)."""
        return self.spec == SELF_SPEC

    @field_validator("base_url")
    @classmethod
    def _base_is_http(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/]", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value if value is None else http_url(value)


# A collection's name is also its records' URI scheme (`nodes://slack.sendMessage`) and starts its tools' names.
COLLECTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9.-]{0,63}$")


class CollectionUpstream(_UpstreamBase):
    """Reference records — workflow nodes, events, integration guides — served as read-only tools
    (categories, search, get) and as resources `<name>://<id>`, with no credentials (see `catalogs/`)."""

    kind: Literal["collection"] = "collection"
    prefix: bool | str = False  # the tools are named `<collection>_search` etc. already
    # A JSON, JSONL or YAML file of records, a folder of them, or an http(s) URL of one.
    location: PathOrURL
    # What one record is, in words ("workflow node", "event"): it names the records in tool descriptions.
    record: str = Field("record", min_length=1, max_length=80)
    # Unset: inferred (the id from id, key, slug, name, type…; the title from title, displayName,
    # label, summary, name; the category from category, group, kind…); text: every string in a record.
    id_field: str | None = Field(None, min_length=1, validation_alias=_alias("id_field", "idField"))
    title_field: str | None = Field(None, min_length=1, validation_alias=_alias("title_field", "titleField"))
    category_field: str | None = Field(None, min_length=1, validation_alias=_alias("category_field", "categoryField"))
    text_fields: list[str] | None = Field(None, min_length=1, validation_alias=_alias("text_fields", "textFields"))
    headers: HeaderMap = Field(default_factory=dict)  # sent when `location` is a URL

    @field_validator("name")
    @classmethod
    def _name_is_a_scheme(cls, name: str) -> str:
        if name and not COLLECTION_NAME.match(name):
            raise ValueError(
                f"{name!r} cannot name a collection: its records' URIs are <name>://<id>, so use 1-64 letters, "
                "digits, '-' or '.', starting with a letter"
            )
        return name


UpstreamSettings = Annotated[
    StdioUpstream | SSEUpstream | StreamableHTTPUpstream | RemoteUpstream | OpenAPICatalogUpstream | CollectionUpstream,
    Field(discriminator="kind"),
]


class ExternalMCPSettings(_Model):
    """A remote MCP server attached to one virtual server only."""

    name: str
    url: Annotated[str, Field(pattern=r"^https?://"), AfterValidator(http_url)]
    headers: HeaderMap = Field(default_factory=dict)
    # The tools of that server to expose (their own names); empty exposes all it lists.
    tools: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name_is_a_prefix(cls, value: str) -> str:
        if not UPSTREAM_NAME.match(value):
            raise ValueError(f"external MCP config name {value!r} must be {UPSTREAM_NAME_RULE}")
        return value


class VirtualServerSettings(_Model):
    """A virtual server declared in the config file (read-only through the API)."""

    name: str
    description: str = ""
    mode: Literal["SMART", "NORMAL"] = "SMART"
    selected_tools: list[str] = Field(default_factory=list, validation_alias=_alias("selected_tools", "selectedTools"))
    external_mcp_configs: list[ExternalMCPSettings] = Field(
        default_factory=list, validation_alias=_alias("external_mcp_configs", "externalMcpConfigs")
    )
    config: dict[str, Any] = Field(default_factory=dict)
    is_public: bool = Field(False, validation_alias=_alias("is_public", "isPublic"))

    @field_validator("name")
    @classmethod
    def _name_is_a_slug(cls, value: str) -> str:
        if not SERVER_SLUG.match(value):
            raise ValueError(f"virtual server name {value!r} must be {SLUG_RULE}")
        return value


class RateLimitSettings(_Model):
    """Requests allowed per caller, as `limits` strings ("600/minute", "10/second;1000/hour").

    Every request but /health counts once against each limit that applies to it. A virtual
    server may set its own (its `config.rateLimits`), counted separately.
    """

    per_key: str | None = Field(None, validation_alias=_alias("per_key", "perKey"))
    per_user: str | None = Field(None, validation_alias=_alias("per_user", "perUser"))
    per_ip: str | None = Field(None, validation_alias=_alias("per_ip", "perIp"))
    # Counters live in memory (one process) unless this names a Redis ("redis://host:6379/0"),
    # which replicas then share.
    storage: str | None = None

    @field_validator("per_key", "per_user", "per_ip")
    @classmethod
    def _is_a_limit(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_many(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a rate limit; write e.g. '600/minute' or '10/second;1000/hour'"
                ) from None
        return value


def proxy_address(value: str) -> str:
    """An IP address, a network in CIDR notation, or "*"."""
    if value != "*":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise PydanticCustomError("proxy", "must be an IP address, a network such as 10.0.0.0/8, or *") from None
    return value


class EdgeSettings(_Model):
    """What the client-facing transports accept."""

    max_body_bytes: int = Field(4 * 1024 * 1024, gt=0, validation_alias=_alias("max_body_bytes", "maxBodyBytes"))
    keepalive_seconds: float = Field(15.0, gt=0, validation_alias=_alias("keepalive_seconds", "keepaliveSeconds"))
    # Origins allowed besides loopback ones; "*" disables the DNS-rebinding check.
    allowed_origins: list[str] = Field(
        default_factory=list, validation_alias=_alias("allowed_origins", "allowedOrigins")
    )
    # Host names (or host:port) accepted besides loopback ones, on every route. Listening on a
    # loopback address, or once any is set, a request with another Host is refused (421).
    allowed_hosts: list[str] = Field(default_factory=list, validation_alias=_alias("allowed_hosts", "allowedHosts"))
    # "json" answers POST /mcp with a JSON body unless the request needs a stream
    # (progress); "sse" always streams.
    response_mode: Literal["json", "sse"] = Field("json", validation_alias=_alias("response_mode", "responseMode"))
    session_idle_seconds: float = Field(
        3600.0, gt=0, validation_alias=_alias("session_idle_seconds", "sessionIdleSeconds")
    )
    # What one client's event stream (an SSE session, a GET or listen stream) may have queued and
    # unread; past it the client has stopped reading, and that stream is ended (never another's).
    max_queued_bytes: int = Field(
        8 * 1024 * 1024, ge=64 * 1024, validation_alias=_alias("max_queued_bytes", "maxQueuedBytes")
    )
    # A request's head (request line and headers) must arrive whole within this many seconds of
    # the connection opening, or of its first byte on a kept-alive connection; else it is closed.
    header_timeout_seconds: float = Field(
        10.0, gt=0, validation_alias=_alias("header_timeout_seconds", "headerTimeoutSeconds")
    )
    # A request's body may pause this long between two chunks (time the server itself stops
    # reading does not count), else the connection is reset.
    body_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias=_alias("body_timeout_seconds", "bodyTimeoutSeconds")
    )
    # A response the client has stopped reading (its buffers full) and that makes no progress for
    # this long is given up, and the connection reset. An idle event stream is not affected.
    write_timeout_seconds: float = Field(
        60.0, gt=0, validation_alias=_alias("write_timeout_seconds", "writeTimeoutSeconds")
    )
    # A kept-alive connection idle this long between requests is closed (behind a proxy that
    # reuses connections, set it above the proxy's own idle timeout).
    idle_timeout_seconds: float = Field(
        5.0, gt=0, validation_alias=_alias("idle_timeout_seconds", "idleTimeoutSeconds")
    )
    # Client connections held at once; unset: the open-file limit less 8,192 (half of it when
    # that is more). At the cap a new connection takes the place of the one that has waited
    # longest for its request's head or body, or is refused when none is waiting.
    max_connections: int | None = Field(None, ge=1, validation_alias=_alias("max_connections", "maxConnections"))
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (the client address that rate
    # limits and the audit see): addresses or networks ("10.0.0.0/8"), or "*" for any. The default
    # is loopback, for a proxy on the same host; behind a balancer elsewhere, name it; set [] when
    # clients connect on loopback directly, or any of them could claim another's address.
    trusted_proxies: list[Annotated[str, AfterValidator(proxy_address)]] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"], validation_alias=_alias("trusted_proxies", "trustedProxies")
    )


def redis_connection_url(value: str) -> str:
    """`value` if redis-py can connect with it (redis://, rediss:// or unix://)."""
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise PydanticCustomError("url", "must be a redis://, rediss:// or unix:// URL")
    return value


class FleetSettings(_Model):
    """How replicas of one gateway work together through Redis (`redis`); see fleet/.

    Replicas that share a database and a Redis must share a `keyPrefix`; gateways that share only
    the Redis server use different ones.
    """

    key_prefix: str = Field(
        "mcpgate", pattern=r"^[A-Za-z0-9_.:-]{1,64}$", validation_alias=_alias("key_prefix", "keyPrefix")
    )
    # Each replica says it is alive this often; one not heard from for `deadAfterSeconds` is gone
    # (its relayed streams end, /health stops listing it).
    heartbeat_seconds: float = Field(1.0, gt=0, validation_alias=_alias("heartbeat_seconds", "heartbeatSeconds"))
    dead_after_seconds: float = Field(5.0, gt=0, validation_alias=_alias("dead_after_seconds", "deadAfterSeconds"))
    # How long a request relayed to the replica that owns its session waits for the answer to start.
    relay_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias=_alias("relay_timeout_seconds", "relayTimeoutSeconds")
    )
    # Changes are announced at once; this full re-read catches what an outage of Redis hid.
    resync_seconds: float = Field(30.0, gt=0, validation_alias=_alias("resync_seconds", "resyncSeconds"))

    @model_validator(mode="after")
    def _dead_after_beats(self) -> FleetSettings:
        if self.dead_after_seconds <= 2 * self.heartbeat_seconds:
            raise ValueError("deadAfterSeconds must be more than twice heartbeatSeconds")
        return self


def public_url(value: str) -> str:
    """An origin (and optional path) clients reach the gateway at: http(s), no query or fragment."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise PydanticCustomError("url", "must be an http(s) URL without query or fragment")
    return value.rstrip("/")


class OAuthSettings(_Model):
    """OAuth 2.1 for clients (oauth/). `off`: API keys only. `builtin`: this gateway is the
    authorization server — a person signs in with one of its API keys and the client gets a token
    carrying at most that key's rights. `external`: JWT access tokens of another issuer are accepted
    (API keys keep working beside either)."""

    mode: Literal["off", "builtin", "external"] = "off"
    # builtin: the URL clients reach this gateway at (issuer and resource URLs); default: the URL each
    # request came to. external: the issuer whose tokens are accepted (required).
    issuer: Annotated[str, AfterValidator(public_url)] | None = None
    # external: `aud` values accepted for every endpoint (a token whose `aud` is one endpoint's
    # resource URL is accepted there only).
    audience: list[str] = Field(default_factory=list)
    # external: the claim that names the end user (per-user connections without x-username).
    user_claim: str = Field("sub", min_length=1, validation_alias=_alias("user_claim", "userClaim"))
    access_token_seconds: int = Field(
        3600, ge=60, le=86400, validation_alias=_alias("access_token_seconds", "accessTokenSeconds")
    )
    refresh_token_seconds: int = Field(
        30 * 86400, ge=3600, validation_alias=_alias("refresh_token_seconds", "refreshTokenSeconds")
    )
    # builtin: clients may name themselves by an https URL serving their metadata (client ID metadata documents).
    client_metadata_documents: bool = Field(
        True, validation_alias=_alias("client_metadata_documents", "clientMetadataDocuments")
    )

    @field_validator("audience", mode="before")
    @classmethod
    def _audience_list(cls, value: Any) -> Any:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _external_needs_issuer(self) -> OAuthSettings:
        if self.mode == "external" and (self.issuer is None or not self.audience):
            raise ValueError("oauth mode 'external' needs `issuer` and `audience`")
        return self


class GatewaySettings(BaseSettings):
    # The environment is read under MCPGATE_ only: the prefix applies to the aliases too
    # (env_prefix_target "all", pydantic-settings 2.13), so MCPGATE_LOG_LEVEL and MCPGATE_LOGLEVEL
    # count and a LOG_LEVEL or PAGE_SIZE meant for another program does not.
    model_config = SettingsConfigDict(
        env_prefix="MCPGATE_",
        env_prefix_target="all",
        env_nested_delimiter="__",
        extra="forbid",
        populate_by_name=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments (a config file, flags), then MCPGATE_* variables, then MCP_API_KEY: the one
        unprefixed name read, the key's name in other MCP tools (MCPGATE_API_KEY wins over it)."""
        sources = [init_settings, env_settings]
        if (key := os.environ.get("MCP_API_KEY")) is not None:
            sources.append(InitSettingsSource(settings_cls, init_kwargs={"api_key": key}))
        # MCPGATE_OAUTH_MODE (…_ISSUER, …_AUDIENCE), the names the docs give, beside MCPGATE_OAUTH__MODE.
        oauth = {
            field: os.environ[f"MCPGATE_OAUTH_{field.upper()}"]
            for field in ("mode", "issuer", "audience")
            if f"MCPGATE_OAUTH_{field.upper()}" in os.environ
        }
        if oauth:
            sources.append(InitSettingsSource(settings_cls, init_kwargs={"oauth": oauth}))
        return (*sources, dotenv_settings, file_secret_settings)

    name: str = "mcpgate"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    name_separator: str = Field(
        "_", min_length=1, max_length=3, validation_alias=_alias("name_separator", "nameSeparator")
    )
    timeouts: TimeoutSettings = TimeoutSettings()
    edge: EdgeSettings = EdgeSettings()
    rate_limits: RateLimitSettings = Field(
        default_factory=RateLimitSettings, validation_alias=_alias("rate_limits", "rateLimits")
    )
    upstreams: list[UpstreamSettings] = Field(default_factory=list)
    servers: list[VirtualServerSettings] = Field(default_factory=list)
    # The registry: objects created through the API and the CLI. Unset = SQLite in data_dir.
    database_url: str | None = Field(None, validation_alias=_alias("database_url", "databaseUrl"))
    # What replicas share at run time (sessions, changes, rate limits, liveness). Unset = one process.
    redis_url: Annotated[str, AfterValidator(redis_connection_url)] | None = Field(
        None, validation_alias=_alias("redis_url", "redisUrl", "redis")
    )
    fleet: FleetSettings = FleetSettings()
    data_dir: Path = Field(default_factory=default_data_dir)
    migrate_on_start: bool = True
    # Encrypts stored secrets (headers, env). Unset = a key generated once into data_dir.
    # Several comma-separated keys: the first encrypts, all decrypt (key rotation).
    secret_key: SecretStr | None = None
    # The static key: with it set, every endpoint but /health requires it (MCP_API_KEY is read too).
    api_key: SecretStr | None = Field(None, validation_alias=_alias("api_key", "MCPGATE_API_KEY", "MCP_API_KEY"))
    # Require a key even before any managed key exists (keys are required once one does).
    auth_required: bool = False
    oauth: OAuthSettings = OAuthSettings()
    # Where people's browsers reach this gateway (links to connect an account at an upstream, and
    # the callback it returns to). Unset: the address each request came to.
    public_url: Annotated[str, AfterValidator(public_url)] | None = Field(
        None, validation_alias=_alias("public_url", "publicUrl")
    )
    # The web UI at /admin (admin_ui/). Off: /admin answers 404 like any unknown path.
    admin_ui: bool = Field(True, validation_alias=_alias("admin_ui", "adminUi"))
    log_level: str = Field("info", validation_alias=_alias("log_level", "logLevel"))
    max_session_children: int = Field(
        200,
        ge=1,
        validation_alias=_alias("max_session_children", "maxSessionChildren"),
        description="Cap on the children of perSession stdio upstreams, all sessions together.",
    )
    max_children_per_user: int = Field(
        8,
        ge=1,
        validation_alias=_alias("max_children_per_user", "maxChildrenPerUser"),
        description="Cap on one end user's own stdio children (started for their env credentials).",
    )
    user_child_idle_seconds: float = Field(
        600.0,
        gt=0,
        validation_alias=_alias("user_child_idle_seconds", "userChildIdleSeconds"),
        description="A user's own child (or a connection for a capability profile) nobody used for this long "
        "is stopped.",
    )
    max_upstream_profiles: int = Field(
        4,
        ge=0,
        validation_alias=_alias("max_upstream_profiles", "maxUpstreamProfiles"),
        description="Cap on one upstream's connections for clients that declare other capabilities than the "
        "shared one (hub/profiles.py); past it, a client is served by one that declares less.",
    )
    page_size: int = Field(
        500, ge=1, validation_alias=_alias("page_size", "pageSize"), description="Entries per page of merged lists."
    )

    @field_validator("name_separator")
    @classmethod
    def _separator_is_name_safe(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
            raise ValueError("must use only letters, digits, '_', '-' or '.' (tool-name characters)")
        return value

    @model_validator(mode="after")
    def _upstream_names_unique_and_valid(self) -> GatewaySettings:
        seen: set[str] = set()
        for upstream in self.upstreams:
            if not UPSTREAM_NAME.match(upstream.name):
                raise ValueError(f"upstream name {upstream.name!r} must be {UPSTREAM_NAME_RULE}")
            if upstream.name in seen:
                raise ValueError(f"upstream {upstream.name!r} is declared twice")
            seen.add(upstream.name)
        servers: set[str] = set()
        for server in self.servers:
            if server.name in servers:
                raise ValueError(f"virtual server {server.name!r} is declared twice")
            servers.add(server.name)
        return self

    def call_timeout(
        self, upstream: StdioUpstream | SSEUpstream | StreamableHTTPUpstream | RemoteUpstream | OpenAPICatalogUpstream
    ) -> float:
        return upstream.timeout or self.timeouts.call
