#!/usr/bin/env bash
# Installs the named Debian packages (after `apt-get update`), with sudo when not root. Callers
# name only what is missing, so a machine that has everything never touches apt. Its messages go
# to stderr: callers' stdout may be a value (ensure-postgres.sh prints a URL).
set -euo pipefail
[ $# -gt 0 ] || exit 0
echo "installing Debian packages: $*" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >&2
