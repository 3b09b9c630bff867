// The catalog's rows expanded for an inventory: the PKI's view of the nodes, the SANs each
// certificate gets, the concrete instances and the files each node receives. Pure functions.
import * as net from "net";
import { CERTS_DIR, CertRow, FileSpec, RowPlacement } from "./catalog";
import { atMasterIndex, atNodeName } from "./names";

export interface PkiNode {
    name: string;
    role: "master" | "agent";
    ip: string;
    /** Master index (etcdpeer<index>); masters only. */
    index?: number;
}

/** What the PKI needs to know about the cluster. */
export interface PkiInventory {
    nodes: PkiNode[];
    /** The apiserver's public DNS name (aks-engine: <dnsPrefix>.<location>.cloudapp.<suffix>). */
    fqdn: string;
    /** Load balancer / VIP addresses in front of the apiservers. */
    loadBalancerIps: string[];
}

/**
 * The PKI's view of an inventory in the shape stack config and the testbed write (nodes with
 * name, role, ip, index; the apiserver endpoint and FQDN). Nodes of other roles (a jumpbox) are
 * left out; without explicit load balancer IPs the endpoint's host is one when it is an address.
 */
export function pkiInventoryFrom(input: {
    nodes: { name: string; role: string; ip: string; index?: number }[];
    fqdn: string;
    apiServerEndpoint?: string;
    loadBalancerIps?: string[];
}): PkiInventory {
    const host = input.apiServerEndpoint ? new URL(input.apiServerEndpoint).hostname.replace(/^\[|\]$/g, "") : "";
    return {
        nodes: input.nodes
            .filter((n): n is PkiNode => n.role === "master" || n.role === "agent")
            .map((n) => ({ name: n.name, role: n.role, ip: n.ip, ...(n.role === "master" ? { index: n.index } : {}) })),
        fqdn: input.fqdn,
        loadBalancerIps: input.loadBalancerIps ?? (net.isIP(host) ? [host] : []),
    };
}

export interface SanSettings {
    clusterDomain: string;
    serviceCidr: string;
    /** Extra apiserver SANs (DNS names or IPs), e.g. a custom DNS name. */
    apiServerExtraSans: string[];
}

export const DEFAULT_SAN_SETTINGS: SanSettings = { clusterDomain: "cluster.local", serviceCidr: "10.0.0.0/16", apiServerExtraSans: [] };

/** One concrete certificate (or key pair) of the cluster: a row, expanded for its owner where per-master or per-node. */
export interface CertInstance {
    /** Unique id, e.g. "apiserver", "etcd-peer-1", "kubelet-server-k8s-agentpool1-31415926-0". */
    id: string;
    row: CertRow;
    /** The node this instance belongs to (per-master and per-node rows). */
    owner?: PkiNode;
    commonName: string;
    organization?: string;
    dnsNames: string[];
    ipAddresses: string[];
    /** Files with their owner's placeholder resolved and the node names that receive each. */
    files: (FileSpec & { path: string; nodeNames: string[] })[];
}

/** The masters by etcd member index (any inventory whose nodes have a role and an index). */
export function masters<N extends PkiNode>(inventory: { nodes: N[] }): N[] {
    return inventory.nodes.filter((n) => n.role === "master").sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
}

/** The first usable address of a CIDR: the `kubernetes` Service's ClusterIP (10.0.0.1 for 10.0.0.0/16). */
export function firstServiceIp(cidr: string): string {
    const [base, bitsText] = cidr.split("/");
    const family = net.isIP(base ?? "");
    const bits = Number(bitsText);
    const width = family === 4 ? 32 : 128;
    if (!family || !/^\d+$/.test(bitsText ?? "") || bits < 0 || bits >= width - 1) {
        throw new Error(`not a CIDR with room for a service IP: ${JSON.stringify(cidr)}`);
    }
    const value = family === 4 ? ipv4ToBigInt(base!) : ipv6ToBigInt(base!);
    const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - bits)) - 1n);
    const first = (value & mask) + 1n;
    return family === 4 ? bigIntToIpv4(first) : bigIntToIpv6(first);
}

