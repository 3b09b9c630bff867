# shellcheck shell=bash
# Health gates, one per step kind, and the steps' other hooks: the step registry
# (components/rollout/registry.ts) names the functions each kind runs and the parameters they
# read; file paths come as parameters, from the certificate catalog. A gate returns non-zero with
# GATE_FAILURE set to the failed check. Every wait is bounded by PARAM[health_timeout] seconds;
# every request by curl/openssl timeouts.

GATE_FAILURE=""

# http_200 CURL-ARGS…: prints the body of the response when it is HTTP 200, fails otherwise.
# The status decides: a failing /readyz answers 500 with a body that contains "[+]ping ok".
http_200() {
  local out
  out=$(curl -sS --max-time 5 -w '\n%{http_code}' "$@" 2>/dev/null) || return 1
  [[ ${out##*$'\n'} == 200 ]] || return 1
  printf '%s' "${out%$'\n'*}"
}

# http_ok BODY CURL-ARGS…: the response is HTTP 200 and its body is exactly BODY.
http_ok() {
  local want=$1 body
  shift
  body=$(http_200 "$@") && [[ $body == "$want" ]]
}

# etcd: the local member presents the installed peer and serving certificates (etcd re-reads them
# per handshake) and every member answers /health (quorum kept). When the cluster had no quorum
# before the step (expired certificates: members reject each other until every one has new
# certificates, and etcd serves clients only with a leader), only this member's peer port and
# process are checked; the apiserver gates then check etcd through it.
etcd_auth() { echo --cacert "$ROOT${PARAM[etcd_ca]}" --cert "$ROOT${PARAM[etcd_client_cert]}" --key "$ROOT${PARAM[etcd_client_key]}"; }

etcd_quorum() { # every member healthy within SECONDS
  local t=$1 member
  for member in ${PARAM[etcd_members]}; do
    # shellcheck disable=SC2046
    wait_for "$t" "etcd member $member: /health not true (quorum)" etcd_member_healthy "$member" || return 1
  done
}

etcd_member_healthy() { # IP: /health answers 200 with {"health":"true"}
  local body
  # shellcheck disable=SC2046
  body=$(http_200 $(etcd_auth) "https://$1:2379/health") && jq -e '.health == "true"' <<<"$body" >/dev/null 2>&1
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

# Before the etcd step changes a file: did etcd have quorum, and did this master's apiserver serve?
# Expired certificates break both, and then the step is the repair (see gate_etcd).
precheck_etcd() {
  QUORUM_BEFORE=1
  etcd_quorum 5 || { QUORUM_BEFORE=0; log "etcd has no quorum before the change: ${GATE_FAILURE}"; }
  APISERVER_READY_BEFORE=1
  apiserver_ready || { APISERVER_READY_BEFORE=0; log "kube-apiserver on this master is not ready before the change"; }
}

gate_etcd() {
  local t=${PARAM[health_timeout]} ip=${PARAM[node_ip]} peer=$ROOT${PARAM[etcd_peer_cert]}
  wait_for "$t" "etcd on $ip:2380 does not serve the installed $(basename "$peer")" served_cert_is "$ip:2380" "$peer" "$peer" "${peer%.crt}.key" || return 1
  if [[ ${QUORUM_BEFORE:-1} == 0 ]]; then
    systemctl is-active --quiet etcd || { GATE_FAILURE="etcd is not running"; return 1; }
    log "etcd had no quorum before this step: checked this member's peer certificate and process only"
    return 0
  fi
  local server=$ROOT${PARAM[etcd_server_cert]}
  wait_for "$t" "etcd on $ip:2379 does not serve the installed $(basename "$server")" served_cert_is "$ip:2379" "$server" "$ROOT${PARAM[etcd_client_cert]}" "$ROOT${PARAM[etcd_client_key]}" || return 1
  etcd_quorum "$t" || return 1
  # this master's apiserver uses only the local member: it must serve again (and, drained for the
  # restart, go back into the balancer) before the next member restarts; unless it did not serve
  # before the step either (its own certificates are renewed by the apiserver step)
  if [[ ${APISERVER_READY_BEFORE:-1} == 1 ]]; then apiserver_readmit; else log "kube-apiserver was not ready before this step: its readmission is left to the apiserver step"; fi
}

# apiserver: it serves with the installed certificate on the node's own address (what the load
# balancer sends traffic to), then goes back into the balancer (apiserver_readmit).
gate_apiserver() {
  local ip=${PARAM[node_ip]} cert=$ROOT${PARAM[apiserver_cert]}
  wait_for "${PARAM[health_timeout]}" "kube-apiserver /readyz on $ip:443 not ok" apiserver_ready || return 1
  wait_for "${PARAM[health_timeout]}" "kube-apiserver on $ip:443 does not serve the installed $(basename "$cert")" served_cert_is "$ip:443" "$cert" || return 1
  apiserver_readmit
}

# api_auth: sets API_AUTH, curl's arguments to query the apiserver with the cluster client certificate.
api_auth() { API_AUTH=(--cacert "$ROOT${PARAM[api_ca]}" --cert "$ROOT${PARAM[api_client_cert]}" --key "$ROOT${PARAM[api_client_key]}"); }
apiserver_ready() { api_auth && http_ok ok "${API_AUTH[@]}" "https://${PARAM[node_ip]}:443/readyz"; }

# What an apiserver must answer before the balancer sends it traffic again. /readyz alone is not
# enough: after its local etcd restarted, the apiserver's storage clients (several, each
# reconnecting with its own back-off) can leave reads of some resources hanging for seconds while
# /readyz, checked through another client, says ok (issue 12). So: a list (limit=1) of every
# resource type it serves itself, from discovery (served from memory; aggregated APIs, served by
# other pods, left out; componentstatuses, which probes components, too), and GETs of single
# objects, which go to etcd without the watch cache.
READ_TIMEOUT=1
READ_PATHS=()
apiserver_read_paths() { # BASE: prints the paths, one per line
  local base=$1 aggregated gv prefix
  api_auth
  aggregated=$(curl -sS --max-time 5 "${API_AUTH[@]}" "$base/apis/apiregistration.k8s.io/v1/apiservices" \
    | jq -er '.items[] | select(.spec.service != null) | .spec.group + "/" + .spec.version') || aggregated=""
  printf '%s\n' /api/v1/namespaces/kube-system /api/v1/namespaces/default/services/kubernetes /api/v1/namespaces/default/endpoints/kubernetes
  for gv in v1 $(curl -sS --max-time 5 "${API_AUTH[@]}" "$base/apis" | jq -r '.groups[].preferredVersion.groupVersion'); do
    grep -qxF "$gv" <<<"$aggregated" && continue
    if [[ $gv == v1 ]]; then prefix=/api/v1; else prefix=/apis/$gv; fi
    curl -sS --max-time 5 "${API_AUTH[@]}" "$base$prefix" \
      | jq -r --arg p "$prefix" '.resources[] | select((.name | contains("/")) | not) | select(.verbs | index("list")) | select(.name != "componentstatuses") | "\($p)/\(.name)?limit=1"'
  done
}

# apiserver_serves: /readyz answers 200 "ok" and every read of READ_PATHS answers 200 within
# READ_TIMEOUT s (over one connection). SERVE_FAILURE says what did not.
apiserver_serves() {
  local base="https://${PARAM[node_ip]}:443" p args=() codes failed
  apiserver_ready || { SERVE_FAILURE="/readyz not 200 ok"; return 1; }
  if ((${#READ_PATHS[@]} == 0)); then
    mapfile -t READ_PATHS < <(apiserver_read_paths "$base")
    ((${#READ_PATHS[@]} > 3)) || { READ_PATHS=(); SERVE_FAILURE="API discovery failed"; return 1; }
  fi
  api_auth
  for p in ${READ_PATHS[@]+"${READ_PATHS[@]}"}; do args+=(-o /dev/null "$base$p"); done
  codes=$(curl -sS --max-time "$READ_TIMEOUT" -w '%{http_code}\n' "${API_AUTH[@]}" ${args[@]+"${args[@]}"} 2>/dev/null) || true
  failed=$(paste -d ' ' <(printf '%s\n' ${READ_PATHS[@]+"${READ_PATHS[@]}"}) <(printf '%s\n' "$codes") | awk '$2 != 200 { print $1 " (HTTP " ($2 == "" || $2 == "000" ? "none" : $2) ")" }' | head -n 3)
  [[ -z $failed ]] || { SERVE_FAILURE="reads failed: ${failed//$'\n'/, }"; return 1; }
}

# apiserver_readmit: the drained master goes back into the load balancer once its apiserver has
# served every read READMIT_ROUNDS times in a row (a second apart), and must keep serving for the
# settle time while the balancer's probes find it again; a lapse drains it again and starts over.
# Fails when that has not happened within health_timeout: the master stays drained (the rollback
# runs the gate again; a step that still fails leaves it drained until a later step succeeds).
READMIT_ROUNDS=3
apiserver_readmit() {
  local ip=${PARAM[node_ip]} settle=${PARAM[lb_settle]} deadline streak=0 i held
  deadline=$((SECONDS + PARAM[health_timeout]))
  SERVE_FAILURE="not checked"
  while ((SECONDS < deadline)); do
    if apiserver_serves; then streak=$((streak + 1)); else streak=0; fi
    if ((streak >= READMIT_ROUNDS)); then
      lb_undrain
      held=1
      for ((i = 0; i < settle; i++)); do
        sleep 1
        apiserver_serves || { held=0; break; }
      done
      if ((held)); then
        log "kube-apiserver on $ip:443 served every read $READMIT_ROUNDS times in a row and through the ${settle} s settle time: back in the load balancer"
        return 0
      fi
      log "kube-apiserver on $ip:443 stopped serving during the settle time ($SERVE_FAILURE): draining again"
      lb_drain
      streak=0
    fi
    sleep 1
  done
  GATE_FAILURE="kube-apiserver on $ip:443 does not serve: $SERVE_FAILURE (not within ${PARAM[health_timeout]} s)"
  return 1
}

# controller-manager and scheduler: their /healthz (always allowed, self-signed serving certs).
gate_controlPlane() {
  local t=${PARAM[health_timeout]}
  wait_for "$t" "kube-controller-manager /healthz on 127.0.0.1:10257 not ok" http_ok ok -k https://127.0.0.1:10257/healthz || return 1
  wait_for "$t" "kube-scheduler /healthz on 127.0.0.1:10259 not ok" http_ok ok -k https://127.0.0.1:10259/healthz || return 1
}

# kubelet: its Node is Ready and its lease was renewed after the step began, which proves the
# kubelet authenticates with the installed client certificate and trusts the installed CA.
node_ready_since() { # server since-epoch
  local server=$1 since=$2 node=${PARAM[node_name]} renew
  api_auth
  curl -sS --max-time 5 "${API_AUTH[@]}" "$server/api/v1/nodes/$node" \
    | jq -e '[.status.conditions[] | select(.type == "Ready" and .status == "True")] | length == 1' >/dev/null || return 1
  renew=$(curl -sS --max-time 5 "${API_AUTH[@]}" "$server/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$node" | jq -r '.spec.renewTime // empty')
  [[ -n $renew ]] && (($(date -d "$renew" +%s) >= since))
}

gate_kubelet() {
  local t=${PARAM[health_timeout]} kubeconfig=$ROOT${PARAM[kubelet_kubeconfig]} server
  server=$(sed -n 's/^ *server: *//p' "$kubeconfig" | head -n1)
  [[ -n $server ]] || { GATE_FAILURE="no server in ${PARAM[kubelet_kubeconfig]}"; return 1; }
  wait_for "$t" "Node ${PARAM[node_name]} not Ready with a lease renewed since the step began (via $server)" node_ready_since "$server" "$STEP_STARTED" || return 1
}
