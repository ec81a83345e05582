#!/usr/bin/env bash
# Builds a sandbox image. Usage: bash scripts/build-image.sh [latest|scientific]   (default: latest)
#
# latest (docker-python-sandbox:latest, or DPS_IMAGE): image/Dockerfile on python:3.12-slim (DPS_BASE).
#   When that base can be neither found nor pulled, as on machines with no registry, it makes an
#   equivalent base from Debian packages (debootstrap minbase + python3 and its standard library,
#   docker-python-sandbox-base:bookworm) and builds the same Dockerfile on it.
# scientific (docker-python-sandbox:scientific, or DPS_SCIENTIFIC_IMAGE): python3 with numpy, pandas
#   and matplotlib, always from Debian packages (a build has no network, so no pip): a debootstrap
#   minbase base with those packages (docker-python-sandbox-base:bookworm-scientific), then
#   image/Dockerfile on it (the same user and work dir), then image/scientific/Dockerfile on top
#   (MPLBACKEND=Agg, a prebuilt matplotlib font cache and the warm-up hook
#   /etc/docker-python-sandbox/warmup.py that copies it to the writable MPLCONFIGDIR=/tmp/matplotlib).
#
# Each image is skipped when it already carries the content hash of its inputs (its Dockerfiles and
# files, this script and its base); a Debian base made earlier is reused. scripts/setup.sh builds both.
set -euo pipefail
cd "$(dirname "$0")/.."

flavour=${1:-latest}
suite=${DPS_DEBIAN_SUITE:-bookworm}
mirror=${DPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
hash_label=docker-python-sandbox.image-hash
packages_label=docker-python-sandbox.debian-packages

say() { echo "build-image: $*"; }

case "$flavour" in
  latest)
    image=${DPS_IMAGE:-docker-python-sandbox:latest}
    base=${DPS_BASE:-python:3.12-slim}
    fallback_base=docker-python-sandbox-base:bookworm
    fallback_packages=python3
    # image/ without the other flavours' directories.
    hash_inputs() { (cd image && find . -path ./scientific -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); echo "$base"; }
    ;;
  scientific)
    image=${DPS_SCIENTIFIC_IMAGE:-docker-python-sandbox:scientific}
    fallback_base=docker-python-sandbox-base:bookworm-scientific
    # Only Depends come in (debootstrap ignores Recommends); the fonts matplotlib needs come with
    # python3-matplotlib-data. numpy gets the reference BLAS (libblas3): single-threaded, small.
    fallback_packages=python3,python3-numpy,python3-pandas,python3-matplotlib
    base=$fallback_base
    hash_inputs() { (cd image && find . -maxdepth 1 -name Dockerfile -print0; find ./scientific -type f -print0) \
      | LC_ALL=C sort -z | (cd image && xargs -0 sha256sum); echo "$fallback_base $suite $fallback_packages"; }
    ;;
  -h | --help)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    say "unknown flavour '$flavour' (expected latest or scientific)" >&2
    exit 2
    ;;
esac

hash=$( { hash_inputs; sha256sum scripts/build-image.sh; } | sha256sum | cut -c1-16)
current=$(docker image inspect -f "{{ index .Config.Labels \"$hash_label\" }}" "$image" 2>/dev/null || true)
if [[ "$current" == "$hash" ]]; then
  say "$image is up to date with image/ ($hash); nothing to do"
  exit 0
fi

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

make_fallback_base() {
  if have_image "$fallback_base"; then
    # A base made with another package list is made again; one made before bases were labelled is kept.
    local made_with
    made_with=$(docker image inspect -f "{{ index .Config.Labels \"$packages_label\" }}" "$fallback_base" 2>/dev/null || true)
    if [[ -z "$made_with" || "$made_with" == "$suite:$fallback_packages" ]]; then
      say "using the Debian base $fallback_base made earlier"
      return
    fi
    say "$fallback_base was made from $made_with, not $suite:$fallback_packages; making it again"
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
      say "cannot make $fallback_base: debootstrap is missing and cannot be installed (needs root and apt-get)." \
        "Pull $base on a machine with a registry, or set DPS_BASE to a local image with python3." >&2
      exit 1
    fi
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  local root log=/tmp/docker-python-sandbox-debootstrap.log
  root=$(mktemp -d /tmp/dps-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  say "making $fallback_base from Debian $suite packages (debootstrap minbase + $fallback_packages; a minute or a few)"
  debootstrap --variant=minbase "--include=$fallback_packages" "$suite" "$root" "$mirror" >"$log" 2>&1 || {
    say "debootstrap failed; see $log" >&2
    tail -n 20 "$log" >&2
    exit 1
  }
  # Package caches and lists are not needed at run time.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' -c "LABEL $packages_label=$suite:$fallback_packages" - "$fallback_base" >/dev/null
  rm -rf "$root"
  trap - EXIT
  say "made $fallback_base"
}

if [[ "$flavour" == scientific ]]; then
  make_fallback_base
  say "building $image on $fallback_base"
  # image/Dockerfile (user, work dir, environment) first, untagged; the flavour's layers on top.
  sandbox_layers=$(docker build --network none -q --build-arg "BASE=$fallback_base" image)
  docker build --network none -q \
    --build-arg "BASE=$sandbox_layers" \
    --label "$hash_label=$hash" \
    --label "docker-python-sandbox.base=$fallback_base" \
    -t "$image" image/scientific >/dev/null
  say "built $image ($hash)"
  exit 0
fi

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
