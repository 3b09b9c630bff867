# shellcheck shell=bash
# Step "<kind>" on one node: stage the input's files, check them, back up and swap in those that
# differ, restart this step's services whose files changed (here or in an earlier step), and run
# the gate. When the gate fails: restore the backup, restart again, and fail naming the check.
# Args: rotate KIND NODE WATCH_DIGEST (the digest only makes the command line change with the files).
# Input params: services (this step's), health_timeout and the gate's own (see gates.sh).
rotate_main() {
  local kind=${1:?kind} digest=${3:-}
  NODE=${2:?node name}
  STEP_ID="$kind/$NODE"
  # A dropped SSH connection must not kill the step between a swap and its rollback: it finishes
  # on its own (its output is lost; the node's log and activity file keep it). Nor must the
  # provider's SIGTERM when the engine cancels (Ctrl-C, or `pulumi up` killed): the step's own
  # timeouts bound it.
  trap '' HUP PIPE TERM
  lock_work_dir
  STAGE="$WORK_DIR/staged/$kind"
  # A drained master goes back into the load balancer only through apiserver_readmit (the gate, or
  # the gate after a rollback): a step that fails or dies before that leaves it drained.
  trap record_exit EXIT
  recover_interrupted

  read_input "$STAGE"
  check_dispatch
  stage_flag_edits "$STAGE"
  # shellcheck disable=SC2034 # read by gates.sh's gate_kubelet
  STEP_STARTED=$(date +%s)
  activity Initiated "watch digest ${digest:0:12}"

  # the preflight verified these very files together (verify.sh); else, or when one differs, here
  verified_by_preflight "$STAGE" || verify_staged "$STAGE"
  [[ -z ${PARAM[precheck]} ]] || "${PARAM[precheck]}"
  local entry svc restarted=() drained=0 changed_at down_at="" failed=""
  changed_static_pods "$STAGE"
  # a static pod stops before its changed manifest goes in: a master leaves the load balancer
  # before that, not only before the restarts (and is out of service from then on)
  if [[ ${PARAM[drain]} == 1 ]] && ((${#STATIC_POD_SWAPS[@]} > 0)); then down_at=$(now_us); lb_drain || true; drained=1; fi
  install_changed "$STAGE"

  # from here on every failure ends in roll_back: the previous files, restarted and checked
  changed_at=$(now_us)
  for entry in ${PARAM[services]}; do
    svc=${entry%%=*}
    pending_has "$svc" || continue
    # the apiserver, and etcd (this master's apiserver uses only its local member), leave the
    # load balancer first; the gate puts the master back once its apiserver serves again
    if [[ ${PARAM[drain]} == 1 && $drained == 0 ]]; then lb_drain || true; drained=1; fi
    restarted+=("$svc")
    if [[ -n ${PARAM[before_restart]} ]] && ! "${PARAM[before_restart]}"; then
      failed="before restarting $svc: ${PARAM[before_restart]} failed"
      break
    fi
    restart_service "$svc" || { failed=$RESTART_FAILURE; break; }
  done

  if [[ -z $failed ]] && static_pods_replaced ${restarted[@]+"${restarted[@]}"} && "${PARAM[gate]}" && workload_pods_replaced ${restarted[@]+"${restarted[@]}"}; then
    pending_remove ${restarted[@]+"${restarted[@]}"}
    end_journal
    prune_backups
    FINISHED=1
    activity Success "changed ${#CHANGED[@]} file(s); restarted: ${restarted[*]:-none}"
    # the step's outcome for the stack output; secondsToHealthy = from the swap, or from the drain
    # that had to come before it, to the passed gate
    jq -c --arg id "$STEP_ID" --arg changed "${CHANGED[*]:-}" --arg restarted "${restarted[*]:-}" --arg backup "${BACKUP_DIR:-}" --argjson healthy_us $(($(now_us) - ${down_at:-$changed_at})) \
      '.[$id] + {changed: ($changed | split(" ") | map(select(. != ""))), restarted: ($restarted | split(" ") | map(select(. != ""))), backup: $backup, secondsToHealthy: ($healthy_us / 1000 | round / 1000)}' "$ACTIVITY_FILE"
    exit 0
  fi
  roll_back "${failed:-health check failed: $GATE_FAILURE}" ${restarted[@]+"${restarted[@]}"}
}

# restart_service NAME: restarts it the way its declared manager runs it: a systemd unit with
# systemctl; a static pod by stopping its container, which the kubelet starts again from
# /etc/kubernetes/manifests (its exited containers, and maybe its sandbox, go too: see below); a
# cluster workload by deleting its pods on this node through the API (its DaemonSet creates one anew).
# Records the instance it replaced and when (INSTANCE_BEFORE, RESTARTED_AT) for the gates; returns
# non-zero with RESTART_FAILURE set when the restart failed.
declare -A INSTANCE_BEFORE=() RESTARTED_AT=()
restart_service() {
  local svc=$1 manager ids sandboxes rc=0
  RESTART_FAILURE=""
  manager=$(manager_of "$svc") || { RESTART_FAILURE="$svc: the step does not declare how it runs"; return 1; }
  if [[ -n ${SWAPPED_MANIFEST[$svc]:-} ]]; then
    log "restarting $svc ($manager): its pod stopped for its manifest's swap; the kubelet starts it from the one in place"
    RESTARTED_AT[$svc]=$(now_us)
    return 0
  fi
  # shellcheck disable=SC2034 # read by gates.sh's restarted_instance_is
  INSTANCE_BEFORE[$svc]=$(service_instance "$svc")
  log "restarting $svc ($manager)"
  case $manager in
    systemd) timeout 120 systemctl restart "$svc" || rc=$? ;;
    staticPod)
      if command -v crictl >/dev/null; then
        sandboxes=$(crictl ps -a --name "^$svc\$" -o json 2>/dev/null | jq -r '[.containers[].podSandboxId] | unique | .[]' 2>/dev/null || true)
        ids=$(crictl ps -q --name "^$svc\$" 2>/dev/null || true)
        # --timeout: without it containerd SIGKILLs at once (no graceful shutdown of the apiserver)
        if [[ -n $ids ]]; then timeout 60 crictl stop --timeout 30 $ids >/dev/null || rc=$?; fi
        # The kubelet waits before starting a container that exited again within 10 minutes
        # (CrashLoopBackOff: 10 s, doubling to 5 min), judged from the exited container's status: a
        # phase soon after another, a rollback or a crash loop would wait for it. With the exited
        # containers removed it starts a new one at its next sync of the pod, about a second after
        # the stop. A removal does not make it sync, though, and a pod in back-off (a crash loop)
        # is synced only when its back-off ends: when no new container shows within 5 s, stopping
        # the pod's sandbox makes it sync at once and create the pod anew. (Stopping it at once
        # would race the kubelet's own start and cost the new apiserver a graceful shutdown.)
        if ((rc == 0)); then
          ids=$(crictl ps -a -q --state exited --name "^$svc\$" 2>/dev/null || true)
          if [[ -n $ids ]]; then timeout 30 crictl rm $ids >/dev/null 2>&1 || true; fi
          if [[ -n $sandboxes ]] && ! new_container_within 5 "$svc"; then
            timeout 30 crictl stopp $sandboxes >/dev/null 2>&1 || true
          fi
        fi
      else
        ids=$(docker ps -q --filter "name=k8s_${svc}_" 2>/dev/null || true)
        if [[ -n $ids ]]; then timeout 60 docker restart $ids >/dev/null || rc=$?; fi
      fi
      ;;
    clusterWorkload)
      workload_replace "$svc" || rc=$?
      ((rc != 2)) || { RESTART_FAILURE="$svc: its pods on $NODE could not be listed through the API"; return 1; }
      ;;
    *) RESTART_FAILURE="$svc runs as $manager, not as a process of this node"; return 1 ;;
  esac
  # shellcheck disable=SC2034 # read by gates.sh's gate_kubelet and apiserver_readmit
  RESTARTED_AT[$svc]=$(now_us)
  ((rc == 0)) && return 0
  RESTART_FAILURE="restarting $svc ($manager) failed (exit status $rc)"
  ((rc != 124)) || RESTART_FAILURE="restarting $svc ($manager) timed out"
  return 1
}

