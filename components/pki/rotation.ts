// Which resources a config change replaces — a pure function, so tests can count and `preview`
// can be checked against it. It works on a model of the resources the components register: each
// resource's replace-forcing inputs (its "fingerprint") and the resources whose replacement
// changes one of its inputs. The unit tests run the real components under mocks and check that
// they replace exactly what this model says.
import { createHash } from "crypto";
import { ResolvedCa, ResolvedEntry, ResolvedLeaf, ResolvedPki, rotationTrigger } from "./resolve";
import { KeySpec } from "./settings";
import { RotationType } from "./catalog";
import { resourceNames } from "./names";

export type TlsType = "tls:index/privateKey:PrivateKey" | "tls:index/selfSignedCert:SelfSignedCert" | "tls:index/certRequest:CertRequest" | "tls:index/locallySignedCert:LocallySignedCert";

export interface ModelResource {
    name: string;
    type: TlsType;
    /** The certificate instance it belongs to ("" for the shared clock key). */
    instance: string;
    /** Replace-forcing inputs that do not come from another resource, and the replacement trigger. */
    fingerprint: Record<string, unknown>;
    /** Resources whose replacement replaces this one (an input of it is their output). */
    deps: string[];
}

export function keyFingerprint(key: KeySpec): string {
    return key.algorithm === "RSA" ? `RSA ${key.rsaBits}` : "ECDSA P256";
}

/** The resources ClusterPki registers for a resolved PKI, with what forces their replacement. */
export function resourceModel(pki: ResolvedPki): ModelResource[] {
    const out: ModelResource[] = [];
    const keyResourceOf = new Map<string, string>(); // entry id → its private key resource
    const certResourceOf = new Map<string, string>(); // CA id → its certificate resource
    const adoptedCertOf = new Map<string, string>(); // adopted CA id → hash of its certificate
    const adoptedKeyOf = new Map<string, string>(); // adopted key pair id → hash of its public key
    const hasOwnKeyLeaf = pki.entries.some((e) => e.kind === "leaf" && !e.keyFrom);
    if (hasOwnKeyLeaf) {
        out.push({ name: resourceNames.clockKey, type: "tls:index/privateKey:PrivateKey", instance: "", fingerprint: { key: "ECDSA P256" }, deps: [] });
    }
    for (const e of pki.entries) {
        if (e.kind === "ca") {
            const resources = new Map<number, { key: string; cert: string }>();
            for (const g of e.generations) {
                if (g.adopted) {
                    if (g.generation === e.generation) adoptedCertOf.set(e.id, createHash("sha256").update(g.adopted.certPem).digest("hex"));
                    continue; // used as is: no resource
                }
                const n = resourceNames.ca(g.name);
                out.push({ name: n.key, type: "tls:index/privateKey:PrivateKey", instance: e.id, fingerprint: { key: keyFingerprint(e.key), trigger: g.identity }, deps: [] });
                out.push({ name: n.cert, type: "tls:index/selfSignedCert:SelfSignedCert", instance: e.id, fingerprint: { ...certFingerprint(e), commonName: g.commonName }, deps: [n.key] });
                resources.set(g.generation, n);
            }
            const active = resources.get(e.generation);
            if (active) {
                keyResourceOf.set(e.id, active.key);
                certResourceOf.set(e.id, active.cert);
                const activeName = e.generations.find((g) => g.generation === e.generation)!;
                for (const signer of e.crossSigners) {
                    const n = resourceNames.crossSigned(activeName.name, signer);
                    const by = resources.get(signer);
                    const signerOf = e.generations.find((g) => g.generation === signer)!;
                    out.push({ name: n.csr, type: "tls:index/certRequest:CertRequest", instance: e.id, fingerprint: { commonName: activeName.commonName }, deps: [active.key] });
                    out.push({
                        name: n.cert,
                        type: "tls:index/locallySignedCert:LocallySignedCert",
                        instance: e.id,
                        fingerprint: { days: pki.settings.validity.leaf.days, uses: "ca", ...(by ? {} : { issuer: signerOf.identity }) },
                        deps: [n.csr, ...(by ? [by.key, by.cert] : [])],
                    });
                }
            }
        } else if (e.kind === "keyPair") {
            for (const g of e.generations) {
                if (g.adopted) {
                    if (g.generation === e.generation) adoptedKeyOf.set(e.id, createHash("sha256").update(g.adopted.publicKeyPem).digest("hex"));
                    continue; // used as is: no resource
                }
                const n = resourceNames.keyPair(g.name);
                out.push({ name: n.key, type: "tls:index/privateKey:PrivateKey", instance: e.id, fingerprint: { key: keyFingerprint(e.key), trigger: rotationTrigger(e.rotation, g.generation) }, deps: [] });
                if (g.generation === e.generation) keyResourceOf.set(e.id, n.key);
            }
        } else {
            const n = resourceNames.leaf(e.id);
            const issuerKey = keyResourceOf.get(e.issuer);
            const issuerCert = certResourceOf.get(e.issuer);
            const csrDeps: string[] = [];
            let csrTrigger: string | undefined;
            let adoptedKey: string | undefined;
            let keyPairResource: string | undefined;
            if (e.keyFrom) {
                const keyResource = keyResourceOf.get(e.keyFrom);
                if (keyResource) {
                    csrDeps.push(keyResource);
                    keyPairResource = keyResource; // a new generation of the pair is a new resource
                }
                // An adopted key pair has no resource: its key is an input that changes with it.
                else adoptedKey = adoptedKeyOf.get(e.keyFrom);
                csrTrigger = e.trigger; // no key of its own: the CSR carries the forced re-issue
            } else {
                out.push({ name: n.clock, type: "tls:index/selfSignedCert:SelfSignedCert", instance: e.id, fingerprint: { days: e.validity.days, trigger: e.trigger }, deps: [resourceNames.clockKey] });
                out.push({ name: n.key, type: "tls:index/privateKey:PrivateKey", instance: e.id, fingerprint: { key: keyFingerprint(e.key) }, deps: [n.clock] });
                csrDeps.push(n.key);
            }
            out.push({ name: n.csr, type: "tls:index/certRequest:CertRequest", instance: e.id, fingerprint: { ...subjectFingerprint(e), ...(csrTrigger ? { trigger: csrTrigger } : {}), ...(adoptedKey ? { adoptedKey } : {}), ...(keyPairResource ? { keyPair: keyPairResource } : {}) }, deps: csrDeps });
            out.push({
                name: n.cert,
                type: "tls:index/locallySignedCert:LocallySignedCert",
                instance: e.id,
                // An adopted issuer has no resources: its key and certificate are inputs that change with the adopted CA.
                fingerprint: { ...certFingerprint(e), ...(issuerKey ? {} : { issuer: e.issuerIdentity, issuerCert: adoptedCertOf.get(e.issuer) }) },
                deps: [n.csr, ...(issuerKey && issuerCert ? [issuerKey, issuerCert] : [])],
            });
        }
    }
    return out;
}

