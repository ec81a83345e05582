#!/usr/bin/env bash
# Makes sure a Docker engine answers. Idempotent: when `docker info` works it does nothing.
# Otherwise, as root on a Debian-like system, it installs Debian's docker.io and starts dockerd in
# the background. This project's machines cannot create the default bridge (docker0), so dockerd
# runs with --bridge none --iptables=false; sandbox containers use --network none anyway.
set -euo pipefail

log=${DPS_DOCKERD_LOG:-/var/log/docker-python-sandbox-dockerd.log}
wait_seconds=${DPS_DOCKERD_WAIT:-60}

say() { echo "ensure-docker: $*"; }

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  say "a Docker engine answers ($(docker version -f '{{.Server.Version}}' 2>/dev/null || echo '?')); nothing to do"
  exit 0
fi

if [[ -n "${DOCKER_HOST:-}" ]]; then
  say "DOCKER_HOST=$DOCKER_HOST does not answer. Start that engine, or unset DOCKER_HOST to use a local one." >&2
  exit 1
fi

how_to="Install Docker (https://docs.docker.com/engine/install/) and start it, then run 'npm run setup' again."
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  say "no Docker engine answers, and this script can only install one as root with apt-get. $how_to" >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  say "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

if pgrep -x dockerd >/dev/null 2>&1; then
  say "dockerd is running but does not answer yet; waiting for it"
else
  say "starting dockerd (log: $log)"
  # setsid: the engine outlives this script and the npm process that ran it.
  setsid dockerd --bridge none --iptables=false >>"$log" 2>&1 </dev/null &
fi

for ((i = 0; i < wait_seconds * 4; i++)); do
  if docker info >/dev/null 2>&1; then
    say "dockerd answers ($(docker version -f '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 0.25
done

say "dockerd did not answer within ${wait_seconds}s. Last lines of $log:" >&2
tail -n 20 "$log" >&2 || true
exit 1
