# shellcheck shell=bash
# kube-system as on an AKS Engine cluster, running on the agents' hollow kubelets (kubemark runs
# pods with a fake runtime, so images are never pulled): coredns and metrics-server Deployments with
# PodDisruptionBudgets, the kube-proxy and azure-ip-masq-agent DaemonSets, a StatefulSet, and
# legacy service-account token secrets (kubernetes.io/service-account-token) that the
# controller-manager fills. They are what a rotation must carry along inside the cluster. Source it
# after canary.sh (its api function); made through the LB as the cluster admin.

# kube_get PATH: GETs PATH from the apiserver (via the LB) as the cluster admin.
kube_get() {
  curl -sS --fail --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/kubectlClient.crt" --key "$PKI/kubectlClient.key" "https://$LB_IP:443$1"
}

# pending_in PATH FILTER: the names jq's FILTER picks from the list at PATH; a failed GET is pending too.
pending_in() {
  local list
  list=$(kube_get "$1") || { echo "GET $1 failed"; return 0; }
  jq -r "$2" <<<"$list"
}

# kube_system_pending: prints what is not ready yet (nothing once every workload is ready and every token secret filled).
kube_system_pending() {
  local ns=/namespaces/kube-system
  pending_in "/apis/apps/v1$ns/deployments?labelSelector=k8s-app" '.items[] | select((.status.readyReplicas // 0) < .spec.replicas or (.status.updatedReplicas // 0) < .spec.replicas) | "deployment \(.metadata.name)"'
  pending_in "/apis/apps/v1$ns/daemonsets?labelSelector=k8s-app" '.items[] | select(.status.desiredNumberScheduled == 0 or (.status.numberReady // 0) < .status.desiredNumberScheduled) | "daemonset \(.metadata.name)"'
  pending_in "/apis/apps/v1$ns/statefulsets?labelSelector=k8s-app" '.items[] | select((.status.readyReplicas // 0) < .spec.replicas) | "statefulset \(.metadata.name)"'
  pending_in "/api/v1$ns/secrets?fieldSelector=type%3Dkubernetes.io%2Fservice-account-token" '.items[] | select((.data.token // "") == "" or (.data["ca.crt"] // "") == "") | "secret \(.metadata.name)"'
}

# tb_kube_system: creates the objects of manifests/kube-system.json (those that exist are kept)
# and waits (bounded) until they are ready.
tb_kube_system() {
  local i code object path pending=""
  for ((i = 0; i < $(jq length "$HERE/manifests/kube-system.json"); i++)); do
    object=$(jq -c ".[$i]" "$HERE/manifests/kube-system.json")
    path=$(jq -r '(if .apiVersion == "v1" then "/api/v1" else "/apis/\(.apiVersion)" end) + "/namespaces/\(.metadata.namespace)/\(.kind | ascii_downcase)s"' <<<"$object")
    code=$(api "$path" "$object")
    [[ $code == 201 || $code == 409 ]] || tb_die "creating $(jq -r '"\(.kind) \(.metadata.name)"' <<<"$object"): HTTP $code"
  done
  for ((i = 0; i < 120; i++)); do
    pending=$(kube_system_pending)
    if [[ -z $pending ]]; then
      tb_log "kube-system: coredns, metrics-server, kube-proxy, azure-ip-masq-agent, azs-testbed-store ready; 3 legacy token secrets filled"
      return 0
    fi
    sleep 1
  done
  tb_die "kube-system not ready after 120 s: $(tr '\n' ' ' <<<"$pending")"
}
