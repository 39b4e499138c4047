#!/usr/bin/env bash
# Install the peer gateways for the side-by-side benchmarks (issue #9) into bench/peers/,
# each in its own environment (never the project's .venv or pyproject).
#
#   bench/peers/install.sh           install what is missing or out of date (fast no-op otherwise)
#   bench/peers/install.sh --force   reinstall everything
#   bench/peers/install.sh --check   exit 0 if everything is installed and up to date, 1 otherwise
#
# What gets installed (all pinned; see README.md for how to run each one):
#   .venv-contextforge  IBM ContextForge, PyPI mcp-contextforge-gateway 1.0.7.post20260921
#                       (full dependency pin set: requirements-contextforge.txt)
#   .venv-mcp-proxy     sparfenyuk's mcp-proxy, PyPI mcp-proxy 0.13.0 (requirements-mcp-proxy.txt)
#   node_modules        supergateway 4.0.0 from npm (package.json + package-lock.json, `npm ci`)
#   bin/                wrappers: bin/supergateway (runs with Node >= 20, preferring the project's
#                       Node 22 from scripts/install-node-tools.sh), bin/mcp-proxy, bin/mcpgateway,
#                       bin/node (the Node the wrappers use)
#
# Environment overrides:
#   PYTHON  interpreter for the venvs (default: python3.11, else python3; needs >= 3.11)
#   NPM     npm executable (default: npm on PATH)
#   NODE    Node used by bin/supergateway (default: <repo>/.tools/node/node_modules/.bin/node if it is
#           Node 22, else `node` on PATH if >= 20)
# Only PyPI (through pip) and the npm registry (through npm) are contacted.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NPM="${NPM:-npm}"
CONTEXTFORGE_VERSION=1.0.7.post20260921
MCP_PROXY_VERSION=0.13.0
SUPERGATEWAY_VERSION=4.0.0

MODE=install
case "${1:-}" in
  "") ;;
  --force) MODE=force ;;
  --check) MODE=check ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
esac

log() { printf '[peers/install] %s\n' "$*" >&2; }

pick_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  if command -v python3.11 >/dev/null; then command -v python3.11; return; fi
  command -v python3
}

pick_node() {  # prints the node to use, or nothing
  local n v
  for n in "${NODE:-}" "$ROOT/.tools/node/node_modules/.bin/node" "$(command -v node || true)"; do
    [ -n "$n" ] && [ -x "$n" ] || continue
    v="$("$n" --version 2>/dev/null)" || continue
    v="${v#v}"; v="${v%%.*}"
    if [ "$v" -ge 20 ] 2>/dev/null; then echo "$n"; return; fi
  done
}

stamp_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

venv_ok() {  # dir, requirements file
  [ -x "$HERE/$1/bin/python" ] && [ -f "$HERE/$1/.install-stamp" ] \
    && [ "$(cat "$HERE/$1/.install-stamp")" = "$(stamp_of "$HERE/$2")" ]
}

npm_ok() {
  [ -f "$HERE/node_modules/supergateway/package.json" ] && [ -f "$HERE/node_modules/.install-stamp" ] \
    && [ "$(cat "$HERE/node_modules/.install-stamp")" = "$(stamp_of "$HERE/package.json" "$HERE/package-lock.json")" ]
}

wrappers_ok() {
  [ -x "$HERE/bin/supergateway" ] && [ -x "$HERE/bin/mcp-proxy" ] && [ -x "$HERE/bin/mcpgateway" ]
}

all_ok() {
  venv_ok .venv-contextforge requirements-contextforge.txt && venv_ok .venv-mcp-proxy requirements-mcp-proxy.txt \
    && npm_ok && wrappers_ok
}

report() {
  local node
  node="$(pick_node)"
  echo "Peer gateways in $HERE"
  printf '  %-26s %s  (%s)\n' "mcp-contextforge-gateway" \
    "$("$HERE/.venv-contextforge/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp-contextforge-gateway"))')" \
    "$(du -sh "$HERE/.venv-contextforge" | cut -f1)"
  printf '  %-26s %s  (%s)\n' "mcp-proxy" \
    "$("$HERE/.venv-mcp-proxy/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp-proxy"))')" \
    "$(du -sh "$HERE/.venv-mcp-proxy" | cut -f1)"
  printf '  %-26s %s  (%s)  node %s = %s\n' "supergateway" \
    "$("$node" -p "require('$HERE/node_modules/supergateway/package.json').version")" \
    "$(du -sh "$HERE/node_modules" | cut -f1)" "$("$node" --version)" "$node"
  echo "  wrappers: $HERE/bin/{supergateway,mcp-proxy,mcpgateway,node}"
}

