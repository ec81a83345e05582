#!/usr/bin/env bash
# Everything the library and its tests need on this machine: an engine (with gVisor registered
# when possible), then the images: docker-python-sandbox:latest and the scientific flavour
# (numpy, pandas, matplotlib; made from Debian packages, a few minutes the first time). The ssh specs
# and benchmark rows need openssh-server (ensure-sshd.sh installs it in a checkout; no service is started).
#
# With --docker-host <address> (or --context <name>), e.g. `npm run setup -- --docker-host
# ssh://sandbox@host`, it then also puts the image on that engine, for Sandboxes whose engine is on
# another host: `docker save` here streamed into `docker load` there, through the CLI's
# `image load` (progress shown; nothing is sent when that engine has the same image id already).
# That host needs its own engine (and gVisor for runtime "runsc"): run this script there too, or
# install them by hand. The scientific flavour is loaded with
# `npx docker-python-sandbox image load --docker-host ... --image docker-python-sandbox:scientific`.
set -euo pipefail
here=$(dirname "$0")
target=()
while [ $# -gt 0 ]; do
  case "$1" in
    --docker-host | --context)
      [ $# -ge 2 ] && [ -n "$2" ] || { echo "setup.sh: $1 needs a value" >&2; exit 2; }
      target=("$1" "$2")
      shift 2
      ;;
    --docker-host=* | --context=*)
      target=("${1%%=*}" "${1#*=}")
      shift
      ;;
    *)
      echo "setup.sh: unknown argument \"$1\" (expected --docker-host <address> or --context <name>)" >&2
      exit 2
      ;;
  esac
done
bash "$here/ensure-docker.sh"
bash "$here/ensure-gvisor.sh"
# Only for the specs and the bench: not shipped in the npm package, so not run from it.
if [ -f "$here/ensure-sshd.sh" ]; then bash "$here/ensure-sshd.sh"; fi
if [ -f "$here/ensure-chromium.sh" ]; then bash "$here/ensure-chromium.sh"; fi
bash "$here/build-image.sh"
bash "$here/build-image.sh" scientific
if [ ${#target[@]} -gt 0 ]; then
  image=${DPS_IMAGE:-docker-python-sandbox:latest}
  root=$(cd "$here/.." && pwd)
  # The CLI's `image load`: from the sources in a checkout with its dev dependencies, else the build.
  if [ -f "$root/lib/cli.ts" ] && [ -x "$root/node_modules/.bin/tsx" ]; then
    "$root/node_modules/.bin/tsx" "$root/lib/cli.ts" image load "${target[@]}" --image "$image"
  elif [ -f "$root/dist/cli.js" ]; then
    node "$root/dist/cli.js" image load "${target[@]}" --image "$image"
  else
    # No Node build here: the same pipe by hand; `docker load` shows each layer's progress on a terminal.
    echo "setup: loading $image onto ${target[*]} (docker save | docker load)"
    if [ "${target[0]}" = --context ]; then
      docker save "$image" | docker --context "${target[1]}" load
    else
      docker save "$image" | DOCKER_HOST="${target[1]}" docker load
    fi
  fi
fi
