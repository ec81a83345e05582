#!/usr/bin/env bash
# Builds the sandbox image (docker-python-sandbox:latest) from image/Dockerfile.
# Skipped when the image already carries the content hash of image/, this script and the base.
# When the base (python:3.12-slim) can be neither found nor pulled, as on machines with no
# registry, it makes an equivalent base from Debian packages (debootstrap minbase + python3 and its standard library)
# and builds the same Dockerfile on it.
set -euo pipefail
cd "$(dirname "$0")/.."

image=${DPS_IMAGE:-docker-python-sandbox:latest}
base=${DPS_BASE:-python:3.12-slim}
fallback_base=docker-python-sandbox-base:bookworm
suite=${DPS_DEBIAN_SUITE:-bookworm}
mirror=${DPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
hash_label=docker-python-sandbox.image-hash

say() { echo "build-image: $*"; }

hash=$( { (cd image && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); sha256sum scripts/build-image.sh; echo "$base"; } \
  | sha256sum | cut -c1-16)
current=$(docker image inspect -f "{{ index .Config.Labels \"$hash_label\" }}" "$image" 2>/dev/null || true)
if [[ "$current" == "$hash" ]]; then
  say "$image is up to date with image/ ($hash); nothing to do"
  exit 0
fi

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

make_fallback_base() {
  if have_image "$fallback_base"; then
    say "using the Debian base $fallback_base made earlier"
    return
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
      say "cannot pull $base and cannot install debootstrap (needs root and apt-get)." \
        "Pull $base on a machine with a registry, or set DPS_BASE to a local image with python3." >&2
      exit 1
    fi
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  local root
  root=$(mktemp -d /tmp/dps-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  say "making $fallback_base from Debian $suite packages (debootstrap minbase + python3 with its standard library; about a minute)"
  debootstrap --variant=minbase --include=python3 "$suite" "$root" "$mirror" >/tmp/docker-python-sandbox-debootstrap.log 2>&1 || {
    say "debootstrap failed; see /tmp/docker-python-sandbox-debootstrap.log" >&2
    tail -n 20 /tmp/docker-python-sandbox-debootstrap.log >&2
    exit 1
  }
  # Package caches and lists are not needed at run time.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' - "$fallback_base" >/dev/null
  rm -rf "$root"
  trap - EXIT
  say "made $fallback_base"
}

build_base=$base
if have_image "$base"; then
  say "base $base is present"
elif timeout 60 docker pull -q "$base" >/dev/null 2>&1; then
  say "pulled $base"
else
  say "cannot pull $base (no registry reachable?)"
  make_fallback_base
  build_base=$fallback_base
fi

say "building $image on $build_base"
docker build --network none -q \
  --build-arg "BASE=$build_base" \
  --label "$hash_label=$hash" \
  --label "docker-python-sandbox.base=$build_base" \
  -t "$image" image >/dev/null
say "built $image ($hash)"
