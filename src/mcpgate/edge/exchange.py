"""Running a client's messages through the router: the part every transport shares.

A transport turns bytes into classified messages (`protocol.jsonrpc.parse_body`) and
hands them here with its session and a `notify` function saying where messages related
to the request (progress, logs) should go. What comes back is the response to send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anyio
from starlette.types import Receive, Send

from mcpgate.edge.http import read_body, send_json
from mcpgate.errors import GatewayError
from mcpgate.hub.routing import Notify, RequestRouter
from mcpgate.hub.session import ClientSession
from mcpgate.protocol.jsonrpc import Envelope, Message, Rejected, error_response, parse_body
from mcpgate.tracing import hook


async def read_messages(
    receive: Receive, send: Send, headers: Mapping[str, str], limit: int
) -> tuple[list[Envelope | Rejected], bool] | None:
    """The POST body as classified messages and whether it was a batch; or None, after
    answering a body that is too large (413) or not JSON at all (400, -32700)."""
    try:
        body = await read_body(receive, headers, limit)
    except GatewayError as exc:
        await send_json(send, exc.http_status, error_response(None, exc.code, exc.message))
        return None
    parsed = parse_body(body)
    if isinstance(parsed, dict):
        await send_json(send, 400, parsed)
        return None
    if (tracer := hook.tracer) is not None:
        tracer.received(parsed[0])  # a trace context in a lone request's `_meta`
    return parsed


async def answer_all(
    router: RequestRouter, session: ClientSession, items: Sequence[Envelope | Rejected], notify: Notify
) -> list[Message]:
    """Answer every message of one POST concurrently; responses in request order."""
    responses: list[Message | None] = [None] * len(items)

    async def answer(index: int, item: Envelope | Rejected) -> None:
        if isinstance(item, Rejected):
            responses[index] = item.error
        else:
            responses[index] = await router.handle(session, item, notify)

    if len(items) == 1:
        await answer(0, items[0])
    else:
        async with anyio.create_task_group() as tg:
            for index, item in enumerate(items):
                tg.start_soon(answer, index, item)
    return [response for response in responses if response is not None]


def has_requests(items: Sequence[Envelope | Rejected]) -> bool:
    return any(isinstance(item, Rejected) or item.kind == "request" for item in items)
