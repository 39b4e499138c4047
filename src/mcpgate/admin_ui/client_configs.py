"""Ready-to-paste client configurations for one virtual server: pure functions, no I/O.

    configs = client_configs("support", {"mcp": "https://gw.example.com/servers/support/mcp", ...}, needs_key=True)
    configs[1].title, configs[1].filename_hint, configs[1].text    # "Cursor", "~/.cursor/mcp.json", '{"mcpServers": …'

`endpoints` are the server's endpoint URLs, already absolute (`mcp`: Streamable HTTP; the REST
face is its base, the same URL without `/mcp`). A key is never written into a configuration:
where one is needed the text carries `API_KEY_PLACEHOLDER` (or, for VS Code, an input it prompts
for and keeps in its secret storage); with `needs_key=False` (a public server, or a gateway with no
key configured) every header is left out. This module knows the clients' file formats and nothing
of the gateway: the page that shows them (`pages/servers.py`) decides the URLs and the key.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

API_KEY_PLACEHOLDER = "<YOUR_API_KEY>"
VSCODE_INPUT = "mcpgate-api-key"  # the id of the input VS Code prompts for (`${input:…}`)
# mcp-remote refuses plain http except to these hosts unless told `--allow-http`.
_MCP_REMOTE_PLAIN_HTTP_HOSTS = {"localhost", "127.0.0.1"}


@dataclass(frozen=True, slots=True)
class ClientConfig:
    title: str  # the client, as a person names it
    filename_hint: str  # where the text goes
    text: str  # what to paste
    language: str = "json"  # "json" or "shell"
    note: str = ""  # one sentence on how it connects, when that is not obvious

    @property
    def slug(self) -> str:
        """A name for an HTML id: `claude-desktop`, `vs-code`."""
        return "-".join("".join(c if c.isalnum() else " " for c in self.title.lower()).split())


def client_configs(
    server_name: str,
    endpoints: Mapping[str, str],
    needs_key: bool,
    *,
    example_tool: str | None = None,
    example_arguments: Mapping[str, Any] | None = None,
) -> list[ClientConfig]:
    """Claude Desktop, Cursor, VS Code, the mcp-remote command line and curl, in that order.

    `example_tool` (and its `example_arguments`) is what the curl example calls; without it the
    example names a placeholder tool."""
    mcp = endpoints["mcp"]
    return [
        claude_desktop(server_name, mcp, needs_key),
        cursor(server_name, mcp, needs_key),
        vscode(server_name, mcp, needs_key),
        mcp_remote(mcp, needs_key),
        curl(rest_base(mcp), needs_key, example_tool, example_arguments),
    ]


def claude_desktop(server_name: str, url: str, needs_key: bool) -> ClientConfig:
    # Claude Desktop's config file starts local (stdio) servers; mcp-remote is the bridge. The key
    # goes through the environment, as `Authorization:${AUTH_HEADER}` without spaces: some clients
    # split arguments on spaces when they start npx.
    args = ["-y", "mcp-remote", url, *_allow_http(url)]
    entry: dict[str, Any] = {"command": "npx", "args": args}
    if needs_key:
        args += ["--header", "Authorization:${AUTH_HEADER}"]
        entry["env"] = {"AUTH_HEADER": f"Bearer {API_KEY_PLACEHOLDER}"}
    return ClientConfig(
        "Claude Desktop",
        "claude_desktop_config.json (Settings → Developer → Edit Config), merged into mcpServers",
        _json({"mcpServers": {_entry_name(server_name): entry}}),
        note="Claude Desktop starts mcp-remote (Node.js 18 or later), which connects to the gateway.",
    )


def cursor(server_name: str, url: str, needs_key: bool) -> ClientConfig:
    entry: dict[str, Any] = {"url": url}
    if needs_key:
        entry["headers"] = {"Authorization": f"Bearer {API_KEY_PLACEHOLDER}"}
    return ClientConfig(
        "Cursor",
        "~/.cursor/mcp.json (or .cursor/mcp.json in a project), merged into mcpServers",
        _json({"mcpServers": {_entry_name(server_name): entry}}),
    )


def vscode(server_name: str, url: str, needs_key: bool) -> ClientConfig:
    entry: dict[str, Any] = {"type": "http", "url": url}
    document: dict[str, Any] = {}
    if needs_key:
        # VS Code asks for the key once, when the server first starts, and keeps it as a secret.
        document["inputs"] = [
            {"type": "promptString", "id": VSCODE_INPUT, "description": "mcpgate API key", "password": True}
        ]
        entry["headers"] = {"Authorization": f"Bearer ${{input:{VSCODE_INPUT}}}"}
    document["servers"] = {_entry_name(server_name): entry}
    return ClientConfig(
        "VS Code",
        ".vscode/mcp.json (or MCP: Open User Configuration), merged into servers",
        _json(document),
        note="VS Code asks for the key when the server first starts." if needs_key else "",
    )


def mcp_remote(url: str, needs_key: bool) -> ClientConfig:
    lines = [["npx", "-y", "mcp-remote", url, *_allow_http(url)]]
    if needs_key:
        lines.append(["--header", f"Authorization: Bearer {API_KEY_PLACEHOLDER}"])
    return ClientConfig(
        "mcp-remote",
        "a terminal, or any client that starts a local (stdio) server from a command",
        _command(lines),
        language="shell",
    )


def curl(
    base: str, needs_key: bool, tool: str | None = None, arguments: Mapping[str, Any] | None = None
) -> ClientConfig:
    auth = [["-H", f"Authorization: Bearer {API_KEY_PLACEHOLDER}"]] if needs_key else []
    body = json.dumps({"name": tool or "<TOOL_NAME>", "arguments": dict(arguments or {})}, ensure_ascii=False)
    listing = [["curl", "-s", f"{base}/tools"], *auth]
    call = [
        ["curl", "-s", "-X", "POST", f"{base}/call-tool"],
        *auth,
        ["-H", "content-type: application/json"],
        ["-d", body],
    ]
    text = "\n".join(
        [
            "# the tools, as JSON (?format=openai: as OpenAI function definitions)",
            _command(listing),
            "",
            "# call one",
            _command(call),
        ]
    )
    return ClientConfig("curl (REST)", "a terminal; the OpenAPI document is at …/openapi.json", text, language="shell")


def rest_base(mcp_url: str) -> str:
    """The REST face of an endpoint: `/servers/x/mcp` → `/servers/x` (`/tools`, `/call-tool` below it)."""
    return mcp_url.removesuffix("/").removesuffix("/mcp")


def example_arguments(input_schema: Any) -> dict[str, Any]:
    """Placeholder arguments for a tool's required properties: `{"text": "<text>", "a": 0}`."""
    if not isinstance(input_schema, Mapping):
        return {}
    properties = input_schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = input_schema.get("required")
    names = [name for name in required if isinstance(name, str)] if isinstance(required, list) else []
    return {name: _placeholder(name, properties.get(name)) for name in names}


