# shellcheck shell=bash
# The load balancer VM: haproxy in front of the masters' apiservers, probing them as AKS Engine's
# master load balancer on Azure does. Source it after vm.sh (service).

# tb_lb_vm DIR: the LB VM's haproxy.cfg and haproxy service.
tb_lb_vm() {
  local d=$1 i
  {
    cat <<EOF
global
  maxconn 4096
  log stdout format raw local0 info
defaults
  mode tcp
  log global
  option tcplog
  timeout connect 2s
  timeout client 10m
  timeout server 10m
  retries 3
  option redispatch 1
frontend kube-apiserver
  bind $LB_IP:443
  default_backend masters
backend masters
  balance roundrobin
  # Like AKS Engine's master load balancer on Azure: a TCP probe of 443 (any apiserver that accepts
  # connections gets traffic, ready or not), down after 2 failed probes, up after 1 success; a
  # server marked down gets no new connections and those established continue (no
  # shutdown-sessions), so an apiserver drains its requests.
  default-server inter ${LB_PROBE_INTERVAL}s fall 2 rise 1 check
EOF
    for i in "${!MASTER_IPS[@]}"; do echo "  server ${MASTER_NAMES[$i]} ${MASTER_IPS[$i]}:443"; done
  } >"$d/haproxy.cfg"
  service "$d" haproxy <<EOF
exec /usr/sbin/haproxy -W -db -f $d/haproxy.cfg
EOF
}
