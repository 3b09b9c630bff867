# shellcheck shell=bash
# Step "lock" (the first master): the cluster-wide rotation lock that keeps two rotations (two
# stacks, two checkouts, a stack pointed at the wrong cluster) off one cluster. `lock take` runs
# before every preflight and `lock release` after the last step; a run that fails keeps it, so its
# rerun goes on and any other stack is refused until it finished.
# Args: lock take|release NODE DIGEST. Input params: lock_holder (organization/project/stack).
# The lock file holds the holder, since when, and the address the holder's SSH connection came
# from (the operator's machine or the jumpbox): the engine gives a program no update id to record.
CLUSTER_LOCK=$WORK_DIR/cluster-lock

# ssh_client_address: the address this run's SSH connection came from. sudo resets the environment,
# so SSH_CLIENT is read from the nearest ancestor that has it (the shell sshd started).
ssh_client_address() {
  local pid=$$ i client
  for ((i = 0; i < 8 && pid > 1; i++)); do
    client=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | sed -n 's/^SSH_CLIENT=//p' || true)
    if [[ -n $client ]]; then
      echo "${client%% *}"
      return 0
    fi
    pid=$(ps -o ppid= -p "$pid" | tr -d ' ' || true)
  done
}
lock_main() {
  local action=${1:?take or release} holder="" since="" from=""
  NODE=${2:?node name}
  # shellcheck disable=SC2034 # read by lib.sh's log and activity
  STEP_ID="lock-$action"
  trap '' HUP PIPE
  STAGE=$(mktemp -d)
  trap 'rm -rf "$STAGE"' EXIT
  read_input "$STAGE"
  lock_work_dir
  [[ -f $CLUSTER_LOCK ]] && { IFS= read -r holder; IFS= read -r since; IFS= read -r from || true; } <"$CLUSTER_LOCK"
  case $action in
    take)
      if [[ -n $holder && $holder != "${PARAM[lock_holder]}" ]]; then
        die "$NODE: the cluster's rotation lock is held by $holder since $since (connected from ${from:-an unknown address}): another stack is rotating this cluster; wait for it to finish, or, when that run is gone for good, break the lock with: sudo rm $CLUSTER_LOCK (on $NODE)"
      fi
      if [[ -z $holder ]]; then printf '%s\n%s\n%s\n' "${PARAM[lock_holder]}" "$(now)" "$(ssh_client_address)" >"$CLUSTER_LOCK"; fi
      log "cluster rotation lock held by ${PARAM[lock_holder]}"
      ;;
    release)
      if [[ $holder == "${PARAM[lock_holder]}" ]]; then
        rm -f "$CLUSTER_LOCK"
        log "cluster rotation lock released by ${PARAM[lock_holder]}"
      fi
      ;;
    *) die "unknown lock action $action" ;;
  esac
  printf '{"node":"%s","lock":"%s"}\n' "$NODE" "$action"
  exit 0
}
lock_main "${@:2}" # $1 names the script, for a readable command line
