# shellcheck shell=bash
# A master VM: its certificates and kubeconfigs, and the control plane services (etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler; and the kubelet unless
# MASTER_KUBELET=0). Source it after vm.sh and kubelet.sh; testbed/up sets PKI first.

admin_kubeconfig() { # server -> aks-engine's admin kubeconfig (embedded kubectlClient cert)
  cat <<EOF
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
    server: $1
  name: $DNS_PREFIX
contexts:
- context:
    cluster: $DNS_PREFIX
    user: $DNS_PREFIX-admin
  name: $DNS_PREFIX
current-context: $DNS_PREFIX
kind: Config
users:
- name: $DNS_PREFIX-admin
  user:
    client-certificate-data: $(base64 -w0 "$PKI/kubectlClient.crt")
    client-key-data: $(base64 -w0 "$PKI/kubectlClient.key")
EOF
}

# The control plane's flags, one per line: the same for a process (a unit's command line) and a
# static pod (its manifest's args).
apiserver_flags() { # IP ETCD_TRUST_FILE
  cat <<EOF
--advertise-address=$1
--allow-privileged=true
--authentication-config=/etc/kubernetes/authn-config.yaml
--authorization-mode=Node,RBAC
--bind-address=0.0.0.0
--secure-port=443
--client-ca-file=/etc/kubernetes/certs/ca.crt
--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,ResourceQuota,DefaultTolerationSeconds,ValidatingAdmissionWebhook,MutatingAdmissionWebhook
--enable-bootstrap-token-auth=true
--etcd-cafile=/etc/kubernetes/certs/$2
--etcd-certfile=/etc/kubernetes/certs/etcdclient.crt
--etcd-keyfile=/etc/kubernetes/certs/etcdclient.key
--etcd-servers=https://127.0.0.1:2379
--kubelet-client-certificate=/etc/kubernetes/certs/client.crt
--kubelet-client-key=/etc/kubernetes/certs/client.key
--profiling=false
--proxy-client-cert-file=/etc/kubernetes/certs/proxy.crt
--proxy-client-key-file=/etc/kubernetes/certs/proxy.key
--requestheader-allowed-names=
--requestheader-client-ca-file=/etc/kubernetes/certs/proxy-ca.crt
--requestheader-extra-headers-prefix=X-Remote-Extra-
--requestheader-group-headers=X-Remote-Group
--requestheader-username-headers=X-Remote-User
--service-account-issuer=https://kubernetes.default.svc.cluster.local
--service-account-key-file=/etc/kubernetes/certs/apiserver.key
--service-account-signing-key-file=/etc/kubernetes/certs/apiserver.key
--service-account-lookup=true
--service-cluster-ip-range=10.0.0.0/16
--storage-backend=etcd3
--tls-cert-file=/etc/kubernetes/certs/apiserver.crt
--tls-private-key-file=/etc/kubernetes/certs/apiserver.key
--shutdown-delay-duration=3s
--shutdown-send-retry-after=true
--v=1
EOF
}
controller_manager_flags() {
  cat <<EOF
--kubeconfig=/var/lib/kubelet/kubeconfig
--authentication-kubeconfig=/var/lib/kubelet/kubeconfig
--authorization-kubeconfig=/var/lib/kubelet/kubeconfig
--allocate-node-cidrs=false
--cluster-cidr=10.244.0.0/16
--cluster-name=$DNS_PREFIX
--cluster-signing-cert-file=/etc/kubernetes/certs/ca.crt
--cluster-signing-key-file=/etc/kubernetes/certs/ca.key
--root-ca-file=/etc/kubernetes/certs/ca.crt
--service-account-private-key-file=/etc/kubernetes/certs/apiserver.key
--leader-elect=true
--use-service-account-credentials=true
--controllers=*,bootstrapsigner,tokencleaner
--profiling=false
--terminated-pod-gc-threshold=5000
--node-monitor-grace-period=40s
--v=1
EOF
}
scheduler_flags() {
  cat <<EOF
--kubeconfig=/var/lib/kubelet/kubeconfig
--authentication-kubeconfig=/var/lib/kubelet/kubeconfig
--authorization-kubeconfig=/var/lib/kubelet/kubeconfig
--leader-elect=true
--profiling=false
--v=1
EOF
}

# process_service DIR NAME: the service NAME runs /usr/local/bin/NAME with the flags on stdin.
process_service() {
  local line cmd="exec /usr/local/bin/$2"
  while read -r line; do cmd+=" \\"$'\n'"  $line"; done
  service "$1" "$2" <<<"$cmd"
}

