# Health gates, one per step kind: each returns non-zero with GATE_FAILURE set to the failed
# check. Every wait is bounded by PARAM[health_timeout] seconds; every request by curl/openssl
# timeouts. Parameters come from the step's input (see components/rollout/nodeCertificates.ts).

GATE_FAILURE=""

curl_ok() { # expected-substring curl-args…: the response body contains the expected text
  local want=$1 body
  shift
  body=$(curl -sS --max-time 5 "$@" 2>/dev/null) || return 1
  [[ $body == *"$want"* ]]
}

# etcd: the local member presents the installed peer and serving certificates (etcd re-reads them
# per handshake) and every member answers /health (quorum kept). When the cluster had no quorum
# before the step (expired certificates: members reject each other until every one has new
# certificates, and etcd serves clients only with a leader), only this member's peer port and
# process are checked; the apiserver gates then check etcd through it.
etcd_auth() { echo --cacert "$ROOT${PARAM[etcd_ca]}" --cert "$CERTS_DIR/etcdclient.crt" --key "$CERTS_DIR/etcdclient.key"; }

etcd_quorum() { # every member healthy within SECONDS
  local t=$1 member
  for member in ${PARAM[etcd_members]}; do
    # shellcheck disable=SC2046
    wait_for "$t" "etcd member $member: /health not true (quorum)" curl_ok '"health":"true"' $(etcd_auth) "https://$member:2379/health" || return 1
  done
}

# etcd_v3 PATH JSON: a call to the local member's v3 JSON gateway.
etcd_v3() {
  # shellcheck disable=SC2046
  curl -sS --max-time 10 $(etcd_auth) -X POST "https://${PARAM[node_ip]}:2379/v3/$1" -d "$2"
}

# Before the local member restarts: when it leads, hand leadership to another member first
# (etcdctl move-leader), so reads and writes do not stall for an election while it is down.
# Best effort: without it etcd elects a new leader by itself.
etcd_hand_over_leadership() {
  local status self target
  status=$(etcd_v3 maintenance/status '{}' 2>/dev/null) || return 0
  self=$(jq -r '.header.member_id // empty' <<<"$status")
  [[ -n $self && $self == "$(jq -r '.leader // empty' <<<"$status")" ]] || return 0
  target=$(etcd_v3 cluster/member/list '{}' 2>/dev/null | jq -r --arg self "$self" '[.members[] | select(.ID != $self and (.clientURLs | length) > 0)][0].ID // empty') || return 0
  [[ -n $target ]] || return 0
  if etcd_v3 maintenance/transfer-leadership "{\"targetID\":\"$target\"}" >/dev/null 2>&1; then
    log "etcd: this member led the cluster; leadership handed to member $target before the restart"
  else
    log "etcd: handing leadership to member $target failed; the cluster elects a new leader during the restart"
  fi
}

gate_etcd() {
  local t=${PARAM[health_timeout]} ip=${PARAM[node_ip]} peer=$ROOT${PARAM[etcd_peer_cert]}
  wait_for "$t" "etcd on $ip:2380 does not serve the installed $(basename "$peer")" served_cert_is "$ip:2380" "$peer" "$peer" "${peer%.crt}.key" || return 1
  if [[ ${QUORUM_BEFORE:-1} == 0 ]]; then
    systemctl is-active --quiet etcd || { GATE_FAILURE="etcd is not running"; return 1; }
    log "etcd had no quorum before this step: checked this member's peer certificate and process only"
    return 0
  fi
  wait_for "$t" "etcd on $ip:2379 does not serve the installed etcdserver.crt" served_cert_is "$ip:2379" "$CERTS_DIR/etcdserver.crt" "$CERTS_DIR/etcdclient.crt" "$CERTS_DIR/etcdclient.key" || return 1
  etcd_quorum "$t" || return 1
  # etcd was restarted with this master drained: back into the balancer once the apiserver is ready on it
  if [[ ${DRAINED:-0} == 1 ]]; then apiserver_ready && apiserver_in_rotation; fi
}

# apiserver: /readyz ok on the node's own address (what the load balancer probes) and the
# installed serving certificate presented; then held ok for the load balancer's settle time, so
# the next apiserver is stopped only once the balancer sends traffic here again.
gate_apiserver() {
  local ip=${PARAM[node_ip]}
  apiserver_ready || return 1
  wait_for "${PARAM[health_timeout]}" "kube-apiserver on $ip:443 does not serve the installed apiserver.crt" served_cert_is "$ip:443" "$CERTS_DIR/apiserver.crt" || return 1
  apiserver_in_rotation
}

APISERVER_AUTH=(--cacert "$CERTS_DIR/ca.crt" --cert "$CERTS_DIR/client.crt" --key "$CERTS_DIR/client.key")
apiserver_ready() {
  wait_for "${PARAM[health_timeout]}" "kube-apiserver /readyz on ${PARAM[node_ip]}:443 not ok" curl_ok ok "${APISERVER_AUTH[@]}" "https://${PARAM[node_ip]}:443/readyz"
}

# Once the local apiserver is ready: the balancer's probes are let in again, and it must stay
# ready for the settle time.
apiserver_in_rotation() {
  local ip=${PARAM[node_ip]} settle=${PARAM[lb_settle]} i
  lb_undrain
  for ((i = 0; i < settle; i++)); do
    curl_ok ok "${APISERVER_AUTH[@]}" "https://$ip:443/readyz" || { GATE_FAILURE="kube-apiserver /readyz on $ip:443 failed during the load balancer settle time"; return 1; }
    sleep 1
  done
}

# controller-manager and scheduler: their /healthz (always allowed, self-signed serving certs).
gate_controlPlane() {
  local t=${PARAM[health_timeout]}
  wait_for "$t" "kube-controller-manager /healthz on 127.0.0.1:10257 not ok" curl_ok ok -k https://127.0.0.1:10257/healthz || return 1
  wait_for "$t" "kube-scheduler /healthz on 127.0.0.1:10259 not ok" curl_ok ok -k https://127.0.0.1:10259/healthz || return 1
}

# kubelet: its Node is Ready and its lease was renewed after the step began, which proves the
# kubelet authenticates with the installed client certificate and trusts the installed CA.
node_ready_since() { # server since-epoch
  local server=$1 since=$2 node=${PARAM[node_name]} auth renew
  auth=(--cacert "$CERTS_DIR/ca.crt" --cert "$CERTS_DIR/client.crt" --key "$CERTS_DIR/client.key")
  curl -sS --max-time 5 "${auth[@]}" "$server/api/v1/nodes/$node" \
    | jq -e '[.status.conditions[] | select(.type == "Ready" and .status == "True")] | length == 1' >/dev/null || return 1
  renew=$(curl -sS --max-time 5 "${auth[@]}" "$server/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$node" | jq -r '.spec.renewTime // empty')
  [[ -n $renew ]] && (($(date -d "$renew" +%s) >= since))
}

gate_kubelet() {
  local t=${PARAM[health_timeout]} server
  server=$(sed -n 's/^ *server: *//p' "$ROOT/var/lib/kubelet/kubeconfig" | head -n1)
  [[ -n $server ]] || { GATE_FAILURE="no server in /var/lib/kubelet/kubeconfig"; return 1; }
  wait_for "$t" "Node ${PARAM[node_name]} not Ready with a lease renewed since the step began (via $server)" node_ready_since "$server" "$STEP_STARTED" || return 1
}
