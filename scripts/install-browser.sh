#!/usr/bin/env bash
# Install the headless browser the UI and docs-page tests drive: Debian's Chromium
# (/usr/bin/chromium). Browsers cannot be downloaded by their own installers here, so the
# distribution's package is the one used; nothing else is fetched.
#
#   scripts/install-browser.sh          install if missing (a fast no-op otherwise)
#   scripts/install-browser.sh --check  exit 0 if installed, 1 otherwise (installs nothing)
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  echo "chromium is not installed (scripts/install-browser.sh installs it)" >&2
  exit 1
fi
if [[ "$(id -u)" != "0" ]]; then
  SUDO=sudo
else
  SUDO=
fi
echo "[install-browser] installing Debian's chromium" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
