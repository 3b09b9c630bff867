# Step "<kind>" on one node: stage the input's files, check them, back up and swap in those that
# differ, restart this step's services whose files changed (here or in an earlier step), and run
# the gate. When the gate fails: restore the backup, restart again, and fail naming the check.
# Args: rotate KIND NODE WATCH_DIGEST (the digest only makes the command line change with the files).
# Input params: services (this step's), health_timeout and the gate's own (see gates.sh).
rotate_main() {
  local kind=${1:?kind} digest=${3:-}
  NODE=${2:?node name}
  STEP_ID="$kind/$NODE"
  mkdir -p "$WORK_DIR" && chmod 0700 "$WORK_DIR"
  exec 8>"$WORK_DIR/.lock"
  flock -w 60 8 || die "another rotation step holds $WORK_DIR/.lock"

  local stage="$WORK_DIR/staged/$kind"
  read_input "$stage"
  check_dispatch
  STEP_STARTED=$(date +%s)
  activity Initiated "watch digest ${digest:0:12}"
  # A drained master goes back into the load balancer only through apiserver_readmit (the gate, or
  # the gate after a rollback): a step that fails or dies before that leaves it drained.
  trap record_exit EXIT

  verify_staged "$stage"
  [[ -z ${PARAM[precheck]} ]] || "${PARAM[precheck]}"
  install_changed "$stage"

  local entry svc restarted=() drained=0 changed_at
  changed_at=$(now_us)
  for entry in ${PARAM[services]}; do
    svc=${entry%%=*}
    pending_has "$svc" || continue
    # the apiserver, and etcd (this master's apiserver uses only its local member), leave the
    # load balancer first; the gate puts the master back once its apiserver serves again
    if [[ ${PARAM[drain]} == 1 && $drained == 0 ]]; then lb_drain; drained=1; fi
    [[ -z ${PARAM[before_restart]} ]] || "${PARAM[before_restart]}"
    restart_service "$svc"
    restarted+=("$svc")
  done

  if "${PARAM[gate]}"; then
    pending_remove ${restarted[@]+"${restarted[@]}"}
    FINISHED=1
    activity Success "changed ${#CHANGED[@]} file(s); restarted: ${restarted[*]:-none}"
    # the step's outcome for the stack output; secondsToHealthy = from the swap to the passed gate
    jq -c --arg id "$STEP_ID" --arg changed "${CHANGED[*]:-}" --arg restarted "${restarted[*]:-}" --arg backup "${BACKUP_DIR:-}" --argjson healthy_us $(($(now_us) - changed_at)) \
      '.[$id] + {changed: ($changed | split(" ") | map(select(. != ""))), restarted: ($restarted | split(" ") | map(select(. != ""))), backup: $backup, secondsToHealthy: ($healthy_us / 1000 | round / 1000)}' "$ACTIVITY_FILE"
    exit 0
  fi
  local failed=$GATE_FAILURE
  roll_back ${restarted[@]+"${restarted[@]}"}
}

# record_exit: a step that ends early (die, a failed command under set -e) is recorded as Failed.
record_exit() {
  local rc=$?
  ((rc == 0)) || [[ ${FINISHED:-} == 1 ]] || activity Failed "${FAILURE:-exit status $rc}"
}

# verify_staged STAGE: every certificate parses and is within its validity, every key matches its
# certificate, and leaves chain to one of the CA certificates (staged or installed). Nothing on
# the node has changed when this fails.
verify_staged() {
  local stage=$1 dest staged key key_pub trust cert_pub
  trust=$(mktemp)
  for dest in ${PARAM[ca_certs]}; do
    dest=$ROOT$dest
    if [[ -n ${STAGED_RESTARTS[$dest]+x} ]]; then cat "$(staged_path "$stage" "$dest")" >>"$trust"
    elif [[ -f $dest ]]; then cat "$dest" >>"$trust"; fi
  done
  for dest in ${STAGED_FILES[@]+"${STAGED_FILES[@]}"}; do
    staged=$(staged_path "$stage" "$dest")
    case $dest in
      *.crt)
        # one openssl run parses it, checks it is still valid and prints its public key
        cert_pub=$(openssl x509 -noout -checkend 0 -pubkey -in "$staged" 2>/dev/null) \
          || die "$dest: not a PEM certificate, or it has expired; nothing was changed"
        if ! is_ca_cert "$dest" && ! openssl verify -CAfile "$trust" "$staged" >/dev/null 2>&1; then
          die "$dest: not signed by any of the cluster's CAs; nothing was changed"
        fi
        # its key: the staged one, else the installed one (agents have apiserver.crt without a key)
        key=${dest%.crt}.key
        if [[ -n ${STAGED_RESTARTS[$key]+x} ]]; then key=$(staged_path "$stage" "$key"); fi
        # a CA bundle matches its key when any generation in it does (during a CA rotation the key
        # may be installed by a later step than the bundle)
        if is_ca_cert "$dest"; then cert_pub=$(bundle_public_keys "$staged"); fi
        if [[ -f $key ]]; then
          key_pub=$(openssl pkey -pubout -in "$key" 2>/dev/null | pem_lines)
          if [[ -z $key_pub ]] || ! pem_lines <<<"$cert_pub" | grep -qxF "$key_pub"; then
            die "$dest does not match the private key ${dest%.crt}.key; nothing was changed"
          fi
        fi
        ;;
      *.key) openssl pkey -noout -in "$staged" 2>/dev/null || die "$dest: not a PEM private key; nothing was changed" ;;
    esac
  done
  rm -f "$trust"
}

