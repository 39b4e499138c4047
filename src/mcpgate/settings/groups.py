"""The service's own groups: rate limits, the HTTP edge, the fleet (Redis), OAuth."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from mcpgate.settings.fields import (
    SettingsModel,
    alias,
)


class RateLimitSettings(SettingsModel):
    """Requests allowed per caller, as `limits` strings ("600/minute", "10/second;1000/hour").

    Every request but /health counts once against each limit that applies to it. A virtual
    server may set its own (its `config.rateLimits`), counted separately.
    """

    per_key: str | None = Field(None, validation_alias=alias("per_key", "perKey"))
    per_user: str | None = Field(None, validation_alias=alias("per_user", "perUser"))
    per_ip: str | None = Field(None, validation_alias=alias("per_ip", "perIp"))
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


class EdgeSettings(SettingsModel):
    """What the client-facing transports accept."""

    max_body_bytes: int = Field(4 * 1024 * 1024, gt=0, validation_alias=alias("max_body_bytes", "maxBodyBytes"))
    keepalive_seconds: float = Field(15.0, gt=0, validation_alias=alias("keepalive_seconds", "keepaliveSeconds"))
    # Origins allowed besides loopback ones; "*" disables the DNS-rebinding check.
    allowed_origins: list[str] = Field(
        default_factory=list, validation_alias=alias("allowed_origins", "allowedOrigins")
    )
    # Host names (or host:port) accepted besides loopback ones, on every route. Listening on a
    # loopback address, or once any is set, a request with another Host is refused (421).
    allowed_hosts: list[str] = Field(default_factory=list, validation_alias=alias("allowed_hosts", "allowedHosts"))
    # "json" answers POST /mcp with a JSON body unless the request needs a stream
    # (progress); "sse" always streams.
    response_mode: Literal["json", "sse"] = Field("json", validation_alias=alias("response_mode", "responseMode"))
    session_idle_seconds: float = Field(
        3600.0, gt=0, validation_alias=alias("session_idle_seconds", "sessionIdleSeconds")
    )
    # What one client's event stream (an SSE session, a GET or listen stream) may have queued and
    # unread; past it the client has stopped reading, and that stream is ended (never another's).
    max_queued_bytes: int = Field(
        8 * 1024 * 1024, ge=64 * 1024, validation_alias=alias("max_queued_bytes", "maxQueuedBytes")
    )
    # A request's head (request line and headers) must arrive whole within this many seconds of
    # the connection opening, or of its first byte on a kept-alive connection; else it is closed.
    header_timeout_seconds: float = Field(
        10.0, gt=0, validation_alias=alias("header_timeout_seconds", "headerTimeoutSeconds")
    )
    # A request's body may pause this long between two chunks (time the server itself stops
    # reading does not count), else the connection is reset.
    body_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias=alias("body_timeout_seconds", "bodyTimeoutSeconds")
    )
    # A response the client has stopped reading (its buffers full) and that makes no progress for
    # this long is given up, and the connection reset. An idle event stream is not affected.
    write_timeout_seconds: float = Field(
        60.0, gt=0, validation_alias=alias("write_timeout_seconds", "writeTimeoutSeconds")
    )
    # A kept-alive connection idle this long between requests is closed. It must outlast the
    # client's own idle limit: a client reusing a connection just as the server closes it loses
    # that request (httpx, which the Python SDK uses, keeps connections 5 s and does not retry;
    # Node's fetch 4 s; AWS's balancer 60 s). 75 s is nginx's default; behind a proxy that reuses
    # connections, set it above the proxy's own. At `max_connections`, idle ones go first.
    idle_timeout_seconds: float = Field(
        75.0, gt=0, validation_alias=alias("idle_timeout_seconds", "idleTimeoutSeconds")
    )
    # Client connections held at once; unset: the open-file limit less 8,192 (half of it when
    # that is more). At the cap a new connection takes the place of the one idle longest between
    # requests, else of the one that has waited longest for its request's head or body, or is
    # refused when none is idle or waiting.
    max_connections: int | None = Field(None, ge=1, validation_alias=alias("max_connections", "maxConnections"))
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (the client address that rate
    # limits and the audit see): addresses or networks ("10.0.0.0/8"), or "*" for any. The default
    # is loopback, for a proxy on the same host; behind a balancer elsewhere, name it; set [] when
    # clients connect on loopback directly, or any of them could claim another's address.
    trusted_proxies: list[Annotated[str, AfterValidator(proxy_address)]] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"], validation_alias=alias("trusted_proxies", "trustedProxies")
    )


def redis_connection_url(value: str) -> str:
    """`value` if redis-py can connect with it (redis://, rediss:// or unix://)."""
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise PydanticCustomError("url", "must be a redis://, rediss:// or unix:// URL")
    return value


class FleetSettings(SettingsModel):
    """How replicas of one gateway work together through Redis (`redis`); see fleet/.

    Replicas that share a database and a Redis must share a `keyPrefix`; gateways that share only
    the Redis server use different ones.
    """

    key_prefix: str = Field(
        "mcpgate", pattern=r"^[A-Za-z0-9_.:-]{1,64}$", validation_alias=alias("key_prefix", "keyPrefix")
    )
    # Each replica says it is alive this often; one not heard from for `deadAfterSeconds` is gone
    # (its relayed streams end, /health stops listing it).
    heartbeat_seconds: float = Field(1.0, gt=0, validation_alias=alias("heartbeat_seconds", "heartbeatSeconds"))
    dead_after_seconds: float = Field(5.0, gt=0, validation_alias=alias("dead_after_seconds", "deadAfterSeconds"))
    # How long a request relayed to the replica that owns its session waits for the answer to start.
    relay_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias=alias("relay_timeout_seconds", "relayTimeoutSeconds")
    )
    # Changes are announced at once; this full re-read catches what an outage of Redis hid.
    resync_seconds: float = Field(30.0, gt=0, validation_alias=alias("resync_seconds", "resyncSeconds"))

    @model_validator(mode="after")
    def _dead_after_beats(self) -> FleetSettings:
        if self.dead_after_seconds <= 2 * self.heartbeat_seconds:
            raise ValueError("deadAfterSeconds must be more than twice heartbeatSeconds")
        return self


