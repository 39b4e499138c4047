"""Parse and build JSON-RPC 2.0 messages as plain dicts.

The gateway forwards most payloads without looking inside them, so messages stay
dicts end to end: validating them into pydantic models only to serialise them again
would cost time on the hot path and risk dropping fields a newer peer added.
This module checks just the envelope, precisely enough that a malformed message gets
-32700 / -32600 with a message a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from mcpgate.errors import INVALID_REQUEST, PARSE_ERROR, GatewayError

Message = dict[str, Any]
RequestId = str | int


@dataclass(frozen=True, slots=True)
class Envelope:
    """One incoming JSON-RPC message, classified."""

    kind: str  # "request" | "notification" | "response" | "error"
    message: Message

    @property
    def id(self) -> RequestId | None:
        return self.message.get("id")

    @property
    def method(self) -> str:
        return self.message.get("method", "")

    @property
    def params(self) -> dict[str, Any]:
        params = self.message.get("params")
        return params if isinstance(params, dict) else {}


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that failed envelope validation, with the error to answer it with."""

    id: RequestId | None
    error: Message


def parse_body(body: bytes) -> tuple[list[Envelope | Rejected], bool] | Message:
    """Decode a request body into messages.

    Returns `(items, is_batch)`, or a ready JSON-RPC error response when the body is not
    JSON at all (-32700) or is an empty batch (-32600).
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return error_response(None, PARSE_ERROR, f"Parse error: body is not valid JSON ({exc})")
    if isinstance(data, list):
        if not data:
            return error_response(None, INVALID_REQUEST, "Invalid Request: empty batch")
        return [classify(item) for item in data], True
    return [classify(data)], False


def classify(data: Any) -> Envelope | Rejected:
    if not isinstance(data, dict):
        return _reject(None, f"expected a JSON-RPC object, got {type(data).__name__}")
    raw_id = data.get("id")
    msg_id = raw_id if _valid_id(raw_id) else None
    if data.get("jsonrpc") != "2.0":
        return _reject(msg_id, 'missing "jsonrpc": "2.0"')
    if "id" in data and not _valid_id(raw_id):
        return _reject(None, '"id" must be a string or an integer')
    if "method" in data:
        if not isinstance(data["method"], str) or not data["method"]:
            return _reject(msg_id, '"method" must be a non-empty string')
        params = data.get("params")
        if params is not None and not isinstance(params, dict | list):
            return _reject(msg_id, '"params" must be an object')
        return Envelope("request" if "id" in data else "notification", data)
    if "id" in data and "result" in data:
        return Envelope("response", data)
    if "id" in data and isinstance(data.get("error"), dict):
        return Envelope("error", data)
    return _reject(msg_id, 'a message needs "method" (request/notification) or "result"/"error" (response)')


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _reject(msg_id: RequestId | None, reason: str) -> Rejected:
    return Rejected(msg_id, error_response(msg_id, INVALID_REQUEST, f"Invalid Request: {reason}"))


def result_response(msg_id: RequestId | None, result: Any) -> Message:
    return {"jsonrpc": "2.0", "id": msg_id, "result": result}


def error_response(msg_id: RequestId | None, code: int, message: str, data: Any = None) -> Message:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": msg_id, "error": error}


def error_from_exception(msg_id: RequestId | None, exc: GatewayError) -> Message:
    return error_response(msg_id, exc.code, exc.message, exc.data)


def notification(method: str, params: dict[str, Any] | None = None) -> Message:
    message: Message = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def dumps(message: Any) -> bytes:
    return orjson.dumps(message)
