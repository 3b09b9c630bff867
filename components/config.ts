// Stack configuration: reading and validation with clear errors, before any resource exists.
// One section per concern; each section has a pure parser (raw values in, typed settings or a
// ConfigError out) and a reader over pulumi.Config. Add the inventory and rollout sections the
// same way: a parse function, a read function, rows in CONFIG_KEYS, a field in StackConfig.
import * as crypto from "crypto";
import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { firstServiceIp, ROTATION_TYPES } from "./pki/catalog";
import { AdoptedCa, CA_CONFIG_NAME, CA_IDS, CA_ROTATION_TYPE, CaGeneration, CaGenerations, CaGenerationState, CaId, CaRotationMode, DEFAULT_KEY, DEFAULT_VALIDITY, PkiSettings, RotationGenerations } from "./pki/settings";
import { validateAdoptedCa } from "./pki/x509";

// Not in the SDK's typings, but exported by it: whether a config key was set with --secret.
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

export const CONFIG_NAMESPACE = "azs-cert-rotation";

/** Every problem found in the stack config, one per line, each naming its key. */
export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

export interface ConfigKeyDoc {
    key: string;
    type: string;
    default: string;
    secret?: boolean;
    description: string;
}

/** The config keys this module reads (for the README and Pulumi.yaml). */
export const CONFIG_KEYS: ConfigKeyDoc[] = [
    { key: "pki.keyAlgorithm", type: '"RSA" | "ECDSA"', default: "RSA", description: "key algorithm of every generated key; ECDSA is P-256" },
    { key: "pki.rsaBits", type: "2048 | 3072 | 4096", default: "2048", description: "RSA modulus size (AKS Engine: 2048)" },
    { key: "pki.etcdCa", type: '"shared" | "separate"', default: "shared", description: "shared: the cluster CA signs etcd's certificates (AKS Engine); separate: a dedicated etcd CA (kubeadm)" },
    { key: "pki.serviceAccountKey", type: '"apiserver" | "dedicated"', default: "apiserver", description: "apiserver: tokens are signed with apiserver.key (AKS Engine); dedicated: sa.key / sa.pub" },
    { key: "pki.clusterDomain", type: "string", default: "cluster.local", description: "cluster DNS domain, for the apiserver SAN kubernetes.default.svc.<domain>" },
    { key: "pki.serviceCidr", type: "CIDR", default: "10.0.0.0/16", description: "service CIDR; its first address (the kubernetes Service) is an apiserver SAN" },
    { key: "pki.apiServerExtraSans", type: "string[]", default: "[]", description: "extra apiserver SANs (DNS names or IPs)" },
    { key: "pki.validity.leafDays", type: "integer", default: "365", description: "leaf certificate validity" },
    { key: "pki.validity.leafRenewalDays", type: "integer", default: "30", description: "leaves are replaced this many days before expiry" },
    { key: "pki.validity.caDays", type: "integer", default: "3650", description: "CA certificate validity" },
    { key: "pki.validity.caRenewalDays", type: "integer", default: "365", description: "CA certificates are renewed (same key) this many days before expiry; at least leafDays" },
    ...ROTATION_TYPES.map((t) => ({
        key: `pki.rotation.${t}`,
        type: "integer ≥ 0",
        default: "0",
        description:
            t === "kubernetesCa" || t === "etcdCa"
                ? `the ${t} generation when pki.caGenerations does not list it (a CA change: see pki.caRotation)`
                : `generation of the ${t} certificates: bump it to force their rotation`,
    })),
    {
        key: "pki.caRotation",
        type: '"phased" | "oneShot" | "immediate"',
        default: "phased",
        description:
            "phased: each up moves a CA by one phase (trust, activate, retire) and an out-of-order phase is refused; oneShot: one up chains the phases; immediate: one rollout switches everything (for an expired or compromised CA: clients break until they have the new bundle)",
    },
    ...CA_IDS.map((id) => ({
        key: `pki.caGenerations.${CA_CONFIG_NAME[id]}`,
        type: "{ <generation>: trusted | active | retired }",
        default: `{ <pki.rotation.${CA_ROTATION_TYPE[id]}>: active }`,
        description: `the ${id} generations: every trusted and the active one are in the trust bundles; the active one signs the leaves; generation 0 is the adopted CA`,
    })),
    {
        key: "serviceAccountPrivateKey",
        type: "PEM",
        default: "unset",
        secret: true,
        description: "the cluster's current service-account signing key, kept as generation 0 so certificate rotations do not invalidate tokens (AKS Engine: certificateProfile.apiServerPrivateKey)",
    },
    ...CA_IDS.flatMap((id) => [
        { key: `${adoptionKeys(id).cert}`, type: "PEM", default: "unset", description: `existing ${id} certificate to adopt as generation 0 (with ${adoptionKeys(id).key})` },
        { key: `${adoptionKeys(id).key}`, type: "PEM", default: "unset", secret: true, description: `private key of the adopted ${id}` },
    ]),
];