def public_url_rule(value: str) -> str:
    """An origin (and optional path) clients reach the gateway at: http(s), no query or fragment."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise PydanticCustomError("url", "must be an http(s) URL without query or fragment")
    return value.rstrip("/")


class OAuthSettings(SettingsModel):
    """OAuth 2.1 for clients (oauth/). `off`: API keys only. `builtin`: this gateway is the
    authorization server — a person signs in with one of its API keys and the client gets a token
    carrying at most that key's rights. `external`: JWT access tokens of another issuer are accepted
    (API keys keep working beside either)."""

    mode: Literal["off", "builtin", "external"] = "off"
    # builtin: the URL clients reach this gateway at (issuer and resource URLs); default: the URL each
    # request came to. external: the issuer whose tokens are accepted (required).
    issuer: Annotated[str, AfterValidator(public_url_rule)] | None = None
    # external: `aud` values accepted for every endpoint (a token whose `aud` is one endpoint's
    # resource URL is accepted there only).
    audience: list[str] = Field(default_factory=list)
    # external: the claim that names the end user (per-user connections without x-username).
    user_claim: str = Field("sub", min_length=1, validation_alias=alias("user_claim", "userClaim"))
    access_token_seconds: int = Field(
        3600, ge=60, le=86400, validation_alias=alias("access_token_seconds", "accessTokenSeconds")
    )
    refresh_token_seconds: int = Field(
        30 * 86400, ge=3600, validation_alias=alias("refresh_token_seconds", "refreshTokenSeconds")
    )
    # builtin: clients may name themselves by an https URL serving their metadata (client ID metadata documents).
    client_metadata_documents: bool = Field(
        True, validation_alias=alias("client_metadata_documents", "clientMetadataDocuments")
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
