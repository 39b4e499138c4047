"""RFC 6570 URI templates (resource templates), parsed and matched by the SDK's own code.

`mcp.shared.uri_template` imports only the standard library, but `import mcp.shared.uri_template`
first runs the SDK's package `__init__`, which builds every protocol model (~18 MB, ~0.4 s;
see spec.py). So the module is loaded from the SDK's installed file by itself, under a private
name; when the SDK is imported anyway (tests, an in-process server) its module is used as is.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

_SDK_MODULE = "mcp.shared.uri_template"


def _load() -> ModuleType:
    if (loaded := sys.modules.get(_SDK_MODULE)) is not None:
        return loaded
    package = importlib.util.find_spec("mcp")  # finds the installed package without running it
    if package is None or not package.submodule_search_locations:
        raise ImportError("the mcp package (the official SDK) is not installed")
    path = Path(next(iter(package.submodule_search_locations))) / "shared" / "uri_template.py"
    spec = importlib.util.spec_from_file_location(f"{__name__}._sdk", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from mcp.shared.uri_template import InvalidUriTemplate, UriTemplate
else:
    _module = _load()
    UriTemplate = _module.UriTemplate
    InvalidUriTemplate = _module.InvalidUriTemplate

__all__ = ["InvalidUriTemplate", "UriTemplate"]
