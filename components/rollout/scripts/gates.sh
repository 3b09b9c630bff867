# shellcheck shell=bash
# Health gates, one per step kind, and the steps' other hooks: the step registry
# (components/rollout/registry.ts) names the functions each kind runs and the parameters they
# read; file paths come as parameters, from the certificate catalog. A gate returns non-zero with
# GATE_FAILURE set to the failed check. Every wait is bounded by PARAM[health_timeout] seconds;
# every request by curl/openssl timeouts.

GATE_FAILURE=""

# wait_for SECONDS DESCRIPTION COMMAND…: retries COMMAND every second until it succeeds. A check
# may say what it saw last in CHECK_DETAIL; it goes into GATE_FAILURE.
wait_for() {
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + limit))
  CHECK_DETAIL=""
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { GATE_FAILURE="$what${CHECK_DETAIL:+: $CHECK_DETAIL} (not within ${limit} s)"; return 1; }
    sleep 1
  done
}

# served_cert_is HOST:PORT FILE [CLIENT_CERT CLIENT_KEY]: the endpoint presents FILE's certificate.
served_cert_is() {
  local target=$1 want=$2 got
  local client=()
  [[ $# -ge 4 ]] && client=(-cert "$3" -key "$4")
  got=$(timeout 10 openssl s_client -connect "$target" ${client[@]+"${client[@]}"} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null) || return 1
  [[ -n $got && $got == "$(openssl x509 -noout -fingerprint -sha256 -in "$want")" ]]
}

# Draining a master from the load balancer before its apiserver restarts: new connections from
# the balancer's probe sources (PARAM[lb_probe_sources]) are refused, so after the settle time the
# balancer has marked it down and sends no new traffic; established connections finish. Refused
# only on the apiserver port and only for SYNs; lb_undrain removes every rule this added.
DRAIN_RULE=(-p tcp --dport 443 --syn -m comment --comment azs-rotate-certs-drain -j REJECT --reject-with tcp-reset)
lb_drain() {
  local src
  [[ -n ${PARAM[lb_probe_sources]:-} ]] || return 0
  for src in ${PARAM[lb_probe_sources]}; do iptables -w 5 -I INPUT -s "$src" "${DRAIN_RULE[@]}"; done
  # shellcheck disable=SC2034 # read by rotate.sh's roll_back
  DRAINED=1
  log "draining: new connections from ${PARAM[lb_probe_sources]} refused; waiting ${PARAM[lb_settle]} s for the load balancer"
  sleep "${PARAM[lb_settle]}"
}
lb_undrain() {
  local src
  for src in ${PARAM[lb_probe_sources]:-}; do
    while iptables -w 5 -D INPUT -s "$src" "${DRAIN_RULE[@]}" 2>/dev/null; do :; done
  done
}
lb_is_drained() {
  local src
  for src in ${PARAM[lb_probe_sources]:-}; do
    iptables -w 5 -C INPUT -s "$src" "${DRAIN_RULE[@]}" 2>/dev/null && return 0
  done
  return 1
}

# service_instance SERVICE: what runs the service now: a systemd unit's MainPID, a static pod's
# container id; empty when nothing does (a cluster workload's pods: workload_replace records them).
service_instance() {
  case $(manager_of "$1") in
    systemd) systemctl show -p MainPID "$1" 2>/dev/null | sed -n 's/^MainPID=\([1-9][0-9]*\)$/\1/p' ;;
    staticPod)
      if command -v crictl >/dev/null; then crictl ps -q --name "^$1\$" 2>/dev/null | head -n1
      else docker ps -q --filter "name=k8s_${1}_" 2>/dev/null | head -n1; fi
      ;;
  esac
}

