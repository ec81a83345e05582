#!/usr/bin/env bash
# Installs Debian's openssh-server for the ssh specs and benchmark rows, which run an sshd of their
# own (own config, host keys and port on 127.0.0.1: spec/helpers/sshd.ts). Idempotent, and never
# fatal: without it those specs skip and say why. Installing must not start a system-wide sshd, so
# while the package is configured a policy-rc.d refuses every service start (unless one is there
# already, as in Docker's Debian images); the system's ssh settings are left as the package made them.
set -uo pipefail

say() { echo "ensure-sshd: $*"; }
sshd=/usr/sbin/sshd

if [[ -x $sshd ]] && command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1; then
  say "openssh-server is installed; nothing to do"
  exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  say "not root with apt-get: cannot install openssh-server here; the ssh specs will skip"
  exit 0
fi

policy=/usr/sbin/policy-rc.d
made_policy=false
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# made by docker-python-sandbox scripts/ensure-sshd.sh while installing; removed after\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  made_policy=true
fi
say "installing Debian's openssh-server (no service is started)"
export DEBIAN_FRONTEND=noninteractive
packages=(openssh-server openssh-client)
if ! { apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1 ||
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; }; }; then
  say "could not install openssh-server; the ssh specs will skip"
fi
if $made_policy; then rm -f "$policy"; fi
if [[ -x $sshd ]]; then say "installed $($sshd -V 2>&1 | head -n 1)"; fi
exit 0
