"""Read a gateway config file (YAML or JSON) into `GatewaySettings`.

The file accepts the Claude Desktop `mcpServers` format unchanged::

    {"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
        "remote": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}
    }}

plus mcpgate's own keys (`host`, `port`, `nameSeparator`, `timeouts`, `edge`, and per
server `prefix`, `timeout`, `enabled`, `cwd`) and `virtualServers` (a mapping of name →
`{description, mode, selectedTools, externalMcpConfigs, config, isPublic}`). `${VAR}` (or `${VAR:-default}`) in any
string is read from the environment; a variable that is unset and has no default is an
error naming it, never an empty string slipped into a header.

`MCPGATE_*` environment variables fill in what the file leaves out (see `settings.py`); a variable
that cannot be used is an error naming it, as a bad key in the file is.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, ValidationError
from pydantic_settings import SettingsError

from mcpgate.errors import ConfigError
from mcpgate.settings import GatewaySettings

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_SSE_TYPES = {"sse"}
_STREAMABLE_TYPES = {"http", "streamable-http", "streamable_http", "streamablehttp", "mcp"}
_STDIO_TYPES = {"stdio"}
_OPENAPI_TYPES = {"openapi"}
_COLLECTION_TYPES = {"collection"}


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> GatewaySettings:
    """Parse, expand and validate a config file; every problem becomes one `ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    if path.suffix.lower() == ".json":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    else:
        import yaml  # only for a YAML config: `wrap` and a JSON config need none

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(raw).__name__}")
    expanded = expand_env(raw, os.environ if environ is None else environ, where=str(path))
    return settings_from_mapping(expanded, source=str(path))


def expand_env(value: Any, environ: Mapping[str, str], where: str = "config") -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string of a parsed document."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{where}: environment variable {name} is not set (used as ${{{name}}})")

        return _VAR.sub(substitute, value)
    if isinstance(value, list):
        return [expand_env(item, environ, where) for item in value]
    if isinstance(value, dict):
        return {key: expand_env(item, environ, where) for key, item in value.items()}
    return value


def settings_from_mapping(raw: Mapping[str, Any], source: str = "config") -> GatewaySettings:
    data = dict(raw)
    servers = data.pop("mcpServers", None)
    if servers is None:
        servers = data.pop("mcp_servers", None)
    upstreams = list(data.pop("upstreams", []) or [])
    if servers is not None:
        if not isinstance(servers, dict):
            raise ConfigError(f"{source}: mcpServers must be a mapping of name -> server")
        for name, spec in servers.items():
            upstreams.append(upstream_from_claude(name, spec, source))
    data["upstreams"] = upstreams
    virtual = data.pop("virtualServers", data.pop("servers", None))
    if isinstance(virtual, dict):  # {name: {...}} as mcpServers does it
        virtual = [{"name": name, **(spec if isinstance(spec, dict) else {})} for name, spec in virtual.items()]
    if virtual is not None:
        data["servers"] = virtual
    try:
        return GatewaySettings(**data)
    except ValidationError as exc:
        names = [str(u.get("name", i)) if isinstance(u, dict) else str(i) for i, u in enumerate(upstreams)]
        raise ConfigError(_describe(exc, names, data, source)) from exc
    except SettingsError as exc:  # a variable pydantic-settings could not even parse (JSON)
        raise ConfigError(_describe_environment_error(exc)) from exc


def upstream_from_claude(name: str, spec: Any, source: str = "config") -> dict[str, Any]:
    """Map one `mcpServers` entry to an upstream mapping with an explicit `kind`."""
    if not isinstance(spec, dict):
        raise ConfigError(f"{source}: mcpServers.{name} must be a mapping")
    entry = {"name": name, **spec}
    declared = str(entry.pop("type", entry.pop("transport", "")) or "").lower()
    if "kind" in entry:
        return _relative_to_file(entry, source)
    if declared in _OPENAPI_TYPES or ("spec" in entry and not declared):
        entry["kind"] = "openapi"
        return _relative_to_file(entry, source)
    if declared in _COLLECTION_TYPES or ("location" in entry and not declared):
        entry["kind"] = "collection"
        return _relative_to_file(entry, source)
    if declared in _STDIO_TYPES or ("command" in entry and not declared):
        entry["kind"] = "stdio"
    elif declared in _SSE_TYPES:
        entry["kind"] = "sse"
    elif declared in _STREAMABLE_TYPES:
        entry["kind"] = "streamable_http"
    elif declared:
        raise ConfigError(
            f"{source}: mcpServers.{name}.type {declared!r} is unknown; "
            "use stdio, sse, streamable-http, openapi or collection"
        )
    elif "url" in entry:
        # Claude-style configs often omit the type: a path ending in /sse is the legacy transport.
        entry["kind"] = "sse" if str(entry["url"]).rstrip("/").endswith("/sse") else "streamable_http"
    else:
        raise ConfigError(
            f"{source}: mcpServers.{name} needs `command` (stdio), `url` (remote), `spec` (an OpenAPI catalog) "
            "or `location` (a collection of records)"
        )
    return entry


def _relative_to_file(entry: dict[str, Any], source: str) -> dict[str, Any]:
    """Paths an OpenAPI catalog (`spec`, `guides`) or a collection (`location`) names, when relative,
    are relative to the config file."""
    if entry.get("kind") not in ("openapi", "collection") or not Path(source).is_file():
        return entry
    folder = Path(source).resolve().parent
    for key in ("spec", "guides", "location"):
        value = entry.get(key)
        if isinstance(value, str) and value and value != "self" and "://" not in value:
            path = Path(value).expanduser()
            entry[key] = str(path if path.is_absolute() else folder / path)
    return entry


def _describe(exc: ValidationError, upstream_names: list[str], given: Mapping[str, Any], source: str) -> str:
    """Pydantic's locations, but naming the server (`mcpServers.files.command`), not its index, and
    the environment variable a value came from when `source` did not give it."""
    parts: list[str] = []
    from_environment: list[str] = []
    for error in exc.errors():
        loc = [p for p in error["loc"] if not (isinstance(p, str) and p in _KIND_TAGS)]
        variables = [] if not loc or _given(str(loc[0]), given) else _environment_variables(str(loc[0]), loc[1:])
        if len(loc) >= 2 and loc[0] == "upstreams" and isinstance(loc[1], int) and loc[1] < len(upstream_names):
            loc = ["mcpServers", upstream_names[loc[1]], *loc[2:]]
        part = f"{'.'.join(str(p) for p in loc) or 'config'}: {error['msg']}"
        if variables:
            from_environment.append(f"environment variable {' or '.join(variables)}: {part}")
        else:
            parts.append(part)
    from_source = [f"{source}: {'; '.join(parts)}"] if parts else []
    return "; ".join([*from_source, *from_environment])


def _describe_environment_error(exc: SettingsError) -> str:
    """pydantic-settings names only the field ('error parsing value for field "edge"…'): name the
    variable, and what is wrong with its value (not the value: it may hold a secret)."""
    found = re.search(r'field "([^"]+)"', str(exc))
    field = found.group(1) if found else "*"
    variables = _environment_variables(field) or [f"MCPGATE_{field.upper()}"]
    cause = exc.__cause__
    if isinstance(cause, json.JSONDecodeError):
        variables = [name for name in variables if not _parses(os.environ.get(name, ""))] or variables
        reason = f"not valid JSON ({cause})"
    else:
        reason = str(cause or exc)
    return f"environment variable {' or '.join(variables)}: {reason}"


def _names_of(field: str) -> list[str]:
    """A top-level setting's name and aliases (`rate_limits`, `rateLimits`)."""
    info = GatewaySettings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    return [field, *(a for a in alias.choices if isinstance(a, str))] if isinstance(alias, AliasChoices) else [field]


def _given(field: str, given: Mapping[str, Any]) -> bool:
    return any(name in given for name in _names_of(field))


def _environment_variables(field: str, within: Sequence[object] = ()) -> list[str]:
    """The MCPGATE_* variables set for a top-level setting, whole (MCPGATE_EDGE) or nested
    (MCPGATE_EDGE__MAX_CONNECTIONS), in any case (pydantic-settings ignores it); only the one for
    the nested setting `within` names, when it is set."""
    wholes = {f"{GatewaySettings.model_config.get('env_prefix', '')}{name}".upper() for name in _names_of(field)}
    found = sorted(name for name in os.environ if name.upper().split("__", 1)[0] in wholes)
    exact = {"__".join([whole, *(str(part).upper() for part in within)]) for whole in wholes}
    return [name for name in found if name.upper() in exact] or found


def _parses(value: str) -> bool:
    if not value.lstrip().startswith(("{", "[")):
        return True  # not meant as JSON (a plain value of a nested setting)
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


_KIND_TAGS = {"stdio", "sse", "streamable_http"}
