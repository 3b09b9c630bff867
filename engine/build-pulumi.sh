#!/usr/bin/env bash
# Builds the Pulumi CLI from Go modules (no registry ships the binary) at the version of
# @pulumi/pulumi in package-lock.json, into the cache outside the clone.
# Prints the directory that holds bin/pulumi on stdout.
set -euo pipefail
source "$(dirname "$0")/../build/lib.sh"

version=$(node -p 'require(process.argv[1]).packages["node_modules/@pulumi/pulumi"].version' "$REPO_ROOT/package-lock.json")
module_dir="$REPO_ROOT/engine/pulumi-cli"
pinned=$(go -C "$module_dir" list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3)
if [[ "v$version" != "$pinned" ]]; then
  echo "engine/pulumi-cli pins pkg/v3 $pinned but package-lock.json has @pulumi/pulumi $version: update the go.mod" >&2
  exit 1
fi

build_cli() {
  local out=$1
  mkdir -p "$out/bin"
  go -C "$module_dir" build -trimpath -o "$out/bin/pulumi" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

cached_build pulumi-cli "$version" "$(key_of "$module_dir/go.mod" "$module_dir/go.sum" "$0")" build_cli
