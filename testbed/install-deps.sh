#!/usr/bin/env bash
# Install the Debian packages the testbed needs (containerd, runc and the CNI plugins for the
# static-pod masters), shellcheck, which the unit tests run over the
# remote scripts, prometheus for its promtool, which the unit tests run over the alert rules
# (monitoring/), and chromium with the DejaVu fonts, with which the unit tests render the HTML
# report (report/html.ts) to a PNG. Idempotent: installs only what is missing, and never starts the
# packages' own services (the testbed runs sshd/haproxy itself, per VM; no Prometheus server runs here).
set -euo pipefail

PKGS=(openssh-server openssh-client haproxy iproute2 iptables openssl jq curl sudo util-linux procps psmisc bridge-utils
  containerd runc containernetworking-plugins shellcheck prometheus chromium fonts-dejavu-core)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all present (${PKGS[*]})"
  exit 0
fi
[[ $EUID -eq 0 ]] || { echo "install-deps: run as root" >&2; exit 1; }

echo "install-deps: installing ${missing[*]}"
# Keep maintainer scripts from starting sshd/haproxy/prometheus on the host.
policy=/usr/sbin/policy-rc.d created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
cleanup() { if [[ $created_policy == 1 ]]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists once if they are missing or older than a day.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]]; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
