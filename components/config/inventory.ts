// The inventory section of the stack config: the cluster's name and endpoint, its nodes and how to
// reach them (top-level keys, see INVENTORY_KEYS).
import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { AKS_ENGINE_SERVICES, NODE_SERVICES, NodeRole, NodeService, Platform, PLATFORMS, resolveServiceManagers, SERVICE_MANAGERS, ServiceManager, ServiceManagers } from "../nodeModel";
import type { ApiModelCluster } from "./apimodel";
import { mergeInventory } from "./apimodelMerge";
import type { AcceptedKeys, ConfigKeyDoc } from "./keys";
import { checkDnsName, checkHost, checkIp, checkIpv4, CONFIG_NAMESPACE, ConfigError, Section } from "./reader";

export type { NodeRole };

export interface InventoryNode {
    name: string;
    role: NodeRole;
    ip: string;
    /** Masters: etcd member index (etcdpeer<index>); defaults to the order of the masters in the list. */
    index?: number;
    /** Agent pool (aks-engine agentPoolProfiles[].name); masters: "master". */
    pool: string;
    /** Pinned SSH host key, "<type> <base64>": the rollout refuses any other. */
    hostKey: string;
    platform: Platform;
    /** How each service runs on the node: AKS Engine's defaults for its role, with the declared ones over them. */
    services: ServiceManagers;
}

export interface Jumpbox {
    host: string;
    port: number;
    user: string;
    hostKey: string;
}

export interface InventorySettings {
    clusterName: string;
    fqdn: string;
    apiServerEndpoint: string;
    loadBalancerIps: string[];
    adminUsername: string;
    privateNetwork: boolean;
    jumpbox?: Jumpbox;
    nodes: InventoryNode[];
}

/** The top-level config keys the inventory is read from. */
export const INVENTORY_KEYS = ["clusterName", "fqdn", "apiServerEndpoint", "loadBalancerIps", "nodes", "adminUsername", "privateNetwork", "jumpbox"] as const;
/** The fields of a node and of the jumpbox: what parseInventoryConfig accepts. */
export const NODE_FIELDS = ["name", "role", "ip", "index", "pool", "hostKey", "platform", "services"] as const;
export const JUMPBOX_FIELDS = ["name", "host", "port", "user", "hostKey"] as const;

/** The keys of this section (see keys.ts). */
export const INVENTORY_ACCEPTS: AcceptedKeys = { "": INVENTORY_KEYS, nodes: NODE_FIELDS, jumpbox: JUMPBOX_FIELDS };

/** The documentation of the keys this section reads (see keys.ts). */
export const INVENTORY_KEY_DOCS: ConfigKeyDoc[] = [
    { key: "clusterName", type: "string", default: "required", description: "aks-engine DNS prefix (apimodel properties.masterProfile.dnsPrefix); the cluster name in kubeconfigs" },
    { key: "fqdn", type: "DNS name", default: "required", description: "the apiserver's DNS name, <dnsPrefix>.<region>.cloudapp.<external domain>; an apiserver SAN" },
    { key: "apiServerEndpoint", type: "https URL", default: "https://<fqdn>:443", description: "server in kubeconfig outputs; when its host is an IP and loadBalancerIps is unset, that IP is the load balancer's" },
    { key: "loadBalancerIps", type: "IP list", default: "the endpoint's host if it is an IP", description: "addresses of the load balancer in front of the apiservers; apiserver SANs" },
    { key: "nodes", type: "list", default: "required", description: "every VM: {name, role: master|agent, ip, index (masters: etcdpeer<index>), pool, hostKey, platform (linux), services}; names, IPs and host keys unique (the jumpbox's too), IPs IPv4 (the scripts use them unbracketed in URLs), an odd number of masters; services maps a service (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy) to how it runs there (systemd, staticPod, clusterWorkload, none) where the node differs from AKS Engine (masters: etcd and kubelet systemd, the control plane static pods; kube-proxy a cluster workload)" },
    { key: "adminUsername", type: "string", default: "azureuser", description: "Linux admin user on the VMs (apimodel linuxProfile.adminUsername)" },
    { key: "privateNetwork", type: "boolean", default: "false", description: "nodes are reachable only through the jumpbox (private VNet)" },
    { key: "jumpbox", type: "object", default: "unset", description: "SSH jump host: {name, host, port (22), user (adminUsername), hostKey}" },
];

