# shellcheck shell=bash
# The nodes' kubelet: its kubeconfig, and the kubelet service, a kubemark hollow kubelet, of
# masters and agents. Source it after vm.sh (service).

kubelet_kubeconfig() { # server
  cat <<EOF
---
apiVersion: v1
kind: Config
clusters:
- name: localcluster
  cluster:
    certificate-authority: /etc/kubernetes/certs/ca.crt
    server: $1
users:
- name: client
  user:
    client-certificate: /etc/kubernetes/certs/client.crt
    client-key: /etc/kubernetes/certs/client.key
contexts:
- context:
    cluster: localcluster
    user: client
  name: localclustercontext
current-context: localclustercontext
EOF
}

# hollow_kubelet DIR NAME MAX_PODS LABELS [FLAGS]: the VM's kubelet service; FLAGS go before --v.
hollow_kubelet() {
  local d=$1 name=$2 max_pods=$3 labels=$4 last="${5:+$5 }--v=1"
  service "$d" kubelet <<EOF
export TMPDIR=/var/lib/kubelet/hollow
rm -rf "\$TMPDIR" && mkdir -p "\$TMPDIR"
exec /usr/local/bin/kubemark --morph=kubelet --name=$name --kubeconfig=/var/lib/kubelet/kubeconfig \\
  --use-host-image-service=false --max-pods=$max_pods \\
  --node-labels=$labels \\
  $last
EOF
}

# tb_master_kubelet DIR NAME: a master's kubelet (a Node with the master role, tainted).
tb_master_kubelet() {
  hollow_kubelet "$1" "$2" 30 \
    kubernetes.io/role=master,node-role.kubernetes.io/master=,kubernetes.azure.com/role=master \
    --register-with-taints=node-role.kubernetes.io/master=true:NoSchedule
}

# tb_agent_vm DIR NAME: an agent's certificates, kubelet kubeconfig (through the LB) and kubelet.
tb_agent_vm() {
  local d=$1 name=$2 r="$1/root"
  cp "$PKI"/{ca.crt,apiserver.crt,client.crt,client.key} "$r/etc-kubernetes/certs/"
  kubelet_kubeconfig "https://$LB_IP:443" >"$r/var-lib-kubelet/kubeconfig"
  hollow_kubelet "$d" "$name" 110 \
    agentpool=agentpool1,kubernetes.io/role=agent,node-role.kubernetes.io/agent=,kubernetes.azure.com/role=agent
}
