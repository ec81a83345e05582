#!/usr/bin/env bash
# Builds a sandbox image. Usage: bash scripts/build-image.sh [latest|scientific]   (default: latest)
#
# latest (docker-python-sandbox:latest, or DPS_IMAGE): image/Dockerfile on python:3.12-slim (DPS_BASE).
#   When that base can be neither found nor pulled, as on machines with no registry, it makes an
#   equivalent base from Debian packages (debootstrap minbase + python3 and its standard library,
#   docker-python-sandbox-base:bookworm) and builds the same Dockerfile on it.
# scientific (docker-python-sandbox:scientific, or DPS_SCIENTIFIC_IMAGE): python3 with numpy, pandas
#   and matplotlib, always from Debian packages (a build has no network, so no pip): a base made
#   by debootstrap minbase + apt-get (docker-python-sandbox-base:bookworm-scientific), then
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
extra_packages=
mirror=${DPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
hash_label=docker-python-sandbox.image-hash
packages_label=docker-python-sandbox.debian-packages

say() { echo "build-image: $*"; }

case "$flavour" in
  latest)
    image=${DPS_IMAGE:-docker-python-sandbox:latest}
    base=${DPS_BASE:-python:3.12-slim}
    fallback_base=docker-python-sandbox-base:bookworm
    # image/ without the other flavours' directories.
    no_debian_hint="Pull $base on a machine with a registry, or set DPS_BASE to a local image with python3."
    hash_inputs() { (cd image && find . -path ./scientific -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); echo "$base"; }
    ;;
  scientific)
    image=${DPS_SCIENTIFIC_IMAGE:-docker-python-sandbox:scientific}
    fallback_base=docker-python-sandbox-base:bookworm-scientific
    base=$fallback_base
    # Installed with apt in the debootstrapped root, not with debootstrap --include: debootstrap
    # always takes the first of alternative dependencies, and python3-fonttools'
    # "python3-scipy | python3-munkres" then brings scipy, pythran, g++, boost and openblas (1.25 GB
    # in all), python3-pil's "mime-support | python3-pil.imagetk" brings perl. Naming munkres and
    # imagetk first makes apt take those alternatives. No Recommends; numpy gets the reference BLAS
    # (libblas3: single-threaded, small); the fonts come with python-matplotlib-data.
    extra_packages="python3-munkres python3-pil.imagetk python3-numpy python3-pandas python3-matplotlib"
    no_debian_hint="This flavour is made from Debian packages only: run as root where apt-get works and $mirror is reachable."
    hash_inputs() { (cd image && { find . -maxdepth 1 -name Dockerfile -print0; find ./scientific -type f -print0; } \
      | LC_ALL=C sort -z | xargs -0 sha256sum); echo "$fallback_base $suite $extra_packages"; }
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
  # What the base is made of, recorded on it: a base made of something else is made again (one
  # made before bases were labelled is kept).
  local recipe="$suite: python3${extra_packages:+ $extra_packages}"
  if have_image "$fallback_base"; then
    local made_of
    made_of=$(docker image inspect -f "{{ index .Config.Labels \"$packages_label\" }}" "$fallback_base" 2>/dev/null || true)
    if [[ -z "$made_of" || "$made_of" == "$recipe" ]]; then
      say "using the Debian base $fallback_base made earlier"
      return
    fi
    say "$fallback_base was made of $made_of, not $recipe; making it again"
  fi
  if [[ $(id -u) -ne 0 ]]; then
    say "cannot make $fallback_base from Debian packages: debootstrap needs root. $no_debian_hint" >&2
    exit 1
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
      say "cannot make $fallback_base: debootstrap is missing and cannot be installed (needs apt-get). $no_debian_hint" >&2
      exit 1
    fi
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  local root log=/tmp/docker-python-sandbox-debootstrap.log
  root=$(mktemp -d /tmp/dps-rootfs.XXXXXX)
  # Expanded now: the trap may run outside this function, where $root is gone.
  trap "rm -rf '$root'" EXIT
  fail() {
    say "$1 failed; see $log" >&2
    tail -n 20 "$log" >&2
    exit 1
  }
  if [[ -z "$extra_packages" ]]; then
    say "making $fallback_base from Debian $suite packages (debootstrap minbase + python3 with its standard library; about a minute)"
  else
    say "making $fallback_base from Debian $suite packages (debootstrap minbase + python3, then $extra_packages; a few minutes)"
  fi
  debootstrap --variant=minbase --include=python3 "$suite" "$root" "$mirror" >"$log" 2>&1 || fail debootstrap
  if [[ -n "$extra_packages" ]]; then
    # In the new root, with the host's network (the engine has none). No daemon is to start there.
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 0755 "$root/usr/sbin/policy-rc.d"
    {
      chroot "$root" apt-get update -qq &&
        # shellcheck disable=SC2086 # a list of package names
        DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends $extra_packages
    } >>"$log" 2>&1 || fail "apt-get install $extra_packages"
    chroot "$root" apt-get clean
    rm -f "$root/usr/sbin/policy-rc.d"
    # Translations, manual pages and documentation other than the licences serve no sandbox.
    rm -rf "$root"/usr/share/locale/* "$root"/usr/share/man/* "$root"/usr/share/info/*
    find "$root/usr/share/doc" -type f ! -name copyright -delete
  fi
  # Package caches and lists are not needed at run time.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' -c "LABEL $packages_label=\"$recipe\"" - "$fallback_base" >/dev/null
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
