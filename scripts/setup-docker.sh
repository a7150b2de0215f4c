#!/usr/bin/env bash
# Make a Docker engine available for the sandbox (idempotent).
#   - `docker info` already works: nothing to do.
#   - root on Debian: install docker.io if needed and start dockerd in the background.
#   - otherwise: explain what to do and exit 1.
# Also installs mmdebstrap (builds the sandbox image's base) when it can.
set -euo pipefail

LOG=/var/log/pgrader-dockerd.log
is_root() { [ "$(id -u)" -eq 0 ]; }
is_debian() { [ -r /etc/debian_version ] && command -v apt-get >/dev/null; }
updated=0
apt_install() {
    if [ "$updated" -eq 0 ]; then apt-get update -q; updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

if ! command -v mmdebstrap >/dev/null; then
    if is_root && is_debian; then
        apt_install mmdebstrap || echo "warning: could not install mmdebstrap" >&2
    else
        echo "note: mmdebstrap is missing; install it (apt-get install mmdebstrap) to build the sandbox image" >&2
    fi
fi

if docker info >/dev/null 2>&1; then
    echo "docker: the engine is running"
    exit 0
fi

if ! is_root || ! is_debian; then
    cat >&2 <<'MSG'
error: the Docker engine does not answer and this script can only set it up as root on Debian.
  - install Docker (https://docs.docker.com/engine/install/) and start it,
  - make sure your user may use it (e.g. member of the 'docker' group),
  - or grade with the local backend: --backend local (not a security boundary).
MSG
    exit 1
fi

if ! command -v dockerd >/dev/null; then
    apt_install docker.io
fi

if ! { pgrep -x dockerd || pidof dockerd; } >/dev/null 2>&1; then
    echo "docker: starting dockerd (log: $LOG)"
    # A session of its own: killing the process group of whoever ran this (a CI step, a
    # terminal's job) must not take the engine down with it.
    setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
fi

for _ in $(seq 60); do
    if docker info >/dev/null 2>&1; then
        echo "docker: the engine is running"
        exit 0
    fi
    sleep 1
done
echo "error: dockerd did not come up within 60 s; see $LOG" >&2
exit 1
