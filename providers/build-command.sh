#!/usr/bin/env bash
# Builds the Pulumi command resource plugin (pulumi-resource-command) from providers/command,
# at the version the @pulumi/command npm package asks for, into the cache outside the clone (see
# build/lib.sh). Prints the directory that holds pulumi-resource-command on stdout (last line); logs on stderr.
#
# No registry ships the plugin and the Go proxy here refuses github.com/pulumi/pulumi-command/provider,
# so providers/command is this project's own plugin: it serves command:remote:Command with
# the property names and defaults of the @pulumi/command 1.2.x SDK and refuses the package's other
# tokens (local:Command, local:run, remote:CopyToRemote, remote:CopyFile) with a clear error.
# Its unit tests run before the build; a failing test fails the build.
set -euo pipefail
source "$(dirname "$0")/../build/lib.sh"

module_dir="$REPO_ROOT/providers/command"

# The plugin version: the one @pulumi/command asks for (its package.json "pulumi.version", which
# equals the package version). Read from package-lock.json so this works before npm ci.
version=$(node -p 'require(process.argv[1]).packages["node_modules/@pulumi/command"].version' "$REPO_ROOT/package-lock.json")
checked_series=1.2.  # property names and defaults of providers/command were checked against this SDK
if [[ "$version" != "$checked_series"* ]]; then
  echo "package-lock.json has @pulumi/command $version, but providers/command was checked against" \
    "@pulumi/command ${checked_series}x: compare remote/command.d.ts and types/input.d.ts of the new SDK" \
    "with the provider and update checked_series" >&2
  exit 1
fi

build_command() {
  local out=$1 t=$SECONDS
  # -trimpath as in the build below, so the build reuses the packages the tests compiled.
  go -C "$module_dir" test -trimpath -count=1 ./...
  log "command: unit tests passed in $((SECONDS - t)) s"; t=$SECONDS

  go -C "$module_dir" build -trimpath -ldflags "-s -w -X main.Version=$version" \
    -o "$out/pulumi-resource-command" .
  log "command: pulumi-resource-command built in $((SECONDS - t)) s"

  check_reported_version "$out/pulumi-resource-command" "$version"
}

# shellcheck disable=SC2046  # one argument per file (the paths have no spaces)
key=$(key_of "$0" $(find "$module_dir" -type f | LC_ALL=C sort))
mkdir -p "$AZS_CACHE"
exec 9>"$AZS_CACHE/.command-build.lock"  # one build at a time; a second caller then finds it cached
flock 9
cached_build pulumi-resource-command "$version" "$key" build_command
