"""Typed settings for every subsystem, one nested group each.

`GatewaySettings` is what `create_app` consumes. It is built from a config file
(see `config.py`), from CLI flags, or both; `MCPGATE_*` environment variables fill
in what neither gives. Values here are validated once, at start-up.

    fields.py      the base model (strict; camelCase or snake_case) and the shared validators
    upstreams.py   upstreams of each kind, timeouts, virtual servers and their external servers
    groups.py      the service's groups: rate limits, the HTTP edge, the fleet, OAuth

Every name is importable from `mcpgate.settings` itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from mcpgate.settings.fields import (
    HTTP_HEADER_NAME,
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
    default_data_dir,
    has_nul,
    http_url,
    one_line_header_value,
    path_or_url,
    without_nul,
)
from mcpgate.settings.groups import (
    EdgeSettings,
    FleetSettings,
    OAuthSettings,
    RateLimitSettings,
    proxy_address,
    public_url_rule,
    redis_connection_url,
)
from mcpgate.settings.upstreams import (
    COLLECTION_NAME,
    SELF_SPEC,
    CollectionUpstream,
    ExternalMCPSettings,
    OpenAPICatalogUpstream,
    RemoteUpstream,
    SSEUpstream,
    StdioUpstream,
    StreamableHTTPUpstream,
    TimeoutSettings,
    UpstreamSettings,
    VirtualServerSettings,
)


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
        "_", min_length=1, max_length=3, validation_alias=alias("name_separator", "nameSeparator")
    )
    timeouts: TimeoutSettings = TimeoutSettings()
    edge: EdgeSettings = EdgeSettings()
    rate_limits: RateLimitSettings = Field(
        default_factory=RateLimitSettings, validation_alias=alias("rate_limits", "rateLimits")
    )
    upstreams: list[UpstreamSettings] = Field(default_factory=list)
    servers: list[VirtualServerSettings] = Field(default_factory=list)
    # The registry: objects created through the API and the CLI. Unset = SQLite in data_dir.
    database_url: str | None = Field(None, validation_alias=alias("database_url", "databaseUrl"))
    # What replicas share at run time (sessions, changes, rate limits, liveness). Unset = one process.
    redis_url: Annotated[str, AfterValidator(redis_connection_url)] | None = Field(
        None, validation_alias=alias("redis_url", "redisUrl", "redis")
    )
    fleet: FleetSettings = FleetSettings()
    data_dir: Path = Field(default_factory=default_data_dir)
    migrate_on_start: bool = True
    # Encrypts stored secrets (headers, env). Unset = a key generated once into data_dir.
    # Several comma-separated keys: the first encrypts, all decrypt (key rotation).
    secret_key: SecretStr | None = None
    # The static key: with it set, every endpoint but /health requires it (MCP_API_KEY is read too).
    api_key: SecretStr | None = Field(None, validation_alias=alias("api_key", "MCPGATE_API_KEY", "MCP_API_KEY"))
    # Require a key even before any managed key exists (keys are required once one does).
    auth_required: bool = False
    oauth: OAuthSettings = OAuthSettings()
    # Where people's browsers reach this gateway (links to connect an account at an upstream, and
    # the callback it returns to). Unset: the address each request came to.
    public_url: Annotated[str, AfterValidator(public_url_rule)] | None = Field(
        None, validation_alias=alias("public_url", "publicUrl")
    )
    # The web UI at /admin (admin_ui/). Off: /admin answers 404 like any unknown path.
    admin_ui: bool = Field(True, validation_alias=alias("admin_ui", "adminUi"))
    log_level: str = Field("info", validation_alias=alias("log_level", "logLevel"))
    max_session_children: int = Field(
        200,
        ge=1,
        validation_alias=alias("max_session_children", "maxSessionChildren"),
        description="Cap on the children of perSession stdio upstreams, all sessions together.",
    )
    max_children_per_user: int = Field(
        8,
        ge=1,
        validation_alias=alias("max_children_per_user", "maxChildrenPerUser"),
        description="Cap on one end user's own stdio children (started for their env credentials).",
    )
    user_child_idle_seconds: float = Field(
        600.0,
        gt=0,
        validation_alias=alias("user_child_idle_seconds", "userChildIdleSeconds"),
        description="A user's own child (or a connection for a capability profile) nobody used for this long "
        "is stopped.",
    )
    max_upstream_profiles: int = Field(
        4,
        ge=0,
        validation_alias=alias("max_upstream_profiles", "maxUpstreamProfiles"),
        description="Cap on one upstream's connections for clients that declare other capabilities than the "
        "shared one (hub/profiles.py); past it, a client is served by one that declares less.",
    )
    page_size: int = Field(
        500, ge=1, validation_alias=alias("page_size", "pageSize"), description="Entries per page of merged lists."
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


__all__ = [
    "COLLECTION_NAME",
    "CollectionUpstream",
    "EdgeSettings",
    "ExternalMCPSettings",
    "FleetSettings",
    "GatewaySettings",
    "HTTPURL",
    "HTTP_HEADER_NAME",
    "HeaderMap",
    "NEVER_PASSED_THROUGH",
    "OAuthSettings",
    "OpenAPICatalogUpstream",
    "PathOrURL",
    "RateLimitSettings",
    "RemoteUpstream",
    "SELF_SPEC",
    "SERVER_SLUG",
    "SLUG_RULE",
    "SSEUpstream",
    "SettingsModel",
    "StdioUpstream",
    "StreamableHTTPUpstream",
    "TimeoutSettings",
    "UPSTREAM_NAME",
    "UPSTREAM_NAME_RULE",
    "UpstreamSettings",
    "VirtualServerSettings",
    "alias",
    "default_data_dir",
    "has_nul",
    "http_url",
    "one_line_header_value",
    "path_or_url",
    "proxy_address",
    "public_url_rule",
    "redis_connection_url",
    "without_nul",
]