/** Top-level config keys holding an adopted CA. */
export function adoptionKeys(id: CaId): { cert: string; key: string } {
    const prefix = CA_CONFIG_NAME[id];
    return { cert: `${prefix}Certificate`, key: `${prefix}PrivateKey` };
}

// ---------------------------------------------------------------- a small checked reader

/** Reads fields of one config object, collecting problems under their full key path. */
class Section {
    private readonly obj: Record<string, unknown>;

    constructor(
        readonly path: string,
        raw: unknown,
        private readonly problems: string[],
    ) {
        if (raw === undefined || raw === null) {
            this.obj = {};
        } else if (typeof raw === "object" && !Array.isArray(raw)) {
            this.obj = raw as Record<string, unknown>;
        } else {
            problems.push(`${path}: must be an object, got ${describe(raw)}`);
            this.obj = {};
        }
    }

    private key(name: string): string {
        return this.path ? `${this.path}.${name}` : name;
    }

    has(name: string): boolean {
        return this.obj[name] !== undefined;
    }

    keys(): string[] {
        return Object.keys(this.obj);
    }

    bool(name: string, def: boolean): boolean {
        const v = this.obj[name];
        if (v === undefined) return def;
        if (v === true || v === "true") return true;
        if (v === false || v === "false") return false;
        this.problems.push(`${this.key(name)}: must be true or false, got ${describe(v)}`);
        return def;
    }

    /** A required list of objects, one Section per item (path name[i]). */
    objectList(name: string): Section[] {
        const v = this.obj[name];
        if (!Array.isArray(v) || v.length === 0) {
            this.problems.push(`${this.key(name)}: must be a non-empty list, got ${describe(v)}`);
            return [];
        }
        return v.map((item, i) => new Section(`${this.key(name)}[${i}]`, item, this.problems));
    }

    section(name: string): Section {
        return new Section(this.key(name), this.obj[name], this.problems);
    }

