// The apimodel's values (apimodel.ts) put together with the ones typed in the stack file. A typed
// value completes what the apimodel does not hold (agents' addresses, host keys, how services run,
// the jumpbox's host) and must agree with what it holds: a conflict is an error naming both values
// and where each comes from. Certificates and keys are shown by fingerprint, never quoted. The
// inventory is merged here; the pki section merges the certificateProfile with these helpers.
import { parseCertificate, parsePrivateKey, publicKeyFingerprint } from "../pki/x509";
import { ApiModelCluster, ApiModelFact, ApiModelNode } from "./apimodel";

/** How values of one kind are compared, and shown in a conflict. */
export interface ValueKind {
    same(a: unknown, b: unknown): boolean;
    show(value: unknown): string;
}

/** A list compares as a set: the order of loadBalancerIps means nothing. */
const normalized = (v: unknown): string => (Array.isArray(v) ? JSON.stringify(v.map(String).sort()) : String(v));

const PLAIN: ValueKind = { same: (a, b) => normalized(a) === normalized(b), show: (v) => JSON.stringify(v) };

/**
 * PEM values compared by a fingerprint (the same key or certificate in other PEM text is the same
 * value) and shown by it; one that does not parse (the parsers report it) compares as text.
 */
function pemKind(what: string, fingerprintOf: (pem: string) => string, describe: (pem: string, fingerprint: string) => string): ValueKind {
    const fingerprint = (v: unknown): string | undefined => {
        try {
            return fingerprintOf(String(v));
        } catch {
            return undefined;
        }
    };
    return {
        same: (a, b) => (fingerprint(a) !== undefined ? fingerprint(a) === fingerprint(b) : String(a).trim() === String(b).trim()),
        show: (v) => {
            const print = fingerprint(v);
            return print ? describe(String(v), print) : `a ${what} that does not parse`;
        },
    };
}

export const CERTIFICATE = pemKind(
    "certificate",
    (pem) => parseCertificate(pem).fingerprint256,
    (pem, print) => `the certificate "${parseCertificate(pem).subject.replace(/\n/g, ", ")}" (SHA-256 ${print.slice(0, 23)}…)`,
);
export const PRIVATE_KEY = pemKind(
    "private key",
    (pem) => publicKeyFingerprint(parsePrivateKey(pem)),
    (_, print) => `the private key of public key SHA-256 ${print.slice(0, 16)}…`,
);

/** Collects the conflicts between the stack file and one apimodel. */
export class Agreement {
    readonly problems: string[] = [];

    constructor(private readonly source: string) {}

    /** The value of `key`: the typed one, else the apimodel's; a conflict when both are there and differ. */
    value<T>(key: string, typed: T | undefined, fact: ApiModelFact<T> | undefined, kind: ValueKind = PLAIN): T | undefined {
        if (fact === undefined) return typed;
        if (typed === undefined) return fact.value;
        if (!kind.same(typed, fact.value)) {
            this.problems.push(`${key}: ${kind.show(typed)} in the stack file conflicts with ${kind.show(fact.value)} from ${this.source} (${fact.field}); make them agree, or remove the stack file's value`);
        }
        return typed;
    }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** "k8s-master-31415926-0..2, k8s-agentpool1-31415926-0, k8s-agentpool1-31415926-4": names that differ only in their index, as ranges. */
function nameRanges(nodes: ApiModelNode[]): string {
    const byPrefix = new Map<string, number[]>();
    for (const { name } of nodes) {
        const [, prefix = name, index] = /^(.*-)(\d+)$/.exec(name) ?? [];
        byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), Number(index)]);
    }
    return [...byPrefix]
        .flatMap(([prefix, indexes]) => {
            const runs: [number, number][] = [];
            for (const i of indexes) {
                const last = runs[runs.length - 1];
                if (last && last[1] === i - 1) last[1] = i;
                else runs.push([i, i]);
            }
            return runs.map(([from, to]) => `${prefix}${from}${to > from ? `..${to}` : ""}`);
        })
        .join(", ");
}

/**
 * The inventory's raw config values (INVENTORY_KEYS) with the apimodel's: top-level keys, the
 * jumpbox's name and user, and per node (matched by name) its role, index, pool, address and
 * platform. Every VM of the apimodel must be in the stack's nodes (with its host key) and every
 * node there a VM of the apimodel. privateNetwork is true for a private cluster whatever the
 * stack says (Pulumi.yaml's default false is indistinguishable from a typed false).
 */
export function mergeInventory(typed: Record<string, unknown>, cluster: ApiModelCluster): { raw: Record<string, unknown>; problems: string[] } {
    const agreement = new Agreement(cluster.source);
    const raw: Record<string, unknown> = { ...typed };
    for (const [key, fact] of Object.entries(cluster.inventory)) raw[key] = agreement.value(key, typed[key], fact);
    if (cluster.privateCluster) raw.privateNetwork = true;
    if (cluster.jumpbox) {
        const jumpbox = isObject(typed.jumpbox) ? typed.jumpbox : {};
        raw.jumpbox = { ...jumpbox, name: agreement.value("jumpbox.name", jumpbox.name, cluster.jumpbox.name), user: agreement.value("jumpbox.user", jumpbox.user, cluster.jumpbox.user) };
    }

    const vms = new Map(cluster.nodes.map((vm) => [vm.name, vm]));
    const listed = new Set<string>();
    const nodes = Array.isArray(typed.nodes) ? typed.nodes : [];
    raw.nodes = nodes.map((node: unknown, i) => {
        // a node without a name is the parser's to report
        if (!isObject(node) || typeof node.name !== "string") return node;
        const vm = vms.get(node.name);
        if (!vm) {
            agreement.problems.push(`nodes[${i}].name: ${node.name} is not a VM of ${cluster.source} (${nameRanges(cluster.nodes) || "none"}); correct the name, or the apimodel if the cluster changed`);
            return node;
        }
        listed.add(node.name);
        const merged: Record<string, unknown> = { ...node };
        for (const [field, fact] of Object.entries(vm.facts)) merged[field] = agreement.value(`nodes[${i}].${field} (${node.name})`, node[field], fact);
        return merged;
    });
    const missing = cluster.nodes.filter((vm) => !listed.has(vm.name));
    if (missing.length > 0) {
        const agents = missing.some((vm) => vm.facts.ip === undefined);
        agreement.problems.push(
            `nodes: ${cluster.source} has ${missing.length} VM${missing.length > 1 ? "s" : ""} the stack's nodes do not list: ${nameRanges(missing)}; ` +
                `add each by name with its hostKey${agents ? " (agents also with their ip: the apimodel does not hold agents' addresses)" : ""}`,
        );
    }
    return { raw, problems: agreement.problems };
}
