"""The interactive page for an OpenAPI document (Swagger UI), at `…/docs` beside `…/openapi.json`.

The page itself is static and needs no key: it holds no data, only a field for the API
key, which it keeps in the tab's sessionStorage and sends with every request it makes —
the document's own fetch included, so it works on endpoints that need a key.
"""

from __future__ import annotations

import json

from starlette.types import Send

MANAGEMENT_DOCS = "/api/v1/docs"  # the management API's page; every REST endpoint has its own …/docs
_SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mcpgate API</title>
<link rel="stylesheet" href="{ui}/swagger-ui.css">
<style>
  body {{ margin: 0; font-family: system-ui, sans-serif; }}
  form {{ display: flex; gap: .5rem; align-items: center; padding: .6rem 1rem; background: #1b1b1f; color: #eee; }}
  form input {{ flex: 0 1 28rem; padding: .3rem .5rem; }}
</style>
</head>
<body>
<form id="key">
  <label for="api-key">mcpgate API key</label>
  <input id="api-key" type="password" autocomplete="off" placeholder="only needed when the gateway asks for one">
  <button type="submit">Use key</button>
</form>
<div id="ui"></div>
<script src="{ui}/swagger-ui-bundle.js"></script>
<script>
  const KEY = "mcpgate-api-key";
  function render() {{
    SwaggerUIBundle({{
      url: {openapi_url},
      dom_id: "#ui",
      requestInterceptor: (request) => {{
        const key = sessionStorage.getItem(KEY);
        if (key) request.headers["Authorization"] = "Bearer " + key;
        return request;
      }},
    }});
  }}
  document.getElementById("key").addEventListener("submit", (event) => {{
    event.preventDefault();
    sessionStorage.setItem(KEY, document.getElementById("api-key").value.trim());
    render();
  }});
  render();
</script>
</body>
</html>
"""


def docs_page(openapi_url: str) -> bytes:
    """The page for the document at `openapi_url` (a path taken from the request: escaped as a JS string)."""
    literal = json.dumps(openapi_url).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _PAGE.format(ui=_SWAGGER_UI, openapi_url=literal).encode()


async def send_html(send: Send, page: bytes) -> None:
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(page)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": page})
