#!/usr/bin/env bash
# Install the load balancer the fleet tests put in front of their replicas (tests/fleet) and that
# deploy/haproxy.cfg is checked with: Debian's HAProxy (/usr/sbin/haproxy). The tests start haproxy
# processes of their own, each with a generated configuration; they do not use the system service
# the package ships (its default configuration listens on no port).
#
#   scripts/install-haproxy.sh          install if missing (a fast no-op otherwise)
#   scripts/install-haproxy.sh --check  exit 0 if installed, 1 otherwise (installs nothing)
set -euo pipefail
source "$(dirname "$0")/debian-package.sh"

# /usr/sbin is not on every user's PATH, and that is where Debian puts it.
installed() { command -v haproxy >/dev/null 2>&1 || [[ -x /usr/sbin/haproxy ]]; }

debian_package haproxy installed "${1:-}"