def _placeholder(name: str, schema: Any) -> Any:
    if not isinstance(schema, Mapping):  # `true`, or a schema no tool should send: a plain placeholder
        return f"<{name}>"
    if "default" in schema:
        return schema["default"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return {"integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}.get(str(kind), f"<{name}>")


def _allow_http(url: str) -> list[str]:
    parts = urlsplit(url)
    return ["--allow-http"] if parts.scheme == "http" and parts.hostname not in _MCP_REMOTE_PLAIN_HTTP_HOSTS else []


def _entry_name(server_name: str) -> str:
    # VS Code's schema wants an entry name to start with a letter; a slug may start with a digit.
    return server_name if server_name[:1].isalpha() else f"mcpgate-{server_name}"


def _json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)


def _command(lines: list[list[str]]) -> str:
    """One command over several lines (a backslash at each end but the last), for reading."""
    return " \\\n  ".join(" ".join(_shell(word) for word in line) for line in lines)


def _shell(word: str) -> str:
    # Double quotes for a word with spaces or a placeholder's angle brackets: what people expect
    # to read, and still one word to the shell (nothing in these words is special inside them).
    if shlex.quote(word) == word:
        return word
    if not any(c in word for c in '"$`\\!'):
        return f'"{word}"'
    return shlex.quote(word)
