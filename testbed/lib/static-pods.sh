# shellcheck shell=bash
# A master as AKS Engine builds it (testbed/up --control-plane static-pods): containerd and runc
# (Debian's), a real kubelet configured from /etc/default/kubelet, and kube-apiserver,
# kube-controller-manager and kube-scheduler as static pods from /etc/kubernetes/manifests, their
# images made from the testbed's binaries (oci-image) and imported into the master's own
# containerd. etcd stays a unit. Each master has its own containerd state, CNI configuration and
# cgroup subtree (/azs-testbed/NAME in every cgroup v1 hierarchy). Source it after vm.sh and
# control-plane.sh (the flags); testbed/up calls tb_static_pod_images once, before the VMs.
# shellcheck disable=SC2154 # BIN_* come from bin.env, which testbed/up sources

# The images the masters run: lines of "name image-reference binary-variable".
static_pod_images() {
  cat <<EOF
pause azs-testbed.local/pause:3.10 BIN_pause
kube-apiserver azs-testbed.local/kube-apiserver:v$K8S_VERSION BIN_kube_apiserver
kube-controller-manager azs-testbed.local/kube-controller-manager:v$K8S_VERSION BIN_kube_controller_manager
kube-scheduler azs-testbed.local/kube-scheduler:v$K8S_VERSION BIN_kube_scheduler
EOF
}

image_ref() { # NAME -> its image reference
  local n ref _
  while read -r n ref _; do
    [[ $n == "$1" ]] && { printf '%s' "$ref"; return; }
  done < <(static_pod_images)
  return 1
}

# tb_static_pod_images: every image archive, in $TB_STATE/images.
tb_static_pod_images() {
  local n ref var
  mkdir -p "$TB_STATE/images"
  while read -r n ref var; do
    "$TB_DIR/lib/oci-image" "$TB_STATE/images/$n.tar" "$ref" "/usr/local/bin/$(basename "${!var}")" "${!var}"
  done < <(static_pod_images)
}

# static_pod_manifest NAME: the pod NAME running its image's binary with the flags on stdin, on the
# host network, with /etc/kubernetes and /var/lib/kubelet mounted from the node (AKS Engine's shape).
static_pod_manifest() {
  local name=$1 line
  cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $name
  namespace: kube-system
  labels:
    component: $name
    tier: control-plane
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  containers:
  - name: $name
    image: $(image_ref "$name")
    imagePullPolicy: Never
    command: ["/usr/local/bin/$name"]
    args:
EOF
  while read -r line; do printf '    - "%s"\n' "$line"; done
  cat <<EOF
    volumeMounts:
    - name: etc-kubernetes
      mountPath: /etc/kubernetes
    - name: var-lib-kubelet
      mountPath: /var/lib/kubelet
  volumes:
  - name: etc-kubernetes
    hostPath:
      path: /etc/kubernetes
  - name: var-lib-kubelet
    hostPath:
      path: /var/lib/kubelet
EOF
}

containerd_config() { # ROOTDIR CNI_CONF_DIR
  cat <<EOF
version = 2
root = "$1"
state = "/run/containerd"
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(image_ref pause)"
  # The testbed runs without CAP_SYS_RESOURCE: a container may not get a lower OOM score than containerd's.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$2"
EOF
}

# The kubelet's flags as AKS Engine writes them to /etc/default/kubelet, with the testbed's cgroup
# root and the container runtime's socket.
kubelet_flags() { # IP
  cat <<EOF
--kubeconfig=/var/lib/kubelet/kubeconfig
--config=/var/lib/kubelet/config.yaml
--pod-manifest-path=/etc/kubernetes/manifests
--rotate-certificates=true
--tls-cert-file=/etc/kubernetes/certs/kubeletserver.crt
--tls-private-key-file=/etc/kubernetes/certs/kubeletserver.key
--client-ca-file=/etc/kubernetes/certs/ca.crt
--anonymous-auth=false
--authorization-mode=Webhook
--cluster-dns=10.0.0.10
--cluster-domain=cluster.local
--container-runtime-endpoint=unix:///run/containerd/containerd.sock
--node-ip=$1
--max-pods=30
--node-labels=kubernetes.azure.com/role=master,node.kubernetes.io/exclude-from-external-load-balancers=true
--register-with-taints=node-role.kubernetes.io/master=true:NoSchedule
--v=1
EOF
}

# What has no flag: cgroup v1 (Kubernetes 1.35 refuses it unless told), no swap check, the
# testbed's cgroup driver and root.
kubelet_config() { # NAME
  cat <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
cgroupRoot: /azs-testbed/$1
EOF
}