# new_container_within SECONDS SERVICE: a container of the static pod is created or running
# within SECONDS (checked every half second).
new_container_within() {
  local tries=$(($1 * 2))
  while ((tries-- > 0)); do
    if [[ -n $(crictl ps -q --name "^$2\$" 2>/dev/null || true)$(crictl ps -a -q --state created --name "^$2\$" 2>/dev/null || true) ]]; then return 0; fi
    sleep 0.5
  done
  return 1
}

# check_dispatch: the step's hooks (PARAM gate, precheck, before_restart) are functions of these
# scripts: a mismatch between the program and the scripts stops the step before any change.
check_dispatch() {
  local hook
  for hook in gate precheck before_restart; do
    [[ -z ${PARAM[$hook]:-} ]] || declare -F "${PARAM[$hook]}" >/dev/null || die "the step's $hook ${PARAM[$hook]} is not a function of the remote scripts"
  done
  [[ -n ${PARAM[gate]:-} ]] || die "the step has no gate"
}

# record_exit: a step that ends early (die, a failed command under set -e) is recorded as Failed;
# the staged files go either way.
record_exit() {
  local rc=$?
  rm -rf "${STAGE:-}"
  ((rc == 0)) || [[ ${FINISHED:-} == 1 ]] || activity Failed "${FAILURE:-exit status $rc}"
}

