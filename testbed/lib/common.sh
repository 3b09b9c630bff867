# shellcheck shell=bash
# Shared definitions for testbed/up, status, down. Source it.
# The testbed's shape is fixed at `up` time and saved to $TB_STATE/testbed.env, which
# status/down read back, so they act on what is running rather than on defaults.

TB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Where the testbed keeps its state: $TESTBED_STATE, else the one default in testbed/state-dir
# (testbed/harness/workspace.ts reads the same file).
TB_STATE="${TESTBED_STATE:-$(<"$TB_DIR/state-dir")}"

tb_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
tb_die() { tb_log "ERROR: $*"; exit 1; }

tb_defaults() {
  MASTERS=${MASTERS:-3}
  AGENTS=${AGENTS:-3}
  SUBNET=${SUBNET:-10.240.255}          # a /24; checked to be unused at up time
  BRIDGE=${BRIDGE:-azstb0}
  CLUSTER_ID=${CLUSTER_ID:-31415926}     # aks-engine's name suffix
  DNS_PREFIX=${DNS_PREFIX:-azstb}
  LOCATION=${LOCATION:-local}
  ADMIN_USER=${ADMIN_USER:-azureuser}
  ADMIN_UID=${ADMIN_UID:-4242}
  CERT_DAYS=${CERT_DAYS:-730}            # leaf certificate validity
  CA_DAYS=${CA_DAYS:-10950}              # CA validity (aks-engine: 30 years)
  EXPIRED=${EXPIRED:-0}                  # 1: leaves already expired; 2: CA too
  PRIVATE=${PRIVATE:-0}                  # 1: from the host only the jumpbox (ssh) and the LB are reachable
  MASTER_KUBELET=${MASTER_KUBELET:-1}    # hollow kubelet on masters too (masters are Nodes in aks-engine)
  CONTROL_PLANE=${CONTROL_PLANE:-processes} # static-pods: a real kubelet and containerd run it (aks-engine)
  ETCD_CA=${ETCD_CA:-shared}             # shared: ca signs etcd's certs (aks-engine); separate: etcd-ca (kubeadm)
  LB_PROBE_INTERVAL=${LB_PROBE_INTERVAL:-1} # seconds between the LB's TCP probes of a master (Azure: 5)
  K8S_VERSION=${K8S_VERSION:-1.35.8}
}

# Derived names and addresses (arrays). Masters from firstConsecutiveStaticIP .5,
# the internal LB at first+10 (aks-engine's DefaultInternalLbStaticIPOffset), agents from .40.
tb_topology() {
  FIRST_IP_LAST=5
  LB_IP="$SUBNET.$((FIRST_IP_LAST + 10))"
  HOST_IP="$SUBNET.1"
  JUMPBOX_NAME="$DNS_PREFIX-jumpbox"
  JUMPBOX_IP="$SUBNET.250"
  FQDN="$DNS_PREFIX.$LOCATION.cloudapp.azurestack.external"
  MASTER_NAMES=() MASTER_IPS=() AGENT_NAMES=() AGENT_IPS=()
  local i
  for ((i = 0; i < MASTERS; i++)); do
    MASTER_NAMES+=("k8s-master-$CLUSTER_ID-$i")
    MASTER_IPS+=("$SUBNET.$((FIRST_IP_LAST + i))")
  done
  for ((i = 0; i < AGENTS; i++)); do
    AGENT_NAMES+=("k8s-agentpool1-$CLUSTER_ID-$i")
    AGENT_IPS+=("$SUBNET.$((40 + i))")
  done
  # Every "VM": name role ip index
  VMS=()
  for ((i = 0; i < MASTERS; i++)); do VMS+=("${MASTER_NAMES[$i]} master ${MASTER_IPS[$i]} $i"); done
  for ((i = 0; i < AGENTS; i++)); do VMS+=("${AGENT_NAMES[$i]} agent ${AGENT_IPS[$i]} $i"); done
  VMS+=("$JUMPBOX_NAME jumpbox $JUMPBOX_IP 0")
  VMS+=("$DNS_PREFIX-lb lb $LB_IP 0")
}

tb_load() {
  if [[ -f $TB_STATE/testbed.env ]]; then
    # shellcheck disable=SC1091
    source "$TB_STATE/testbed.env"
  fi
  tb_defaults
  tb_topology
}

tb_save() {
  mkdir -p "$TB_STATE"
  {
    for v in MASTERS AGENTS SUBNET BRIDGE CLUSTER_ID DNS_PREFIX LOCATION ADMIN_USER ADMIN_UID CERT_DAYS CA_DAYS \
      EXPIRED PRIVATE MASTER_KUBELET CONTROL_PLANE ETCD_CA LB_PROBE_INTERVAL K8S_VERSION; do
      printf '%s=%q\n' "$v" "${!v}"
    done
  } >"$TB_STATE/testbed.env"
}

# The CA file (in /etc/kubernetes/certs) that etcd trusts and that clients of etcd verify it with.
tb_etcd_ca() { if [[ $ETCD_CA == separate ]]; then echo etcd-ca.crt; else echo ca.crt; fi; }

netns_of() { printf 'azstb-%s' "$1"; }
vm_dir() { printf '%s/vms/%s' "$TB_STATE" "$1"; }

# Pid of a VM's supervisor (its "init"); empty if not running.
vm_init_pid() {
  local f pid
  f="$(vm_dir "$1")/init.pid"
  [[ -f $f ]] || return 0
  pid=$(<"$f")
  if [[ -n $pid && -d /proc/$pid ]] && grep -q azs-supervisor "/proc/$pid/cmdline" 2>/dev/null; then
    printf '%s' "$pid"
  fi
}

# Run a command inside a VM (its network, mount and UTS namespaces), as root.
vm_exec() {
  local name=$1 pid
  shift
  pid=$(vm_init_pid "$name")
  [[ -n $pid ]] || { echo "vm $name is not running" >&2; return 1; }
  nsenter -t "$pid" -m -u -n -- "$@"
}

# Bounded wait: wait_for SECONDS DESCRIPTION CMD...
wait_for() {
  local limit=$1 what=$2 start=$SECONDS
  shift 2
  while ! "$@" >/dev/null 2>&1; do
    if ((SECONDS - start >= limit)); then
      tb_log "timed out after ${limit}s waiting for $what"
      return 1
    fi
    sleep 1
  done
  tb_log "$what: ok after $((SECONDS - start)) s"
}