function subjectFingerprint(e: ResolvedEntry): Record<string, unknown> {
    return { commonName: e.instance.commonName, organization: e.instance.organization ?? null, dnsNames: e.instance.dnsNames, ipAddresses: e.instance.ipAddresses };
}

function certFingerprint(e: ResolvedCa | ResolvedLeaf): Record<string, unknown> {
    return e.kind === "ca"
        ? { ...subjectFingerprint(e), days: e.validity.days, uses: "ca" }
        : { days: e.validity.days, uses: e.allowedUses };
}

// ---------------------------------------------------------------- the plan

export interface ReplacedCertificate {
    /** Certificate instance id (or "service-account" for the key pair). */
    id: string;
    rotation: RotationType;
    /** Its resources that are replaced, by logical name. */
    resources: string[];
    /** Why, in words an operator reads. */
    reasons: string[];
}

export interface ReplacementPlan {
    replaced: ReplacedCertificate[];
    /** Resources that exist only after / only before the change (layout or inventory changes). */
    created: string[];
    deleted: string[];
    /** Number of resources replaced (what `pulumi preview` counts as replaces). */
    resourceCount: number;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** What changes between two resolved PKIs (two configs, or two inventories). */
export function planReplacements(before: ResolvedPki, after: ResolvedPki): ReplacementPlan {
    const old = new Map(resourceModel(before).map((r) => [r.name, r]));
    const model = resourceModel(after);
    const entryOf = new Map(after.entries.map((e) => [e.id, e]));
    const replaced = new Map<string, string[]>(); // resource → reasons
    const instanceOf = new Map(model.map((r) => [r.name, r.instance]));
    for (const r of model) {
        const prev = old.get(r.name);
        if (!prev || prev.type !== r.type) continue;
        const reasons: string[] = [];
        for (const k of new Set([...Object.keys(prev.fingerprint), ...Object.keys(r.fingerprint)])) {
            if (!same(prev.fingerprint[k], r.fingerprint[k])) reasons.push(describeChange(k, prev.fingerprint[k], r.fingerprint[k]));
        }
        for (const dep of r.deps) {
            const depInstance = instanceOf.get(dep);
            // Within one certificate (clock → key → csr → cert) the first reason says it all.
            if (replaced.has(dep) && depInstance !== r.instance) reasons.push(`${depInstance || dep} replaced`);
            else if (replaced.has(dep) && reasons.length === 0) reasons.push(...replaced.get(dep)!);
        }
        if (reasons.length > 0) replaced.set(r.name, reasons);
    }
    const byInstance = new Map<string, ReplacedCertificate>();
    for (const r of model) {
        const reasons = replaced.get(r.name);
        if (!reasons) continue;
        const entry = entryOf.get(r.instance);
        if (!entry) continue; // the shared clock key has no rotation type
        const cert = byInstance.get(r.instance) ?? { id: r.instance, rotation: entry.rotation, resources: [], reasons: [] };
        cert.resources.push(r.name);
        for (const why of reasons) if (!cert.reasons.includes(why)) cert.reasons.push(why);
        byInstance.set(r.instance, cert);
    }
    const newNames = new Set(model.map((r) => r.name));
    return {
        replaced: [...byInstance.values()],
        created: model.filter((r) => !old.has(r.name)).map((r) => r.name),
        deleted: [...old.keys()].filter((n) => !newNames.has(n)),
        resourceCount: replaced.size,
    };
}

function describeChange(key: string, from: unknown, to: unknown): string {
    const text = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : JSON.stringify(v));
    switch (key) {
        case "trigger":
            return `forced rotation: ${text(from)} → ${text(to)}`;
        case "key":
            return `key algorithm ${text(from)} → ${text(to)}`;
        case "days":
            return `validity ${text(from)} → ${text(to)} days`;
        case "issuer":
            return `issuer changed: ${text(from)} → ${text(to)}`;
        case "issuerCert":
            return "issuer certificate changed";
        case "adoptedKey":
            return "the adopted key changed";
        case "keyPair":
            return `its key pair changed: ${text(from)} → ${text(to)}`;
        default:
            return `${key} changed`;
    }
}

/** One line per replaced certificate, for logs and preview summaries. */
export function describePlan(plan: ReplacementPlan): string[] {
    return plan.replaced.map((c) => `${c.id}: replace ${c.resources.length} resource(s) — ${c.reasons.join("; ")}`);
}
