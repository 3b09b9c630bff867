#!/usr/bin/env bash
# Runs a command with the Pulumi engine and Node 22 on PATH (see engine-env.sh).
set -euo pipefail
# shellcheck source=engine-env.sh
source "$(dirname "$0")/engine-env.sh"
exec "$@"