    int(name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
        const v = this.obj[name];
        if (v === undefined) return def;
        const n = typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
        if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
            this.problems.push(`${this.key(name)}: must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ""}, got ${describe(v)}`);
            return def;
        }
        return n;
    }

    oneOf<T extends string | number>(name: string, allowed: readonly T[], def: T): T {
        const v = this.obj[name];
        if (v === undefined) return def;
        const match = allowed.find((a) => a === v || String(a) === String(v));
        if (match === undefined) {
            this.problems.push(`${this.key(name)}: must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${describe(v)}`);
            return def;
        }
        return match;
    }

    /** A string field; with def undefined the field is required. */
    string(name: string, def: string | undefined, check: (s: string) => string | undefined): string {
        const v = this.obj[name];
        if (v === undefined) {
            if (def === undefined) this.problems.push(`${this.key(name)}: required`);
            return def ?? "";
        }
        const why = typeof v === "string" ? check(v) : "must be a string";
        if (why) {
            this.problems.push(`${this.key(name)}: ${why}, got ${describe(v)}`);
            return def ?? "";
        }
        return v as string;
    }

    stringList(name: string, check: (s: string) => string | undefined): string[] {
        const v = this.obj[name];
        if (v === undefined) return [];
        if (!Array.isArray(v)) {
            this.problems.push(`${this.key(name)}: must be a list, got ${describe(v)}`);
            return [];
        }
        return v.filter((item, i) => {
            const why = typeof item === "string" ? check(item) : "must be a string";
            if (why) this.problems.push(`${this.key(name)}[${i}]: ${why}, got ${describe(item)}`);
            return !why;
        });
    }

    /** Unknown keys are errors: a typo must not silently fall back to a default. */
    rejectUnknown(known: string[]): void {
        for (const k of Object.keys(this.obj)) {
            if (!known.includes(k)) {
                const near = known.find((n) => n.toLowerCase() === k.toLowerCase() || editDistance(n, k) <= 2);
                this.problems.push(`${this.key(k)}: unknown key${near ? ` (did you mean ${this.key(near)}?)` : ""}; known: ${known.join(", ")}`);
            }
        }
    }
}

function describe(v: unknown): string {
    const text = JSON.stringify(v);
    return text === undefined ? String(v) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function editDistance(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
    }
    return d[a.length]![b.length]!;
}

const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const checkDnsName = (s: string): string | undefined => (DNS_NAME.test(s) && s.length <= 253 ? undefined : "must be a DNS name");
const checkSan = (s: string): string | undefined => (net.isIP(s) || !checkDnsName(s) ? undefined : "must be an IP address or a DNS name");
const checkCidr = (s: string): string | undefined => {
    try {
        firstServiceIp(s);
        return undefined;
    } catch {
        return "must be an IPv4 or IPv6 CIDR such as 10.0.0.0/16";
    }
};

// ---------------------------------------------------------------- the PKI section

/** PEM strings of CAs to adopt, as read from config (absent keys undefined). */
export type AdoptionInput = Partial<Record<CaId, { certificate?: string; privateKey?: string }>> & {
    /** The cluster's current service-account signing key (AKS Engine: apiserver.key). */
    serviceAccountPrivateKey?: string;
};

/** Config key of the adopted service-account signing key. */
export const SERVICE_ACCOUNT_KEY = "serviceAccountPrivateKey";

/** The public key of an adoptable service-account signing key: RSA ≥ 2048 or EC P-256/P-384. Never quotes the PEM. */
function serviceAccountPublicKey(pem: string, label: string): string {
    let key: crypto.KeyObject;
    try {
        key = crypto.createPrivateKey(pem);
    } catch {
        throw new Error(`${label}: not a PEM private key (unencrypted PKCS#1, PKCS#8 or SEC1)`);
    }
    const d = key.asymmetricKeyDetails ?? {};
    const ok = (key.asymmetricKeyType === "rsa" && (d.modulusLength ?? 0) >= 2048) || (key.asymmetricKeyType === "ec" && ["prime256v1", "secp384r1"].includes(d.namedCurve ?? ""));
    if (!ok) throw new Error(`${label}: a ${key.asymmetricKeyType} key of ${d.modulusLength ?? d.namedCurve}: service-account tokens need RSA ≥ 2048 or EC P-256/P-384`);
    return crypto.createPublicKey(key).export({ type: "spki", format: "pem" }).toString();
}

export interface ParseOptions {
    /** The time the checks of adopted CAs are made against (default: now). */
    now?: Date;
    /** Wraps the adopted private key (default: pulumi.secret). */
    secret?: (s: string) => pulumi.Input<string>;
}

export interface Parsed<T> {
    value: T;
    warnings: string[];
}