# env_file_service DIR NAME: the service NAME runs /usr/local/bin/NAME with the flags on stdin,
# kept in /etc/default/NAME (NAME_FLAGS="…"), where the node model says a systemd service's flags
# are: the rotation points kube-controller-manager's signing flag and kube-apiserver's
# service-account verifying flag at their own files there.
env_file_service() {
  local d=$1 name=$2 var flags
  var=$(tr a-z- A-Z_ <<<"$name")_FLAGS
  flags=$(tr '\n' ' ')
  printf '%s="%s"\n' "$var" "${flags% }" >"$d/root/etc-default/$name"
  service "$d" "$name" <<EOF
set -euo pipefail
source /etc/default/$name
read -ra flags <<<"\$$var"
exec /usr/local/bin/$name "\${flags[@]}"
EOF
}

# etcd's --initial-cluster: every master's peer URL.
etcd_initial_cluster() {
  local i cluster=""
  for i in "${!MASTER_NAMES[@]}"; do
    cluster+="${cluster:+,}${MASTER_NAMES[$i]}=https://${MASTER_IPS[$i]}:2380"
  done
  printf '%s' "$cluster"
}

# tb_master_vm DIR NAME IP INDEX: the files and services of master INDEX.
tb_master_vm() {
  local d=$1 name=$2 ip=$3 idx=$4 r="$1/root" c etcd_trust etcd_cluster
  c="$r/etc-kubernetes/certs"
  etcd_trust=$(tb_etcd_ca)
  etcd_cluster=$(etcd_initial_cluster)
  cp "$PKI"/{ca,apiserver,client,kubectlClient,etcdserver,etcdclient,proxy-ca,proxy}.{crt,key} "$c/"
  cp "$PKI/etcdpeer$idx.crt" "$PKI/etcdpeer$idx.key" "$c/"
  if [[ $ETCD_CA == separate ]]; then cp "$PKI"/etcd-ca.{crt,key} "$c/"; fi
  kubelet_kubeconfig "https://$ip:443" >"$r/var-lib-kubelet/kubeconfig"
  mkdir -p "$r/home/$ADMIN_USER/.kube"
  admin_kubeconfig "https://$FQDN:443" >"$r/home/$ADMIN_USER/.kube/config"
  chmod 600 "$r/home/$ADMIN_USER/.kube/config"
  # anonymous access only to the health endpoints, so the LB can probe /readyz
  cat >"$r/etc-kubernetes/authn-config.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
anonymous:
  enabled: true
  conditions:
  - path: /readyz
  - path: /livez
  - path: /healthz
EOF
  service "$d" etcd <<EOF
exec /usr/local/bin/etcd --name $name --data-dir /var/lib/etcddisk \\
  --initial-cluster $etcd_cluster --initial-cluster-token k8s-etcd-cluster --initial-cluster-state new \\
  --initial-advertise-peer-urls https://$ip:2380 --listen-peer-urls https://$ip:2380 \\
  --advertise-client-urls https://$ip:2379 --listen-client-urls https://$ip:2379,https://127.0.0.1:2379 \\
  --listen-metrics-urls http://$ip:2480 \\
  --client-cert-auth --trusted-ca-file /etc/kubernetes/certs/$etcd_trust \\
  --cert-file /etc/kubernetes/certs/etcdserver.crt --key-file /etc/kubernetes/certs/etcdserver.key \\
  --peer-client-cert-auth --peer-trusted-ca-file /etc/kubernetes/certs/$etcd_trust \\
  --peer-cert-file /etc/kubernetes/certs/etcdpeer$idx.crt --peer-key-file /etc/kubernetes/certs/etcdpeer$idx.key \\
  --quota-backend-bytes 8589934592 --snapshot-count 10000 --log-level warn
EOF
  case $CONTROL_PLANE in
    processes)
      tb_vm_etc_default "$d"
      apiserver_flags "$ip" "$etcd_trust" | env_file_service "$d" kube-apiserver
      controller_manager_flags | env_file_service "$d" kube-controller-manager
      scheduler_flags | process_service "$d" kube-scheduler
      if [[ $MASTER_KUBELET == 1 ]]; then tb_master_kubelet "$d" "$name"; fi
      ;;
    static-pods) tb_static_pod_master "$d" "$name" "$ip" "$etcd_trust" ;;
  esac
}
