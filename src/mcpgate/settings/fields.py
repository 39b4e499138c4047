"""What every settings group is built of: the base model (strict, camelCase or snake_case),
the validators of URLs, headers and names, and the names' rules.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)
from pydantic_core import PydanticCustomError

UPSTREAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Virtual server names appear in URLs (/servers/<name>/mcp): lowercase, digits, '-' and '_'.
SERVER_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")
SLUG_RULE = "1-64 lowercase letters, digits, '-' or '_', starting and ending with a letter or digit"
UPSTREAM_NAME_RULE = "1-64 characters of letters, digits, '_', '-' or '.', starting with a letter or digit"


# Never a caller's credential for an upstream: the hop's own headers and the gateway's key and user.
NEVER_PASSED_THROUGH = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "accept",
        "connection",
        "transfer-encoding",
        "mcp-session-id",
        "mcp-protocol-version",
        "x-api-key",
        "x-username",
        "cookie",
        "last-event-id",
    }
)


def default_data_dir() -> Path:
    """Where the embedded SQLite database and the generated secret key live by default."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "mcpgate"


# -- checks shared by the config file and the management API: refused where they are written,
# rather than failing wherever the value is first used (a path, a URL, a header, a process).


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    return False


def without_nul(value: Any) -> Any:
    """`value`, unless a string anywhere in it holds a NUL: every one becomes a path, a URL, a process
    argument or a database value somewhere, and each of those fails on one."""
    if has_nul(value):
        raise PydanticCustomError("nul_character", "must not contain a NUL character (\\u0000)")
    return value


def http_url(value: str) -> str:
    """`value` if it is an http(s) URL that can be fetched as written; else why not, as a field error."""
    if any(not char.isprintable() or char.isspace() for char in value):
        raise PydanticCustomError("url", "a URL must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port  # the port is checked when read
    except ValueError as exc:
        raise PydanticCustomError("url", "not a valid URL: {reason}", {"reason": str(exc)}) from None
    if parts.scheme not in ("http", "https"):
        raise PydanticCustomError("url", "must be an http:// or https:// URL")
    if not host:
        raise PydanticCustomError("url", "the URL names no host")
    try:
        host.encode("idna")  # what name resolution does with it: labels of 1-63 characters
    except UnicodeError:
        raise PydanticCustomError("url", "the host name {host} is not valid", {"host": repr(host)}) from None
    return value


def path_or_url(value: str) -> str:
    return http_url(value) if value.startswith(("http://", "https://")) else value


def one_line_header_value(value: str) -> str:
    if any((char < " " and char != "\t") or char == "\x7f" for char in value):
        raise PydanticCustomError("header_value", "a header value must not contain a line break or control character")
    return value


HTTP_HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"
HeaderMap = dict[
    Annotated[str, Field(pattern=HTTP_HEADER_NAME, max_length=128)],
    Annotated[str, AfterValidator(one_line_header_value)],
]
HTTPURL = Annotated[str, AfterValidator(http_url)]
PathOrURL = Annotated[str, Field(min_length=1), AfterValidator(path_or_url)]


class SettingsModel(BaseModel):
    # Config files come from people: reject typos instead of silently ignoring them,
    # and accept both camelCase and snake_case spellings.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return without_nul(value)


def alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)
