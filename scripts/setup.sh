#!/usr/bin/env bash
# Everything the library and its tests need on this machine: an engine (with gVisor registered
# when possible), then the image.
set -euo pipefail
here=$(dirname "$0")
bash "$here/ensure-docker.sh"
bash "$here/ensure-gvisor.sh"
bash "$here/build-image.sh"