/**
 * Validates the `pki` config object and the adopted CAs. Throws a ConfigError naming every bad
 * key. Adopted CAs are checked here, synchronously, so a bad one stops the program before any
 * resource is registered (Pulumi hands secret config to the program in plain text; it is wrapped
 * with pulumi.secret straight away and never appears in an error message).
 */
export function parsePkiConfig(raw: unknown, adoption: AdoptionInput = {}, opts: ParseOptions = {}): Parsed<PkiSettings> {
    const problems: string[] = [];
    const warnings: string[] = [];
    const pki = new Section("pki", raw, problems);
    pki.rejectUnknown(["keyAlgorithm", "rsaBits", "etcdCa", "serviceAccountKey", "clusterDomain", "serviceCidr", "apiServerExtraSans", "validity", "rotation", "caRotation", "caGenerations"]);

    const algorithm = pki.oneOf("keyAlgorithm", ["RSA", "ECDSA"] as const, DEFAULT_KEY.algorithm);
    const rsaBits = pki.oneOf("rsaBits", [2048, 3072, 4096] as const, DEFAULT_KEY.rsaBits);
    const etcdCa = pki.oneOf("etcdCa", ["shared", "separate"] as const, "shared");
    const serviceAccountKey = pki.oneOf("serviceAccountKey", ["apiserver", "dedicated"] as const, "apiserver");
    const clusterDomain = pki.string("clusterDomain", "cluster.local", checkDnsName);
    const serviceCidr = pki.string("serviceCidr", "10.0.0.0/16", checkCidr);
    const apiServerExtraSans = pki.stringList("apiServerExtraSans", checkSan);

    const v = pki.section("validity");
    v.rejectUnknown(["leafDays", "leafRenewalDays", "caDays", "caRenewalDays"]);
    const d = DEFAULT_VALIDITY;
    const leafDays = v.int("leafDays", d.leaf.days, 1, 3650);
    const leafRenewalDays = v.int("leafRenewalDays", d.leaf.renewalDays, 1);
    const caDays = v.int("caDays", d.ca.days, 2, 36500);
    const caRenewalDays = v.int("caRenewalDays", d.ca.renewalDays, 1);
    // The tls provider treats a lead >= validity as "always ready for renewal": a replacement on every run.
    if (leafRenewalDays >= leafDays) problems.push(`pki.validity.leafRenewalDays (${leafRenewalDays}) must be less than pki.validity.leafDays (${leafDays})`);
    if (caRenewalDays >= caDays) problems.push(`pki.validity.caRenewalDays (${caRenewalDays}) must be less than pki.validity.caDays (${caDays})`);
    if (leafDays > caDays) {
        problems.push(`pki.validity.leafDays (${leafDays}) goes beyond pki.validity.caDays (${caDays}): a leaf's validity may not go beyond its CA's`);
    } else if (caRenewalDays < leafDays) {
        problems.push(
            `pki.validity.caRenewalDays (${caRenewalDays}) must be at least pki.validity.leafDays (${leafDays}): ` +
                `otherwise a leaf issued just before the CA is renewed would outlive the CA certificate`,
        );
    }

    const rot = pki.section("rotation");
    rot.rejectUnknown([...ROTATION_TYPES]);
    const rotation = Object.fromEntries(ROTATION_TYPES.map((t) => [t, rot.int(t, 0, 0)])) as RotationGenerations;
    if (etcdCa === "shared" && rotation.etcdCa !== 0) {
        problems.push(
            `pki.rotation.etcdCa is ${rotation.etcdCa} but pki.etcdCa is "shared": the etcd certificates are signed by the ` +
                `Kubernetes CA; bump pki.rotation.kubernetesCa, or set pki.etcdCa: separate`,
        );
    }

    const caRotation = pki.oneOf<CaRotationMode>("caRotation", ["phased", "oneShot", "immediate"], "phased");
    const caIds = CA_IDS.filter((id) => id !== "etcd-ca" || etcdCa === "separate");
    const caGenerations = parseCaGenerations(pki.section("caGenerations"), caIds, rotation, problems);

    const now = opts.now ?? new Date();
    const secret = opts.secret ?? ((s: string) => pulumi.secret(s));
    const adopted: PkiSettings["adopted"] = {};
    for (const id of CA_IDS) {
        const input = adoption[id];
        const keys = adoptionKeys(id);
        if (!input || (input.certificate === undefined && input.privateKey === undefined)) continue;
        const label = `${CONFIG_NAMESPACE}:${keys.cert} / ${keys.key}`;
        if (input.certificate === undefined || input.privateKey === undefined) {
            problems.push(`${label}: set both or neither (only ${input.certificate === undefined ? keys.key : keys.cert} is set)`);
            continue;
        }
        if (id === "etcd-ca" && etcdCa === "shared") {
            problems.push(`${label}: an etcd CA is adopted but pki.etcdCa is "shared"; set pki.etcdCa: separate, or adopt it as ${adoptionKeys("kubernetes-ca").cert}`);
            continue;
        }
        // Generation 0 is the adopted CA; a one-shot run may still need it for its trust stage.
        const zero = caGenerations[id]?.find((g) => g.generation === 0);
        if ((!zero || zero.state === "retired") && caRotation !== "oneShot") {
            warnings.push(`${label}: not used: the adopted CA is generation 0, which pki.caGenerations.${CA_CONFIG_NAME[id]} retires (or pki.rotation moved past)`);
            continue;
        }
        try {
            const result = validateAdoptedCa(input.certificate, input.privateKey, label, { now, leafDays, caRenewalDays });
            warnings.push(...result.warnings);
            adopted[id] = { certPem: input.certificate, keyPem: secret(input.privateKey), facts: result.facts } satisfies AdoptedCa;
        } catch (e) {
            problems.push(...(e as Error).message.split("\n"));
        }
    }

    let adoptedServiceAccountKey: PkiSettings["adoptedServiceAccountKey"];
    const saKey = adoption.serviceAccountPrivateKey;
    if (saKey !== undefined) {
        const label = `${CONFIG_NAMESPACE}:${SERVICE_ACCOUNT_KEY}`;
        if (rotation.serviceAccount !== 0) {
            warnings.push(`${label}: not used: the adopted key is generation 0 and pki.rotation.serviceAccount is ${rotation.serviceAccount}`);
        } else {
            try {
                adoptedServiceAccountKey = { keyPem: secret(saKey), publicKeyPem: serviceAccountPublicKey(saKey, label) };
            } catch (e) {
                problems.push((e as Error).message);
            }
        }
    }

    if (problems.length > 0) throw new ConfigError(problems);
    return {
        value: {
            catalog: { etcdCa, serviceAccountKey },
            key: { algorithm, rsaBits },
            sans: { clusterDomain, serviceCidr, apiServerExtraSans },
            validity: { leaf: { days: leafDays, renewalDays: leafRenewalDays }, ca: { days: caDays, renewalDays: caRenewalDays } },
            rotation,
            caGenerations,
            caRotation,
            adopted,
            ...(adoptedServiceAccountKey ? { adoptedServiceAccountKey } : {}),
        },
        warnings,
    };
}

