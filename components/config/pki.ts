// The PKI section of the stack config: the `pki` object (key algorithm, CA layout, SANs, validity,
// rotation generations, CA generations) and the adopted CAs and service-account key.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { CatalogOptions, certificateCatalog, CERTS_DIR, ROTATION_TYPES, RotationType } from "../pki/catalog";
import {
    AdoptedCa,
    CA_CONFIG_NAME,
    CA_IDS,
    CA_ROTATION_TYPE,
    CaGeneration,
    CaGenerations,
    CaGenerationState,
    CaId,
    CaRotationMode,
    DEFAULT_KEY,
    DEFAULT_VALIDITY,
    DEFAULT_WARN_DAYS,
    PkiSettings,
    RotationGenerations,
    SERVICE_ACCOUNT_ID,
} from "../pki/settings";
import { validateAdoptedCa } from "../pki/x509";
import type { ApiModelCluster, ApiModelFact } from "./apimodel";
import { Agreement, CERTIFICATE, PRIVATE_KEY } from "./apimodelMerge";
import type { AcceptedKeys, ConfigKeyDoc } from "./keys";
import { checkCidr, checkDnsName, checkHost, CONFIG_NAMESPACE, ConfigError, readSecret, secretProblem, Section } from "./reader";

/** Top-level config keys holding an adopted CA. */
export function adoptionKeys(id: CaId): { cert: string; key: string } {
    const prefix = CA_CONFIG_NAME[id];
    return { cert: `${prefix}Certificate`, key: `${prefix}PrivateKey` };
}

/** PEM strings of CAs to adopt, as read from config (absent keys undefined). */
export type AdoptionInput = Partial<Record<CaId, { certificate?: string; privateKey?: string; /** The file a value came from, for problems: "apimodelPath …". */ source?: string }>> & {
    /** The cluster's current service-account signing key (AKS Engine: apiserver.key). */
    serviceAccountPrivateKey?: string;
    serviceAccountKeySource?: string;
};

/** How a problem names an adopted value: its config key, and the file it came from if it did not come from the stack. */
const adoptionLabel = (keys: string, source: string | undefined): string => `${CONFIG_NAMESPACE}:${keys}${source ? ` (from ${source})` : ""}`;

/** Config key of the adopted service-account signing key. */
export const SERVICE_ACCOUNT_KEY = "serviceAccountPrivateKey";

/** The fields of the `pki` object and of its objects: what parsePkiConfig accepts. */
export const PKI_FIELDS = ["keyAlgorithm", "rsaBits", "etcdCa", "serviceAccountKey", "kubeletServing", "clusterDomain", "serviceCidr", "apiServerExtraSans", "validity", "warnDays", "rotation", "caRotation", "caGenerations", "serviceAccountKeyGenerations", "serviceAccountRetireAfterHours"] as const;
export const VALIDITY_FIELDS = ["leafDays", "leafRenewalDays", "caDays", "caRenewalDays"] as const;

/** The keys of this section (see keys.ts): the pki object, the adopted CAs and service-account key. */
export const PKI_ACCEPTS: AcceptedKeys = {
    "": ["pki", SERVICE_ACCOUNT_KEY, ...CA_IDS.flatMap((id) => [adoptionKeys(id).cert, adoptionKeys(id).key])],
    pki: PKI_FIELDS,
    "pki.validity": VALIDITY_FIELDS,
    "pki.rotation": ROTATION_TYPES,
    // with pki.etcdCa: shared, parseCaGenerations refuses etcdCa here
    "pki.caGenerations": CA_IDS.map((id) => CA_CONFIG_NAME[id]),
};

