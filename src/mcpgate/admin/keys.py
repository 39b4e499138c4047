"""`/api/v1/keys`: create (the secret is in that answer only), list, get and revoke API keys."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from mcpgate.admin.context import Admin
from mcpgate.admin.schemas import ERRORS, KeyCreate, KeyCreated, KeyList, KeyOut
from mcpgate.errors import Unprocessable
from mcpgate.store.keys import ApiKey


def router(admin: Admin) -> APIRouter:
    api = APIRouter(prefix="/keys", tags=["API keys"], responses=ERRORS)

    @api.post("", status_code=201, response_model=KeyCreated, summary="Create an API key (its secret is shown once)")
    async def create_key(body: KeyCreate) -> KeyCreated:
        servers = _server_ids(admin, body.servers) if body.servers is not None else None
        expires = body.expiresAt
        if expires is not None and expires.tzinfo is None:
            raise Unprocessable("expiresAt needs a time zone (e.g. 2027-01-01T00:00:00Z)")
        secret, key = await admin.auth.create(body.name, body.scopes, servers, expires)
        return KeyCreated(key=secret, **_out(key).model_dump())

    @api.get("", response_model=KeyList, summary="List API keys (never their secrets)")
    async def list_keys() -> KeyList:
        return KeyList(data=[_out(key) for key in await admin.auth.keys()])

    @api.get("/{key_id}", response_model=KeyOut, summary="One API key")
    async def get_key(key_id: str) -> KeyOut:
        return _out(await admin.auth.key(key_id))

    @api.delete("/{key_id}", response_model=KeyOut, summary="Revoke an API key (at once; its sessions are closed)")
    async def revoke_key(key_id: str) -> KeyOut:
        return _out(await admin.auth.revoke(key_id))

    return api


def _server_ids(admin: Admin, idents: list[str]) -> list[str]:
    found = {ident: admin.hub.find_server(ident) for ident in idents}
    unknown = [ident for ident, server in found.items() if server is None]
    if unknown:
        raise Unprocessable(f"servers names unknown virtual servers: {', '.join(unknown)}")
    return [server.id for server in found.values() if server is not None]


def _out(key: ApiKey) -> KeyOut:
    return KeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=sorted(key.scopes),
        servers=sorted(key.servers) if key.servers is not None else None,
        state=key.state(datetime.now(UTC)),
        expiresAt=key.expires_at,
        createdAt=key.created_at,
        lastUsedAt=key.last_used_at,
        revokedAt=key.revoked_at,
    )