# stage_flag_edits STAGE: per PARAM[flag_edits] word (read_flag_edit), stages a copy of the
# service's flag file with the flag's arguments set to its value; install_changed then installs it
# like the input's files (backed up, journaled, swapped, restored by a rollback), restarting the
# service when it changed. A missing file or flag stops the step before anything changed.
stage_flag_edits() {
  local stage=$1 edit dest staged
  for edit in ${PARAM[flag_edits]:-}; do
    read_flag_edit "$edit"
    dest=$ROOT$EDIT_FILE
    staged=$(staged_path "$stage" "$dest")
    # a second flag of the same file edits the copy staged for the first
    if [[ -z ${STAGED_RESTARTS[$dest]+x} ]]; then
      check_flag_file "$dest"
      mkdir -p "$(dirname "$staged")"
      cat "$dest" >"$staged"
      chmod "$(stat -c %a "$dest")" "$staged"
      STAGED_FILES+=("$dest")
      STAGED_RESTARTS[$dest]=$EDIT_SERVICE
    fi
    check_flag_file "$staged"
    sed -i -E "s#${EDIT_TOKEN}[^[:space:]\"']*#\\1$EDIT_FLAG=$EDIT_VALUE#g" "$staged"
  done
}

# install_changed STAGE: for each staged file that differs from the installed one: back it up
# (once per step run), swap the new one in, and mark its services for restart.
CHANGED=()
ADDED_PENDING=()
# back_up REL: records the node's REL as it is now (a file, a symlink, or its absence) in this
# step's backup, for restore_backup, and counts it as changed.
back_up() {
  local rel=$1
  mkdir -p "$BACKUP_DIR$(dirname "$rel")"
  if [[ -e $ROOT$rel || -L $ROOT$rel ]]; then cp -pP "$ROOT$rel" "$BACKUP_DIR$rel"; else echo "$rel" >>"$BACKUP_DIR/.absent"; fi
  echo "$rel" >>"$BACKUP_DIR/.changed"
  CHANGED+=("$rel")
}
# changed_static_pods STAGE: STATIC_POD_SWAPS, SERVICE=MANIFEST words: each service the node runs as
# a static pod whose flag file (its manifest) is staged with a change (stage_flag_edits staged every
# flag file of the step).
changed_static_pods() {
  local edit word
  STATIC_POD_SWAPS=()
  for edit in ${PARAM[flag_edits]:-}; do
    read_flag_edit "$edit"
    [[ $(manager_of "$EDIT_SERVICE" || true) == staticPod ]] || continue
    cmp -s "$(staged_path "$1" "$ROOT$EDIT_FILE")" "$ROOT$EDIT_FILE" && continue
    word="$EDIT_SERVICE=$EDIT_FILE"
    [[ " ${STATIC_POD_SWAPS[*]:-} " == *" $word "* ]] || STATIC_POD_SWAPS+=("$word")
  done
}