# A cluster workload's pod on this node (kube-proxy, a DaemonSet's): found through the API, with
# the node's client certificate and the server of the kubelet's kubeconfig, where
# PARAM[workload_selectors] says (SERVICE=NAMESPACE/LABEL_SELECTOR).
kubelet_server() { sed -n 's/^ *server: *//p' "$ROOT${PARAM[kubelet_kubeconfig]}" | head -n1; }
workload_of() { # SERVICE: sets WORKLOAD_NAMESPACE and WORKLOAD_SELECTOR
  local entry
  for entry in ${PARAM[workload_selectors]:-}; do
    [[ ${entry%%=*} == "$1" ]] || continue
    entry=${entry#*=}
    WORKLOAD_NAMESPACE=${entry%%/*} WORKLOAD_SELECTOR=${entry#*/}
    return 0
  done
  return 1
}
workload_pods() { # SERVICE: "UID NAME READY" of each of its pods on this node, one per line (fails when the API does not answer)
  local server query
  workload_of "$1" && server=$(kubelet_server) && [[ -n $server ]] || return 1
  api_auth
  query=$(jq -rn --arg s "$WORKLOAD_SELECTOR" --arg n "spec.nodeName=${PARAM[node_name]}" '"labelSelector=\($s | @uri)&fieldSelector=\($n | @uri)"')
  curl -sS --fail --max-time 10 "${API_AUTH[@]}" "$server/api/v1/namespaces/$WORKLOAD_NAMESPACE/pods?$query" \
    | jq -r '.items[] | select(.metadata.deletionTimestamp == null) | "\(.metadata.uid) \(.metadata.name) \([.status.conditions[]? | select(.type == "Ready" and .status == "True")] | length == 1)"'
}
# workload_replace SERVICE: lists its pods on this node, records their uids (INSTANCE_BEFORE: what
# the successor must not be) and deletes each by name on the condition that it is still the pod
# seen (uid precondition); its DaemonSet creates the node's pod anew. Returns 2 when the pods could
# not be listed (nothing deleted).
workload_replace() {
  local pods server uid name ready
  pods=$(workload_pods "$1") || return 2
  INSTANCE_BEFORE[$1]=$(cut -d' ' -f1 <<<"$pods" | sed '/^$/d' | sort | paste -sd ' ' -)
  [[ -n ${INSTANCE_BEFORE[$1]} ]] || { log "$1 has no pod on ${PARAM[node_name]}: nothing to replace"; return 0; }
  workload_of "$1" && server=$(kubelet_server) || return 1
  api_auth
  while read -r uid name ready; do
    [[ -n $uid ]] || continue
    curl -sS --fail --max-time 10 "${API_AUTH[@]}" -X DELETE -H 'Content-Type: application/json' \
      --data "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"preconditions\":{\"uid\":\"$uid\"}}" \
      "$server/api/v1/namespaces/$WORKLOAD_NAMESPACE/pods/$name" >/dev/null || return 1
    log "deleted $1's pod $name on ${PARAM[node_name]} (ready: $ready): its DaemonSet creates it anew"
  done <<<"$pods"
}

# restarted_instance_is SERVICE INSTANCE: a new instance (not the one the restart replaced) runs the
# service, and it is INSTANCE (the one seen right after the restart: a crash loop shows as another).
restarted_instance_is() {
  local now
  now=$(service_instance "$1")
  [[ -n $now && $now != "${INSTANCE_BEFORE[$1]:-}" && $now == "$2" ]]
}


# static_pods_replaced SERVICE…: each restarted static pod among them runs a new container (not the
# one its restart stopped) within the health timeout, before its health is checked: an old
# container's answers must not pass the gate, and a pod whose new container keeps exiting (a crash
# loop: none runs) fails here with that said. Other managers pass (their restart returns once the
# new process runs).
static_pods_replaced() {
  local svc
  for svc in "$@"; do
    [[ $(manager_of "$svc") == staticPod ]] || continue
    wait_for "${PARAM[health_timeout]}" "$svc (static pod): no new container running since its restart (crash-looping?)" new_instance_runs "$svc" || return 1
  done
}
# workload_pods_replaced SERVICE…: each replaced cluster-workload pod among them has a successor on
# this node that is Ready, within the health timeout. Checked after the step's gate: the pod runs
# only once the node's kubelet does, and a broken kubelet is the gate's to name.
workload_pods_replaced() {
  local svc
  for svc in "$@"; do
    [[ $(manager_of "$svc") == clusterWorkload && -n ${INSTANCE_BEFORE[$svc]:-} ]] || continue # no pod here before: nothing was replaced
    wait_for "${PARAM[health_timeout]}" "$svc: no new pod Ready on ${PARAM[node_name]} since its pod was deleted" new_pod_ready "$svc" || return 1
  done
}
new_instance_runs() { # SERVICE
  local now
  now=$(service_instance "$1")
  [[ -n $now && $now != "${INSTANCE_BEFORE[$1]:-}" ]]
}
new_pod_ready() { # SERVICE: a pod of it on this node that was not there before the restart, Ready
  local pods uid old
  pods=$(workload_pods "$1") || { CHECK_DETAIL="the API did not answer"; return 1; }
  while read -r uid _ ready; do
    [[ -n $uid ]] || continue
    for old in ${INSTANCE_BEFORE[$1]}; do [[ $uid != "$old" ]] || continue 2; done
    [[ $ready == true ]] && return 0
    CHECK_DETAIL="its new pod $uid is not Ready"
  done <<<"$pods"
  return 1
}

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

# Before the kubelet restarts with changed files: its self-rotated client certificate (a symlink to
# the newest CSR-issued pem) takes precedence over the kubeconfig's client.crt and may be signed by
# a CA the cluster is about to drop, so it is set aside: backed up with the step's files (a rollback
# or an interrupted step puts it back) and removed. The kubelet then authenticates with client.crt
# and rotates a new one through a CSR when that nears expiry. A restart the kubelet owes an earlier
# step on this node (no file changed here) gets a backup and a journal of its own.
kubelet_set_aside_rotated_client() {
  local rel=${PARAM[kubelet_rotated_client]}
  local current=$ROOT$rel
  [[ -e $current || -L $current ]] || return 0
  [[ -n ${BACKUP_DIR:-} ]] || BACKUP_DIR=$(new_backup_dir)
  back_up "$rel"
  begin_journal
  rm -f "$current"
  log "set aside the kubelet's self-rotated client certificate $rel (backed up in $BACKUP_DIR): it authenticates with the installed client certificate"
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

# Before the etcd step changes a file: every other member must be healthy, else restarting this one
# could lose quorum and the step stops here, nothing changed. The exception is the repair of
# expired certificates (members then reject each other): the step goes on and its gate checks this
# member only (see gate_etcd). Also notes whether this master's apiserver served before.
precheck_etcd() {
  local member
  QUORUM_BEFORE=1
  for member in ${PARAM[etcd_members]}; do
    [[ $member == "${PARAM[node_ip]}" ]] && continue
    wait_for 5 "etcd member $member: /health not true" etcd_member_healthy "$member" && continue
    if etcd_certs_expired; then
      QUORUM_BEFORE=0
      log "etcd member $member is not healthy and this member's certificates have expired: repairing"
      break
    fi
    die "$STEP_ID: etcd member $member is not healthy: restarting this member as well could lose quorum; nothing was changed (bring $member back first)"
  done
  APISERVER_READY_BEFORE=1
  apiserver_ready || { APISERVER_READY_BEFORE=0; log "kube-apiserver on this master is not ready before the change"; }
}

etcd_certs_expired() { # any of this member's installed etcd certificates is past its notAfter
  local cert
  for cert in "${PARAM[etcd_peer_cert]}" "${PARAM[etcd_server_cert]}" "${PARAM[etcd_client_cert]}"; do
    openssl x509 -noout -checkend 0 -in "$ROOT$cert" >/dev/null 2>&1 || return 0
  done
  return 1
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
  local base=$1 aggregated gv lists
  lists=("$base/api/v1")
  api_auth
  aggregated=" $(curl -sS --max-time 5 "${API_AUTH[@]}" "$base/apis/apiregistration.k8s.io/v1/apiservices" \
    | jq -r '[.items[] | select(.spec.service != null) | .spec.group + "/" + .spec.version] | join(" ")') " || aggregated=" "
  printf '%s\n' /api/v1/namespaces/kube-system /api/v1/namespaces/default/services/kubernetes /api/v1/namespaces/default/endpoints/kubernetes
  for gv in $(curl -sS --max-time 5 "${API_AUTH[@]}" "$base/apis" | jq -r '.groups[].preferredVersion.groupVersion'); do
    [[ $aggregated == *" $gv "* ]] || lists+=("$base/apis/$gv")
  done
  # every group's resource list in one curl run over one connection, as a stream of JSON
  # documents (each list names its own groupVersion)
  curl -sS --max-time 5 "${API_AUTH[@]}" "${lists[@]}" \
    | jq -r '(if .groupVersion == "v1" then "/api/v1" else "/apis/" + .groupVersion end) as $p
        | .resources[] | select((.name | contains("/")) | not) | select(.verbs | index("list"))
        | select(.name != "componentstatuses") | "\($p)/\(.name)?limit=1"'
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
# A step that restarted nothing on a master no step left drained (etcd re-reading its certificates)
# took traffic all along: every read served once is the check, and there is no settle to wait out.
READMIT_ROUNDS=3
apiserver_readmit() {
  local ip=${PARAM[node_ip]} settle=${PARAM[lb_settle]} deadline streak=0 i held stayed=0
  deadline=$((SECONDS + PARAM[health_timeout]))
  SERVE_FAILURE="not checked"
  [[ -z ${RESTARTED_AT[*]:-} ]] && ! lb_is_drained && stayed=1
  while ((SECONDS < deadline)); do
    if apiserver_serves; then streak=$((streak + 1)); else streak=0; fi
    if ((stayed && streak)); then
      log "kube-apiserver on $ip:443 served every read; nothing restarted and it stayed in the load balancer"
      return 0
    fi
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
# A non-leader's /healthz stays ok while the apiserver refuses its client certificate: each must
# also get answers from the apiserver (its own request counters, on its /metrics).
gate_controlPlane() {
  local t=${PARAM[health_timeout]}
  wait_for "$t" "kube-controller-manager /healthz on 127.0.0.1:10257 not ok" http_ok ok -k https://127.0.0.1:10257/healthz || return 1
  wait_for "$t" "kube-scheduler /healthz on 127.0.0.1:10259 not ok" http_ok ok -k https://127.0.0.1:10259/healthz || return 1
  wait_for "$t" "the apiserver does not answer kube-controller-manager (127.0.0.1:10257) and kube-scheduler (127.0.0.1:10259)" apiserver_answers kube-controller-manager=10257 kube-scheduler=10259 || return 1
}

# api_request_counts PORT: "<answered> <refused>": the component's requests to the apiserver that
# got 200 and that got 401/403, since it started (rest_client_requests_total on its /metrics).
api_request_counts() {
  local body
  api_auth
  body=$(http_200 -k "${API_AUTH[@]:2}" "https://127.0.0.1:$1/metrics") || return 1
  awk '/^rest_client_requests_total\{/ { if ($0 ~ /code="200"/) ok += $NF; if ($0 ~ /code="40[13]"/) refused += $NF } END { printf "%d %d\n", ok, refused }' <<<"$body"
}

# apiserver_answers NAME=PORT…: over 3 s (longer than a leader election's retry period, 2 s) each
# component got more answers and no refusal (one window for all of them).
apiserver_answers() {
  local c counts before=() after ok0 refused0 ok1 refused1 i=0
  for c in "$@"; do
    counts=$(api_request_counts "${c#*=}") || { CHECK_DETAIL="${c%%=*}: its /metrics is not readable"; return 1; }
    before+=("$counts")
  done
  sleep 3
  for c in "$@"; do
    after=$(api_request_counts "${c#*=}") || { CHECK_DETAIL="${c%%=*}: its /metrics is not readable"; return 1; }
    read -r ok0 refused0 <<<"${before[$i]}"
    read -r ok1 refused1 <<<"$after"
    i=$((i + 1))
    ((refused1 == refused0)) || { CHECK_DETAIL="${c%%=*}: the apiserver refused $((refused1 - refused0)) of its requests (401/403) in 3 s: its client certificate is not accepted"; return 1; }
    ((ok1 > ok0)) || { CHECK_DETAIL="${c%%=*}: none of its requests was answered in 3 s"; return 1; }
  done
}

# kubelet: its Node is Ready and its lease was renewed after the step began, which proves the
# kubelet authenticates with the installed client certificate and trusts the installed CA.
node_ready_since() { # SERVER SINCE_US: Ready, and the lease renewed at or after SINCE_US (µs since the epoch)
  local server=$1 since=$2 node=${PARAM[node_name]} renew
  api_auth
  curl -sS --max-time 5 "${API_AUTH[@]}" "$server/api/v1/nodes/$node" \
    | jq -e '[.status.conditions[] | select(.type == "Ready" and .status == "True")] | length == 1' >/dev/null || return 1
  renew=$(curl -sS --max-time 5 "${API_AUTH[@]}" "$server/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$node" | jq -r '.spec.renewTime // empty')
  [[ -n $renew ]] && (($(date -d "$renew" +%s%6N) >= since))
}

# process_started_us PID: when the process started, in µs since the epoch, to 10 ms (its start in
# clock ticks after boot, set against the time since boot now).
process_started_us() {
  local stat ticks hz uptime now
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  read -r -a stat <<<"${stat##*) }" # the fields after "PID (COMM) ": the 22nd, starttime, is the 20th
  ticks=${stat[19]:-}
  [[ $ticks =~ ^[0-9]+$ ]] || return 1
  hz=$(getconf CLK_TCK)
  read -r uptime _ </proc/uptime
  now=$(now_us)
  [[ $uptime =~ ^([0-9]+)\.([0-9]{2})$ ]] || return 1
  printf '%s' $((now - (10#${BASH_REMATCH[1]}${BASH_REMATCH[2]} * 10000 - ticks * 1000000 / hz)))
}

gate_kubelet() {
  local t=${PARAM[health_timeout]} server since=$((STEP_STARTED * 1000000)) what="the step began" instance started
  server=$(kubelet_server)
  [[ -n $server ]] || { GATE_FAILURE="no server in ${PARAM[kubelet_kubeconfig]}"; return 1; }
  # restarted: the lease must be renewed by the new kubelet (the old one renewed it every 10 s and
  # the Node stays Ready for 40 s after it stops), and that kubelet must still be the one running.
  # The new kubelet renews it as it starts, which can be before its restart has returned: renewals count
  # from its process's start (the old process had exited by then), plus 50 ms for the start time's
  # resolution; else the next renewal, 10 s later, would be the first to count.
  if [[ -n ${RESTARTED_AT[kubelet]:-} ]]; then
    since=${RESTARTED_AT[kubelet]} what="the kubelet restarted"
    instance=$(service_instance kubelet)
    if [[ -n $instance ]] && started=$(process_started_us "$instance") && ((started + 50000 < since)); then
      since=$((started + 50000)) what="the kubelet's new process (pid $instance) started"
    fi
  fi
  wait_for "$t" "Node ${PARAM[node_name]} not Ready with a lease renewed since $what (via $server)" node_ready_since "$server" "$since" || return 1
  [[ -z ${RESTARTED_AT[kubelet]:-} ]] || restarted_instance_is kubelet "$instance" && return 0
  # shellcheck disable=SC2034 # read by rotate.sh (the step's failure)
  GATE_FAILURE="the kubelet on ${PARAM[node_name]} did not stay up after its restart (process ${instance:-none}, now $(service_instance kubelet)): crash-looping?"
  return 1
}