/** The documentation of the keys this section reads (see keys.ts). */
export const PKI_KEY_DOCS: ConfigKeyDoc[] = [
    { key: "pki.keyAlgorithm", type: '"RSA" | "ECDSA"', default: "RSA", description: "key algorithm of every generated key; ECDSA is P-256" },
    { key: "pki.rsaBits", type: "2048 | 3072 | 4096", default: "2048", description: "RSA modulus size (AKS Engine: 2048)" },
    { key: "pki.etcdCa", type: '"shared" | "separate"', default: "shared", description: "shared: the cluster CA signs etcd's certificates (AKS Engine); separate: a dedicated etcd CA (kubeadm)" },
    { key: "pki.serviceAccountKey", type: '"apiserver" | "dedicated"', default: "apiserver", description: "apiserver: tokens are signed with apiserver.key (AKS Engine); dedicated: sa.key / sa.pub" },
    {
        key: "pki.kubeletServing",
        type: '"keep" | "issue"',
        default: "keep",
        description:
            "keep: each node's own kubelet serving certificate (kubeletserver.crt, self-signed by AKS Engine's CSE) stays, only reported; issue: one per node, signed by the cluster CA (CN system:node:<node>), installed by the kubelet step, which restarts the kubelet",
    },
    { key: "pki.clusterDomain", type: "string", default: "cluster.local", description: "cluster DNS domain, for the apiserver SAN kubernetes.default.svc.<domain>" },
    { key: "pki.serviceCidr", type: "CIDR", default: "10.0.0.0/16", description: "service CIDR; its first address (the kubernetes Service) is an apiserver SAN" },
    { key: "pki.apiServerExtraSans", type: "string[]", default: "[]", description: "extra apiserver SANs (DNS names or IPs)" },
    { key: "pki.validity.leafDays", type: "integer", default: "365", description: "leaf certificate validity" },
    { key: "pki.validity.leafRenewalDays", type: "integer", default: "30", description: "leaves are replaced this many days before expiry" },
    { key: "pki.validity.caDays", type: "integer", default: "3650", description: "CA certificate validity" },
    { key: "pki.validity.caRenewalDays", type: "integer", default: "365", description: "CA certificates are renewed (same key) this many days before expiry; at least leafDays" },
    {
        key: "pki.warnDays",
        type: "integer",
        default: String(DEFAULT_WARN_DAYS),
        description: "every preview and up lists the certificates less than this many days from expiry (a warning; an expired one an error-level message); more than leafRenewalDays",
    },
    ...ROTATION_TYPES.map((t) => ({
        key: `pki.rotation.${t}`,
        type: "integer ≥ 0",
        default: "0",
        description:
            t === "kubernetesCa" || t === "etcdCa"
                ? `the ${t} generation when pki.caGenerations does not list it (a CA change: see pki.caRotation)`
                : t === "serviceAccount"
                  ? "the service-account key generation when pki.serviceAccountKeyGenerations does not list it (a key change: see pki.caRotation)"
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
        key: "pki.serviceAccountKeyGenerations",
        type: "{ <generation>: trusted | active | retired }",
        default: "{ <pki.rotation.serviceAccount>: active }",
        description:
            "the service-account signing key's generations, rotated in phases like a CA's (pki.caRotation): the public keys of every trusted and the active one verify tokens (sa.pub); the active one signs them (apiserver.key, or sa.key when dedicated); generation 0 is the adopted key",
    },
    {
        key: "pki.serviceAccountRetireAfterHours",
        type: "integer ≥ 0",
        default: "24",
        description: "a service-account key generation is retired no sooner than this long after its successor was activated, so tokens it signed are re-issued first; 0 retires at once",
    },
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
    pki.rejectUnknown(PKI_FIELDS);

    const algorithm = pki.oneOf("keyAlgorithm", ["RSA", "ECDSA"] as const, DEFAULT_KEY.algorithm);
    const rsaBits = pki.oneOf("rsaBits", [2048, 3072, 4096] as const, DEFAULT_KEY.rsaBits);
    const etcdCa = pki.oneOf("etcdCa", ["shared", "separate"] as const, "shared");
    const serviceAccountKey = pki.oneOf("serviceAccountKey", ["apiserver", "dedicated"] as const, "apiserver");
    const kubeletServing = pki.oneOf("kubeletServing", ["keep", "issue"] as const, "keep");
    const clusterDomain = pki.string("clusterDomain", "cluster.local", checkDnsName);
    const serviceCidr = pki.string("serviceCidr", "10.0.0.0/16", checkCidr);
    const apiServerExtraSans = pki.stringList("apiServerExtraSans", checkHost);

    const v = pki.section("validity");
    v.rejectUnknown(VALIDITY_FIELDS);
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

    const warnDays = pki.int("warnDays", DEFAULT_WARN_DAYS, 1);
    // Leaves are re-issued once inside their lead; a shorter warning would never see one due before that.
    if (warnDays <= leafRenewalDays) problems.push(`pki.warnDays (${warnDays}) must be more than pki.validity.leafRenewalDays (${leafRenewalDays}), so that a leaf is listed before its renewal is planned`);

    const rot = pki.section("rotation");
    rot.rejectUnknown(ROTATION_TYPES);
    const rotation = Object.fromEntries(ROTATION_TYPES.map((t) => [t, rot.int(t, 0, 0)])) as RotationGenerations;
    if (etcdCa === "shared" && rotation.etcdCa !== 0) {
        problems.push(
            `pki.rotation.etcdCa is ${rotation.etcdCa} but pki.etcdCa is "shared": the etcd certificates are signed by the ` +
                `Kubernetes CA; bump pki.rotation.kubernetesCa, or set pki.etcdCa: separate`,
        );
    }

    if (kubeletServing !== "issue" && rotation.kubeletServer !== 0) {
        problems.push(
            `pki.rotation.kubeletServer is ${rotation.kubeletServer} but pki.kubeletServing is "${kubeletServing}": the program issues no kubelet serving ` +
                `certificates, the nodes keep their own; set pki.kubeletServing: issue, or leave pki.rotation.kubeletServer at 0`,
        );
    }

    const caRotation = pki.oneOf<CaRotationMode>("caRotation", ["phased", "oneShot", "immediate"], "phased");
    const caIds = CA_IDS.filter((id) => id !== "etcd-ca" || etcdCa === "separate");
    const caGenerations = parseCaGenerations(pki.section("caGenerations"), caIds, rotation, problems);
    caGenerations[SERVICE_ACCOUNT_ID] = parseGenerations(pki, "serviceAccountKeyGenerations", "serviceAccount", rotation, problems, "service-account key");
    const serviceAccountRetireAfterHours = pki.int("serviceAccountRetireAfterHours", 24, 0);

    const now = opts.now ?? new Date();
    const secret = opts.secret ?? ((s: string) => pulumi.secret(s));
    const adopted: PkiSettings["adopted"] = {};
    for (const id of CA_IDS) {
        const input = adoption[id];
        const keys = adoptionKeys(id);
        if (!input || (input.certificate === undefined && input.privateKey === undefined)) continue;
        const label = adoptionLabel(`${keys.cert} / ${keys.key}`, input.source);
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
        const label = adoptionLabel(SERVICE_ACCOUNT_KEY, adoption.serviceAccountKeySource);
        const zero = caGenerations[SERVICE_ACCOUNT_ID]!.find((g) => g.generation === 0);
        if ((!zero || zero.state === "retired") && caRotation !== "oneShot") {
            warnings.push(`${label}: not used: the adopted key is generation 0, which pki.serviceAccountKeyGenerations retires (or pki.rotation.serviceAccount moved past)`);
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
            // absent means "keep" (CatalogOptions): one spelling of the default
            catalog: { etcdCa, serviceAccountKey, ...(kubeletServing === "issue" ? { kubeletServing } : {}) },
            key: { algorithm, rsaBits },
            sans: { clusterDomain, serviceCidr, apiServerExtraSans },
            validity: { leaf: { days: leafDays, renewalDays: leafRenewalDays }, ca: { days: caDays, renewalDays: caRenewalDays } },
            warnDays,
            rotation,
            caGenerations,
            caRotation,
            serviceAccountRetireAfterHours,
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
    return Object.fromEntries(ids.map((id) => [id, parseGenerations(section, CA_CONFIG_NAME[id], CA_ROTATION_TYPE[id], rotation, problems, "CA")]));
}

/** One CA's (or the service-account key's) generations: `<section>.<name>`, else its `pki.rotation` number as the one active generation. */
function parseGenerations(section: Section, name: string, type: RotationType, rotation: RotationGenerations, problems: string[], thing: string): CaGeneration[] {
    const key = `${section.path}.${name}`;
    if (!section.has(name)) return [{ generation: rotation[type], state: "active" }];
    // the front-proxy type also re-issues its client certificate; the CA-only types would say the same thing twice
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
    if (actives.length === 0) problems.push(`${key}: no active generation: retiring the only ${thing} is refused; exactly one generation must be active`);
    if (actives.length > 1) problems.push(`${key}: generations ${actives.join(", ")} are all active; exactly one may sign`);
    return gens.sort((a, b) => a.generation - b.generation);
}

/**
 * The adoption input with the apimodel's certificateProfile: the Kubernetes CA (caCertificate,
 * caPrivateKey) and the service-account signing key (apiServerPrivateKey: AKS Engine signs tokens
 * with apiserver.key). A value taken from the file is labelled with it in later problems.
 */
function mergeAdoption(typed: AdoptionInput, cluster: ApiModelCluster): { adoption: AdoptionInput; problems: string[] } {
    const agreement = new Agreement(cluster.source);
    const profile = cluster.certificateProfile;
    const keys = adoptionKeys("kubernetes-ca");
    const ca = typed["kubernetes-ca"] ?? {};
    const fromFile = (typedValue: string | undefined, fact: ApiModelFact | undefined) => typedValue === undefined && fact !== undefined;
    const adoption: AdoptionInput = {
        ...typed,
        "kubernetes-ca": {
            certificate: agreement.value(keys.cert, ca.certificate, profile.caCertificate, CERTIFICATE),
            privateKey: agreement.value(keys.key, ca.privateKey, profile.caPrivateKey, PRIVATE_KEY),
            ...(fromFile(ca.certificate, profile.caCertificate) || fromFile(ca.privateKey, profile.caPrivateKey) ? { source: cluster.source } : {}),
        },
        serviceAccountPrivateKey: agreement.value(SERVICE_ACCOUNT_KEY, typed.serviceAccountPrivateKey, profile.apiServerPrivateKey, PRIVATE_KEY),
        ...(fromFile(typed.serviceAccountPrivateKey, profile.apiServerPrivateKey) ? { serviceAccountKeySource: cluster.source } : {}),
    };
    return { adoption, problems: agreement.problems };
}

/**
 * Reads and validates the PKI section of the current stack's config, with the CA and
 * service-account key of the apimodel when the stack names one; warnings go to the Pulumi log.
 */
export function readPkiConfig(config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE), opts: ParseOptions = {}, apiModel?: ApiModelCluster): PkiSettings {
    const problems: string[] = [];
    let raw: unknown;
    try {
        raw = config.getObject<unknown>("pki");
    } catch {
        problems.push(`${CONFIG_NAMESPACE}:pki: not valid JSON/YAML`);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    const adoption: AdoptionInput = {};
    const privateKey = (key: string, file: string): string | undefined => {
        const input = readSecret(config, key);
        const problem = secretProblem(key, input, file);
        if (problem) problems.push(problem);
        return input.value;
    };
    for (const id of CA_IDS) {
        const keys = adoptionKeys(id);
        // "" (Pulumi.yaml's default) is unset; parsePkiConfig wraps the key with pulumi.secret.
        adoption[id] = { certificate: config.get(keys.cert) || undefined, privateKey: privateKey(keys.key, "ca.key") };
    }
    adoption.serviceAccountPrivateKey = privateKey(SERVICE_ACCOUNT_KEY, "apiserver.key");
    const merged = apiModel ? mergeAdoption(adoption, apiModel) : { adoption, problems: [] };
    problems.push(...merged.problems);
    if (problems.length > 0) throw new ConfigError(problems);
    const parsed = parsePkiConfig(raw, merged.adoption, opts);
    const unadopted = apiModel ? unadoptedNodeCaProblems(parsed.value, apiModel.source) : [];
    if (unadopted.length > 0) throw new ConfigError(unadopted);
    for (const w of parsed.warnings) pulumi.log.warn(w);
    return parsed.value;
}

/** The CAs apimodel.json holds (certificateProfile.caCertificate / caPrivateKey); the others exist only on the nodes. */
const APIMODEL_CAS: readonly CaId[] = ["kubernetes-ca"];

/** The cluster's CAs that exist only on the masters, with their certificate and key files there (discovery reads them). */
export function casOnlyOnNodes(catalog: CatalogOptions): { id: CaId; certFile: string; keyFile: string }[] {
    return certificateCatalog(catalog)
        .filter((row) => row.kind === "ca" && !APIMODEL_CAS.includes(row.id as CaId))
        .map((row) => {
            const file = (content: string) => `${CERTS_DIR}/${row.files.find((f) => f.content === content)!.name}`;
            return { id: row.id as CaId, certFile: file("cert"), keyFile: file("key") };
        });
}

/**
 * With an apimodel, every CA of the cluster must be adopted while its generation 0 is in use: one
 * the apimodel does not hold (the front-proxy CA; a separate etcd CA) would otherwise be a new CA
 * that replaces the cluster's in a single pass, and clients that trust the old one (aggregated API
 * servers, for the front-proxy CA) fail until they restart. The same condition as adoption's.
 */
export function unadoptedNodeCaProblems(settings: PkiSettings, source: string): string[] {
    return casOnlyOnNodes(settings.catalog)
        .filter(({ id }) => !settings.adopted[id])
        .filter(({ id }) => {
            const zero = settings.caGenerations[id]!.find((g) => g.generation === 0);
            return (zero !== undefined && zero.state !== "retired") || settings.caRotation === "oneShot";
        })
        .map(({ id, certFile, keyFile }) => {
            const keys = adoptionKeys(id);
            return (
                `${keys.cert} / ${keys.key}: the cluster's ${id} (${certFile}, ${keyFile} on the masters) is not adopted, and ${source} does not hold it: ` +
                `generation 0 would be a new CA replacing the cluster's in a single pass. Run \`npm run discover -- --stack <stack>\`, which reads it from the masters ` +
                `and sets both keys, or set them yourself; to replace the CA on purpose, adopt it and rotate it in phases (README "Rotating a CA without downtime")`
            );
        });
}

