#!/usr/bin/env bash
# Builds the HTTP service's container image (deploy/Dockerfile) from this checkout:
# docker-python-sandbox-service:latest, or DPS_SERVICE_IMAGE. Usage: bash scripts/build-service-image.sh
#
# The context is staged in a temp dir (removed on exit): `npm pack` of this checkout (built first
# when dist/ is missing or older than lib/) unpacked into app/, with its production dependencies
# installed from npm's cache (offline: `npm ci` has put every tarball there; online only when that
# fails). The bases are the Dockerfile's defaults (node:20-bookworm-slim, docker:28-cli) when they
# are here or can be pulled, or DPS_SERVICE_NODE_IMAGE / DPS_SERVICE_DOCKER_CLI_IMAGE. Where no
# registry is reachable it makes local stand-ins instead:
#   docker-python-sandbox-node:local        docker-python-sandbox-base:bookworm (scripts/build-image.sh
#                                           makes it) + this machine's node binary
#   docker-python-sandbox-docker-cli:local  only this machine's docker CLI binary (docker import)
# The image is skipped when it already carries the content hash of its inputs (the packed package,
# package-lock.json, the Dockerfile, this script and the bases' image ids). A new image is checked
# by running `docker --version` and `docker-python-sandbox --version` in it (--network none).
set -euo pipefail
cd "$(dirname "$0")/.."

image=${DPS_SERVICE_IMAGE:-docker-python-sandbox-service:latest}
hash_label=docker-python-sandbox.service-image-hash
recipe_label=docker-python-sandbox.made-of
node_standin=docker-python-sandbox-node:local
cli_standin=docker-python-sandbox-docker-cli:local
standin_base=${DPS_SERVICE_NODE_BASE:-docker-python-sandbox-base:bookworm}
# The Dockerfile's own defaults, so that they are written in one place.
node_default=$(sed -n 's/^ARG NODE_IMAGE=//p' deploy/Dockerfile)
cli_default=$(sed -n 's/^ARG DOCKER_CLI_IMAGE=//p' deploy/Dockerfile)

say() { echo "build-service-image: $*"; }
fail() {
  say "$*" >&2
  exit 1
}
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
image_id() { docker image inspect -f '{{.Id}}' "$1"; }
label_of() { docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }
# Here already, or pulled within 60 s (a machine without a registry fails at once).
present_or_pulled() { have_image "$1" || timeout 60 docker pull -q "$1" >/dev/null 2>&1; }
# A throwaway container of the library's label (so that cleanups may remove it), never on a network.
check_run() {
  local what=$1
  shift
  docker run --rm --network none --label docker-python-sandbox --name "dps-service-image-check-$$-$what" "$@"
}

started=$SECONDS
command -v docker >/dev/null 2>&1 || fail "the docker CLI is not on PATH"
docker info >/dev/null 2>&1 || fail "no Docker engine answers; run scripts/ensure-docker.sh (or npm run setup) first"

stage=$(mktemp -d /tmp/dps-service-image.XXXXXX)
trap 'rm -rf "$stage"' EXIT

# The stand-in for node:20-bookworm-slim: Debian bookworm (which has the libstdc++ node needs) and
# the node that runs this project here. Remade when the binary or the base changes.
make_node_standin() {
  local node_bin recipe
  node_bin=$(readlink -f "$(command -v node)") || fail "node is not on PATH"
  have_image "$standin_base" ||
    fail "cannot make $node_standin: $standin_base is missing. Run 'bash scripts/build-image.sh' where python:3.12-slim cannot be pulled (npm run setup does), or set DPS_SERVICE_NODE_IMAGE to an image with node >= 20.19."
  recipe="node $(sha256sum "$node_bin" | cut -c1-16) on $(image_id "$standin_base" | cut -c8-23)"
  if [[ "$(label_of "$node_standin" "$recipe_label")" == "$recipe" ]]; then
    say "using $node_standin made earlier ($recipe)"
    return
  fi
  say "making $node_standin: $standin_base + $node_bin ($("$node_bin" --version))"
  mkdir "$stage/node"
  cp "$node_bin" "$stage/node/node"
  # shellcheck disable=SC2016 # ${BASE} is the Dockerfile's, not the shell's
  printf 'ARG BASE\nFROM ${BASE}\nCOPY node /usr/local/bin/node\n' >"$stage/node/Dockerfile"
  docker build --network none -q --build-arg "BASE=$standin_base" --label "$recipe_label=$recipe" -t "$node_standin" "$stage/node" >/dev/null
  rm -rf "$stage/node"
  # It must run there: a node built against a newer glibc or libstdc++ than the base's would not.
  if ! check_run node --entrypoint /usr/local/bin/node "$node_standin" --version >/dev/null; then
    check_run ldd --entrypoint ldd "$node_standin" /usr/local/bin/node >&2 || true
    docker image rm "$node_standin" >/dev/null
    fail "this machine's node does not run on $standin_base (see the libraries above); set DPS_SERVICE_NODE_IMAGE to an image with node >= 20.19"
  fi
}

