#!/usr/bin/env bash
# Makes this machine ready for `dockerPath: 'podman'` (rootful Podman; README "Podman"):
# - installs Debian's podman and catatonit (Podman's `--init` binary, which podman does not depend
#   on) when they are missing: as root with apt-get;
# - puts the sandbox images into Podman's store, which is separate from Docker's:
#   docker-python-sandbox:latest (DPS_IMAGE) and, when Docker has it, :scientific
#   (DPS_SCIENTIFIC_IMAGE), streamed with `docker save | podman load`. An image Podman already has
#   with the same content hash label (or, without one, the same id) is left alone; the copy it
#   replaces is removed when nothing else uses it.
# The images come from Docker's store: build them first with `npm run setup`. Nothing on the host is
# configured: the library passes Podman what it needs on each `podman run`.
# Idempotent, and quiet when there is nothing to do (one line per image).
set -euo pipefail

hash_label=docker-python-sandbox.image-hash
latest=${DPS_IMAGE:-docker-python-sandbox:latest}
scientific=${DPS_SCIENTIFIC_IMAGE:-docker-python-sandbox:scientific}

say() { echo "setup-podman: $*"; }

have_catatonit() { [[ -x /usr/libexec/podman/catatonit ]] || command -v catatonit >/dev/null 2>&1; }

if ! command -v podman >/dev/null 2>&1 || ! have_catatonit; then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    say "podman and catatonit are needed, and this script can only install them as root with apt-get. Install them, then run it again." >&2
    exit 1
  fi
  say "installing Debian's podman and catatonit"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # No Recommends: rootful Podman with --network none needs neither slirp4netns, fuse-overlayfs nor uidmap.
  apt-get install -y -qq --no-install-recommends podman catatonit >/dev/null
fi

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  say "no Docker engine answers: the images are copied from Docker's store. Run \`npm run setup\` first." >&2
  exit 1
fi

# The image's content hash (set by scripts/build-image.sh), else its id, on either engine; empty when absent.
docker_key() {
  local hash
  hash=$(docker image inspect -f "{{ index .Config.Labels \"$hash_label\" }}" "$1" 2>/dev/null) || return 0
  if [[ -n "$hash" && "$hash" != "<no value>" ]]; then echo "hash:$hash"; else echo "id:$(docker image inspect -f '{{.Id}}' "$1" | sed 's/^sha256://')"; fi
}
podman_key() {
  local hash
  hash=$(podman image inspect -f "{{ index .Config.Labels \"$hash_label\" }}" "$1" 2>/dev/null) || return 0
  if [[ -n "$hash" && "$hash" != "<no value>" ]]; then echo "hash:$hash"; else echo "id:$(podman image inspect -f '{{.Id}}' "$1" | sed 's/^sha256://')"; fi
}

copy_image() {
  local image=$1 wanted have previous
  wanted=$(docker_key "$image")
  have=$(podman_key "$image")
  if [[ "$have" == "$wanted" ]]; then
    say "$image is in Podman's store already (${wanted}); nothing to do"
    return
  fi
  previous=$(podman image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
  say "copying $image from Docker's store into Podman's (docker save | podman load)"
  docker save "$image" | podman load --quiet >/dev/null
  # `podman load` names a short name docker.io/library/...: make sure the name the library uses resolves.
  if [[ "$(podman_key "$image")" != "$wanted" ]]; then
    say "$image was loaded but Podman does not find it under that name" >&2
    exit 1
  fi
  # The copy it replaced, now without a name: removed unless a container still uses it.
  if [[ -n "$previous" && "$previous" != "$(podman image inspect -f '{{.Id}}' "$image")" ]]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
  fi
  say "$image is in Podman's store ($wanted)"
}

if ! docker image inspect "$latest" >/dev/null 2>&1; then
  say "Docker has no $latest to copy: build it with \`npm run setup\` first." >&2
  exit 1
fi
copy_image "$latest"
if docker image inspect "$scientific" >/dev/null 2>&1; then copy_image "$scientific"; fi