# A static pod whose manifest changes stops before its new manifest goes in (as kubeadm's upgrade
# does it), and before its previous one goes back in a rollback: the kubelet starts a changed static
# pod only once the old one has terminated, and when the manifest came first it tries again 10-15 s
# later (its pod workers' back-off). The manifest it replaces is in the step's backup, journaled: a
# step interrupted in between gets its files back at the next step or preflight on the node. A pod
# not seen to stop within 30 s (its grace period) gets its manifest anyway. SWAPPED_MANIFEST: the
# services whose pod the kubelet starts from their swapped manifest (restart_service leaves them be).
STATIC_POD_SWAPS=()
declare -A SWAPPED_MANIFEST=()
stop_static_pods_for_swap() { # WHAT: what comes next, for the log ("the new manifest goes in")
  local entry svc manifest sandboxes deadline id
  command -v crictl >/dev/null || return 0 # a docker node: the kubelet replaces the pod as it can
  for entry in ${STATIC_POD_SWAPS[@]+"${STATIC_POD_SWAPS[@]}"}; do
    svc=${entry%%=*} manifest=${entry#*=}
    # shellcheck disable=SC2034 # read by gates.sh's new_instance_runs
    INSTANCE_BEFORE[$svc]=$(service_instance "$svc")
    sandboxes=$(crictl ps --name "^$svc\$" -o json 2>/dev/null | jq -r '[.containers[].podSandboxId] | unique | .[]' 2>/dev/null || true)
    rm -f "$ROOT$manifest"
    SWAPPED_MANIFEST[$svc]=1
    log "$svc (staticPod): its pod stops before $1"
    deadline=$((SECONDS + 30))
    while [[ -n $sandboxes ]] && ((SECONDS < deadline)); do
      sandboxes=$(for id in $sandboxes; do [[ -z $(crictl pods -q --id "$id" --state ready 2>/dev/null || true) ]] || echo "$id"; done)
      [[ -z $sandboxes ]] || sleep 0.5
    done
    if [[ -n $sandboxes ]]; then log "$svc (staticPod): its pod did not stop within 30 s: $1 anyway"
    # the kubelet tears the stopped pod down (its volumes, its worker) in about 0.3 s more
    else sleep 1; fi
  done
}

install_changed() {
  local stage=$1 dest staged svc swaps=()
  BACKUP_DIR=$(new_backup_dir)
  for dest in ${STAGED_FILES[@]+"${STAGED_FILES[@]}"}; do
    staged=$(staged_path "$stage" "$dest")
    if [[ -f $dest ]] && cmp -s "$staged" "$dest"; then
      [[ $(stat -c %a "$dest") == "$(stat -c %a "$staged")" ]] || chmod "$(stat -c %a "$staged")" "$dest"
      continue
    fi
    back_up "${dest#"$ROOT"}"
    swaps+=("$staged" "$dest" "$(stat -c %a "$staged")")
    for svc in ${STAGED_RESTARTS[$dest]}; do
      pending_has "$svc" || ADDED_PENDING+=("$svc")
      pending_add "$svc"
    done
  done
  # the backup is complete: a step interrupted after this point is rolled back by the next one
  ((${#CHANGED[@]} == 0)) || begin_journal
  stop_static_pods_for_swap "its new manifest goes in"
  replace_files ${swaps[@]+"${swaps[@]}"}
  ((${#CHANGED[@]} == 0)) && BACKUP_DIR=""
  log "installed ${#CHANGED[@]} changed file(s)${BACKUP_DIR:+, backup in $BACKUP_DIR}: ${CHANGED[*]:-none}"
  rm -rf "$stage"
}

# roll_back WHY RESTARTED…: puts the backed-up files back, restarts what this step restarted,
# forgets the restarts this step's files asked of later steps, checks again, and fails naming WHY
# and whether the node is healthy again.
roll_back() {
  local why=$1 svc outcome="" restart_failures=""
  shift
  if [[ -n ${BACKUP_DIR:-} ]]; then
    stop_static_pods_for_swap "its previous manifest goes back"
    restore_backup "$BACKUP_DIR"
    pending_remove ${ADDED_PENDING[@]+"${ADDED_PENDING[@]}"}
  fi
  end_journal
  for svc in "$@"; do restart_service "$svc" || restart_failures+="; $RESTART_FAILURE"; done
  pending_remove "$@"
  if [[ -n $restart_failures ]]; then outcome="STILL UNHEALTHY after the rollback: ${restart_failures#; }"
  elif static_pods_replaced "$@" && "${PARAM[gate]}" && workload_pods_replaced "$@"; then outcome="healthy again on the previous files"
  else outcome="STILL UNHEALTHY after the rollback: $GATE_FAILURE"; fi
  [[ ${DRAINED:-0} == 1 ]] && lb_is_drained && outcome+="; the master stays out of the load balancer until a step on it succeeds"
  FAILURE="$STEP_ID: $why; rolled back ${#CHANGED[@]} file(s)${BACKUP_DIR:+ from $BACKUP_DIR}; $outcome; no further node was touched"
  FINISHED=1
  activity Failed "$FAILURE"
  printf '%s\n' "$FAILURE" >&2
  exit 1
}

# prune_backups: keeps the newest PARAM[backups_kept] backups, and none that holds the private key of
# a CA no installed bundle trusts any more (a retired, possibly leaked CA: restoring it is never
# wanted).
prune_backups() {
  local dir ca key pub trusted=""
  [[ -d $WORK_DIR/backup ]] || return 0
  for ca in ${PARAM[ca_certs]}; do [[ -f $ROOT$ca ]] && trusted+=$(bundle_public_keys "$ROOT$ca" | pem_lines)$'\n'; done
  for dir in "$WORK_DIR"/backup/*/; do
    [[ -d $dir ]] || continue
    for ca in ${PARAM[ca_certs]}; do
      key=${dir%/}${ca%.crt}.key
      [[ -f $key ]] || continue
      pub=$(openssl pkey -pubout -in "$key" 2>/dev/null | pem_lines)
      if ! grep -qxF "$pub" <<<"$trusted"; then
        log "deleting backup $dir: it holds the key of a CA no bundle trusts any more ($ca)"
        rm -rf "$dir"
        break
      fi
    done
  done
  find "$WORK_DIR/backup" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort -r | tail -n +"$((${PARAM[backups_kept]} + 1))" | while IFS= read -r dir; do
    log "deleting backup $dir (keeping the newest ${PARAM[backups_kept]})"
    rm -rf "$dir"
  done
}

rotate_main "${@:2}" # $1 names the script, for a readable command line
