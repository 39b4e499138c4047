#!/usr/bin/env bash
# Install one Debian package the tests need, unless its program is already there. Only the
# distribution's package is used; nothing else is fetched. Sourced by install-browser.sh and
# install-haproxy.sh, which say which package and how to tell it is installed.
#
#   debian_package <package> <installed-check-function> [--check]
#     --check: exit 0 if installed, 1 otherwise (installs nothing)

debian_package() {
  local package="$1" installed="$2" mode="${3:-}"
  if "$installed"; then
    return 0
  fi
  if [[ "$mode" == "--check" ]]; then
    echo "$package is not installed (scripts/$(basename "$0") installs it)" >&2
    return 1
  fi
  local sudo=""
  [[ "$(id -u)" != "0" ]] && sudo=sudo
  echo "[$(basename "$0" .sh)] installing Debian's $package" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "$package" >/dev/null
  "$installed"
}
