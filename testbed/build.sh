#!/usr/bin/env bash
# Build (or find in the cache) the testbed's Go binaries: etcd 3.6 + etcdctl, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet and kubemark 1.35, crictl, the pod sandbox's
# pause and the testbed prober.
# One build at a time, nice'd (the build machines are shared). CGO_ENABLED=0.
#
#   testbed/build.sh            build what is missing; print "name=dir" lines on stdout
#   testbed/build.sh --print    same (alias)
# Cold build times are appended to $AZS_CACHE/testbed-build-times.log.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../build/lib.sh
source "$HERE/../build/lib.sh"

ETCD_VERSION=v3.6.5
K8S_VERSION=v1.35.8
CRI_TOOLS_VERSION=v1.34.0
NICE="nice -n ${TESTBED_BUILD_NICE:-15}"
TIMES_LOG="$AZS_CACHE/testbed-build-times.log"
mkdir -p "$AZS_CACHE"
# One testbed build at a time on this machine (a second caller waits, then finds the cache).
exec 8>"$AZS_CACHE/.testbed-build.lock"
flock 8

record_time() { # name version seconds
  printf '%s %s %s %ss\n' "$(date -u +%FT%TZ)" "$1" "$2" "$3" >>"$TIMES_LOG"
}

build_etcd() {
  local out=$1 t=$SECONDS
  mkdir -p "$out/bin"
  (cd "$HERE/go/etcd" && $NICE go build -trimpath -ldflags '-s -w' -o "$out/bin/etcd" ./cmd/etcd)
  record_time etcd "$ETCD_VERSION" $((SECONDS - t))
}
build_etcdctl() {
  local out=$1 t=$SECONDS
  mkdir -p "$out/bin"
  (cd "$HERE/go/etcd" && $NICE go build -trimpath -ldflags '-s -w' -o "$out/bin/etcdctl" go.etcd.io/etcd/etcdctl/v3)
  record_time etcdctl "$ETCD_VERSION" $((SECONDS - t))
}

k8s_ldflags() {
  local v=$K8S_VERSION minor
  minor=$(cut -d. -f2 <<<"$v")
  local f="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    f+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  printf '%s' "$f"
}
build_k8s_cmd() { # out cmd
  local out=$1 cmd=$2 t=$SECONDS
  mkdir -p "$out/bin"
  (cd "$HERE/go/k8s" && $NICE go build -trimpath -ldflags "$(k8s_ldflags)" -o "$out/bin/$cmd" "k8s.io/kubernetes/cmd/$cmd")
  record_time "$cmd" "$K8S_VERSION" $((SECONDS - t))
}
build_kube_apiserver() { build_k8s_cmd "$1" kube-apiserver; }
build_kube_controller_manager() { build_k8s_cmd "$1" kube-controller-manager; }
build_kube_scheduler() { build_k8s_cmd "$1" kube-scheduler; }
build_kubemark() { build_k8s_cmd "$1" kubemark; }
build_kubelet() { build_k8s_cmd "$1" kubelet; }

build_crictl() {
  local out=$1 t=$SECONDS
  mkdir -p "$out/bin"
  (cd "$HERE/go/cri-tools" && $NICE go build -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRI_TOOLS_VERSION" \
    -o "$out/bin/crictl" sigs.k8s.io/cri-tools/cmd/crictl)
  record_time crictl "$CRI_TOOLS_VERSION" $((SECONDS - t))
}
build_pause() {
  local out=$1 t=$SECONDS
  mkdir -p "$out/bin"
  (cd "$HERE/go/pause" && $NICE go build -trimpath -ldflags '-s -w' -o "$out/bin/pause" .)
  record_time pause 0 $((SECONDS - t))
}

build_prober() {
  local out=$1 t=$SECONDS
  mkdir -p "$out/bin"
  (cd "$HERE/go/prober" && $NICE go build -trimpath -ldflags '-s -w' -o "$out/bin/azs-prober" .)
  record_time azs-prober 0 $((SECONDS - t))
}

# Keys: the module files plus the recipe (the build functions' text), not this whole script.
etcd_key=$(key_of "$HERE/go/etcd/go.mod" "$HERE/go/etcd/go.sum" "$HERE/go/etcd/cmd/etcd/main.go" \
  <(declare -f build_etcd build_etcdctl))
k8s_key=$(key_of "$HERE/go/k8s/go.mod" "$HERE/go/k8s/go.sum" <(declare -f k8s_ldflags build_k8s_cmd))
prober_key=$(key_of "$HERE"/go/prober/*)
crictl_key=$(key_of "$HERE/go/cri-tools/go.mod" "$HERE/go/cri-tools/go.sum" <(declare -f build_crictl))
pause_key=$(key_of "$HERE"/go/pause/*)

echo "etcd=$(cached_build etcd "$ETCD_VERSION" "$etcd_key" build_etcd)"
echo "etcdctl=$(cached_build etcdctl "$ETCD_VERSION" "$etcd_key" build_etcdctl)"
echo "azs-prober=$(cached_build azs-prober 0 "$prober_key" build_prober)"
echo "kube-apiserver=$(cached_build kube-apiserver "$K8S_VERSION" "$k8s_key" build_kube_apiserver)"
echo "kube-controller-manager=$(cached_build kube-controller-manager "$K8S_VERSION" "$k8s_key" build_kube_controller_manager)"
echo "kube-scheduler=$(cached_build kube-scheduler "$K8S_VERSION" "$k8s_key" build_kube_scheduler)"
echo "kubemark=$(cached_build kubemark "$K8S_VERSION" "$k8s_key" build_kubemark)"
echo "kubelet=$(cached_build kubelet "$K8S_VERSION" "$k8s_key" build_kubelet)"
echo "crictl=$(cached_build crictl "$CRI_TOOLS_VERSION" "$crictl_key" build_crictl)"
echo "pause=$(cached_build pause 0 "$pause_key" build_pause)"
