"""One client session's view of its connections to the upstreams: what SMART mode's
`search_tools` and `manage_connections` report and change.

An upstream is *connected* for a session when it is up and, if it needs the caller's own
credentials (`credentialsRequired`), the session has some: passed through on its request,
or stored for its end user (`x-username`). Storing or removing them is for the end user's
own connection only, and needs an end user.
"""

from __future__ import annotations

from typing import Any

from mcpgate.errors import InvalidParams, Unprocessable
from mcpgate.hub.catalog import Catalog
from mcpgate.hub.credentials import Authorizations, Credential
from mcpgate.hub.forwarding import passed_through
from mcpgate.hub.gateway import Hub
from mcpgate.hub.session import ClientSession

_ADMIN_PATH = "/api/v1/users/{user}/connections/{upstream}"


class SessionConnections:
    """`smart.Connections` for one client session."""

    def __init__(self, hub: Hub, session: ClientSession) -> None:
        self.hub = hub
        self.session = session

    def upstream_of(self, catalog: Catalog, tool: str) -> str | None:
        route = catalog.tool(tool)
        return route.upstream if route is not None else None

    def label_of(self, upstream: str) -> str:
        # An external MCP server of a virtual server is keyed "<server id>/<name>": it is called by its name.
        return upstream.rsplit("/", 1)[-1]

    def status(self, upstream: str) -> dict[str, Any]:
        label = self.label_of(upstream)
        connection = self.hub.upstreams.get(upstream) or self.hub.externals.get(upstream)
        state = connection.status.state.value if connection is not None else "unknown"
        user = self.session.user
        authorizations = self.hub.authorizations
        if authorizations is not None and authorizations.wanted(upstream):
            return self._oauth_status(upstream, state, authorizations)
        stored = user is not None and self.hub.credentials.for_user(user, upstream) is not None
        passed = connection is not None and bool(passed_through(connection, self.session))
        needs = connection is not None and connection.needs_credentials
        if passed:
            credentials = "passed through"
        elif stored:
            credentials = "stored for you"
        else:
            credentials = "missing" if needs else "not needed"
        report: dict[str, Any] = {
            "upstream": label,
            "state": state,
            "connected": state == "ready" and credentials != "missing",
            "credentials": credentials,
        }
        if needs and credentials == "missing":
            headers = list((connection.passthrough_headers if connection else None) or ["Authorization"])
            report["needs"] = {"headers": headers}
            how = f"send {' or '.join(headers)} with your requests"
            if user is not None:
                how += f", or call manage_connections with action 'connect' and those headers to store them for {user}"
                report["adminPath"] = _ADMIN_PATH.format(user=user, upstream=label)
            else:
                how += ", or act as an end user (x-username) whose connection is stored"
            report["how"] = how
        return report

    def _oauth_status(self, upstream: str, state: str, authorizations: Authorizations) -> dict[str, Any]:
        """An upstream that signs in with OAuth: connected when the caller's user (or, for everyone
        when the upstream allows, the gateway) has a token there."""
        user = self.session.user
        connection = self.hub.upstreams.get(upstream)
        own = user is not None and authorizations.bearer(upstream, user) is not None
        shared = authorizations.bearer(upstream, None) is not None and not getattr(
            connection.spec if connection else None, "credentials_required", False
        )
        report: dict[str, Any] = {
            "upstream": self.label_of(upstream),
            "state": state,
            "connected": own or shared,
            "credentials": "oauth: yours" if own else "oauth: the gateway's" if shared else "oauth: not connected",
        }
        if not own and not shared:
            report["how"] = "call manage_connections with action 'connect' for the link that connects your account"
        return report

    async def authorization_link(self, upstream: str) -> str | None:
        authorizations = self.hub.authorizations
        if authorizations is None or not authorizations.wanted(upstream):
            return None
        return await authorizations.link(upstream, self.session.user)

    async def connect(self, upstream: str, headers: dict[str, str], env: dict[str, str]) -> None:
        user = self._user_for_change(upstream)
        await self.hub.credentials.keep(user, upstream, Credential(dict(headers), dict(env)))

    async def disconnect(self, upstream: str) -> None:
        user = self._user_for_change(upstream)
        authorizations = self.hub.authorizations
        if authorizations is not None and authorizations.bearer(upstream, user) is not None:
            await authorizations.disconnect(upstream, user)
        await self.hub.credentials.forget(user, upstream)

    def _user_for_change(self, upstream: str) -> str:
        if self.session.user is None:
            raise InvalidParams(
                "manage_connections: connecting is for an end user's own connection; send x-username "
                "(with a key that has the users:act scope)"
            )
        if upstream not in self.hub.upstreams:
            raise Unprocessable(f"the connection to {self.label_of(upstream)!r} is configured by the operator")
        return self.session.user
