#!/usr/bin/env bash
# Install the headless browser the web UI's and docs pages' tests drive: Debian's Chromium
# (/usr/bin/chromium), through Playwright from PyPI. Browsers cannot be downloaded by their own
# installers here, so the distribution's package is the one used.
#
#   scripts/install-browser.sh          install if missing (a fast no-op otherwise)
#   scripts/install-browser.sh --check  exit 0 if installed, 1 otherwise (installs nothing)
set -euo pipefail
source "$(dirname "$0")/debian-package.sh"

installed() { command -v chromium >/dev/null 2>&1; }

debian_package chromium installed "${1:-}"
