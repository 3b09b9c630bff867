# shellcheck shell=bash
# The testbed's network: a bridge with the host on it, a network namespace per VM joined to it
# by a veth pair (recorded in STATE/links for `down`), and with PRIVATE=1 the host firewalled off
# all but the jumpbox's SSH and the LB. Source it after common.sh.

# tb_network: creates the bridge, the VMs' namespaces and links, and the PRIVATE rules.
tb_network() {
  local vm name ip ns n=0
  # `ip netns add` makes /run/netns (and a mount on it) if absent; remember so `down` can undo it.
  if ! mountpoint -q /run/netns; then echo /run/netns >>"$TB_STATE/created-netns-mount"; fi
  ip link add "$BRIDGE" type bridge
  ip addr add "$HOST_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  for vm in "${VMS[@]}"; do
    read -r name _ ip _ <<<"$vm"
    ns=$(netns_of "$name")
    ip netns add "$ns"
    ip link add "azv$n" type veth peer name "azp$n"
    ip link set "azv$n" master "$BRIDGE" up
    ip link set "azp$n" netns "$ns"
    ip -n "$ns" link set "azp$n" name eth0
    ip -n "$ns" addr add "$ip/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    echo "$name $ns azv$n" >>"$TB_STATE/links"
    n=$((n + 1))
  done
  if [[ $PRIVATE == 1 ]]; then
    # Like a private VNet: from the host, only the jumpbox's SSH and the LB are reachable.
    iptables -N AZSTB-PRIVATE
    iptables -A AZSTB-PRIVATE -d "$JUMPBOX_IP" -p tcp --dport 22 -j ACCEPT
    iptables -A AZSTB-PRIVATE -d "$LB_IP" -p tcp --dport 443 -j ACCEPT
    iptables -A AZSTB-PRIVATE -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    iptables -A AZSTB-PRIVATE -j REJECT
    iptables -I OUTPUT -o "$BRIDGE" -j AZSTB-PRIVATE
  fi
}
