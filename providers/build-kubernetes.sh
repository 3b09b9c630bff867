#!/usr/bin/env bash
# Builds the Pulumi kubernetes resource plugin (pulumi-resource-kubernetes) from Go modules, at
# the version the @pulumi/kubernetes npm package asks for, into the cache outside the clone (see
# build/lib.sh). Prints the directory that holds pulumi-resource-kubernetes on stdout (last line);
# logs on stderr.
#
# Pulumi's own provider module, github.com/pulumi/pulumi-kubernetes/provider/v4, is served by the
# Go proxy here only at one pseudo-version, v4.0.0-20260115033456-f47bc2d6f199: commit f47bc2d6f199,
# which the upstream tag v4.25.0 points at (the release of @pulumi/kubernetes 4.25.0; the sdk/v4.25.0
# tag is that commit plus the SDK's version bump). Its go.mod replaces sdk/v4 with ../sdk, which
# only works inside the upstream repository, so providers/kubernetes is a module of our own that
# requires it (and sdk/v4 v4.25.0) and pins the whole graph in its go.sum, like engine/pulumi-cli.
# The build follows upstream's Makefile (target k8sprovider) in a copy of that module:
#   1. the upstream cmd/pulumi-resource-kubernetes (main.go, generate.go and the schema.json and
#      terraform-mapping.json committed with it) is copied from the module cache; upstream's
#      `schema` target (pulumi-gen-kubernetes over Kubernetes' swagger.json, downloaded from
#      GitHub) and `kinds` target only regenerate files that the module already holds;
#   2. `go generate` (generate.go with VERSION) writes the embedded schema with the version set;
#   3. the plugin is built with CGO_ENABLED=0 and the version ldflag
#      -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=<version>, so
#      GetPluginInfo and the schema report the npm package's version.
# The plugin has no -version flag (and -trimpath keeps -ldflags out of its build info): the check
# starts it and asks it over gRPC, GetPluginInfo and GetSchema (build/lib.sh's check_plugin_info).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../build/lib.sh
source "$(dirname "$0")/../build/lib.sh"

module_dir="$REPO_ROOT/providers/kubernetes"
provider_module=github.com/pulumi/pulumi-kubernetes/provider/v4
version_var=$provider_module/pkg/version.Version

# The plugin version: the one @pulumi/kubernetes asks for (its package.json "pulumi.version", which
# equals the package version). Read from package-lock.json so this works before npm ci.
version=$(node -p 'require(process.argv[1]).packages["node_modules/@pulumi/kubernetes"].version' "$REPO_ROOT/package-lock.json")
matching_release=4.25.0  # the @pulumi/kubernetes release of the commit providers/kubernetes pins
if [[ "$version" != "$matching_release" ]]; then
  echo "package-lock.json has @pulumi/kubernetes $version, but providers/kubernetes builds the" \
    "provider of release $matching_release (its go.mod pins $provider_module at that commit):" \
    "pin @pulumi/kubernetes to $matching_release, or pin the provider module at the new release's commit" \
    "and update matching_release" >&2
  exit 1
fi

build_kubernetes() {
  local out=$1 t=$SECONDS
  local src="$out/.src" upstream cmd_dir
  local ldflags="-s -w -X $version_var=$version"
  # Build in a copy, so nothing generated lands in the clone.
  mkdir -p "$src"
  cp -R "$module_dir/." "$src/"
  go -C "$src" mod download "$provider_module"
  upstream=$(go -C "$src" list -m -f '{{.Dir}}' "$provider_module")
  cmd_dir="$src/cmd/pulumi-resource-kubernetes"
  mkdir -p "$cmd_dir"
  cp "$upstream/cmd/pulumi-resource-kubernetes/"{main.go,generate.go,schema.json,terraform-mapping.json} "$cmd_dir/"
  chmod u+w "$cmd_dir"/*
  log "kubernetes: sources ready in $((SECONDS - t)) s"; t=$SECONDS

  (cd "$cmd_dir" && VERSION=$version go run ./generate.go)
  log "kubernetes: embedded schema generated in $((SECONDS - t)) s"; t=$SECONDS

  go -C "$src" build -trimpath -ldflags "$ldflags" -o "$out/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
  log "kubernetes: pulumi-resource-kubernetes built in $((SECONDS - t)) s"

  check_plugin_info "$out/pulumi-resource-kubernetes" "$version"
  rm -rf "$src"
}

# shellcheck disable=SC2046  # one argument per file (the paths have no spaces)
key=$(key_of "$0" $(find "$module_dir" -type f | LC_ALL=C sort))
mkdir -p "$AZS_CACHE"
exec 9>"$AZS_CACHE/.kubernetes-build.lock"  # one build at a time; a second caller then finds it cached
flock 9
cached_build pulumi-resource-kubernetes "$version" "$key" build_kubernetes
