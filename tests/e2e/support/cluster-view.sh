#!/bin/bash
# kube-system as a master sees it through the API with its client certificate, as one JSON
# object (tokens never leave the node): each workload's trust annotation and whether its rollout
# is complete and ready; the kube-proxy pod (uid) on each node; per legacy token secret, whether
# its ca.crt is the installed bundle, its token's key id and the status GET /api answers it with;
# the namespaces whose kube-root-ca.crt is not the installed bundle. Run with sudo on a master.
set -euo pipefail
certs=/etc/kubernetes/certs
c=(curl -sS --fail --max-time 10 --cacert "$certs/ca.crt" --cert "$certs/client.crt" --key "$certs/client.key")
api=https://$(sed -n 's/^ *server: *https:\/\///p' /var/lib/kubelet/kubeconfig | head -n1)
bundle=$(cat "$certs/ca.crt")
workloads=$(for kind in Deployment DaemonSet StatefulSet; do
  r=$(tr '[:upper:]' '[:lower:]' <<<"${kind}s")
  "${c[@]}" "$api/apis/apps/v1/namespaces/kube-system/$r" | jq -c --arg kind "$kind" '.items[] | . as $w | {key: "\($kind)/\(.metadata.name)", value: {
      trust: .spec.template.metadata.annotations["azs-cert-rotation/trust"],
      ready: ((.status.observedGeneration // 0) >= .metadata.generation and (
        if $kind == "Deployment" then ([.status.updatedReplicas, .status.availableReplicas, .status.replicas] | map(. // 0) | all(. == $w.spec.replicas))
        elif $kind == "DaemonSet" then ([.status.updatedNumberScheduled, .status.numberAvailable] | map(. // 0) | all(. == $w.status.desiredNumberScheduled))
        else (.status.updateRevision == .status.currentRevision and (.status.readyReplicas // 0) == .spec.replicas) end))}}'
done)
proxies=$("${c[@]}" "$api/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-proxy" | jq -c '[.items[] | select(.metadata.deletionTimestamp == null) | {key: .spec.nodeName, value: .metadata.uid}] | from_entries')
tokens='{}'
for s in $("${c[@]}" "$api/api/v1/namespaces/kube-system/secrets?fieldSelector=type%3Dkubernetes.io%2Fservice-account-token" | jq -r '.items[].metadata.name'); do
  secret=$("${c[@]}" "$api/api/v1/namespaces/kube-system/secrets/$s")
  ca=$(jq -r '.data["ca.crt"] // ""' <<<"$secret" | base64 -d)
  token=$(jq -r '.data.token // ""' <<<"$secret" | base64 -d)
  header=$(cut -d. -f1 <<<"$token" | tr -- '-_' '+/')
  while ((${#header} % 4)); do header+="="; done
  kid=$(base64 -d <<<"$header" 2>/dev/null | jq -r '.kid // ""' 2>/dev/null || true)
  status=$(printf 'header = "Authorization: Bearer %s"\n' "$token" | curl -s --config - --max-time 10 --cacert "$certs/ca.crt" -o /dev/null -w '%{http_code}' "$api/api" || true)
  same=false
  [[ $ca == "$bundle" ]] && same=true
  tokens=$(jq -c --arg s "$s" --argjson same "$same" --arg kid "$kid" --arg status "$status" '. + {($s): {caIsBundle: $same, kid: $kid, status: $status}}' <<<"$tokens")
done
stale=$("${c[@]}" "$api/api/v1/configmaps?fieldSelector=metadata.name%3Dkube-root-ca.crt" | jq -c --arg want "$bundle" '[.items[] | select((.data["ca.crt"] // "" | rtrimstr("\n")) != $want) | .metadata.namespace]')
printf '%s\n' "$workloads" | jq -cs --argjson proxies "$proxies" --argjson tokens "$tokens" --argjson stale "$stale" '{workloads: from_entries, kubeProxy: $proxies, tokens: $tokens, staleRootCa: $stale}'