const CA_STATES: CaGenerationState[] = ["trusted", "active", "retired"];

/**
 * Each CA's generations: `pki.caGenerations.<ca>` ({ "0": trusted, "1": active }), else its
 * `pki.rotation` number as the one active generation. Exactly one must be active.
 */
function parseCaGenerations(section: Section, ids: CaId[], rotation: RotationGenerations, problems: string[]): CaGenerations {
    section.rejectUnknown(ids.map((id) => CA_CONFIG_NAME[id]));
    const out = {} as CaGenerations;
    for (const id of ids) {
        const name = CA_CONFIG_NAME[id];
        const key = `${section.path}.${name}`;
        const type = CA_ROTATION_TYPE[id];
        if (!section.has(name)) {
            out[id] = [{ generation: rotation[type], state: "active" }];
            continue;
        }
        // the front-proxy type also re-issues its client certificate; the two CA-only types would say the same thing twice
        if (type !== "frontProxy" && rotation[type] !== 0) problems.push(`${key}: set it or pki.rotation.${type}, not both`);
        const states = section.section(name);
        const gens: CaGeneration[] = [];
        for (const g of states.keys()) {
            if (!/^\d+$/.test(g)) {
                problems.push(`${key}: ${JSON.stringify(g)} is not a generation number (0, 1, 2 …)`);
                continue;
            }
            gens.push({ generation: Number(g), state: states.oneOf(g, CA_STATES, "retired") });
        }
        const actives = gens.filter((g) => g.state === "active").map((g) => g.generation);
        if (actives.length === 0) problems.push(`${key}: no active generation: retiring the only CA is refused; exactly one generation must be active`);
        if (actives.length > 1) problems.push(`${key}: generations ${actives.join(", ")} are all active; exactly one may sign the leaves`);
        out[id] = gens.sort((a, b) => a.generation - b.generation);
    }
    return out;
}

