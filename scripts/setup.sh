#!/usr/bin/env bash
# Everything the library and its tests need on this machine: an engine (with gVisor registered
# when possible), then the images: docker-python-sandbox:latest and the scientific flavour
# (numpy, pandas, matplotlib; made from Debian packages, a few minutes the first time).
set -euo pipefail
here=$(dirname "$0")
bash "$here/ensure-docker.sh"
bash "$here/ensure-gvisor.sh"
bash "$here/build-image.sh"
bash "$here/build-image.sh" scientific
