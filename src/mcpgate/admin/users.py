"""`/api/v1/users`: end users (named as clients send them in x-username) and their stored
credentials per upstream — headers for a remote upstream, env vars for a stdio one.
Values are write-only: answers show their names, masked."""

from __future__ import annotations

from fastapi import APIRouter, Response

from mcpgate.access.principal import USERNAME
from mcpgate.admin.context import Admin
from mcpgate.admin.schemas import (
    ERRORS,
    ConnectionIn,
    ConnectionList,
    ConnectionOut,
    UserCreate,
    UserList,
    UserOut,
)
from mcpgate.errors import NotFound, Unprocessable
from mcpgate.store.crypto import mask, unmask
from mcpgate.store.users import User, UserConnection


def router(admin: Admin) -> APIRouter:
    api = APIRouter(prefix="/users", tags=["end users"], responses=ERRORS)

    @api.get("", response_model=UserList, summary="End users and the upstreams they have credentials for")
    async def list_users() -> UserList:
        return UserList(data=[_user(u) for u in await admin.users.users()])

    @api.post("", status_code=201, response_model=UserOut, summary="Add an end user")
    async def create_user(body: UserCreate) -> UserOut:
        return _user(await admin.users.add_user(body.name))

    @api.get("/{name}", response_model=UserOut, summary="One end user")
    async def get_user(name: str) -> UserOut:
        return _user(await admin.users.store.user(name))

    @api.delete("/{name}", status_code=204, response_class=Response, summary="Remove a user and its credentials")
    async def delete_user(name: str) -> Response:
        await admin.users.remove_user(name)
        return Response(status_code=204)

    @api.get("/{name}/connections", response_model=ConnectionList, summary="A user's stored connections")
    async def list_connections(name: str) -> ConnectionList:
        return ConnectionList(data=[_connection(c) for c in await admin.users.connections(name)])

    @api.put(
        "/{name}/connections/{upstream}",
        response_model=ConnectionOut,
        summary="Store a user's credentials for an upstream (creates the user if needed)",
    )
    async def put_connection(name: str, upstream: str, body: ConnectionIn) -> ConnectionOut:
        if not USERNAME.match(name):
            raise Unprocessable(f"{name!r} is not a user name: 1-128 letters, digits or . _ @ + - characters")
        connection = admin.hub.upstreams.get(upstream)
        if connection is None:
            raise NotFound(f"no upstream named {upstream!r}")
        stdio = connection.spec.kind == "stdio"
        if (body.headers and stdio) or (body.env and not stdio):
            wanted = "env (it is a stdio upstream)" if stdio else "headers (it is a remote upstream)"
            raise Unprocessable(f"upstream {upstream!r} takes {wanted}")
        if not body.headers and not body.env:
            raise Unprocessable("give the credentials: headers for a remote upstream, env for a stdio one")
        stored = {c.upstream: c for c in await _existing(admin, name)}.get(upstream)
        kept_headers = unmask(body.headers, stored.headers if stored else {})
        kept_env = unmask(body.env, stored.env if stored else {})
        saved = await admin.users.put(UserConnection(name, upstream, kept_headers, kept_env))
        return _connection(saved)

    @api.get("/{name}/connections/{upstream}", response_model=ConnectionOut, summary="One stored connection")
    async def get_connection(name: str, upstream: str) -> ConnectionOut:
        for connection in await admin.users.connections(name):
            if connection.upstream == upstream:
                return _connection(connection)
        raise NotFound(f"user {name!r} has no connection to {upstream!r}")

    @api.delete(
        "/{name}/connections/{upstream}", status_code=204, response_class=Response, summary="Forget a connection"
    )
    async def delete_connection(name: str, upstream: str) -> Response:
        await admin.users.remove(name, upstream)
        return Response(status_code=204)

    return api


async def _existing(admin: Admin, name: str) -> list[UserConnection]:
    try:
        return await admin.users.connections(name)
    except NotFound:
        return []


def _user(user: User) -> UserOut:
    return UserOut(name=user.name, connections=list(user.connections), createdAt=user.created_at)


def _connection(connection: UserConnection) -> ConnectionOut:
    return ConnectionOut(
        user=connection.user,
        upstream=connection.upstream,
        headers=mask(connection.headers),
        env=mask(connection.env),
        createdAt=connection.created_at,
        updatedAt=connection.updated_at,
    )
