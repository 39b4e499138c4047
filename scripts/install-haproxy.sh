#!/usr/bin/env bash
# Install the load balancer the fleet tests put in front of their replicas (tests/fleet) and that
# deploy/haproxy.cfg is checked with: Debian's HAProxy (/usr/sbin/haproxy). Only the distribution's
# package is used; nothing else is fetched. The tests start haproxy processes of their own, each with a
# generated configuration; they do not use the system service the package ships (its default
# configuration listens on no port).
#
#   scripts/install-haproxy.sh          install if missing (a fast no-op otherwise)
#   scripts/install-haproxy.sh --check  exit 0 if installed, 1 otherwise (installs nothing)
set -euo pipefail

# /usr/sbin is not on every user's PATH, and that is where Debian puts it.
installed() { command -v haproxy >/dev/null 2>&1 || [[ -x /usr/sbin/haproxy ]]; }

if installed; then
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  echo "haproxy is not installed (scripts/install-haproxy.sh installs it)" >&2
  exit 1
fi
if [[ "$(id -u)" != "0" ]]; then
  SUDO=sudo
else
  SUDO=
fi
echo "[install-haproxy] installing Debian's haproxy" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends haproxy >/dev/null
installed
