#!/bin/bash
# Lists, read-only, what the cluster stage acts on: the Deployments, DaemonSets, StatefulSets,
# PodDisruptionBudgets and legacy service-account token secrets (their names only: no token
# leaves the API's answer) of the given namespaces, as one JSON object of lists on stdout.
# Run on a master with sudo: list-cluster.sh SERVER CA_FILE CERT_FILE KEY_FILE NAMESPACE…
set -euo pipefail
server=$1 ca=$2 cert=$3 key=$4
shift 4
# list PATH FILTER: the items of the API's list at PATH, each through FILTER (a JSON list); fails on any status but 200
list() {
  curl -sS --fail --max-time 20 --cacert "$ca" --cert "$cert" --key "$key" "$server$1" | jq -c "[.items[] | $2]"
}
meta='{namespace: .metadata.namespace, name: .metadata.name}'
workload="{metadata: $meta, spec: {replicas: .spec.replicas, strategy: .spec.strategy, updateStrategy: .spec.updateStrategy, template: {metadata: {labels: .spec.template.metadata.labels}}}, status: {desiredNumberScheduled: .status.desiredNumberScheduled}}"
out='{"deployments": [], "daemonsets": [], "statefulsets": [], "pdbs": [], "secrets": []}'
for ns in "$@"; do
  [[ $ns =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ ]] || { echo "not a namespace name: $ns" >&2; exit 2; }
  out=$(jq -c \
    --argjson d "$(list "/apis/apps/v1/namespaces/$ns/deployments" "$workload")" \
    --argjson ds "$(list "/apis/apps/v1/namespaces/$ns/daemonsets" "$workload")" \
    --argjson sts "$(list "/apis/apps/v1/namespaces/$ns/statefulsets" "$workload")" \
    --argjson pdb "$(list "/apis/policy/v1/namespaces/$ns/poddisruptionbudgets" "{metadata: $meta, spec: {selector: .spec.selector}, status: {disruptionsAllowed: .status.disruptionsAllowed}}")" \
    --argjson sec "$(list "/api/v1/namespaces/$ns/secrets?fieldSelector=type%3Dkubernetes.io%2Fservice-account-token" "{metadata: $meta}")" \
    '.deployments += $d | .daemonsets += $ds | .statefulsets += $sts | .pdbs += $pdb | .secrets += $sec' <<<"$out")
done
printf '%s\n' "$out"
