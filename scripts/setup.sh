#!/usr/bin/env bash
# Everything the library and its tests need on this machine: an engine, then the image.
set -euo pipefail
here=$(dirname "$0")
bash "$here/ensure-docker.sh"
bash "$here/build-image.sh"