is_ca_cert() { [[ " ${PARAM[ca_certs]} " == *" ${1#"$ROOT"} "* ]]; } # DEST

# bundle_public_keys FILE: the public key of every certificate in a PEM bundle.
bundle_public_keys() {
  local block=""
  while IFS= read -r line; do
    block+="$line"$'\n'
    if [[ $line == "-----END CERTIFICATE-----" ]]; then
      openssl x509 -noout -pubkey <<<"$block"
      block=""
    fi
  done <"$1"
}

# pem_lines: each PEM block on stdin joined into one line (base64 only), for whole-key comparisons.
pem_lines() {
  awk '/^-----BEGIN/ { k = ""; next } /^-----END/ { print k; next } { k = k $0 }'
}

# install_changed STAGE: for each staged file that differs from the installed one: back it up
# (once per step run), swap the new one in, and mark its services for restart.
CHANGED=()
ADDED_PENDING=()
install_changed() {
  local stage=$1 dest staged rel svc swaps=()
  BACKUP_DIR="$WORK_DIR/backup/$(date -u +%Y%m%dT%H%M%SZ)-${STEP_ID//\//-}"
  for dest in ${STAGED_FILES[@]+"${STAGED_FILES[@]}"}; do
    staged=$(staged_path "$stage" "$dest")
    if [[ -f $dest ]] && cmp -s "$staged" "$dest"; then
      [[ $(stat -c %a "$dest") == "$(stat -c %a "$staged")" ]] || chmod "$(stat -c %a "$staged")" "$dest"
      continue
    fi
    rel=${dest#"$ROOT"}
    mkdir -p "$BACKUP_DIR$(dirname "$rel")"
    if [[ -f $dest ]]; then cp -p "$dest" "$BACKUP_DIR$rel"; else echo "$rel" >>"$BACKUP_DIR/.absent"; fi
    echo "$rel" >>"$BACKUP_DIR/.changed"
    swaps+=("$staged" "$dest" "$(stat -c %a "$staged")")
    CHANGED+=("$rel")
    for svc in ${STAGED_RESTARTS[$dest]}; do
      pending_has "$svc" || ADDED_PENDING+=("$svc")
      pending_add "$svc"
    done
  done
  replace_files ${swaps[@]+"${swaps[@]}"}
  ((${#CHANGED[@]} == 0)) && BACKUP_DIR=""
  log "installed ${#CHANGED[@]} changed file(s)${BACKUP_DIR:+, backup in $BACKUP_DIR}: ${CHANGED[*]:-none}"
  rm -rf "$stage"
}

# roll_back RESTARTED…: puts the backed-up files back, restarts what this step restarted,
# forgets the restarts this step's files asked of later steps, checks again, and fails with the
# gate's finding.
roll_back() {
  local rel svc outcome
  if [[ -n ${BACKUP_DIR:-} ]]; then
    local restores=()
    while IFS= read -r rel; do
      if grep -qx "$rel" "$BACKUP_DIR/.absent" 2>/dev/null; then rm -f "$ROOT$rel"
      else restores+=("$BACKUP_DIR$rel" "$ROOT$rel" "$(stat -c %a "$BACKUP_DIR$rel")"); fi
    done <"$BACKUP_DIR/.changed"
    replace_files ${restores[@]+"${restores[@]}"}
    pending_remove ${ADDED_PENDING[@]+"${ADDED_PENDING[@]}"}
  fi
  for svc in "$@"; do restart_service "$svc"; done
  pending_remove "$@"
  if "${PARAM[gate]}"; then outcome="healthy again on the previous files"; else outcome="STILL UNHEALTHY after the rollback: $GATE_FAILURE"; fi
  [[ ${DRAINED:-0} == 1 ]] && lb_is_drained && outcome+="; the master stays out of the load balancer until a step on it succeeds"
  FAILURE="$STEP_ID: health check failed: $failed; rolled back ${#CHANGED[@]} file(s)${BACKUP_DIR:+ from $BACKUP_DIR}; $outcome; no further node was touched"
  FINISHED=1
  activity Failed "$FAILURE"
  printf '%s\n' "$FAILURE" >&2
  exit 1
}

rotate_main "${@:2}" # $1 names the script, for a readable command line
