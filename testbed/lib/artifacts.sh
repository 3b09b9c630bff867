#!/usr/bin/env bash
# artifacts.sh STATE: write what aks-engine would leave an operator with, and what the product
# needs as input:
#   STATE/_output/<dnsPrefix>/apimodel.json                  aks-engine-style apimodel (vlabs)
#   STATE/_output/<dnsPrefix>/azuredeploy.json               its ARM template's parameters (nameSuffix)
#   STATE/_output/<dnsPrefix>/kubeconfig/kubeconfig.<loc>.json  admin kubeconfig (via the LB IP)
#   STATE/Pulumi.testbed.yaml                                Pulumi stack config (inventory)
#   STATE/inventory.json                                     the same inventory as JSON
#   STATE/ssh/known_hosts, STATE/ssh/config                  host keys, ProxyJump setup
set -euo pipefail
TESTBED_STATE=$1
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
tb_load
PKI="$TB_STATE/pki"
OUT="$TB_STATE/_output/$DNS_PREFIX"
mkdir -p "$OUT/kubeconfig"
pem() { jq -Rs . <"$PKI/$1"; }

# ---- host keys, ssh config
: >"$TB_STATE/ssh/known_hosts"
nodes_json="[]"
# How the testbed runs each service where it differs from AKS Engine (the inventory's node model):
# its control plane runs as systemd units unless it runs static pods (--control-plane static-pods),
# and kube-proxy (kube-system.sh's DaemonSet) runs on the agents only.
master_services='{"kube-apiserver": "systemd", "kube-controller-manager": "systemd", "kube-scheduler": "systemd", "kube-proxy": "none"}'
[[ $CONTROL_PLANE == processes ]] || master_services='{"kube-proxy": "none"}'
[[ $MASTER_KUBELET == 1 ]] || master_services=$(jq -c '. + {kubelet: "none"}' <<<"$master_services")
agent_services='{}'
for vm in "${VMS[@]}"; do
  read -r name role ip idx <<<"$vm"
  [[ $role == lb ]] && continue
  hk=$(cut -d' ' -f1,2 "$(vm_dir "$name")/ssh/ssh_host_ed25519_key.pub")
  echo "$ip,$name $hk" >>"$TB_STATE/ssh/known_hosts"
  case $role in master) services=$master_services ;; agent) services=$agent_services ;; *) services=null ;; esac
  nodes_json=$(jq -c --arg n "$name" --arg r "$role" --arg ip "$ip" --argjson i "$idx" --arg hk "$hk" --argjson s "$services" \
    '. + [{name:$n, role:$r, ip:$ip, index:$i, hostKey:$hk} + (if $s == null then {} else {services:$s} end)]' <<<"$nodes_json")
done
{
  echo "# ssh -F $TB_STATE/ssh/config <node name>"
  echo "Host $JUMPBOX_NAME"
  echo "  HostName $JUMPBOX_IP"
  for vm in "${VMS[@]}"; do
    read -r name role ip _ <<<"$vm"
    [[ $role == master || $role == agent ]] || continue
    echo "Host $name"
    echo "  HostName $ip"
    if [[ $PRIVATE == 1 ]]; then echo "  ProxyJump $JUMPBOX_NAME"; fi
  done
  echo "Host *"
  echo "  User $ADMIN_USER"
  echo "  IdentityFile $TB_STATE/ssh/id_ed25519"
  echo "  UserKnownHostsFile $TB_STATE/ssh/known_hosts"
  echo "  StrictHostKeyChecking yes"
  echo "  IdentitiesOnly yes"
  echo "  ConnectTimeout 5"
} >"$TB_STATE/ssh/config"

