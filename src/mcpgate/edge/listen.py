"""2026-07-28 `subscriptions/listen`: the stateless revision's stream for notifications.

A client opts in to list changes (tools, prompts, resources) and to updates of given
resources; the stream opens with `notifications/subscriptions/acknowledged` naming what
was agreed (only what the gateway can deliver), and every notification on it carries the
subscription's id in `_meta`. Behind the stream is a hub session like any other, so the
hub's broadcasts and resource subscriptions reach it unchanged; ending the stream ends
that session and releases its subscriptions upstream.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from starlette.types import Receive, Send

from mcpgate.edge.http import SSE_HEADERS, cancel_on_disconnect, cancel_when_set, sse_event
from mcpgate.edge.outbox import Outbox, pump
from mcpgate.errors import GatewayError
from mcpgate.hub.routing import RequestRouter
from mcpgate.hub.session import ClientSession
from mcpgate.protocol.jsonrpc import Envelope, Message, dumps, notification, result_response

logger = logging.getLogger(__name__)

SUBSCRIPTION_ID_META_KEY = "io.modelcontextprotocol/subscriptionId"
# subscriptions/listen filter key → the list it is about
_LISTEN_KINDS = {"toolsListChanged": "tools", "promptsListChanged": "prompts", "resourcesListChanged": "resources"}
_CLOSING_WRITE_SECONDS = 5.0


async def _nowhere(message: Message) -> None:
    """Subscribing on a listener's behalf says nothing on any request stream."""


async def serve_listen(
    router: RequestRouter,
    request: ClientSession,
    item: Envelope,
    receive: Receive,
    send: Send,
    keepalive_seconds: float,
    max_queued_bytes: int,
) -> None:
    """Answer one `subscriptions/listen` request with its stream, until the client or the server ends it."""
    sessions = router.hub.sessions
    wanted = item.params.get("notifications")
    wanted = wanted if isinstance(wanted, dict) else {}
    capabilities = router.capabilities()
    agreed: dict[str, Any] = {
        key: True for key, kind in _LISTEN_KINDS.items() if wanted.get(key) is True and kind in capabilities
    }
    methods = {f"notifications/{_LISTEN_KINDS[key]}/list_changed" for key in agreed}
    subscription = {SUBSCRIPTION_ID_META_KEY: item.id}
    outbox = Outbox(max_queued_bytes)
    ending = anyio.CancelScope()

    def frame(message: Message) -> bytes:
        params = dict(message.get("params") or {})
        params["_meta"] = {**(params.get("_meta") or {}), **subscription}
        return sse_event(dumps({**message, "params": params}), "message")

    async def push(message: Message) -> None:
        method = message.get("method")
        if (method in methods or method == "notifications/resources/updated") and not ending.cancel_called:
            if not outbox.offer(frame(message)):
                logger.warning("listen stream %s is not being read; closing it", item.id)
                outbox.clear()
                ending.cancel()

    listener = ClientSession(
        "listen",
        push=push,
        protocol_version=request.protocol_version,
        client_info=request.client_info,
        capabilities=request.capabilities,
        initialized=True,
    )
    listener.open_streams = 1  # never reaped while the stream is open
    sessions.add(listener)
    try:
        uris = wanted.get("resourceSubscriptions")
        if isinstance(uris, list) and (capabilities.get("resources") or {}).get("subscribe"):
            accepted = []
            for uri in uris:
                try:
                    await router.forwarder.subscribe(listener, {"uri": uri}, _nowhere)
                    accepted.append(uri)
                except GatewayError as exc:  # an unknown URI is left out of the acknowledgement
                    logger.debug("listen stream %s: not subscribed to %r: %s", item.id, uri, exc.message)
            if accepted:
                agreed["resourceSubscriptions"] = accepted
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        ack = notification("notifications/subscriptions/acknowledged", {"notifications": agreed})
        await send({"type": "http.response.body", "body": frame(ack), "more_body": True})
        with ending:
            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_on_disconnect, receive, ending)
                tg.start_soon(cancel_when_set, listener.closed, ending)
                await pump(outbox, send, keepalive_seconds)
        with anyio.move_on_after(_CLOSING_WRITE_SECONDS):  # a client that stopped reading may never take it
            if listener.closed.is_set():
                # Torn down by the server (shutting down): the listen request gets its result.
                final = result_response(item.id, {"resultType": "complete", "_meta": subscription})
                body = sse_event(dumps(final), "message")
                await send({"type": "http.response.body", "body": body, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
    except OSError:
        pass
    finally:
        outbox.clear()
        sessions.remove(listener.id)
