# shellcheck shell=bash
# Step "preflight" (every node at once, before any node changes): the node is reachable with sudo,
# has the tools the other steps use, room for staging and backups, and runs each service the way
# the inventory declares it; every file the node receives in this CA stage is checked (verify.sh),
# so a bad file stops the run before the first restart on any node, and the steps need not check
# them again. Changes nothing but the rotation log and the record of checked files, except that it
# restores the previous files of a step that was interrupted after its files moved (see recover_interrupted).
# Input params: services (name=manager of every service of the node), certs_dir, lb_probe_sources,
# flag_edits (every step's on this node: their flag files must hold the flags), ca_certs and
# cert_keys (as the steps'); input files: every file of the node in this CA stage.
preflight_main() {
  # shellcheck disable=SC2034 # STEP_ID is read by lib.sh's log and activity
  STEP_ID=preflight NODE=${1:?node name}
  trap '' HUP PIPE TERM # a dropped connection or a cancelled run must not stop a restore halfway
  local missing=() tool entry free_kb too_old
  too_old=$(bash_supported "${BASH_VERSINFO[@]:0:3}") || die "$NODE: $too_old"
  STAGE=$(mktemp -d)
  trap 'rm -rf "$STAGE"' EXIT
  read_input "$STAGE"
  local tools=(openssl curl jq base64 sha256sum flock timeout mktemp stat)
  [[ -n ${PARAM[lb_probe_sources]:-} ]] && runs_here kube-apiserver && tools+=(iptables)
  for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) || die "$NODE: missing tools: ${missing[*]:-} (install them before the rotation)"
  [[ -d $ROOT${PARAM[certs_dir]} ]] || die "$NODE: ${PARAM[certs_dir]} does not exist: not an AKS Engine node?"
  # before the lock: the files are all staged here, so the node's installed ones hardly matter, and
  # a one-shot's preflights (one per CA stage, each checking every file) must not queue on it
  verify_staged "$STAGE"
  record_verified "$STAGE"
  lock_work_dir
  recover_interrupted
  free_kb=$(df -Pk "$WORK_DIR" | awk 'NR == 2 { print $4 }')
  ((free_kb >= 10240)) || die "$NODE: only ${free_kb} KiB free under $WORK_DIR (need 10 MiB for staging and backups)"
  for entry in ${PARAM[services]}; do check_manager "${entry%%=*}" "${entry#*=}"; done
  for entry in ${PARAM[flag_edits]:-}; do read_flag_edit "$entry" && check_flag_file "$ROOT$EDIT_FILE"; done
  [[ -n ${PARAM[lb_probe_sources]:-} ]] && runs_here kube-apiserver && check_probes_arrive
  log "preflight ok (services: ${PARAM[services]}; ${#STAGED_FILES[@]} file(s) verified)"
  printf '{"node":"%s","preflight":"ok"}\n' "$NODE"
  exit 0
}

runs_here() { [[ $(manager_of "$1") == systemd || $(manager_of "$1") == staticPod ]]; } # SERVICE

has_unit() { systemctl cat "$1.service" >/dev/null 2>&1 || systemctl is-enabled "$1" >/dev/null 2>&1; } # SERVICE
has_manifest() { [[ -f $ROOT/etc/kubernetes/manifests/$1.yaml ]]; }        # SERVICE
found_here() { # SERVICE: how the node runs it, in words
  if has_unit "$1"; then echo "a systemd unit $1.service"
  elif has_manifest "$1"; then echo "a static pod manifest /etc/kubernetes/manifests/$1.yaml"
  else echo "neither a systemd unit nor a static pod manifest"; fi
}

# check_manager SERVICE MANAGER: the node runs SERVICE as declared; stops with the node, the
# service, the declaration and what is there when not (the inventory's services must say it).
check_manager() {
  local svc=$1 manager=$2
  case $manager in
    systemd)
      has_unit "$svc" || die "$NODE: $svc is declared a systemd unit, but the node has $(found_here "$svc"): set nodes[].services.$svc in the inventory"
      # Not fatal: with expired certificates components crash-loop, and the rotation is the repair.
      systemctl is-active --quiet "$svc" || log "warning: $svc is not running now"
      ;;
    staticPod)
      has_manifest "$svc" || die "$NODE: $svc is declared a static pod, but the node has $(found_here "$svc"): set nodes[].services.$svc in the inventory"
      command -v crictl >/dev/null || command -v docker >/dev/null || die "$NODE: $svc is a static pod, but neither crictl nor docker is here to restart it"
      ;;
    none)
      if has_unit "$svc" || has_manifest "$svc"; then
        die "$NODE: $svc is declared not to run here, but the node has $(found_here "$svc"): set nodes[].services.$svc in the inventory"
      fi
      ;;
    clusterWorkload) ;; # a pod of a DaemonSet: the kubelet step replaces it through the API
    *) die "$NODE: $svc: unknown manager $manager" ;;
  esac
}
# check_probes_arrive: draining refuses the load balancer's probes by their source address, so the
# probes must really come from PARAM[lb_probe_sources]: count the SYNs to port 443 from them, and
# from anywhere, for the settle time (at least two probe intervals).
check_probes_arrive() {
  local src window=${PARAM[lb_settle]} from_sources=0 all
  local rule=(-p tcp --dport 443 --syn -m comment --comment azs-rotate-certs-probe-count)
  iptables -w 5 -I INPUT "${rule[@]}"
  for src in ${PARAM[lb_probe_sources]}; do iptables -w 5 -I INPUT -s "$src" "${rule[@]}"; done
  sleep "$window"
  for src in ${PARAM[lb_probe_sources]}; do
    from_sources=$((from_sources + $(probe_count "-s $src/32")))
    iptables -w 5 -D INPUT -s "$src" "${rule[@]}"
  done
  all=$(probe_count "-p tcp")
  iptables -w 5 -D INPUT "${rule[@]}"
  ((from_sources > 0)) && return 0
  die "$NODE: no connection to port 443 came from rollout.loadBalancerProbeSources (${PARAM[lb_probe_sources]}) in ${window} s (${all} from other addresses): draining by that source would not keep the load balancer away; set it to where the balancer's health probes come from"
}

# probe_count RULE_START: the packets counted by the probe-count rule whose spec starts so ("-s A/32", "-p tcp").
probe_count() {
  iptables -w 5 -S INPUT -v | awk -v start="-A INPUT $1 " 'index($0, start) == 1 && /azs-rotate-certs-probe-count/ { for (i = 1; i < NF; i++) if ($i == "-c") { print $(i + 1); exit } }' | grep . || echo 0
}
preflight_main "${@:2}" # $1 names the script, for a readable command line
