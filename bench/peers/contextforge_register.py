"""Register the benchmark upstream with a running ContextForge and create a virtual server.

Run with ContextForge's own interpreter and the same environment the gateway was started
with (it needs JWT_SECRET_KEY to mint the admin token):

    . "$STATE/env.sh"      # written by contextforge_start.sh
    bench/peers/.venv-contextforge/bin/python bench/peers/contextforge_register.py \
        --base http://127.0.0.1:4444 --upstream http://127.0.0.1:8001/mcp

Prints one JSON object: token, gateway_id, server_id, tool, mcp_url, sse_url. Clients send
`Authorization: Bearer <token>` on every request (AUTH_REQUIRED=true) and call the tool by
its federated name (`<gateway-slug>-echo`, e.g. `bench-upstream-echo`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request


def mint_token(email: str, minutes: int) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpgateway.utils.create_jwt_token",
            "--username",
            email,
            "--exp",
            str(minutes),
            "--secret",
            os.environ["JWT_SECRET_KEY"],
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout.strip().splitlines()[-1]


def call(method: str, url: str, token: str, body: dict | None = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{method} {url} -> {exc.code}: {exc.read()[:500]!r}") from None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="ContextForge base URL, e.g. http://127.0.0.1:4444")
    p.add_argument("--upstream", required=True, help="the upstream's Streamable HTTP URL")
    p.add_argument("--name", default="bench-upstream", help="gateway name (its slug prefixes tool names)")
    p.add_argument("--email", default=os.environ.get("PLATFORM_ADMIN_EMAIL", "admin@example.com"))
    p.add_argument("--token-minutes", type=int, default=24 * 60)
    a = p.parse_args()
    base = a.base.rstrip("/")
    token = mint_token(a.email, a.token_minutes)

    gateway = call(
        "POST", f"{base}/gateways", token, {"name": a.name, "url": a.upstream, "transport": "STREAMABLEHTTP"}
    )
    gateway_id = gateway["id"]
    # Tool discovery happens during registration; poll briefly in case it lags.
    deadline = time.monotonic() + 30
    while True:
        tools = [t for t in call("GET", f"{base}/tools", token) if t.get("gatewayId") == gateway_id]
        if tools or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    echo = [t for t in tools if t.get("originalName") == "echo"]
    if not echo:
        raise SystemExit(f"no echo tool discovered from {a.upstream}: {tools!r}")
    server = call(
        "POST",
        f"{base}/servers",
        token,
        {"server": {"name": "bench", "description": "benchmark echo", "associated_tools": [echo[0]["id"]]}},
    )
    sid = server["id"]
    print(
        json.dumps(
            {
                "token": token,
                "gateway_id": gateway_id,
                "server_id": sid,
                "tool": echo[0]["name"],
                "mcp_url": f"{base}/servers/{sid}/mcp",
                "sse_url": f"{base}/servers/{sid}/sse",
            }
        )
    )


if __name__ == "__main__":
    main()
