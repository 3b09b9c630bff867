# shellcheck shell=bash
# The monitoring.coreos.com/v1 PrometheusRule type and the "monitoring" namespace, as a cluster
# running the Prometheus operator has them, so that the product's monitoring.prometheusRule can be
# tested (the CRD's schema is the part of the operator's that the product's rules use). Source it
# after canary.sh (its api function); made through the LB as the cluster admin.

# tb_monitoring: creates the CRD and the namespace (kept when they exist) and waits for the type to be served.
tb_monitoring() {
  local code i
  code=$(api /apis/apiextensions.k8s.io/v1/customresourcedefinitions "$(cat "$HERE/manifests/prometheusrule-crd.json")")
  [[ $code == 201 || $code == 409 ]] || tb_die "creating the PrometheusRule CRD: HTTP $code"
  code=$(api /api/v1/namespaces '{"metadata":{"name":"monitoring"}}')
  [[ $code == 201 || $code == 409 ]] || tb_die "creating the monitoring namespace: HTTP $code"
  for ((i = 0; i < 30; i++)); do
    code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" --cert "$PKI/kubectlClient.crt" --key "$PKI/kubectlClient.key" \
      "https://$LB_IP:443/apis/monitoring.coreos.com/v1/namespaces/monitoring/prometheusrules") || true
    if [[ $code == 200 ]]; then
      tb_log "monitoring: the PrometheusRule type (monitoring.coreos.com/v1) and namespace monitoring"
      return 0
    fi
    sleep 1
  done
  tb_die "the PrometheusRule type is not served after 30 s (HTTP $code)"
}
