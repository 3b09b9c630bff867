# shellcheck shell=bash
# Canary objects for testbed/etcd-check, made through the LB as the cluster admin: namespace
# azs-testbed-canary with 20 ConfigMaps of random payload, which must survive any rotation
# unchanged. Source it after common.sh; testbed/up sets PKI first.

# api PATH JSON: POSTs JSON to the apiserver (via the LB); prints the HTTP status.
api() {
  curl -sS --max-time 5 -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" --cert "$PKI/kubectlClient.crt" \
    --key "$PKI/kubectlClient.key" -H 'Content-Type: application/json' -X POST -d "$2" "https://$LB_IP:443$1"
}

# tb_canary: creates the canary objects (those that exist already are kept).
tb_canary() {
  local code i
  code=$(api /api/v1/namespaces '{"metadata":{"name":"azs-testbed-canary"}}')
  [[ $code == 201 || $code == 409 ]] || tb_die "creating the canary namespace: HTTP $code"
  for i in $(seq -w 1 20); do
    code=$(api /api/v1/namespaces/azs-testbed-canary/configmaps \
      "{\"metadata\":{\"name\":\"canary-$i\"},\"data\":{\"i\":\"$i\",\"payload\":\"$(head -c 512 /dev/urandom | base64 -w0)\"}}")
    [[ $code == 201 || $code == 409 ]] || tb_die "creating canary ConfigMap $i: HTTP $code"
  done
  tb_log "canary: namespace azs-testbed-canary with 20 ConfigMaps"
}
