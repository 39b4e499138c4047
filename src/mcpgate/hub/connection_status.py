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
from mcpgate.hub.credentials import Credential
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

    async def connect(self, upstream: str, headers: dict[str, str], env: dict[str, str]) -> None:
        user = self._user_for_change(upstream)
        await self.hub.credentials.keep(user, upstream, Credential(dict(headers), dict(env)))

    async def disconnect(self, upstream: str) -> None:
        user = self._user_for_change(upstream)
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