const HOST_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}$/;
const checkHostKey = (s: string): string | undefined => (HOST_KEY.test(s) ? undefined : 'must be an SSH public host key "<type> <base64>" (ssh-keyscan prints it)');
/** A node's address: the scripts put it in URLs (https://<ip>:2379, etcd's member list) and iptables rules, unbracketed. */
const checkNodeIp = checkIpv4("IPv6 node addresses are not supported: the rotation scripts use a node's address in URLs (https://<ip>:2379) and iptables rules without brackets; give its IPv4 address");
const checkLinuxUser = (s: string): string | undefined => (/^[a-z_][a-z0-9_-]{0,31}$/.test(s) ? undefined : "must be a Linux user name");
const checkHttpsUrl = (s: string): string | undefined => {
    try {
        return new URL(s).protocol === "https:" ? undefined : "must be an https:// URL";
    } catch {
        return "must be an https:// URL";
    }
};

/**
 * Validates the cluster inventory (the top-level keys in INVENTORY_KEYS). Throws a ConfigError
 * naming every problem: duplicate names or IPs, unknown roles, an even number of etcd members,
 * missing host keys, a private network without a jumpbox.
 */
export function parseInventoryConfig(raw: Record<string, unknown>): InventorySettings {
    const problems: string[] = [];
    const top = new Section("", raw, problems);
    const clusterName = top.string("clusterName", undefined, (s) => (/^[a-z][a-z0-9-]{0,44}$/.test(s) ? undefined : "must be an aks-engine DNS prefix (lower-case letters, digits, -)"));
    const fqdn = top.string("fqdn", undefined, checkDnsName);
    const apiServerEndpoint = top.string("apiServerEndpoint", `https://${fqdn}:443`, checkHttpsUrl);
    const adminUsername = top.string("adminUsername", "azureuser", checkLinuxUser);
    const privateNetwork = top.bool("privateNetwork", false);
    const nodes = top.objectList("nodes").map(parseNode);
    problems.push(...nodeProblems(nodes));

    const endpointHost = fqdn && !checkHttpsUrl(apiServerEndpoint) ? new URL(apiServerEndpoint).hostname.replace(/^\[|\]$/g, "") : "";
    const loadBalancerIps = top.has("loadBalancerIps") ? top.stringList("loadBalancerIps", checkIp) : net.isIP(endpointHost) ? [endpointHost] : [];

    let jumpbox: Jumpbox | undefined;
    if (top.has("jumpbox")) {
        const j = top.section("jumpbox");
        j.rejectUnknown(JUMPBOX_FIELDS);
        jumpbox = { host: j.string("host", undefined, checkHost), port: j.int("port", 22, 1, 65535), user: j.string("user", adminUsername, checkLinuxUser), hostKey: j.string("hostKey", undefined, checkHostKey) };
    } else if (privateNetwork) {
        problems.push("privateNetwork is true but no jumpbox is set: the nodes cannot be reached");
    }

    if (problems.length > 0) throw new ConfigError(problems);
    return { clusterName, fqdn, apiServerEndpoint, loadBalancerIps, adminUsername, privateNetwork, jumpbox, nodes };
}

/** One item of `nodes`; its problems go to the section's list. */
function parseNode(n: Section): InventoryNode {
    n.rejectUnknown(NODE_FIELDS);
    const role = n.oneOf("role", ["master", "agent"] as const, "agent");
    return {
        name: n.string("name", undefined, (s) => (/^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$/i.test(s) ? undefined : "must be a host name")),
        role,
        ip: n.string("ip", undefined, checkNodeIp),
        ...(n.has("index") ? { index: parseIndex(n, role) } : {}),
        pool: n.string("pool", role === "master" ? "master" : "agentpool1", (s) => (/^[a-z][a-z0-9]{0,11}$/.test(s) ? undefined : "must be an aks-engine pool name")),
        hostKey: n.string("hostKey", undefined, checkHostKey),
        platform: n.oneOf<Platform>("platform", PLATFORMS, "linux"),
        services: parseServices(n, role),
    };
}

/** A master's etcd member index (etcdpeer<index>); an agent has none, so one there is a mistake. */
function parseIndex(n: Section, role: NodeRole): number {
    if (role === "agent") {
        n.report("index", "only masters have an index (their etcd member: etcdpeer<index>); remove it from this agent");
        return 0;
    }
    return n.int("index", 0, 0, 8);
}

