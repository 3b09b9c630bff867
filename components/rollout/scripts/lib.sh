# Shared functions of the remote steps. The program sends this file, gates.sh and one step script
# (preflight.sh or rotate.sh) to `sudo -n bash -s -- <args>` as stdin, followed by the step's
# input: parameter lines and files (see read_input). bash reads a script from a pipe one byte at
# a time, so the step's main function reads the input that follows it.
set -euo pipefail
umask 077

ROOT=${AZS_ROOT:-}                 # a prefix for every path: lets tests run a step in a scratch tree
WORK_DIR=$ROOT/etc/kubernetes/rotate-certs
LOG_FILE=$ROOT/var/log/azure/rotate-certs.log
ACTIVITY_FILE=$ROOT/var/log/azure/rotate-certs-activity.json
PENDING_FILE=$WORK_DIR/pending-restarts

declare -A PARAM=()
STAGED_FILES=()                    # destination paths, in input order
declare -A STAGED_RESTARTS=()      # destination → services to restart when it changes (space separated)

now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
now_us() { date +%s%6N; } # microseconds since the epoch (bash 4.3 has no $EPOCHREALTIME)

# bash_supported MAJOR MINOR PATCH: the version is 4.3 or later, the oldest bash the node images
# run (Ubuntu 16.04); prints why not.
bash_supported() {
  local major=$1 minor=$2 patch=$3
  ((major > 4 || (major == 4 && minor >= 3))) && return 0
  echo "bash $major.$minor.$patch: the remote steps need bash 4.3 or later"
  return 1
}

log() { # message...: to the node's rotation log and to stderr (the operator's console)
  mkdir -p "$(dirname "$LOG_FILE")"
  printf '%s %s %s: %s\n' "$(now)" "${STEP_ID:-?}" "${NODE:-?}" "$*" >>"$LOG_FILE"
  chmod 0644 "$LOG_FILE" 2>/dev/null || true  # no secret is ever logged; operators read it without sudo
  printf '%s\n' "$*" >&2
}

die() { FAILURE=${FAILURE:-$*}; log "ERROR: $*"; exit 1; }

