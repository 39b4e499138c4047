#!/usr/bin/env bash
# End-to-end check of every peer (and mcpgate) in front of the benchmark upstreams:
# starts each one on loopback, runs initialize + tools/list + tools/call echo through it with the
# official SDK client (check_echo.py, SSE and Streamable HTTP) and with the raw latency.py-style
# client (probe_raw.py), then stops everything it started. Run bench/peers/install.sh first.
#
#   bench/peers/verify.sh            all peers
#   bench/peers/verify.sh mcp-proxy  only some: upstream mcpgate contextforge mcp-proxy supergateway cf-translate
#
# Ports: picked free by the OS. Every wait is bounded. Exit status = number of failed checks.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="$ROOT/.venv/bin/python"
STDIO_CMD="$PY $HERE/stdio_echo.py"
WORK="$(mktemp -d /tmp/peers-verify.XXXXXX)"
PIDS=()
FAILED=0
ONLY=("$@")

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

want() { [ ${#ONLY[@]} -eq 0 ] || [[ " ${ONLY[*]} " == *" $1 "* ]]; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() {  # logname, command...  (runs in background, records the pid)
  local name="$1"; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
}
wait_http() {  # url [seconds]
  local i
  for i in $(seq $(( ${2:-60} * 4 ))); do
    curl -s -m 2 -o /dev/null "$1" && return 0
    sleep 0.25
  done
  echo "  timed out waiting for $1" >&2
  return 1
}
wait_port() {  # port [seconds]  (for servers whose GET would hang, e.g. a stream)
  local i
  for i in $(seq $(( ${2:-60} * 4 ))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.25
  done
  echo "  timed out waiting for port $1" >&2
  return 1
}
check() {  # label, check_echo args...
  local label="$1"; shift
  if timeout 60 "$PY" "$HERE/check_echo.py" "$@" >"$WORK/check.out" 2>&1; then
    printf '  ok    %-44s %s\n' "$label" "$(tail -1 "$WORK/check.out")"
  else
    printf '  FAIL  %-44s\n' "$label"; sed 's/^/        /' "$WORK/check.out" | tail -5
    FAILED=$((FAILED + 1))
  fi
}
probe() {  # label, probe_raw args...
  local label="$1"; shift
  if timeout 60 "$PY" "$HERE/probe_raw.py" "$@" >"$WORK/probe.out" 2>&1; then
    printf '  ok    %-44s %s\n' "$label" "$(grep '^tools/call' "$WORK/probe.out" | cut -d' ' -f1-3)"
  else
    printf '  FAIL  %-44s\n' "$label"; sed 's/^/        /' "$WORK/probe.out" | tail -5
    FAILED=$((FAILED + 1))
  fi
}

UP_PORT="$(free_port)"
start upstream "$PY" "$ROOT/bench/upstream.py" "$UP_PORT"
wait_port "$UP_PORT" 30 || true
UP="http://127.0.0.1:$UP_PORT/mcp"

if want upstream; then
  echo "upstream (bench/upstream.py, Streamable HTTP) $UP"
  check "direct http" http "$UP"
  probe "direct raw" "$UP"
fi

if want mcpgate; then
  echo "mcpgate"
  P="$(free_port)"
  start mcpgate-wrap "$ROOT/.venv/bin/mcpgate" wrap --port "$P" --log-level warning -- $STDIO_CMD
  if wait_http "http://127.0.0.1:$P/health" 60; then
    check "wrap stdio -> http" http "http://127.0.0.1:$P/mcp"
    check "wrap stdio -> sse" sse "http://127.0.0.1:$P/sse"
    probe "wrap raw" "http://127.0.0.1:$P/mcp"
  else FAILED=$((FAILED + 1)); fi
  P="$(free_port)"
  printf '{"mcpServers":{"up":{"url":"%s","type":"http"}},"database_url":"sqlite+aiosqlite://"}' "$UP" >"$WORK/gateway.json"
  start mcpgate-serve "$ROOT/.venv/bin/mcpgate" serve --config "$WORK/gateway.json" --port "$P" --log-level warning
  if wait_http "http://127.0.0.1:$P/health" 60; then
    check "serve http-upstream -> http" http "http://127.0.0.1:$P/mcp"
    check "serve http-upstream -> sse" sse "http://127.0.0.1:$P/sse"
    probe "serve raw" "http://127.0.0.1:$P/mcp" --tool up_echo
  else FAILED=$((FAILED + 1)); fi
fi

if want contextforge; then
  echo "contextforge (gateway in front of the HTTP upstream; redis cache)"
  P="$(free_port)"; RP="$(free_port)"
  "$HERE/contextforge_env.sh" "$WORK/cf" "$P" "$RP" >/dev/null
  start redis redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/cf"
  # shellcheck disable=SC1091
  ( . "$WORK/cf/env.sh" && exec "$HERE/.venv-contextforge/bin/mcpgateway" --host 127.0.0.1 --port "$P" ) >"$WORK/contextforge.log" 2>&1 &
  PIDS+=("$!")
  if wait_http "http://127.0.0.1:$P/health" 120 \
     && ( . "$WORK/cf/env.sh" && timeout 120 "$HERE/.venv-contextforge/bin/python" "$HERE/contextforge_register.py" \
            --base "http://127.0.0.1:$P" --upstream "$UP" ) >"$WORK/cf/reg.json"; then
    read -r TOKEN MCP_URL SSE_URL TOOL < <("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["token"], r["mcp_url"], r["sse_url"], r["tool"])' "$WORK/cf/reg.json")
    check "virtual server -> http" http "$MCP_URL" --header "Authorization: Bearer $TOKEN"
    check "virtual server -> sse" sse "$SSE_URL" --header "Authorization: Bearer $TOKEN"
    probe "virtual server raw" "$MCP_URL" --tool "$TOOL" --header "Authorization: Bearer $TOKEN"
  else
    echo "  FAIL  contextforge did not start or register (log: tail of $WORK/contextforge.log)"; tail -5 "$WORK/contextforge.log"
    FAILED=$((FAILED + 1))
  fi
fi

if want cf-translate; then
  echo "contextforge translate (stdio bridge: python -m mcpgateway.translate)"
  P="$(free_port)"
  [ -f "$WORK/cf/env.sh" ] || "$HERE/contextforge_env.sh" "$WORK/cf" 1 >/dev/null
  ( . "$WORK/cf/env.sh" && exec "$HERE/.venv-contextforge/bin/python" -m mcpgateway.translate --stdio "$STDIO_CMD" \
      --expose-sse --expose-streamable-http --jsonResponse --port "$P" --logLevel warning ) >"$WORK/translate.log" 2>&1 &
  PIDS+=("$!")
  if wait_http "http://127.0.0.1:$P/healthz" 60; then
    check "translate stdio -> http" http "http://127.0.0.1:$P/mcp"
    check "translate stdio -> sse" sse "http://127.0.0.1:$P/sse"
    probe "translate raw" "http://127.0.0.1:$P/mcp"
  else FAILED=$((FAILED + 1)); fi
fi

if want mcp-proxy; then
  echo "mcp-proxy (stdio -> SSE + Streamable HTTP)"
  P="$(free_port)"
  start mcp-proxy "$HERE/bin/mcp-proxy" --port "$P" --log-level WARNING -- $STDIO_CMD
  if wait_http "http://127.0.0.1:$P/status" 60; then
    check "stdio -> http" http "http://127.0.0.1:$P/mcp"
    check "stdio -> sse" sse "http://127.0.0.1:$P/sse"
    probe "raw" "http://127.0.0.1:$P/mcp"
  else FAILED=$((FAILED + 1)); fi
fi

if want supergateway; then
  echo "supergateway (node $("$HERE/bin/node" --version))"
  P="$(free_port)"
  start sg-sse "$HERE/bin/supergateway" --stdio "$STDIO_CMD" --port "$P" --healthEndpoint /healthz --logLevel none
  if wait_http "http://127.0.0.1:$P/healthz" 60; then
    check "stdio -> sse" sse "http://127.0.0.1:$P/sse"
  else FAILED=$((FAILED + 1)); fi
  P="$(free_port)"
  start sg-http "$HERE/bin/supergateway" --stdio "$STDIO_CMD" --outputTransport streamableHttp --stateful \
    --port "$P" --healthEndpoint /healthz --logLevel none
  if wait_http "http://127.0.0.1:$P/healthz" 60; then
    check "stdio -> http (--stateful)" http "http://127.0.0.1:$P/mcp"
    probe "raw (--stateful)" "http://127.0.0.1:$P/mcp"
  else FAILED=$((FAILED + 1)); fi
  P="$(free_port)"
  start sg-http-sl "$HERE/bin/supergateway" --stdio "$STDIO_CMD" --outputTransport streamableHttp \
    --port "$P" --healthEndpoint /healthz --logLevel none
  if wait_http "http://127.0.0.1:$P/healthz" 60; then
    check "stdio -> http (stateless)" http "http://127.0.0.1:$P/mcp"
  else FAILED=$((FAILED + 1)); fi
fi

echo "failed checks: $FAILED"
exit "$FAILED"
