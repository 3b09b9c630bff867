// From settings + inventory to the concrete PKI: every certificate instance with its generation,
// issuer, key spec, validity and usages. The components (ClusterPki) and the rotation planner
// (rotation.ts) both work from this one result, so what the plan says is what the program does.
import * as net from "net";
import { certificateCatalog, ExtKeyUsage, KeyUsage, ROTATION_TYPE_LABELS, RotationType } from "./catalog";
import { CertInstance, expandInstances, masters, PkiInventory } from "./instances";
import { caGenerationCommonName, resourceNames } from "./names";
import { AdoptedCa, AdoptedKeyPair, CaGenerations, CaId, KeySpec, PhasedId, PkiSettings, Validity } from "./settings";

interface ResolvedBase {
    id: string;
    instance: CertInstance;
    rotation: RotationType;
    /** The generation number of this entry's rotation type. */
    generation: number;
    key: KeySpec;
}

/** One generation of a CA: its own key and self-signed certificate (or the adopted CA, generation 0). */
export interface ResolvedCaGeneration {
    generation: number;
    /** Resource name: the CA id for generation 0, `<id>-g<N>` after. */
    name: string;
    /** Distinct per generation, so tools that pick an issuer by name never confuse two generations. */
    commonName: string;
    /** Name + generation (+ the adopted key's fingerprint). */
    identity: string;
    adopted?: AdoptedCa;
}

/** A CA, described by its active generation (the one that signs the leaves) plus every generation this run trusts. */
export interface ResolvedCa extends ResolvedBase {
    kind: "ca";
    id: CaId;
    validity: Validity;
    /** The active generation's identity: leaves re-issue when it changes. */
    identity: string;
    adopted?: AdoptedCa;
    /** Every generation some stage of this run has in the trust bundle, ascending (the active one included). */
    generations: ResolvedCaGeneration[];
    /** Older generations that cross-sign the active one, so their clients still verify its serving certificates. */
    crossSigners: number[];
}

export interface ResolvedLeaf extends ResolvedBase {
    kind: "leaf";
    issuer: CaId;
    issuerIdentity: string;
    validity: Validity;
    /** Key-pair entry whose key this certificate uses (AKS Engine's apiserver.key = SA key). */
    keyFrom?: string;
    /** tls provider allowed_uses. */
    allowedUses: string[];
    /** Forces re-issue: this type's generation and the issuer's identity. */
    trigger: string;
}

/** One generation of the service-account key pair (generation 0 may be the adopted key). */
export interface ResolvedKeyGeneration {
    generation: number;
    /** Resource name: the row id for generation 0, `<id>-g<N>` after. */
    name: string;
    adopted?: AdoptedKeyPair;
}

/** The key pair, described by its active generation (the one that signs) plus every generation this run trusts. */
export interface ResolvedKeyPair extends ResolvedBase {
    kind: "keyPair";
    generations: ResolvedKeyGeneration[];
}

export type ResolvedEntry = ResolvedCa | ResolvedLeaf | ResolvedKeyPair;

export interface ResolvedPki {
    settings: PkiSettings;
    inventory: PkiInventory;
    /** In catalog order: CAs come before the leaves they sign. */
    entries: ResolvedEntry[];
}

const TLS_USES: Record<KeyUsage | ExtKeyUsage, string> = {
    digitalSignature: "digital_signature",
    keyEncipherment: "key_encipherment",
    certSign: "cert_signing",
    crlSign: "crl_signing",
    serverAuth: "server_auth",
    clientAuth: "client_auth",
};

/** tls provider allowed_uses. keyEncipherment only means something for RSA key transport: ECDSA certificates leave it out. */
export function tlsAllowedUses(usages: (KeyUsage | ExtKeyUsage)[], key: KeySpec): string[] {
    return usages.filter((u) => !(u === "keyEncipherment" && key.algorithm === "ECDSA")).map((u) => TLS_USES[u]!);
}

/** A CA's identity: name + generation, and for an adopted CA the fingerprint of its key. */
export function caIdentity(id: string, generation: number, adoptedKeyFingerprint?: string): string {
    return `${id}#${generation}${adoptedKeyFingerprint ? `:adopted:${adoptedKeyFingerprint.slice(0, 16)}` : ""}`;
}

export function rotationTrigger(rotation: RotationType, generation: number, issuerIdentity?: string): string {
    return `${ROTATION_TYPE_LABELS[rotation]}#${generation}${issuerIdentity ? ` issuer=${issuerIdentity}` : ""}`;
}

