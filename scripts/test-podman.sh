#!/usr/bin/env bash
# The specs that make sense on Podman, run against rootful Podman (`npm run test:podman`): first
# `setup-podman.sh` (podman, catatonit, the images in Podman's store), then, with
# DPS_TEST_DOCKER=podman (spec/helpers/engine-flavour.ts), the integration specs below and
# spec/podman/ (what is Podman's own: detection, refusals, no namespace reuse, events, reaping).
#
# Left out, as they test Docker itself: private dockerd engines (faults, liveness, input-transfer,
# private-engine*, engines, cli-engines, orphans' cleanup counts), ssh and TLS to a Docker socket,
# Docker contexts, the network-namespace holders Podman does not get (netns-reuse, holder-expiry),
# gVisor (refused on Podman), and the HTTP service and CLI, which add nothing engine-specific.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-podman.sh
export DPS_TEST_DOCKER=podman
specs=(
  spec/podman/*.spec.ts
  spec/integration/seed-behaviour.spec.ts
  spec/integration/run-params.spec.ts
  spec/integration/security.spec.ts
  spec/integration/collect.spec.ts
  spec/integration/preload.spec.ts
  spec/integration/lifecycle.spec.ts
  spec/integration/scientific.spec.ts
)
exec node --import tsx --test --test-concurrency=1 "${specs[@]}"
