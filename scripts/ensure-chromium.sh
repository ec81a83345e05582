#!/usr/bin/env bash
# Installs Debian's chromium for the playground spec, which drives it headless through
# playwright-core (spec/integration/playground.spec.ts). Idempotent, and never fatal: without it
# that spec skips and says why.
set -uo pipefail

say() { echo "ensure-chromium: $*"; }

if command -v chromium >/dev/null 2>&1; then
  say "chromium is installed; nothing to do"
  exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  say "not root with apt-get: cannot install chromium here; the playground spec will skip"
  exit 0
fi
say "installing Debian's chromium (headless use only)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; }; then
  say "could not install chromium; the playground spec will skip"
  exit 0
fi
say "installed $(chromium --version 2>/dev/null | head -n 1)"
exit 0
