"""2026-07-28 clients and handshake-era upstreams: server→client requests as `input_required` rounds.

A stateless 2026-07-28 client cannot be sent a request: instead a server answers
`input_required` (what it needs, and a `requestState`) and the client retries with the
answers. A handshake-era upstream (every stdio server) asks the old way — an
`elicitation/create` in the middle of a `tools/call` — so the gateway translates:

    round 1   client tools/call ──► gateway starts the upstream call in the background
              upstream asks elicitation/create ──► gateway answers the client:
              {resultType: input_required, inputRequests: {elicitation-1: …}, requestState: T1}
    round 2   client tools/call + inputResponses + requestState T1
              ──► the answer goes to the waiting upstream request; the call goes on
              ──► its result (or the next input_required, with T2) is the answer

`requestState` is a random single-use token naming the call in flight (a forged or
replayed one is -32602). A call nobody resumes ends with the upstream's own timeout.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio

from mcpgate.errors import GatewayError, InvalidParams, UpstreamError
from mcpgate.protocol.jsonrpc import Message

logger = logging.getLogger(__name__)

Notify = Callable[[Message], Awaitable[None]]
Ask = Callable[[str, Mapping[str, Any] | None], Awaitable[dict[str, Any]]]
Start = Callable[["BridgedCall"], Awaitable[dict[str, Any]]]

# Methods whose 2026-07-28 results may be input_required.
BRIDGED_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})
_MAX_CALLS = 10_000


class _Question:
    __slots__ = ("answered", "error", "method", "params", "result")

    def __init__(self, method: str, params: Mapping[str, Any] | None) -> None:
        self.method = method
        self.params = params
        self.result: dict[str, Any] | None = None
        self.error: GatewayError | None = None
        self.answered = anyio.Event()


class BridgedCall:
    """One upstream request of a 2026-07-28 client, running across the client's retries."""

    def __init__(self, method: str, name: object) -> None:
        self.method = method
        self.name = name  # the request's tool/prompt name or URI: a retry must be for the same thing
        self.notify: Notify = _nowhere  # the current round's stream, for progress and logs
        self._questions: dict[str, _Question] = {}
        self._asked = 0
        self._result: dict[str, Any] | None = None
        self._error: BaseException | None = None
        self._done = False
        self._wake = anyio.Event()

    async def run(self, start: Start) -> None:
        try:
            self._result = await start(self)
        except Exception as exc:  # handed to whichever round is waiting
            self._error = exc
        finally:
            self._done = True
            for question in self._questions.values():
                question.error = UpstreamError("the call ended before the client answered")
                question.answered.set()
            self._wake.set()

    async def relay(self, message: Message) -> None:
        await self.notify(message)

    async def ask(self, method: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """The upstream's request, held until a round hands it to the client and it answers."""
        self._asked += 1
        key = f"{method.split('/')[0]}-{self._asked}"
        question = self._questions[key] = _Question(method, params)
        self._wake.set()
        await question.answered.wait()
        del self._questions[key]
        if question.error is not None:
            raise question.error
        return question.result or {}

    def answer(self, responses: object) -> None:
        if not isinstance(responses, dict):
            return
        for key, response in responses.items():
            question = self._questions.get(key)
            if question is not None and not question.answered.is_set() and isinstance(response, dict):
                question.result = response
                question.answered.set()

    async def next_round(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(result, None) when the call is over, or (None, input requests) when the client must answer."""
        while True:
            self._wake = anyio.Event()
            if self._done:
                if self._error is not None:
                    raise self._error
                return self._result or {}, None
            waiting = {k: q for k, q in self._questions.items() if not q.answered.is_set()}
            if waiting:
                requests = {}
                for key, question in waiting.items():
                    request: dict[str, Any] = {"method": question.method}
                    if question.params is not None:
                        request["params"] = dict(question.params)
                    requests[key] = request
                return None, requests
            await self._wake.wait()


class Bridge:
    """The calls in flight between rounds, by their current requestState."""

    def __init__(self, spawn: Callable[[Callable[[], Awaitable[None]]], None]) -> None:
        self._spawn = spawn
        self._calls: dict[str, BridgedCall] = {}

    async def call(self, method: str, params: Mapping[str, Any], notify: Notify, start: Start) -> dict[str, Any]:
        """One round: a new call, or the continuation of the one `params.requestState` names."""
        state = params.get("requestState")
        name = params.get("uri" if method == "resources/read" else "name")
        if state is None:
            call = BridgedCall(method, name)
            if len(self._calls) >= _MAX_CALLS:
                self._calls.pop(next(iter(self._calls)))  # the oldest abandoned one
            self._spawn(lambda: call.run(start))
        else:
            found = self._calls.pop(state, None) if isinstance(state, str) else None
            if found is None or (found.method, found.name) != (method, name):
                raise InvalidParams("requestState is unknown, expired, already used or for another request")
            call = found
            call.answer(params.get("inputResponses"))
        call.notify = notify
        try:
            result, requests = await call.next_round()
        finally:
            call.notify = _nowhere
        if requests is None:
            return result or {}
        token = secrets.token_urlsafe(24)
        self._calls[token] = call
        return {"resultType": "input_required", "inputRequests": requests, "requestState": token}


async def _nowhere(message: Message) -> None:
    """Between rounds nothing carries a call's progress or logs to the client."""
