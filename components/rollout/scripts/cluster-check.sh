# shellcheck shell=bash
# The cluster stage's check, on a master after the stage's workloads were rolled and its legacy
# token secrets refreshed, each bounded by PARAM[health_timeout]:
# - kube-root-ca.crt in every active namespace holds this master's installed CA bundle (the
#   controller-manager publishes its --root-ca-file there);
# - each legacy token secret (PARAM[token_secrets], NAMESPACE/NAME words) holds that bundle as
#   ca.crt and a token signed by the active signing key (its key id) that the apiserver accepts;
# - each rolled workload (PARAM[rolled_workloads], KIND/NAMESPACE/NAME words) carries the stage's
#   trust in its pod template (PARAM[trust_words]) and has every pod updated and ready.
# Fails, saying what it saw last, when one does not hold. Tokens travel on stdin only.
cluster_server() { printf 'https://%s:443' "${PARAM[node_ip]}"; }
api_get() { # PATH: the API's answer; fails on any status but 200
  api_auth
  curl -sS --fail --max-time 10 "${API_AUTH[@]}" "$(cluster_server)$1"
}
bundle_text() { cat "$ROOT${PARAM[api_ca]}"; } # without its trailing newlines, as $(…) gives it

root_ca_published() {
  local active published missing
  active=$(api_get /api/v1/namespaces | jq -r '.items[] | select(.status.phase == "Active") | .metadata.name' | sort) && [[ -n $active ]] \
    || { CHECK_DETAIL="the apiserver did not list the namespaces"; return 1; }
  published=$(api_get "/api/v1/configmaps?fieldSelector=metadata.name%3Dkube-root-ca.crt" \
    | jq -r --arg want "$(bundle_text)" '.items[] | select((.data["ca.crt"] // "") | rtrimstr("\n") == $want) | .metadata.namespace' | sort) \
    || { CHECK_DETAIL="the apiserver did not list the kube-root-ca.crt ConfigMaps"; return 1; }
  missing=$(comm -23 <(printf '%s\n' "$active") <(printf '%s\n' "$published") | sed '/^$/d')
  [[ -z $missing ]] && return 0
  CHECK_DETAIL="$(wc -l <<<"$missing") namespace(s) without it, e.g. $(head -n3 <<<"$missing" | paste -sd ' ' -)"
  return 1
}

b64url_decode() { local s; s=$(tr -- '-_' '+/'); while (($(printf '%s' "$s" | wc -c) % 4)); do s+="="; done; printf '%s' "$s" | base64 -d 2>/dev/null; }
# the key id the apiserver gives tokens it signs with a key: base64url of the SHA-256 of its DER public key
signing_key_id() { openssl pkey -in "$ROOT${PARAM[signing_key]}" -pubout -outform DER 2>/dev/null | openssl dgst -sha256 -binary | base64 | tr -- '+/' '-_' | tr -d '='; }

tokens_current() {
  local entry secret want_kid token kid status
  want_kid=$(signing_key_id)
  [[ -n $want_kid ]] || { CHECK_DETAIL="the signing key ${PARAM[signing_key]} could not be read"; return 1; }
  for entry in ${PARAM[token_secrets]:-}; do
    secret=$(api_get "/api/v1/namespaces/${entry%%/*}/secrets/${entry#*/}") || { CHECK_DETAIL="$entry: not readable"; return 1; }
    [[ $(jq -r '.data["ca.crt"] // ""' <<<"$secret" | base64 -d) == "$(bundle_text)" ]] || { CHECK_DETAIL="$entry: its CA bundle is not the installed one"; return 1; }
    token=$(jq -r '.data.token // ""' <<<"$secret" | base64 -d)
    [[ -n $token ]] || { CHECK_DETAIL="$entry: no token (the tokens controller has not filled it)"; return 1; }
    kid=$(cut -d. -f1 <<<"$token" | b64url_decode | jq -r '.kid // ""' 2>/dev/null || true)
    [[ $kid == "$want_kid" ]] || { CHECK_DETAIL="$entry: its token is signed by another key (key id ${kid:-none})"; return 1; }
    api_auth
    status=$(printf 'header = "Authorization: Bearer %s"\n' "$token" | curl -sS --max-time 10 --config - --cacert "$ROOT${PARAM[api_ca]}" -o /dev/null -w '%{http_code}' "$(cluster_server)/api" || true)
    [[ $status == 200 ]] || { CHECK_DETAIL="$entry: the apiserver answers its token with $status"; return 1; }
  done
}

workloads_rolled() {
  local entry kind ns name resource
  for entry in ${PARAM[rolled_workloads]:-}; do
    IFS=/ read -r kind ns name <<<"$entry"
    case $kind in Deployment) resource=deployments ;; DaemonSet) resource=daemonsets ;; StatefulSet) resource=statefulsets ;; *) die "unknown workload kind in $entry" ;; esac
    api_get "/apis/apps/v1/namespaces/$ns/$resource/$name" | jq -e --arg trust "${PARAM[trust_words]}" --arg kind "$kind" '. as $ws
      | (.spec.template.metadata.annotations["azs-cert-rotation/trust"] == $trust)
      and ((.status.observedGeneration // 0) >= .metadata.generation)
      and (if $kind == "Deployment" then [.status.updatedReplicas, .status.availableReplicas, .status.replicas] | map(. // 0) | all(. == $ws.spec.replicas)
           elif $kind == "DaemonSet" then [.status.updatedNumberScheduled, .status.numberAvailable] | map(. // 0) | all(. == $ws.status.desiredNumberScheduled)
           else .status.updateRevision == .status.currentRevision and (.status.readyReplicas // 0) == .spec.replicas end)' >/dev/null \
      || {
        # shellcheck disable=SC2034 # read by gates.sh's wait_for
        CHECK_DETAIL="$entry: not every pod carries the new template and is ready"
        return 1
      }
  done
}

cluster_check_main() {
  local t
  read_input "$WORK_DIR/staged/cluster-check"
  # shellcheck disable=SC2034 # read by lib.sh's log
  NODE=${PARAM[node_name]} STEP_ID=cluster-check
  t=${PARAM[health_timeout]}
  wait_for "$t" "kube-root-ca.crt does not hold the installed CA bundle in every namespace" root_ca_published || die "$GATE_FAILURE"
  wait_for "$t" "a legacy token secret is not current" tokens_current || die "$GATE_FAILURE"
  wait_for "$t" "a rolled workload is not ready" workloads_rolled || die "$GATE_FAILURE"
  log "cluster check: kube-root-ca.crt current in every namespace; $(wc -w <<<"${PARAM[token_secrets]:-}") legacy token secret(s) current; $(wc -w <<<"${PARAM[rolled_workloads]:-}") workload(s) rolled and ready"
  jq -cn --arg trust "${PARAM[trust_words]}" --arg tokens "${PARAM[token_secrets]:-}" --arg workloads "${PARAM[rolled_workloads]:-}" \
    '{trust: $trust, tokenSecrets: ($tokens | split(" ") | map(select(. != ""))), workloads: ($workloads | split(" ") | map(select(. != "")))}'
}
cluster_check_main "${@:2}" # $1 names the script, for a readable command line
