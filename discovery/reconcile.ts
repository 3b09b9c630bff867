// What discovery found, held against the apimodel and the stack file: the node list to write, the
// differences that stop it (the apimodel and the live cluster disagree), and host keys that changed
// (never written without the operator's flag). Pure: no I/O.
import { createHash } from "crypto";
import type { ApiModelCluster } from "../components/config/apimodel";
import type { LiveNode } from "./liveNodes";

/** Host key types in order of preference (every AKS Engine image has an ed25519 key). */
const KEY_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"];

/** A stack file's node entry: the fields discovery writes (name, ip, hostKey) and any others, kept. */
export type StackNode = Record<string, unknown> & { name: string };

/** "SHA256:…" as `ssh-keygen -l` and the VM's boot diagnostics print it. */
export function hostKeyFingerprint(hostKey: string): string {
    const blob = Buffer.from(hostKey.split(" ")[1] ?? "", "base64");
    return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/**
 * Each host's keys from ssh-keyscan's output ("<host> <type> <base64>"; comments skipped), by
 * preference: the type the stack pins already for that host, else KEY_TYPES' order.
 */
export function chooseHostKeys(scan: string, pinnedType: (host: string) => string | undefined): Map<string, string> {
    const byHost = new Map<string, string[]>();
    for (const line of scan.split("\n")) {
        const [host, type, key] = line.trim().split(/\s+/);
        if (!host || host.startsWith("#") || !type || !key || !KEY_TYPES.includes(type)) continue;
        byHost.set(host, [...(byHost.get(host) ?? []), `${type} ${key}`]);
    }
    const chosen = new Map<string, string>();
    for (const [host, keys] of byHost) {
        const rank = (k: string) => (k.split(" ")[0] === pinnedType(host) ? -1 : KEY_TYPES.indexOf(k.split(" ")[0]!));
        chosen.set(host, [...keys].sort((a, b) => rank(a) - rank(b))[0]!);
    }
    return chosen;
}

export interface HostKeyChange {
    name: string;
    ip: string;
    pinned: string;
    scanned: string;
}

export interface Reconciliation {
    /** The stack's new `nodes`: every VM of the apimodel, in its order, with its address and scanned host key. */
    nodes: StackNode[];
    /** Why nothing may be written: the apimodel and the live cluster disagree, or a VM did not answer. */
    differences: string[];
    /** Pinned host keys the VMs no longer present. */
    changedHostKeys: HostKeyChange[];
    /** Nodes pinned for the first time. */
    newHostKeys: { name: string; ip: string; hostKey: string }[];
    /** Entries of the stack's nodes that are no VM of the apimodel: left out of `nodes`. */
    dropped: string[];
}

/**
 * The apimodel's VMs with the live Nodes' addresses (agents; masters' are the apimodel's and must
 * match) and the scanned host keys, over the stack's current entries (their other fields kept).
 */
export function reconcile(cluster: ApiModelCluster, live: LiveNode[], scanned: Map<string, string>, stackNodes: StackNode[]): Reconciliation {
    const differences: string[] = [];
    const changedHostKeys: HostKeyChange[] = [];
    const newHostKeys: Reconciliation["newHostKeys"] = [];
    const liveByName = new Map(live.map((n) => [n.name.toLowerCase(), n]));
    const stackByName = new Map(stackNodes.map((n) => [n.name, n]));
    const excludedPools = new Set(cluster.pools.filter((p) => p.excluded).map((p) => p.name));
    const vmNames = new Set(cluster.nodes.map((vm) => vm.name.toLowerCase()));

    const nodes: StackNode[] = [];
    for (const vm of cluster.nodes) {
        const node = liveByName.get(vm.name.toLowerCase());
        const apimodelIp = vm.facts.ip?.value as string | undefined;
        if (!node) {
            differences.push(`${vm.name}: a VM of the apimodel (pool ${String(vm.facts.pool?.value)}) that the cluster has no Node for (a VM deleted or not joined, or a pool scaled in: run aks-engine scale, or correct the apimodel)`);
            continue;
        }
        if (apimodelIp && node.internalIp && apimodelIp !== node.internalIp) {
            differences.push(`${vm.name}: the apimodel gives ${apimodelIp} (${vm.facts.ip!.field}), the Node's InternalIP is ${node.internalIp}`);
            continue;
        }
        const ip = apimodelIp ?? node.internalIp;
        if (!ip) {
            differences.push(`${vm.name}: the Node has no InternalIP address`);
            continue;
        }
        const hostKey = scanned.get(ip);
        if (!hostKey) {
            differences.push(`${vm.name} (${ip}): no SSH host key: sshd did not answer ssh-keyscan on port 22`);
            continue;
        }
        const entry = stackByName.get(vm.name);
        const pinned = typeof entry?.hostKey === "string" ? entry.hostKey : undefined;
        if (pinned === undefined) newHostKeys.push({ name: vm.name, ip, hostKey });
        else if (pinned !== hostKey) changedHostKeys.push({ name: vm.name, ip, pinned, scanned: hostKey });
        nodes.push({ ...(entry ?? {}), name: vm.name, ip, hostKey });
    }
    for (const node of live) {
        if (vmNames.has(node.name.toLowerCase()) || (node.pool !== undefined && excludedPools.has(node.pool))) continue;
        differences.push(
            `${node.name}: a Node of the cluster${node.pool ? ` (pool ${node.pool})` : ""} that the apimodel has no VM for (a pool scaled out: update the apimodel; a Windows or scale-set pool: list it in apimodelExcludePools)`,
        );
    }
    const dropped = stackNodes.filter((n) => !cluster.nodes.some((vm) => vm.name === n.name)).map((n) => n.name);
    return { nodes, differences, changedHostKeys, newHostKeys, dropped };
}