# ---- apimodel.json (aks-engine vlabs shape; PEM strings as aks-engine stores them)
peers_crt=$(for i in "${!MASTER_NAMES[@]}"; do jq -Rs . <"$PKI/etcdpeer$i.crt"; done | jq -s .)
peers_key=$(for i in "${!MASTER_NAMES[@]}"; do jq -Rs . <"$PKI/etcdpeer$i.key"; done | jq -s .)
jq -n \
  --arg loc "$LOCATION" --arg ver "$K8S_VERSION" --arg dns "$DNS_PREFIX" --arg fqdn "$FQDN" \
  --arg first "${MASTER_IPS[0]}" --argjson masters "$MASTERS" --argjson agents "$AGENTS" \
  --arg user "$ADMIN_USER" --arg pub "$(<"$TB_STATE/ssh/id_ed25519.pub")" --arg subnet "$SUBNET.0/24" \
  --argjson ca "$(pem ca.crt)" --argjson cak "$(pem ca.key)" \
  --argjson api "$(pem apiserver.crt)" --argjson apik "$(pem apiserver.key)" \
  --argjson cl "$(pem client.crt)" --argjson clk "$(pem client.key)" \
  --argjson kc "$(pem kubectlClient.crt)" --argjson kck "$(pem kubectlClient.key)" \
  --argjson es "$(pem etcdserver.crt)" --argjson esk "$(pem etcdserver.key)" \
  --argjson ec "$(pem etcdclient.crt)" --argjson eck "$(pem etcdclient.key)" \
  --argjson pc "$peers_crt" --argjson pk "$peers_key" \
  --arg cid "$CLUSTER_ID" '
{
  apiVersion: "vlabs",
  location: $loc,
  properties: {
    orchestratorProfile: {
      orchestratorType: "Kubernetes",
      orchestratorVersion: $ver,
      kubernetesConfig: {
        networkPlugin: "kubenet", serviceCidr: "10.0.0.0/16", dnsServiceIP: "10.0.0.10",
        clusterSubnet: "10.244.0.0/16", etcdVersion: "3.6.5", etcdDiskSizeGB: "256",
        useManagedIdentity: false, privateCluster: { enabled: false }
      }
    },
    customCloudProfile: { portalURL: ("https://portal." + $loc + ".azurestack.external/") },
    masterProfile: {
      count: $masters, dnsPrefix: $dns, vmSize: "Standard_DS2_v2",
      firstConsecutiveStaticIP: $first, vnetCidr: $subnet, distro: "aks-ubuntu-18.04",
      availabilityProfile: "AvailabilitySet", fqdn: $fqdn
    },
    agentPoolProfiles: [
      { name: "agentpool1", count: $agents, vmSize: "Standard_DS2_v2",
        availabilityProfile: "AvailabilitySet", distro: "aks-ubuntu-18.04", osType: "Linux" }
    ],
    linuxProfile: { adminUsername: $user, ssh: { publicKeys: [ { keyData: $pub } ] } },
    servicePrincipalProfile: { clientId: "00000000-0000-0000-0000-000000000000" },
    certificateProfile: {
      caCertificate: $ca, caPrivateKey: $cak,
      apiServerCertificate: $api, apiServerPrivateKey: $apik,
      clientCertificate: $cl, clientPrivateKey: $clk,
      kubeConfigCertificate: $kc, kubeConfigPrivateKey: $kck,
      etcdServerCertificate: $es, etcdServerPrivateKey: $esk,
      etcdClientCertificate: $ec, etcdClientPrivateKey: $eck,
      etcdPeerCertificates: $pc, etcdPeerPrivateKeys: $pk
    }
  }
}' >"$OUT/apimodel.json"
chmod 600 "$OUT/apimodel.json"
# The ARM template's parameters beside it, as `aks-engine generate` writes them: the VM names'
# suffix is there, not in the apimodel (the program's apimodelPath reads it).
jq -n --arg cid "$CLUSTER_ID" '{
  "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
  contentVersion: "1.0.0.0",
  parameters: { nameSuffix: { type: "string", defaultValue: $cid, metadata: { description: "A string hash of the master DNS name to uniquely identify the cluster." } } }
}' >"$OUT/azuredeploy.json"