/** Reads and validates the PKI section of the current stack's config; warnings go to the Pulumi log. */
export function readPkiConfig(config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE), opts: ParseOptions = {}): PkiSettings {
    const problems: string[] = [];
    let raw: unknown;
    try {
        raw = config.getObject<unknown>("pki");
    } catch {
        problems.push(`${CONFIG_NAMESPACE}:pki: not valid JSON/YAML`);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    const adoption: AdoptionInput = {};
    for (const id of CA_IDS) {
        const keys = adoptionKeys(id);
        // Pulumi.yaml declares these with default "" (a declared key needs a value): "" is unset.
        // config.get returns secret values in plain text; parsePkiConfig wraps the key with pulumi.secret.
        const privateKey = config.get(keys.key) || undefined;
        if (privateKey !== undefined && !isConfigSecret(`${CONFIG_NAMESPACE}:${keys.key}`)) {
            problems.push(`${CONFIG_NAMESPACE}:${keys.key}: a private key must be stored as a secret: pulumi config set --secret ${keys.key} < ca.key`);
        }
        adoption[id] = { certificate: config.get(keys.cert) || undefined, privateKey };
    }
    const saKey = config.get(SERVICE_ACCOUNT_KEY) || undefined;
    if (saKey !== undefined && !isConfigSecret(`${CONFIG_NAMESPACE}:${SERVICE_ACCOUNT_KEY}`)) {
        problems.push(`${CONFIG_NAMESPACE}:${SERVICE_ACCOUNT_KEY}: a private key must be stored as a secret: pulumi config set --secret ${SERVICE_ACCOUNT_KEY} < apiserver.key`);
    }
    adoption.serviceAccountPrivateKey = saKey;
    if (problems.length > 0) throw new ConfigError(problems);
    const parsed = parsePkiConfig(raw, adoption, opts);
    for (const w of parsed.warnings) pulumi.log.warn(w);
    return parsed.value;
}

// ---------------------------------------------------------------- the inventory section

export type NodeRole = "master" | "agent";

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

const HOST_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}$/;
const checkHostKey = (s: string): string | undefined => (HOST_KEY.test(s) ? undefined : 'must be an SSH public host key "<type> <base64>" (ssh-keyscan prints it)');
const checkIp = (s: string): string | undefined => (net.isIP(s) ? undefined : "must be an IP address");
const checkHost = (s: string): string | undefined => (net.isIP(s) || !checkDnsName(s) ? undefined : "must be an IP address or a DNS name");
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

    const nodes = top.objectList("nodes").map((n): InventoryNode => {
        n.rejectUnknown(["name", "role", "ip", "index", "pool", "hostKey"]);
        const role = n.oneOf("role", ["master", "agent"] as const, "agent");
        return {
            name: n.string("name", undefined, (s) => (/^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$/i.test(s) ? undefined : "must be a host name")),
            role,
            ip: n.string("ip", undefined, checkIp),
            ...(n.has("index") ? { index: n.int("index", 0, 0, 8) } : {}),
            pool: n.string("pool", role === "master" ? "master" : "agentpool1", (s) => (/^[a-z][a-z0-9]{0,11}$/.test(s) ? undefined : "must be an aks-engine pool name")),
            hostKey: n.string("hostKey", undefined, checkHostKey),
        };
    });
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

    const endpointHost = fqdn && !checkHttpsUrl(apiServerEndpoint) ? new URL(apiServerEndpoint).hostname.replace(/^\[|\]$/g, "") : "";
    const loadBalancerIps = top.has("loadBalancerIps") ? top.stringList("loadBalancerIps", checkIp) : net.isIP(endpointHost) ? [endpointHost] : [];

    let jumpbox: Jumpbox | undefined;
    if (top.has("jumpbox")) {
        const j = top.section("jumpbox");
        j.rejectUnknown(["name", "host", "port", "user", "hostKey"]);
        jumpbox = { host: j.string("host", undefined, checkHost), port: j.int("port", 22, 1, 65535), user: j.string("user", adminUsername, checkLinuxUser), hostKey: j.string("hostKey", undefined, checkHostKey) };
    } else if (privateNetwork) {
        problems.push("privateNetwork is true but no jumpbox is set: the nodes cannot be reached");
    }

    if (problems.length > 0) throw new ConfigError(problems);
    return { clusterName, fqdn, apiServerEndpoint, loadBalancerIps, adminUsername, privateNetwork, jumpbox, nodes };
}

