#!/usr/bin/env bash
# Registers gVisor (runsc) as a runtime of the local Docker engine, so that
# `new Sandbox({ runtime: 'runsc' })` works. Idempotent, and never fatal: when it cannot (not root,
# no apt-get, a remote engine), it says why and exits 0; runc stays available either way.
# On this project's machines runsc needs the runtime argument --network=none.
set -uo pipefail

say() { echo "ensure-gvisor: $*"; }
has_runsc() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }

if has_runsc; then
  say "runsc is registered with the engine; nothing to do"
  exit 0
fi
if [[ -n "${DOCKER_HOST:-}" ]]; then
  say "the engine is at DOCKER_HOST=$DOCKER_HOST; register runsc there to use runtime 'runsc'"
  exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  say "not root with apt-get: cannot install gVisor here. To use runtime 'runsc', install it" \
    "(https://gvisor.dev/docs/user_guide/install/) and register it in /etc/docker/daemon.json"
  exit 0
fi

if ! command -v runsc >/dev/null 2>&1; then
  say "installing Debian's runsc"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get install -y -qq --no-install-recommends runsc >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends runsc >/dev/null; }; }; then
    say "could not install runsc; runtime 'runsc' stays unavailable"
    exit 0
  fi
fi

config=/etc/docker/daemon.json
mkdir -p /etc/docker
# Merge into whatever daemon.json holds already; keep every other setting.
if ! RUNSC_PATH=$(command -v runsc) node -e '
  const fs = require("node:fs");
  const file = process.argv[1];
  const config = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8") || "{}") : {};
  config.runtimes = { ...config.runtimes, runsc: { path: process.env.RUNSC_PATH, runtimeArgs: ["--network=none"] } };
  fs.writeFileSync(file, JSON.stringify(config, null, 2) + "\n");
' "$config"; then
  say "could not update $config; runtime 'runsc' stays unavailable"
  exit 0
fi
say "registered runsc in $config"

# dockerd re-reads its runtimes on SIGHUP: no restart, running containers are untouched.
if pkill -HUP -x dockerd; then
  for ((i = 0; i < 80; i++)); do
    if has_runsc; then
      say "the engine lists runsc"
      exit 0
    fi
    sleep 0.25
  done
fi
say "the engine does not list runsc yet; it will once dockerd restarts"
exit 0