function ipv4ToBigInt(ip: string): bigint {
    return ip.split(".").reduce((acc, part) => (acc << 8n) + BigInt(Number(part)), 0n);
}
function bigIntToIpv4(v: bigint): string {
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join(".");
}
function ipv6ToBigInt(ip: string): bigint {
    const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
    return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n);
}
function bigIntToIpv6(v: bigint): string {
    const groups: string[] = [];
    for (let s = 112n; s >= 0n; s -= 16n) groups.push(((v >> s) & 0xffffn).toString(16));
    return groups.join(":");
}

const uniq = (xs: string[]): string[] => [...new Set(xs)];

/** SANs of the apiserver serving certificate. */
export function apiServerSans(inventory: PkiInventory, s: SanSettings): { dnsNames: string[]; ipAddresses: string[] } {
    const extraIps = s.apiServerExtraSans.filter((x) => net.isIP(x));
    const extraDns = s.apiServerExtraSans.filter((x) => !net.isIP(x));
    return {
        dnsNames: uniq([
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            `kubernetes.default.svc.${s.clusterDomain}`,
            inventory.fqdn,
            ...extraDns,
        ]),
        ipAddresses: uniq([
            ...masters(inventory).map((m) => m.ip),
            ...inventory.loadBalancerIps,
            firstServiceIp(s.serviceCidr),
            "127.0.0.1",
            ...extraIps,
        ]),
    };
}

function sansFor(row: CertRow, inventory: PkiInventory, s: SanSettings, owner?: PkiNode): { dnsNames: string[]; ipAddresses: string[] } {
    switch (row.sans) {
        case "none":
            return { dnsNames: [], ipAddresses: [] };
        case "apiServer":
            return apiServerSans(inventory, s);
        case "etcdServer": // one certificate for every master's etcd
            return {
                dnsNames: uniq(["localhost", ...masters(inventory).map((m) => m.name)]),
                ipAddresses: uniq(["127.0.0.1", ...masters(inventory).map((m) => m.ip)]),
            };
        case "etcdPeer":
            return { dnsNames: [owner!.name], ipAddresses: uniq([owner!.ip, "127.0.0.1"]) };
        case "kubeletServer": // the names the apiserver reaches the kubelet by (AKS Engine: the node's name and address)
            return { dnsNames: [owner!.name], ipAddresses: [owner!.ip] };
    }
}

/**
 * Expand the table for an inventory: one instance per cluster row, one per master for per-master
 * rows, one per node (in inventory order) for per-node rows.
 */
export function expandInstances(rows: CertRow[], inventory: PkiInventory, s: SanSettings = DEFAULT_SAN_SETTINGS): CertInstance[] {
    const ms = masters(inventory);
    const all = inventory.nodes.map((n) => n.name);
    const ownersOf: Record<RowPlacement, (PkiNode | undefined)[]> = { cluster: [undefined], perMaster: ms, perNode: inventory.nodes };
    const out: CertInstance[] = [];
    for (const row of rows) {
        for (const owner of ownersOf[row.placement]) {
            // checkCatalog allows a row only its own placement's placeholder
            const resolve = (text: string) => atNodeName(atMasterIndex(text, owner?.index), owner?.name);
            out.push({
                id: resolve(row.id),
                row,
                owner,
                commonName: resolve(row.commonName),
                organization: row.organization,
                ...sansFor(row, inventory, s, owner),
                files: row.files.map((f) => ({
                    ...f,
                    name: resolve(f.name),
                    path: `${CERTS_DIR}/${resolve(f.name)}`,
                    nodeNames: f.nodes === "all" ? all : f.nodes === "masters" ? ms.map((m) => m.name) : [owner!.name],
                })),
            });
        }
    }
    return out;
}

/** The files one node receives: [path, instance id, content]. */
export function filesForNode(instances: CertInstance[], nodeName: string): { path: string; instance: string; content: FileSpec["content"] }[] {
    return instances.flatMap((inst) =>
        inst.files.filter((f) => f.nodeNames.includes(nodeName)).map((f) => ({ path: f.path, instance: inst.id, content: f.content })),
    );
}
