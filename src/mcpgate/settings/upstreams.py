"""What the gateway serves: upstreams of each kind (stdio, remote, OpenAPI catalogs,
collections), their timeouts, and virtual servers with their external MCP servers.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)

from mcpgate.settings.fields import (
    HTTPURL,
    NEVER_PASSED_THROUGH,
    SERVER_SLUG,
    SLUG_RULE,
    UPSTREAM_NAME,
    UPSTREAM_NAME_RULE,
    HeaderMap,
    PathOrURL,
    SettingsModel,
    alias,
    http_url,
)


class TimeoutSettings(SettingsModel):
    """Seconds; every upstream call is bounded so a stuck upstream never hangs a client."""

    connect: float = Field(30.0, gt=0, description="Start/handshake of one upstream.")
    call: float = Field(60.0, gt=0, description="One request forwarded to an upstream.")
    list: float = Field(15.0, gt=0, validation_alias=alias("list", "listTools", "list_tools"))
    # Liveness: an upstream quiet this long (no message at all: any reply counts) gets an MCP
    # ping; `missedPings` unanswered in a row and it is taken down and reconnected (a stdio child
    # is killed and restarted). A frozen upstream is noticed within pingInterval + missedPings ×
    # ping seconds (25 by default): before a call's own timeout. 0 turns pings off.
    ping_interval: float = Field(15.0, ge=0, validation_alias=alias("ping_interval", "pingInterval"))
    ping: float = Field(5.0, gt=0, description="How long one ping's answer may take.")
    missed_pings: int = Field(2, ge=1, validation_alias=alias("missed_pings", "missedPings"))


class _UpstreamBase(SettingsModel):
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
    per_session: bool = Field(False, validation_alias=alias("per_session", "perSession"))


class _RemoteBase(_UpstreamBase):
    url: HTTPURL
    headers: HeaderMap = Field(default_factory=dict)
    # Headers of the caller's own request forwarded on this upstream's calls (e.g. Authorization,
    # x-workspace-id); they override a static header of the same name.
    passthrough_headers: list[str] = Field(
        default_factory=list, validation_alias=alias("passthrough_headers", "passthroughHeaders")
    )
    # Calls without a passthrough header answer with a tool error naming what to send.
    credentials_required: bool = Field(False, validation_alias=alias("credentials_required", "credentialsRequired"))

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
    base_url: str | None = Field(None, validation_alias=alias("base_url", "baseUrl"))
    headers: HeaderMap = Field(default_factory=dict)
    # The caller's headers forwarded on live calls; unset = those the spec's security schemes name
    # (`Authorization` for http/oauth2/openIdConnect, an apiKey's header).
    passthrough_headers: list[str] | None = Field(
        None, validation_alias=alias("passthrough_headers", "passthroughHeaders")
    )
    # A folder of Markdown guides, served as resources with a search over them.
    guides: str | None = None
    # "endpoint": one `call_endpoint` tool; "operations": also one tool per operation (operationId).
    live_tools: Literal["none", "endpoint", "operations"] = Field(
        "endpoint", validation_alias=alias("live_tools", "liveTools")
    )
    max_response_chars: int = Field(50_000, ge=1_000, validation_alias=alias("max_response_chars", "maxResponseChars"))

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
    id_field: str | None = Field(None, min_length=1, validation_alias=alias("id_field", "idField"))
    title_field: str | None = Field(None, min_length=1, validation_alias=alias("title_field", "titleField"))
    category_field: str | None = Field(None, min_length=1, validation_alias=alias("category_field", "categoryField"))
    text_fields: list[str] | None = Field(None, min_length=1, validation_alias=alias("text_fields", "textFields"))
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


class ExternalMCPSettings(SettingsModel):
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


class VirtualServerSettings(SettingsModel):
    """A virtual server declared in the config file (read-only through the API)."""

    name: str
    description: str = ""
    mode: Literal["SMART", "NORMAL"] = "SMART"
    selected_tools: list[str] = Field(default_factory=list, validation_alias=alias("selected_tools", "selectedTools"))
    external_mcp_configs: list[ExternalMCPSettings] = Field(
        default_factory=list, validation_alias=alias("external_mcp_configs", "externalMcpConfigs")
    )
    config: dict[str, Any] = Field(default_factory=dict)
    is_public: bool = Field(False, validation_alias=alias("is_public", "isPublic"))

    @field_validator("name")
    @classmethod
    def _name_is_a_slug(cls, value: str) -> str:
        if not SERVER_SLUG.match(value):
            raise ValueError(f"virtual server name {value!r} must be {SLUG_RULE}")
        return value