# The stand-in for docker:28-cli: an image holding only usr/local/bin/docker, which is all the
# Dockerfile takes from it. A dynamically linked CLI (Debian's) finds its libc in the node image.
make_cli_standin() {
  local docker_bin recipe
  docker_bin=$(readlink -f "$(command -v docker)")
  recipe="docker $(sha256sum "$docker_bin" | cut -c1-16)"
  if [[ "$(label_of "$cli_standin" "$recipe_label")" == "$recipe" ]]; then
    say "using $cli_standin made earlier ($recipe)"
    return
  fi
  say "making $cli_standin from $docker_bin ($("$docker_bin" --version))"
  mkdir -p "$stage/cli/usr/local/bin"
  cp "$docker_bin" "$stage/cli/usr/local/bin/docker"
  tar -C "$stage/cli" -c usr | docker import -c "LABEL $recipe_label=\"$recipe\"" - "$cli_standin" >/dev/null
  rm -rf "$stage/cli"
}

# Sets $picked: the image the override variable names, else the default when it is here or can be
# pulled, else the stand-in that the given function makes.
pick_base() {
  local override_name=$1 default=$2 standin=$3 make_standin=$4
  local override=${!override_name:-}
  if [[ -n "$override" ]]; then
    present_or_pulled "$override" || fail "$override_name=$override is neither here nor pullable"
    picked=$override
  elif present_or_pulled "$default"; then
    picked=$default
  else
    say "$default is neither here nor pullable (no registry reachable?)"
    "$make_standin"
    picked=$standin
  fi
}
pick_base DPS_SERVICE_NODE_IMAGE "$node_default" "$node_standin" make_node_standin
node_image=$picked
pick_base DPS_SERVICE_DOCKER_CLI_IMAGE "$cli_default" "$cli_standin" make_cli_standin
cli_image=$picked

# The package as npm would publish it. dist/ is built first when it is missing or older than a
# source (npm pack's own prepare step would rebuild it every time: --ignore-scripts).
if [[ ! -f dist/cli.js ]] || [[ -n "$(find lib package.json tsconfig.json tsconfig.build.json -type f ! -path '*/__pycache__/*' -newer dist/cli.js -print -quit)" ]]; then
  say "building dist/ (missing or older than the sources)"
  npm run build --silent
fi
npm pack --ignore-scripts --silent --pack-destination "$stage" >/dev/null
tarballs=("$stage"/*.tgz)
[[ ${#tarballs[@]} -eq 1 && -f "${tarballs[0]}" ]] || fail "npm pack made no single tarball in $stage"

# npm pack's tarballs are reproducible (fixed times and order), so the same sources hash the same.
hash=$({
  sha256sum "${tarballs[0]}" package-lock.json deploy/Dockerfile scripts/build-service-image.sh | cut -d' ' -f1
  echo "$node_image $(image_id "$node_image")"
  echo "$cli_image $(image_id "$cli_image")"
} | sha256sum | cut -c1-16)
if [[ "$(label_of "$image" "$hash_label")" == "$hash" ]]; then
  say "$image is up to date ($hash); nothing to do"
  exit 0
fi

context=$stage/context
mkdir -p "$context/app"
tar -xzf "${tarballs[0]}" -C "$context/app" --strip-components=1
cp package-lock.json "$context/app/"
cp deploy/Dockerfile "$context/Dockerfile"
# Production dependencies at the versions this checkout locks. --ignore-scripts: the package's
# prepare step (a build) needs the dev dependencies, and none of the production ones has a script.
say "installing production dependencies from npm's cache"
npm_ci=(npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
if ! (cd "$context/app" && "${npm_ci[@]}" --offline >/dev/null 2>"$stage/npm-offline.log"); then
  say "npm's cache lacks some of them (no 'npm ci' here yet?); fetching them from the registry"
  (cd "$context/app" && "${npm_ci[@]}" --prefer-offline >/dev/null)
fi

say "building $image on $node_image and $cli_image"
# The image this build replaces, when this script made it (it carries the hash label): removed
# afterwards, so that rebuilds do not pile up untagged images.
previous=
if [[ -n "$(label_of "$image" "$hash_label")" ]]; then previous=$(image_id "$image"); fi
docker build --network none -q \
  --build-arg "NODE_IMAGE=$node_image" \
  --build-arg "DOCKER_CLI_IMAGE=$cli_image" \
  --label "$hash_label=$hash" \
  --label "docker-python-sandbox.bases=$node_image $cli_image" \
  -t "$image" "$context" >/dev/null
# Both programs must start in it; a broken image is not left behind looking up to date.
if ! versions=$(check_run image --entrypoint sh "$image" -c 'docker --version && node /opt/docker-python-sandbox/dist/cli.js --version'); then
  docker image rm "$image" >/dev/null
  fail "the image does not run its programs (see above); removed it"
fi
if [[ -n "$previous" && "$previous" != "$(image_id "$image")" ]]; then
  # Kept while a container still uses it.
  docker image rm "$previous" >/dev/null 2>&1 || true
fi
say "built $image ($hash) in $((SECONDS - started)) s: $(echo "$versions" | tr '\n' ' ')"