# activity STATUS [MESSAGE]: records the step's Initiated / Success / Failed in the activity file.
activity() {
  local status=$1 message=${2:-} tmp
  mkdir -p "$(dirname "$ACTIVITY_FILE")"
  [[ -s $ACTIVITY_FILE ]] && jq -e 'type == "object"' "$ACTIVITY_FILE" >/dev/null 2>&1 || echo '{}' >"$ACTIVITY_FILE"
  tmp=$(mktemp "$ACTIVITY_FILE.XXXXXX")
  jq --arg id "$STEP_ID" --arg node "$NODE" --arg status "$status" --arg at "$(now)" --arg message "$message" '
    .[$id] = ((.[$id] // {}) + {node: $node, step: $id, status: $status, message: $message}
      + (if $status == "Initiated" then {initiated: $at, finished: null} else {finished: $at} end))
  ' "$ACTIVITY_FILE" >"$tmp"
  chmod 0644 "$tmp" && mv -f "$tmp" "$ACTIVITY_FILE"
  log "$status${message:+: $message}"
}

# read_input STAGE_DIR: reads the lines after the script from stdin:
#   param NAME VALUE…                 a parameter (PARAM[NAME]); VALUE is the rest of the line
#   file MODE PATH RESTARTS           a file, RESTARTS = comma-separated services or "-",
#   <base64 lines>                    its content,
#   end                               end of the file
#   done                              end of the input (anything missing it was cut off)
# Files land under STAGE_DIR at their destination path; nothing outside it changes.
read_input() {
  local stage=$1 kind a b c line complete=0 dest
  rm -rf "$stage" && mkdir -p "$stage"
  while IFS= read -r line; do
    read -r kind a b c <<<"$line" || true
    case $kind in
      param) PARAM[$a]=${line#param "$a" } ;;
      file)
        [[ $a =~ ^0[0-7]{3}$ && $b == /* && $b != *..* ]] || die "bad file header in the input: $line"
        dest=$ROOT$b
        mkdir -p "$stage$(dirname "$b")"
        while IFS= read -r line && [[ $line != end ]]; do printf '%s\n' "$line"; done | base64 -d >"$stage$b" \
          || die "file $b: content is not valid base64"
        chmod "$a" "$stage$b"
        STAGED_FILES+=("$dest")
        STAGED_RESTARTS[$dest]=${c//,/ }
        [[ ${STAGED_RESTARTS[$dest]} == - ]] && STAGED_RESTARTS[$dest]=""
        ;;
      done) complete=1; break ;;
      "") ;;
      *) die "unexpected input line: ${kind}" ;;
    esac
  done
  ((complete)) || die "the input was cut off (no 'done' line): nothing was changed"
}

staged_path() { printf '%s%s' "$1" "${2#"$ROOT"}"; } # STAGE_DIR DEST

# pending-restarts: services whose files changed and that have not been restarted and checked yet.
# Kept on the node, so a rerun after an interruption still restarts them.
pending_add() { local s; mkdir -p "$WORK_DIR"; for s in "$@"; do grep -qx "$s" "$PENDING_FILE" 2>/dev/null || echo "$s" >>"$PENDING_FILE"; done; }
pending_has() { grep -qx "$1" "$PENDING_FILE" 2>/dev/null; }
pending_remove() {
  local s
  [[ -f $PENDING_FILE ]] || return 0
  for s in "$@"; do sed -i "/^${s}\$/d" "$PENDING_FILE"; done
}

# prepare_file SRC DEST MODE: writes SRC's content next to DEST (same directory, DEST's owner or
# the directory's, MODE) and prints the temporary path; rename it over DEST to swap atomically.
prepare_file() {
  local src=$1 dest=$2 mode=$3 tmp owner
  mkdir -p "$(dirname "$dest")"
  # a new file belongs to the directory's owner (the admin user's ~/.kube/config)
  if [[ -e $dest ]]; then owner=$(stat -c %U:%G "$dest"); else owner=$(stat -c %U:%G "$(dirname "$dest")"); fi
  tmp=$(mktemp "$dest.rotate.XXXXXX")
  cat "$src" >"$tmp"
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  sync "$tmp" 2>/dev/null || true
  printf '%s' "$tmp"
}

# replace_files SRC DEST MODE [SRC DEST MODE]…: prepares every file first, then renames them one
# right after the other, so a reader of a certificate and its key (a client re-reading both per
# handshake) sees the old pair or the new one, practically never one of each.
replace_files() {
  local tmps=() dests=() i
  while (($# >= 3)); do
    tmps+=("$(prepare_file "$1" "$2" "$3")")
    dests+=("$2")
    shift 3
  done
  for i in "${!tmps[@]}"; do mv -f "${tmps[$i]}" "${dests[$i]}"; done
}

# manager_of SERVICE: what runs it here, from PARAM[services] ("name=manager" words, the
# inventory's node model: systemd, staticPod, clusterWorkload or none).
manager_of() {
  local entry
  for entry in ${PARAM[services]}; do
    [[ ${entry%%=*} == "$1" ]] && { printf '%s' "${entry#*=}"; return 0; }
  done
  return 1
}

# restart_service NAME: restarts it the way its declared manager runs it: a systemd unit with
# systemctl; a static pod by stopping its container, which the kubelet starts again from
# /etc/kubernetes/manifests.
restart_service() {
  local svc=$1 manager ids
  manager=$(manager_of "$svc") || die "cannot restart $svc: the step does not declare how it runs"
  case $manager in
    systemd)
      log "restarting $svc (systemd)"
      timeout 120 systemctl restart "$svc"
      ;;
    staticPod)
      log "restarting $svc (static pod)"
      if command -v crictl >/dev/null; then
        ids=$(crictl ps -q --name "^$svc\$" 2>/dev/null || true)
        [[ -n $ids ]] && timeout 60 crictl stop $ids >/dev/null
      else
        ids=$(docker ps -q --filter "name=k8s_${svc}_" 2>/dev/null || true)
        [[ -n $ids ]] && timeout 60 docker restart $ids >/dev/null
      fi
      ;;
    *) die "cannot restart $svc: it runs as $manager, not as a process of this node" ;;
  esac
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

# wait_for SECONDS DESCRIPTION COMMAND…: retries COMMAND every second until it succeeds.
wait_for() {
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { GATE_FAILURE="$what (not within ${limit} s)"; return 1; }
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
