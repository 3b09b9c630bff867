# Shared functions of the remote steps. The program sends this file, then the step's own scripts
# (gates.sh and rotate.sh, or preflight.sh) to `sudo -n bash -s -- <args>` as stdin, followed by
# the step's input: parameter lines and files (see read_input). bash reads a script from a pipe one byte at
# a time, so the step's main function reads the input that follows it.
# shellcheck shell=bash
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
  printf '%s\n' "$*" >&2 || true # the operator's connection may be gone (SIGPIPE is ignored then)
}

die() { FAILURE=${FAILURE:-$*}; log "ERROR: $*"; exit 1; }

# activity STATUS [MESSAGE [STEP]]: records the step's (default: this one's) Initiated / Success /
# Failed in the activity file.
activity() {
  local status=$1 message=${2:-} step=${3:-$STEP_ID} tmp
  mkdir -p "$(dirname "$ACTIVITY_FILE")"
  [[ -s $ACTIVITY_FILE ]] && jq -e 'type == "object"' "$ACTIVITY_FILE" >/dev/null 2>&1 || echo '{}' >"$ACTIVITY_FILE"
  tmp=$(mktemp "$ACTIVITY_FILE.XXXXXX")
  jq --arg id "$step" --arg node "$NODE" --arg status "$status" --arg at "$(now)" --arg message "$message" '
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
# Files land under STAGE_DIR at their destination path; nothing outside it changes. One process
# per file (its base64 decoding) and one per directory and per mode: a preflight reads every file
# of its node, on VMs whose CPU the rollout's restarts already load.
read_input() {
  local stage=$1 kind a b c line complete=0 dest dir content mode paths
  local -A made_dirs=() by_mode=()
  rm -rf "$stage" && mkdir -p "$stage"
  while IFS= read -r line; do
    read -r kind a b c <<<"$line" || true
    case $kind in
      param) PARAM[$a]=${line#param "$a" } ;;
      file)
        [[ $a =~ ^0[0-7]{3}$ && $b == /* && $b != *..* ]] || die "bad file header in the input: $line"
        dest=$ROOT$b
        dir=$stage${b%/*}
        [[ -n ${made_dirs[$dir]+x} ]] || { mkdir -p "$dir"; made_dirs[$dir]=1; }
        content=""
        while IFS= read -r line && [[ $line != end ]]; do content+=$line$'\n'; done
        base64 -d <<<"$content" >"$stage$b" 2>/dev/null || die "file $b: content is not valid base64"
        by_mode[$a]+="$stage$b"$'\n'
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
  for mode in ${by_mode[@]+"${!by_mode[@]}"}; do
    mapfile -t paths <<<"${by_mode[$mode]%$'\n'}"
    chmod "$mode" -- "${paths[@]}"
  done
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

# swap_tmp_prefix DEST: how the temporary files of DEST's swap begin: hidden, as the kubelet runs
# every other file of /etc/kubernetes/manifests as a static pod.
swap_tmp_prefix() { printf '%s/.%s.rotate.' "$(dirname "$1")" "$(basename "$1")"; }

# prepare_file SRC DEST MODE: writes SRC's content next to DEST (same directory, DEST's owner or
# the directory's, MODE) and prints the temporary path; rename it over DEST to swap atomically.
prepare_file() {
  local src=$1 dest=$2 mode=$3 tmp owner
  mkdir -p "$(dirname "$dest")"
  # a new file belongs to the directory's owner (the admin user's ~/.kube/config)
  if [[ -e $dest ]]; then owner=$(stat -c %U:%G "$dest"); else owner=$(stat -c %U:%G "$(dirname "$dest")"); fi
  tmp=$(mktemp "$(swap_tmp_prefix "$dest")XXXXXX")
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

# Flag edits, PARAM[flag_edits]: SERVICE,FILE,--FLAG,VALUE words, each the --FLAG= argument of
# SERVICE in FILE (a static pod's manifest, a unit's environment file) to set to VALUE.
# read_flag_edit WORD: sets EDIT_SERVICE, EDIT_FILE, EDIT_FLAG, EDIT_VALUE and EDIT_TOKEN, an
# extended regex of the exact argument: at a line's start or after a blank or a quote
# (`- "--flag=…"`, `- --flag=…`, FLAGS="… --flag=…").
read_flag_edit() {
  IFS=, read -r EDIT_SERVICE EDIT_FILE EDIT_FLAG EDIT_VALUE <<<"$1"
  [[ $EDIT_FLAG =~ ^--[a-z0-9-]+$ && $EDIT_VALUE =~ ^[A-Za-z0-9._/:-]+$ && $EDIT_FILE == /* ]] || die "bad flag edit in the input: $1"
  EDIT_TOKEN="(^|[[:space:]\"'])$EDIT_FLAG="
}
# check_flag_file PATH: PATH (the flag file, or a staged copy of it) holds the edit's argument;
# stops, saying which is missing, when not.
check_flag_file() {
  [[ -f $1 ]] || die "$EDIT_SERVICE: $EDIT_FILE, where its flags are, is missing: cannot set $EDIT_FLAG=$EDIT_VALUE; nothing was changed"
  grep -qE -- "$EDIT_TOKEN" "$1" || die "$EDIT_SERVICE: $EDIT_FILE has no $EDIT_FLAG= argument to set to $EDIT_VALUE; nothing was changed"
}

# make_work_dir: the rotation's own directory on the node, readable by root only.
make_work_dir() { mkdir -p "$WORK_DIR" && chmod 0700 "$WORK_DIR"; }

# lock_work_dir: one step at a time on a node (held until the script exits).
lock_work_dir() {
  make_work_dir
  exec 8>"$WORK_DIR/.lock"
  flock -w 60 8 || die "another rotation step holds $WORK_DIR/.lock"
}

# The journal: written once a step's backup is complete and before its first file is swapped,
# removed when the step succeeded or rolled back. Found by a later step or preflight, it means the
# step was interrupted (SIGKILL, power loss): its backup is restored before anything else runs.
JOURNAL=$WORK_DIR/journal
# new_backup_dir: the path of this step's backup (created by whoever backs up the first file).
new_backup_dir() { printf '%s' "$WORK_DIR/backup/$(date -u +%Y%m%dT%H%M%SZ)-${STEP_ID//\//-}"; }
begin_journal() {
  printf '%s\n%s\n' "$STEP_ID" "$BACKUP_DIR" >"$JOURNAL.tmp" && mv -f "$JOURNAL.tmp" "$JOURNAL"
}
end_journal() { rm -f "$JOURNAL"; }
recover_interrupted() {
  local step backup rel
  [[ -f $JOURNAL ]] || return 0
  { IFS= read -r step; IFS= read -r backup; } <"$JOURNAL"
  if [[ -f $backup/.changed ]]; then
    restore_backup "$backup"
    # the swap's temporary files, when it died while preparing them
    while IFS= read -r rel; do rm -f "$(swap_tmp_prefix "$ROOT$rel")"??????; done <"$backup/.changed"
    log "step $step was interrupted after its files moved: restored its previous files from $backup; its services restart when it runs again"
  fi
  activity Failed "interrupted; its previous files were restored by $STEP_ID" "$step"
  end_journal
}

# restore_backup DIR: puts every file a step changed back as DIR holds it (removes the ones it added).
restore_backup() {
  local dir=$1 rel restores=()
  while IFS= read -r rel; do
    if grep -qx "$rel" "$dir/.absent" 2>/dev/null; then rm -f "$ROOT$rel"
    elif [[ -L $dir$rel ]]; then ln -sfn "$(readlink "$dir$rel")" "$ROOT$rel"
    else restores+=("$dir$rel" "$ROOT$rel" "$(stat -c %a "$dir$rel")"); fi
  done <"$dir/.changed"
  replace_files ${restores[@]+"${restores[@]}"}
}