# tb_static_pod_master DIR NAME IP ETCD_TRUST_FILE: containerd, the kubelet and the manifests.
tb_static_pod_master() {
  local d=$1 name=$2 ip=$3 etcd_trust=$4 r="$1/root" flags imports="" n ref _
  mkdir -p "$r/etc-kubernetes/manifests" "$r/var-lib-containerd" "$r/etc-cni" "$r/var-log-pods"
  echo "$r/var-log-pods /var/log/pods" >>"$d/mounts"
  tb_vm_etc_default "$d"
  ln -s "$BIN_kubelet" "$r/bin/kubelet"
  # crictl reads crictl.yaml beside its binary when /etc has none: a link (not a symlink, which it
  # resolves) puts the VM's own beside it
  ln "$BIN_crictl" "$r/bin/crictl" 2>/dev/null || cp "$BIN_crictl" "$r/bin/crictl"
  printf 'runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\ntimeout: 10\n' >"$r/bin/crictl.yaml"

  # the node's kubelet serving certificate, self-signed for 20 years as AKS Engine's CSE makes it
  openssl req -x509 -newkey rsa:2048 -nodes -days 7300 -subj "/CN=$name" \
    -keyout "$r/etc-kubernetes/certs/kubeletserver.key" -out "$r/etc-kubernetes/certs/kubeletserver.crt" 2>/dev/null
  chmod 600 "$r/etc-kubernetes/certs/kubeletserver.key"

  containerd_config "$r/var-lib-containerd" "$r/etc-cni" >"$r/containerd.toml"
  # Only host-network pods run here; a loopback network makes containerd report the network ready.
  printf '{"cniVersion":"0.4.0","name":"azs-testbed-loopback","plugins":[{"type":"loopback"}]}\n' >"$r/etc-cni/10-loopback.conflist"
  service "$d" containerd <<EOF
exec containerd --config $r/containerd.toml
EOF

  apiserver_flags "$ip" "$etcd_trust" | static_pod_manifest kube-apiserver >"$r/etc-kubernetes/manifests/kube-apiserver.yaml"
  controller_manager_flags | static_pod_manifest kube-controller-manager >"$r/etc-kubernetes/manifests/kube-controller-manager.yaml"
  scheduler_flags | static_pod_manifest kube-scheduler >"$r/etc-kubernetes/manifests/kube-scheduler.yaml"

  while read -r n ref _; do
    imports+="ctr -n k8s.io images ls -q | grep -xF $ref >/dev/null || ctr -n k8s.io images import $TB_STATE/images/$n.tar >/dev/null"$'\n'
  done < <(static_pod_images)
  flags=$(kubelet_flags "$ip" | tr '\n' ' ')
  printf 'KUBELET_FLAGS=%q\n' "${flags% }" >"$r/etc-default/kubelet"
  kubelet_config "$name" >"$r/var-lib-kubelet/config.yaml"
  service "$d" kubelet <<EOF
set -euo pipefail
source /etc/default/kubelet
# the node's cgroup subtree in every hierarchy (cpuset needs its cpus and mems set by hand)
for h in /sys/fs/cgroup/*/; do
  [[ -e \$h/tasks ]] || continue
  p=\$h
  for part in azs-testbed $name; do
    mkdir -p "\$p/\$part"
    if [[ -e \$p/cpuset.cpus ]]; then
      [[ -n \$(<"\$p/\$part/cpuset.cpus") ]] || cat "\$p/cpuset.cpus" >"\$p/\$part/cpuset.cpus"
      [[ -n \$(<"\$p/\$part/cpuset.mems") ]] || cat "\$p/cpuset.mems" >"\$p/\$part/cpuset.mems"
    fi
    p=\$p/\$part
  done
done
# CPU weight: the masters' control planes share one group beside the testbed's other processes,
# and cgroup v1 weighs a group like a single process. At the default weight the three apiservers,
# controller-managers and schedulers together got as much CPU as one etcd, and stalled for
# seconds whenever the engine or a rollout step was busy; weighted as 3 processes per master they
# compete as they would as units (each master is a VM of its own in AKS Engine).
if [[ -e /sys/fs/cgroup/cpu/azs-testbed/cpu.shares ]]; then echo $((3 * 1024 * MASTERS)) >/sys/fs/cgroup/cpu/azs-testbed/cpu.shares; fi
# the images, once containerd answers (bounded: 60 s), unless imported before
for ((i = 0; i < 60; i++)); do ctr version >/dev/null 2>&1 && break; sleep 1; done
$imports# shellcheck disable=SC2086 # the flags are words
exec /usr/local/bin/kubelet \$KUBELET_FLAGS
EOF
}