/** A node's `services`: each a manager; AKS Engine's for the role where not declared. */
function parseServices(n: Section, role: NodeRole): ServiceManagers {
    const s = n.section("services");
    s.rejectUnknown(NODE_SERVICES);
    const declared: Partial<Record<NodeService, ServiceManager>> = {};
    // an unknown manager is reported and the role's default kept, so it is reported once
    for (const svc of NODE_SERVICES) if (s.has(svc)) declared[svc] = s.oneOf(svc, SERVICE_MANAGERS, AKS_ENGINE_SERVICES[role][svc]);
    const { managers, problems } = resolveServiceManagers(role, declared);
    for (const p of problems) n.report("services", p);
    return managers;
}

/** What is wrong with the nodes together: duplicate names or IPs, the etcd members. Numbers the masters' default indexes. */
function nodeProblems(nodes: InventoryNode[]): string[] {
    const problems: string[] = [];
    for (const field of ["name", "ip"] as const) {
        const seen = new Map<string, number>();
        nodes.forEach((node, i) => {
            const first = seen.get(node[field]);
            if (node[field] && first !== undefined) problems.push(`nodes[${i}].${field}: ${node[field]} is already nodes[${first}].${field}`);
            else seen.set(node[field], i);
        });
    }
    const masterNodes = nodes.filter((n) => n.role === "master");
    if (nodes.length > 0 && masterNodes.length % 2 === 0) {
        problems.push(`nodes: ${masterNodes.length} masters: etcd needs an odd number of members (1, 3 or 5) to keep quorum through a rolling restart`);
    }
    masterNodes.forEach((m, order) => (m.index ??= order));
    const indexes = masterNodes.map((m) => m.index).sort();
    if (masterNodes.length > 0 && indexes.some((idx, i) => idx !== i)) {
        problems.push(`nodes: master indexes must be 0..${masterNodes.length - 1}, each once (etcdpeer<index>), got ${indexes.join(", ")}`);
    }
    return problems;
}

/**
 * Host keys that two machines (nodes, the jumpbox) share: a pinned key would then no longer tie an
 * address to one VM (a cloned image keeps its host keys). Checked with the whole stack
 * (readStackConfig) rather than by parseInventoryConfig, which also reads inventories whose host
 * keys are one placeholder (the parser's and the node model's tests).
 */
export function hostKeyProblems(inventory: InventorySettings): string[] {
    const machines = inventory.nodes.map((n, i) => ({ path: `nodes[${i}]`, name: n.name, hostKey: n.hostKey }));
    if (inventory.jumpbox) machines.push({ path: "jumpbox", name: inventory.jumpbox.host, hostKey: inventory.jumpbox.hostKey });
    const problems: string[] = [];
    const seen = new Map<string, (typeof machines)[number]>();
    for (const m of machines) {
        const first = seen.get(m.hostKey);
        if (first) problems.push(`${m.path}.hostKey: ${m.name} has the same host key as ${first.path} (${first.name}): pinning would no longer tie an address to one VM; give each VM its own host keys`);
        else seen.set(m.hostKey, m);
    }
    return problems;
}

/** Reads and validates the inventory of the current stack's config, with the apimodel's values when the stack names one. */
export function readInventoryConfig(config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE), apiModel?: ApiModelCluster): InventorySettings {
    const raw: Record<string, unknown> = {};
    for (const key of INVENTORY_KEYS) {
        const value = config.get(key);
        // Pulumi.yaml gives optional keys an empty default: those are unset.
        if (value === undefined || value === "" || value === "{}" || value === "[]") continue;
        try {
            raw[key] = ["nodes", "jumpbox", "loadBalancerIps"].includes(key) ? JSON.parse(value) : value;
        } catch {
            throw new ConfigError([`${key}: not valid YAML/JSON`]);
        }
    }
    return inventoryFromValues(raw, apiModel);
}

/**
 * The inventory of the top-level values as they are (objects parsed), merged with the apimodel's
 * values when given: what readInventoryConfig reads, for tools that get the stack's values from
 * the Pulumi CLI instead of pulumi.Config (the expiry report).
 */
export function inventoryFromValues(raw: Record<string, unknown>, apiModel?: ApiModelCluster): InventorySettings {
    if (!apiModel) return parseInventoryConfig(raw);
    // Until the stack agrees with the apimodel, the parser's problems would be about nodes that are not the cluster's.
    const merged = mergeInventory(raw, apiModel);
    if (merged.problems.length > 0) throw new ConfigError(merged.problems);
    return parseInventoryConfig(merged.raw);
}