/** Reads and validates the inventory of the current stack's config. */
export function readInventoryConfig(config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE)): InventorySettings {
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
    return parseInventoryConfig(raw);
}

// ---------------------------------------------------------------- the rollout section

export interface RolloutSettings {
    /** false: manage the PKI only (preview and outputs), install nothing. */
    enabled: boolean;
    /** Agents restarted at once. */
    maxUnavailable: number;
    /** How long a gate waits for a restarted component to become healthy. */
    healthTimeoutSeconds: number;
    /** How long a restarted apiserver must stay ready before the next is touched (the LB probe's interval × threshold). */
    loadBalancerSettleSeconds: number;
    /** Masters run a kubelet (AKS Engine: yes). */
    masterKubelet: boolean;
    /** Where the load balancer's health probes come from: refused on a master before its apiserver restarts, to drain it. */
    loadBalancerProbeSources: string[];
    /** The admin user's SSH private key (secret); undefined when the rollout is off. */
    sshPrivateKey?: pulumi.Output<string>;
}

/** The address Azure's load balancer health probes come from (the platform's virtual IP). */
export const AZURE_PROBE_SOURCE = "168.63.129.16";

export const ROLLOUT_KEYS: ConfigKeyDoc[] = [
    { key: "rollout.enabled", type: "boolean", default: "true", description: "install the certificates over SSH and restart what needs it; false manages the PKI only" },
    { key: "rollout.maxUnavailable", type: "integer ≥ 1", default: "1", description: "agents restarted at the same time" },
    { key: "rollout.healthTimeoutSeconds", type: "integer", default: "300", description: "how long a gate waits for a component to be healthy before the node is rolled back" },
    { key: "rollout.loadBalancerSettleSeconds", type: "integer", default: "15", description: "how long a restarted apiserver must stay ready before the next one restarts (Azure LB probe: 5 s × 2, plus margin)" },
    { key: "rollout.masterKubelet", type: "boolean", default: "true", description: "masters run a kubelet (AKS Engine does)" },
    {
        key: "rollout.loadBalancerProbeSources",
        type: "IP list",
        default: '["168.63.129.16"]',
        description: "source of the load balancer's health probes (Azure: 168.63.129.16); a master refuses new connections from it before its apiserver restarts, so the balancer stops sending it traffic first; [] turns draining off",
    },
    { key: "sshPrivateKey", type: "PEM", default: "unset", secret: true, description: "the admin user's SSH private key (set with --secret); required when the rollout is enabled" },
];