/** The checks the PKI needs of the inventory (the inventory module validates the rest). */
export function checkPkiInventory(inv: PkiInventory): string[] {
    const problems: string[] = [];
    const ms = masters(inv);
    if (ms.length === 0) problems.push("inventory: no master node");
    const seen = new Set<number>();
    for (const m of ms) {
        if (!net.isIP(m.ip)) problems.push(`inventory: master ${m.name}: ip ${JSON.stringify(m.ip)} is not an IP address`);
        if (m.index === undefined || !Number.isInteger(m.index) || m.index < 0) problems.push(`inventory: master ${m.name}: needs an index (0, 1, 2 …)`);
        else if (seen.has(m.index)) problems.push(`inventory: master index ${m.index} appears twice`);
        else seen.add(m.index);
    }
    for (const ip of inv.loadBalancerIps) if (!net.isIP(ip)) problems.push(`inventory: load balancer ip ${JSON.stringify(ip)} is not an IP address`);
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(inv.fqdn ?? "")) problems.push(`inventory: fqdn ${JSON.stringify(inv.fqdn)} is not a DNS name`);
    return problems;
}

/**
 * The generation numbers of a CA or the key pair that some stage of the run trusts, with the
 * configured active one, ascending.
 */
function generationNumbers(id: PhasedId, settings: PkiSettings, stages: CaGenerations[]): { active: number; numbers: number[] } {
    const active = settings.caGenerations[id]?.find((g) => g.state === "active")?.generation;
    if (active === undefined) throw new Error(`cannot build the PKI: ${id} has no active generation`);
    const numbers = new Set(stages.flatMap((stage) => (stage[id] ?? []).filter((g) => g.state !== "retired").map((g) => g.generation)));
    numbers.add(active);
    return { active, numbers: [...numbers].sort((a, b) => a - b) };
}

/**
 * The concrete PKI. `stages` are the CA states this run goes through (planCaStages; default:
 * just the configured one): every generation trusted in any of them gets its resources.
 */
export function resolvePki(settings: PkiSettings, inventory: PkiInventory, stages: CaGenerations[] = [settings.caGenerations]): ResolvedPki {
    const problems = checkPkiInventory(inventory);
    if (problems.length > 0) throw new Error(`cannot build the PKI:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    const instances = expandInstances(certificateCatalog(settings.catalog), inventory, settings.sans);
    const cas = new Map<string, ResolvedCa>();
    const entries = instances.map((instance): ResolvedEntry => {
        const row = instance.row;
        const generation = settings.rotation[row.rotation];
        const base = { id: instance.id, instance, rotation: row.rotation, generation, key: settings.key };
        switch (row.kind) {
            case "ca": {
                const id = row.id as CaId;
                const { active, numbers } = generationNumbers(id, settings, stages);
                const generations = numbers.map((g): ResolvedCaGeneration => {
                    const adopted = g === 0 ? settings.adopted[id] : undefined;
                    return {
                        generation: g,
                        name: resourceNames.caGeneration(id, g),
                        commonName: caGenerationCommonName(instance.commonName, g),
                        identity: caIdentity(id, g, adopted?.facts.publicKeyFingerprint),
                        ...(adopted ? { adopted } : {}),
                    };
                });
                const current = generations.find((g) => g.generation === active)!;
                const ca: ResolvedCa = {
                    ...base,
                    generation: active,
                    kind: "ca",
                    id,
                    validity: settings.validity.ca,
                    identity: current.identity,
                    adopted: current.adopted,
                    generations,
                    crossSigners: generations.filter((g) => g.generation < active).map((g) => g.generation),
                };
                cas.set(id, ca);
                return ca;
            }
            case "leaf": {
                const issuer = cas.get(row.issuer!)!;
                return {
                    ...base,
                    kind: "leaf",
                    issuer: issuer.id,
                    issuerIdentity: issuer.identity,
                    validity: settings.validity.leaf,
                    keyFrom: row.keyFrom,
                    allowedUses: tlsAllowedUses([...row.keyUsages, ...row.extKeyUsages], settings.key),
                    trigger: rotationTrigger(row.rotation, generation, issuer.identity),
                };
            }
            case "keyPair": {
                const { active, numbers } = generationNumbers(instance.id as PhasedId, settings, stages);
                return {
                    ...base,
                    generation: active,
                    kind: "keyPair",
                    generations: numbers.map((g) => ({
                        generation: g,
                        name: resourceNames.caGeneration(instance.id, g),
                        ...(g === 0 && settings.adoptedServiceAccountKey ? { adopted: settings.adoptedServiceAccountKey } : {}),
                    })),
                };
            }
        }
    });
    return { settings, inventory, entries };
}
