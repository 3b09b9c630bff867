#!/usr/bin/env bash
# Installs and builds everything the project needs on a fresh machine; idempotent, and quick
# when everything is already cached (builds live outside the clone, see lib.sh).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
started=$SECONDS

# Debian packages: openssl for the tests, and what the local testbed's VMs run (sshd, haproxy, …).
bash testbed/install-deps.sh >&2

# Install scripts are off: @pulumi/command and @pulumi/kubernetes would try to download their
# plugins at install time, which cannot work offline. Plugins are built and installed below.
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [[ "$(cat node_modules/.azs-lock-hash 2>/dev/null)" != "$lock_hash" ]]; then
  log "npm ci"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.azs-lock-hash
fi

# shellcheck source=../engine/engine-env.sh
source engine/engine-env.sh  # builds the CLI unless a compatible one is on PATH
log "engine: $(command -v pulumi) $(pulumi version)"

# install_plugin NAME VERSION BINARY_DIR: installs a resource plugin unless that exact binary is
# installed at that version (a rebuilt plugin of the same version replaces the old one).
install_plugin() {
  local name=$1 version=$2 dir=$3
  local installed="${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-$name-v$version/pulumi-resource-$name"
  if cmp -s "$installed" "$dir/pulumi-resource-$name"; then
    log "plugin $name $version: installed already"
  else
    pulumi plugin install resource "$name" "$version" --file "$dir/pulumi-resource-$name" --reinstall
  fi
}

npm_plugin_version() { node -p 'require(process.argv[1]).pulumi.version' "$REPO_ROOT/node_modules/$1/package.json"; }

install_plugin tls "$(npm_plugin_version @pulumi/tls)" "$(providers/build-tls.sh | tail -n1)"
install_plugin command "$(npm_plugin_version @pulumi/command)" "$(providers/build-command.sh | tail -n1)"

# The testbed's Go binaries (etcd, Kubernetes control plane, kubemark): cached like the engine.
bash testbed/build.sh >/dev/null

# The kubernetes plugin last: its cold build is the longest (see README), and a failure leaves
# everything above installed and stops setup with this message.
if ! k8s_dir=$(providers/build-kubernetes.sh | tail -n1); then
  log "setup failed: the kubernetes resource plugin did not build (providers/build-kubernetes.sh, output above);" \
    "the CLI, the tls and command plugins and the testbed are installed"
  exit 1
fi
install_plugin kubernetes "$(npm_plugin_version @pulumi/kubernetes)" "$k8s_dir"

pulumi plugin ls
log "setup done in $((SECONDS - started)) s"
