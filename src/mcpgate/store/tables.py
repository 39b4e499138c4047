"""The registry's tables. Secrets live only in the `secrets` columns, encrypted (see `secrets.py`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class UpstreamRow(Base):
    __tablename__ = "upstreams"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    # The upstream's settings without its env and headers (those are in `secrets`).
    spec: Mapped[dict] = mapped_column(JSON)
    secrets: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VirtualServerRow(Base):
    __tablename__ = "virtual_servers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    mode: Mapped[str] = mapped_column(String(16))
    selected_tools: Mapped[list] = mapped_column(JSON)
    # [{name, url, tools}]; each one's headers are in `secrets` under its name.
    external_configs: Mapped[list] = mapped_column(JSON)
    secrets: Mapped[str | None] = mapped_column(Text)
    config: Mapped[dict] = mapped_column(JSON)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings; not enough to use the key
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the whole key
    scopes: Mapped[list] = mapped_column(JSON)
    servers: Mapped[list | None] = mapped_column(JSON)  # virtual server ids; None = any
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UserRow(Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)  # the x-username value
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UserConnectionRow(Base):
    __tablename__ = "user_connections"

    user: Mapped[str] = mapped_column(String(128), ForeignKey("users.name", ondelete="CASCADE"), primary_key=True)
    upstream: Mapped[str] = mapped_column(String(64), primary_key=True)
    secrets: Mapped[str] = mapped_column(Text)  # sealed {"headers": {...}, "env": {...}}
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # tool_call | auth_failure
    outcome: Mapped[str] = mapped_column(String(16))  # ok | tool_error | error | cancelled | denied
    key_id: Mapped[str | None] = mapped_column(String(36))
    key_name: Mapped[str | None] = mapped_column(String(128))
    user: Mapped[str | None] = mapped_column(String(128))
    server: Mapped[str | None] = mapped_column(String(36))
    tool: Mapped[str | None] = mapped_column(String(256))
    duration_ms: Mapped[float | None] = mapped_column(Float)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    arguments_digest: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the arguments, never them


class OAuthClientRow(Base):
    """A client registered dynamically (RFC 7591). Clients identified by a metadata document URL are not stored."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    registration: Mapped[dict] = mapped_column(JSON)  # the client's metadata as registered, without its secret
    secrets: Mapped[str | None] = mapped_column(Text)  # sealed {"client_secret": …}, if it has one
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OAuthGrantRow(Base):
    """What a person allowed a client: a key's rights (at most), for one resource, until revoked."""

    __tablename__ = "oauth_grants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(2048), index=True)
    client_name: Mapped[str] = mapped_column(String(256))
    key_id: Mapped[str] = mapped_column(String(64), index=True)  # a managed key's id, or "static:<digest prefix>"
    server_id: Mapped[str | None] = mapped_column(String(36))  # the virtual server; None = the default endpoint
    resource: Mapped[str] = mapped_column(Text)  # the resource URL the client asked for (RFC 8707)
    scopes: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OAuthTokenRow(Base):
    """An authorization code, access token or refresh token, by its SHA-256 digest (never in clear)."""

    __tablename__ = "oauth_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # code | access | refresh
    grant_id: Mapped[str | None] = mapped_column(String(36), index=True)  # a code's: set once exchanged
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # exchanged, rotated or revoked
    details: Mapped[dict | None] = mapped_column(JSON)  # a code's request: client, redirect, challenge, key, …


class OAuthSigningKeyRow(Base):
    __tablename__ = "oauth_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    secrets: Mapped[str] = mapped_column(Text)  # sealed {"jwk": private key}
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UpstreamOAuthClientRow(Base):
    """This gateway registered as an OAuth client at an upstream's authorization server."""

    __tablename__ = "upstream_oauth_clients"

    upstream: Mapped[str] = mapped_column(String(64), primary_key=True)
    secrets: Mapped[str] = mapped_column(Text)  # sealed {"client": registration answer, "server": AS metadata, …}
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UpstreamOAuthTokenRow(Base):
    """An end user's tokens for an upstream (user "" = the gateway's own), sealed."""

    __tablename__ = "upstream_oauth_tokens"

    upstream: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(128), primary_key=True)
    secrets: Mapped[str] = mapped_column(Text)  # sealed {"access_token", "refresh_token", "scope"}
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refreshing_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # one replica refreshes
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AdminSessionRow(Base):
    """A browser signed in to the web UI (admin_ui/): the cookie's digest and the key it signed in with."""

    __tablename__ = "admin_sessions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_ref: Mapped[str] = mapped_column(String(64), index=True)  # a key id, or "static:<digest prefix>"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
