# Step "preflight" (every node, before any node changes): the node is reachable with sudo, has
# the tools the other steps use, room for staging and backups, and knows the services the rollout
# will restart. Changes nothing but the rotation log. Input: params node_name, services.
preflight_main() {
  STEP_ID=preflight NODE=${1:?node name}
  read_input "$(mktemp -d)"
  local missing=() tool svc free_kb
  local tools=(openssl curl jq base64 sha256sum flock timeout mktemp stat)
  [[ -n ${PARAM[lb_probe_sources]:-} && ${PARAM[services]} == *kube-apiserver* ]] && tools+=(iptables)
  for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) || die "$NODE: missing tools: ${missing[*]} (install them before the rotation)"
  [[ -d $CERTS_DIR ]] || die "$NODE: $CERTS_DIR does not exist: not an AKS Engine node?"
  mkdir -p "$WORK_DIR"
  free_kb=$(df -Pk "$WORK_DIR" | awk 'NR == 2 { print $4 }')
  ((free_kb >= 10240)) || die "$NODE: only ${free_kb} KiB free under $WORK_DIR (need 10 MiB for staging and backups)"
  for svc in ${PARAM[services]}; do
    if systemctl cat "$svc.service" >/dev/null 2>&1 || systemctl is-enabled "$svc" >/dev/null 2>&1; then
      # Not fatal: with expired certificates components crash-loop, and the rotation is the repair.
      systemctl is-active --quiet "$svc" || log "warning: $svc is not running now"
    elif [[ ! -f $ROOT/etc/kubernetes/manifests/$svc.yaml ]]; then
      die "$NODE: $svc is neither a systemd unit nor a static pod here"
    fi
  done
  log "preflight ok (services: ${PARAM[services]})"
  printf '{"node":"%s","preflight":"ok"}\n' "$NODE"
  exit 0
}
preflight_main "${@:2}" # $1 names the script, for a readable command line
