#!/usr/bin/env bash
# Builds the Pulumi tls resource plugin (pulumi-resource-tls) from Go modules, at the version
# the @pulumi/tls npm package asks for, into the cache outside the clone (see build/lib.sh).
# Prints the directory that holds pulumi-resource-tls on stdout (last line); logs on stderr.
#
# No registry ships the plugin and the Go proxy here refuses Pulumi's provider module, so
# providers/tls maps the upstream Terraform provider with the Pulumi Terraform bridge
# itself, using the tokens and property names of the @pulumi/tls 5.6.x SDK. The upstream is
# terraform-provider-tls 4.2.1 (the proxy refuses 4.3.0, from which 5.6.x was generated):
# the SDK's write-only inputs (privateKeyPemWo, caPrivateKeyPemWo and their *Version) are
# rejected by the plugin's Check; everything else the SDK sends is served.
# The build runs in a copy of that module:
#   1. pulumi-tfgen-tls writes schema.json and bridge-metadata.json (docs read from the
#      upstream module's docs/; HCL examples are not converted, that needs a converter plugin);
#   2. pulumi-resource-tls is built with both embedded and the version set by ldflag, so
#      GetPluginInfo and the schema report the npm package's version.
set -euo pipefail
source "$(dirname "$0")/../build/lib.sh"

module_dir="$REPO_ROOT/providers/tls"
module_path=azs-cert-rotation/providers/tls
# The proxy's checksum database has no entry for these three (its lookups answer 404), so they
# are verified against go.sum only; go.sum pins their hashes.
export GONOSUMDB=github.com/pulumi/pulumi-terraform-bridge/v3,github.com/hashicorp/terraform-provider-tls,github.com/pulumi/pulumi/pkg/v3

# The plugin version: the one @pulumi/tls asks for (its package.json "pulumi.version", which
# equals the package version). Read from package-lock.json so this works before npm ci.
version=$(node -p 'require(process.argv[1]).packages["node_modules/@pulumi/tls"].version' "$REPO_ROOT/package-lock.json")
checked_series=5.6.  # tokens and properties of providers/tls were checked against this SDK
if [[ "$version" != "$checked_series"* ]]; then
  echo "package-lock.json has @pulumi/tls $version, but providers/tls was checked against" \
    "@pulumi/tls ${checked_series}x: compare its schema with the new SDK and update checked_series" >&2
  exit 1
fi

build_tls() {
  local out=$1 t=$SECONDS
  local src="$out/.src" gen="$out/.gen"
  local ldflags="-s -w -X $module_path/provider.Version=$version"
  # Build in a copy, so the generated files never land in the clone.
  mkdir -p "$src" "$gen"
  cp -R "$module_dir/." "$src/"
  rm -f "$src/cmd/pulumi-resource-tls/schema.json" "$src/cmd/pulumi-resource-tls/bridge-metadata.json"

  go -C "$src" build -trimpath -ldflags "$ldflags" -o "$gen/pulumi-tfgen-tls" ./cmd/pulumi-tfgen-tls
  log "tls: pulumi-tfgen-tls built in $((SECONDS - t)) s"; t=$SECONDS

  # tfgen finds the upstream docs with `go mod download` run in ./provider of its working dir.
  (cd "$src" && "$gen/pulumi-tfgen-tls" schema --skip-examples --out "$src/cmd/pulumi-resource-tls")
  cp "$src/cmd/pulumi-resource-tls/schema.json" "$src/cmd/pulumi-resource-tls/bridge-metadata.json" "$out/"
  log "tls: schema generated in $((SECONDS - t)) s"; t=$SECONDS

  go -C "$src" build -trimpath -ldflags "$ldflags" -o "$out/pulumi-resource-tls" ./cmd/pulumi-resource-tls
  log "tls: pulumi-resource-tls built in $((SECONDS - t)) s"

  check_reported_version "$out/pulumi-resource-tls" "$version"
  rm -rf "$src" "$gen"
}

# shellcheck disable=SC2046  # one argument per file (the paths have no spaces)
key=$(key_of "$0" $(find "$module_dir" -type f ! -name schema.json ! -name bridge-metadata.json | LC_ALL=C sort))
mkdir -p "$AZS_CACHE"
exec 9>"$AZS_CACHE/.tls-build.lock"  # one build at a time; a second caller then finds it cached
flock 9
cached_build pulumi-resource-tls "$version" "$key" build_tls