if [ "$MODE" = check ]; then
  if all_ok; then echo "up to date: $HERE"; exit 0; fi
  echo "not installed or out of date: $HERE (run $0)"; exit 1
fi

if [ "$MODE" = install ] && all_ok; then report; exit 0; fi

PY="$(pick_python)"
"$PY" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
  || { log "$PY is older than 3.11 (set PYTHON=...)"; exit 1; }

install_venv() {  # dir, requirements file, top-level package==version (sanity check)
  local dir="$HERE/$1" req="$HERE/$2" top="$3"
  if [ "$MODE" = install ] && venv_ok "$1" "$2"; then return; fi
  log "creating $dir ($("$PY" --version)) from $2"
  rm -rf "$dir"
  "$PY" -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$req" "$top"
  stamp_of "$req" >"$dir/.install-stamp"
}

install_venv .venv-contextforge requirements-contextforge.txt "mcp-contextforge-gateway==$CONTEXTFORGE_VERSION"
install_venv .venv-mcp-proxy requirements-mcp-proxy.txt "mcp-proxy==$MCP_PROXY_VERSION"

NODE_BIN="$(pick_node)"
[ -n "$NODE_BIN" ] || { log "no Node >= 20 found (run scripts/install-node-tools.sh, or set NODE=...)"; exit 1; }
if [ "$MODE" = force ] || ! npm_ok; then
  command -v "$NPM" >/dev/null || { log "npm not found (set NPM=...)"; exit 1; }
  log "installing supergateway $SUPERGATEWAY_VERSION into $HERE/node_modules (npm ci, node $("$NODE_BIN" --version))"
  # npm itself runs on the chosen Node (first on PATH); --ignore-scripts: supergateway needs no install scripts.
  (cd "$HERE" && PATH="$(dirname "$NODE_BIN"):$PATH" "$NPM" ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  stamp_of "$HERE/package.json" "$HERE/package-lock.json" >"$HERE/node_modules/.install-stamp"
fi

# Wrappers. They resolve paths at run time, so the tree can move; bin/ is git-ignored.
mkdir -p "$HERE/bin"
cat >"$HERE/bin/node" <<'EOF'
#!/bin/sh
# Generated by bench/peers/install.sh: the Node the peers use. Prefers $NODE, then the project's
# Node 22 (scripts/install-node-tools.sh), then `node` on PATH; requires >= 20.
D="$(cd "$(dirname "$0")/../../.." && pwd)"
for n in "${NODE:-}" "$D/.tools/node/node_modules/.bin/node" "$(command -v node)"; do
  [ -n "$n" ] && [ -x "$n" ] || continue
  v="$("$n" --version 2>/dev/null)" || continue
  v="${v#v}"; v="${v%%.*}"
  [ "$v" -ge 20 ] 2>/dev/null && exec "$n" "$@"
done
echo "bench/peers/bin/node: no Node >= 20 found" >&2
exit 1
EOF
cat >"$HERE/bin/supergateway" <<'EOF'
#!/bin/sh
# Generated by bench/peers/install.sh: supergateway run with bench/peers/bin/node.
D="$(cd "$(dirname "$0")/.." && pwd)"
exec "$D/bin/node" "$D/node_modules/supergateway/dist/index.js" "$@"
EOF
cat >"$HERE/bin/mcp-proxy" <<'EOF'
#!/bin/sh
# Generated by bench/peers/install.sh.
D="$(cd "$(dirname "$0")/.." && pwd)"
exec "$D/.venv-mcp-proxy/bin/mcp-proxy" "$@"
EOF
cat >"$HERE/bin/mcpgateway" <<'EOF'
#!/bin/sh
# Generated by bench/peers/install.sh. Needs the environment from contextforge_env.sh (secrets etc.).
D="$(cd "$(dirname "$0")/.." && pwd)"
exec "$D/.venv-contextforge/bin/mcpgateway" "$@"
EOF
chmod +x "$HERE/bin/node" "$HERE/bin/supergateway" "$HERE/bin/mcp-proxy" "$HERE/bin/mcpgateway"

# Smoke tests.
"$HERE/bin/supergateway" --version >/dev/null
"$HERE/bin/mcp-proxy" --version >/dev/null
"$HERE/.venv-contextforge/bin/python" -c 'import mcpgateway' >/dev/null
report