# ---- admin kubeconfig for the operator's machine (aks-engine writes JSON; YAML is JSON's superset)
jq -n --arg dns "$DNS_PREFIX" --arg server "https://$LB_IP:443" \
  --arg ca "$(base64 -w0 "$PKI/ca.crt")" --arg crt "$(base64 -w0 "$PKI/kubectlClient.crt")" \
  --arg key "$(base64 -w0 "$PKI/kubectlClient.key")" '{
  apiVersion: "v1", kind: "Config", "current-context": $dns,
  clusters: [{name: $dns, cluster: {"certificate-authority-data": $ca, server: $server}}],
  contexts: [{name: $dns, context: {cluster: $dns, user: ($dns + "-admin")}}],
  users: [{name: ($dns + "-admin"), user: {"client-certificate-data": $crt, "client-key-data": $key}}]
}' >"$OUT/kubeconfig/kubeconfig.$LOCATION.json"
chmod 600 "$OUT/kubeconfig/kubeconfig.$LOCATION.json"

# ---- inventory (JSON) and Pulumi stack config (YAML)
jb_hk=$(cut -d' ' -f1,2 "$(vm_dir "$JUMPBOX_NAME")/ssh/ssh_host_ed25519_key.pub")
jq -n --argjson nodes "$nodes_json" --arg user "$ADMIN_USER" --arg key "$TB_STATE/ssh/id_ed25519" \
  --arg jb "$JUMPBOX_IP" --arg jbn "$JUMPBOX_NAME" --arg jbhk "$jb_hk" --arg lb "$LB_IP" --arg fqdn "$FQDN" \
  --arg apimodel "$OUT/apimodel.json" --arg kubeconfig "$OUT/kubeconfig/kubeconfig.$LOCATION.json" \
  --argjson private "$PRIVATE" --arg dns "$DNS_PREFIX" '{
  clusterName: $dns, adminUsername: $user, sshPrivateKeyPath: $key,
  jumpbox: {name: $jbn, host: $jb, port: 22, user: $user, hostKey: $jbhk},
  privateNetwork: ($private == 1), apiServerEndpoint: ("https://" + $lb + ":443"), fqdn: $fqdn,
  apimodelPath: $apimodel, kubeconfigPath: $kubeconfig,
  nodes: [$nodes[] | select(.role == "master" or .role == "agent")]
}' >"$TB_STATE/inventory.json"

P=azs-cert-rotation
# The pki object's keys, gathered here so that each setting adds to one `$P:pki:` block.
pki_keys=()
if [[ $ETCD_CA == separate ]]; then pki_keys+=("etcdCa: separate"); fi
{
  echo "# Written by testbed/up for the testbed cluster in $TB_STATE. Not committed."
  echo "# The SSH private key is NOT in this file. Store it as a secret in the stack:"
  echo "#   pulumi config set --secret $P:sshPrivateKey < $TB_STATE/ssh/id_ed25519"
  echo "# (sshPrivateKeyPath below is the same key as a path, for tooling that reads files.)"
  echo "config:"
  echo "  $P:clusterName: $DNS_PREFIX"
  echo "  $P:location: $LOCATION"
  echo "  $P:adminUsername: $ADMIN_USER"
  echo "  $P:sshPrivateKeyPath: $TB_STATE/ssh/id_ed25519"
  echo "  $P:apimodelPath: $OUT/apimodel.json"
  echo "  $P:apiServerEndpoint: https://$LB_IP:443"
  echo "  $P:fqdn: $FQDN"
  echo "  $P:privateNetwork: $([[ $PRIVATE == 1 ]] && echo true || echo false)"
  echo "  $P:jumpbox:"
  echo "    name: $JUMPBOX_NAME"
  echo "    host: $JUMPBOX_IP"
  echo "    port: 22"
  echo "    user: $ADMIN_USER"
  echo "    hostKey: \"$jb_hk\""
  echo "  $P:nodes:"
  jq -r '.[] | select(.role == "master" or .role == "agent") |
    "    - name: \(.name)\n      role: \(.role)\n      ip: \(.ip)\n\(if .role == "master" then "      index: \(.index)\n" else "" end)      hostKey: \"\(.hostKey)\"\n      services:",
    (.services | to_entries[] | "        \(.key): \(.value)")' \
    <<<"$nodes_json"
  if [[ ${#pki_keys[@]} -gt 0 ]]; then
    echo "  $P:pki:"
    printf '    %s\n' "${pki_keys[@]}"
  fi
} >"$TB_STATE/Pulumi.testbed.yaml"
