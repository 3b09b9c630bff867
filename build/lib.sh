# shellcheck shell=bash
# Shared helpers for the project's build scripts. Source it; do not run it.
# Built binaries live outside the clone, keyed by component, version and a hash of the
# inputs that produced them, so a fresh clone on a machine that built once is fast.

AZS_CACHE="${AZS_CACHE:-/var/cache/azs-cert-rotation}"
# shellcheck disable=SC2034  # used by the scripts that source this file
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN=local CGO_ENABLED=0

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# key_of FILE... : short hash of the given files' contents (the recipe of a build).
key_of() { cat "$@" | sha256sum | cut -c1-12; }

# cached_build NAME VERSION KEY BUILD_FN
#   Prints the cache directory for NAME@VERSION (key KEY). If it is not complete yet,
#   runs BUILD_FN with the (empty) directory as $1 and marks it complete only on success,
#   so an interrupted build is redone rather than half-used.
cached_build() {
  local name=$1 version=$2 key=$3 build_fn=$4
  local dir="$AZS_CACHE/$name/$version-$key"
  if [[ -f "$dir/.complete" ]]; then
    log "$name $version: cached ($dir)"
  else
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    local start=$SECONDS
    log "$name $version: building into $dir"
    "$build_fn" "$dir.tmp" >&2
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
    touch "$dir/.complete"
    log "$name $version: built in $((SECONDS - start)) s"
  fi
  printf '%s\n' "$dir"
}

# check_reported_version BINARY VERSION: the built binary's `-version` must print VERSION.
check_reported_version() {
  local reported
  reported=$("$1" -version)
  if [[ "$reported" != "$2" ]]; then
    echo "$(basename "$1") reports version '$reported', expected $2" >&2
    return 1
  fi
}

# check_plugin_info BINARY VERSION: for a resource plugin without a -version flag, starts it and
# asks it over gRPC (build/plugin-info.ts, needs node_modules): both GetPluginInfo and the
# schema from GetSchema must report VERSION.
check_plugin_info() {
  local reported
  if [[ ! -d "$REPO_ROOT/node_modules/@pulumi/pulumi" ]]; then
    echo "check_plugin_info needs node_modules: run npm ci (npm run setup does)" >&2
    return 1
  fi
  reported=$(node -r ts-node/register/transpile-only "$REPO_ROOT/build/plugin-info.ts" "$1")
  if [[ "$reported" != "$2 $2" ]]; then
    echo "$(basename "$1") reports '$reported' (GetPluginInfo, schema version), expected $2 for both" >&2
    return 1
  fi
}