/** Validates the `rollout` object and the SSH key. Throws a ConfigError naming every bad key. */
export function parseRolloutConfig(raw: unknown, sshKey: { value?: string; secret: boolean }): RolloutSettings {
    const problems: string[] = [];
    const r = new Section("rollout", raw, problems);
    r.rejectUnknown(["enabled", "maxUnavailable", "healthTimeoutSeconds", "loadBalancerSettleSeconds", "masterKubelet", "loadBalancerProbeSources"]);
    const enabled = r.bool("enabled", true);
    const settings: RolloutSettings = {
        enabled,
        maxUnavailable: r.int("maxUnavailable", 1, 1, 1000),
        healthTimeoutSeconds: r.int("healthTimeoutSeconds", 300, 5, 3600),
        loadBalancerSettleSeconds: r.int("loadBalancerSettleSeconds", 15, 0, 600),
        masterKubelet: r.bool("masterKubelet", true),
        loadBalancerProbeSources: r.has("loadBalancerProbeSources") ? r.stringList("loadBalancerProbeSources", checkIp) : [AZURE_PROBE_SOURCE],
    };
    if (sshKey.value !== undefined && !sshKey.secret) {
        problems.push(`${CONFIG_NAMESPACE}:sshPrivateKey: a private key must be stored as a secret: pulumi config set --secret sshPrivateKey < ~/.ssh/id_rsa`);
    } else if (sshKey.value !== undefined && !/^-----BEGIN (OPENSSH|RSA|EC) PRIVATE KEY-----/.test(sshKey.value.trim())) {
        problems.push(`${CONFIG_NAMESPACE}:sshPrivateKey: not a PEM/OpenSSH private key`);
    } else if (enabled && sshKey.value === undefined) {
        problems.push(`${CONFIG_NAMESPACE}:sshPrivateKey: required to install certificates (pulumi config set --secret sshPrivateKey < key), or set rollout.enabled: false to manage the PKI only`);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return { ...settings, ...(sshKey.value !== undefined ? { sshPrivateKey: pulumi.secret(sshKey.value) } : {}) };
}

export function readRolloutConfig(config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE)): RolloutSettings {
    let raw: unknown;
    try {
        raw = config.getObject<unknown>("rollout");
    } catch {
        throw new ConfigError([`${CONFIG_NAMESPACE}:rollout: not valid JSON/YAML`]);
    }
    // config.get returns the secret in plain text; parseRolloutConfig wraps it with pulumi.secret.
    const value = config.get("sshPrivateKey") || undefined;
    return parseRolloutConfig(raw, { value, secret: value !== undefined && isConfigSecret(`${CONFIG_NAMESPACE}:sshPrivateKey`) });
}

export interface StackConfig {
    inventory: InventorySettings;
    pki: PkiSettings;
    rollout: RolloutSettings;
}

/** Every section, validated. Call first in index.ts: a ConfigError stops the program before any resource. */
export function readStackConfig(config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE), opts: ParseOptions = {}): StackConfig {
    const problems: string[] = [];
    const collect = <T>(read: () => T): T | undefined => {
        try {
            return read();
        } catch (e) {
            if (!(e instanceof ConfigError)) throw e;
            problems.push(...e.problems);
            return undefined;
        }
    };
    const inventory = collect(() => readInventoryConfig(config));
    const pki = collect(() => readPkiConfig(config, opts));
    const rollout = collect(() => readRolloutConfig(config));
    if (problems.length > 0 || !inventory || !pki || !rollout) throw new ConfigError(problems);
    return { inventory, pki, rollout };
}
