// Settings of the PKI that come from stack config (parsed and validated in components/config/).
import type * as pulumi from "@pulumi/pulumi";
import { CatalogOptions, RotationType } from "./catalog";
import { SanSettings } from "./instances";
import type { CertificateFacts } from "./x509";

export type KeyAlgorithm = "RSA" | "ECDSA";

/** RSA 2048 is AKS Engine's default; ECDSA is always P-256 (never the tls provider's P-224 default). */
export interface KeySpec {
    algorithm: KeyAlgorithm;
    rsaBits: 2048 | 3072 | 4096;
}

export const DEFAULT_KEY: KeySpec = { algorithm: "RSA", rsaBits: 2048 };

export interface Validity {
    days: number;
    /** Renew this many days before expiry (the tls provider's earlyRenewalHours / 24). */
    renewalDays: number;
}

export interface ValiditySettings {
    leaf: Validity;
    ca: Validity;
}

/** Leaves: 1 year, renewed 30 days before expiry (as Rafay). CAs: 10 years, renewed 1 year before. */
export const DEFAULT_VALIDITY: ValiditySettings = {
    leaf: { days: 365, renewalDays: 30 },
    ca: { days: 3650, renewalDays: 365 },
};

/** Certificates less than this many days from expiry are listed at every preview and up (Rafay notifies at 60 days). */
export const DEFAULT_WARN_DAYS = 60;

/** Per-type generation numbers: bumping one forces the rotation of that type. */
export type RotationGenerations = Record<RotationType, number>;

export const ZERO_GENERATIONS: RotationGenerations = {
    kubernetesCa: 0,
    kubernetesLeaf: 0,
    etcdCa: 0,
    etcdLeaf: 0,
    frontProxy: 0,
    serviceAccount: 0,
    kubeletServer: 0,
};

/** Row ids of the CAs (adoptable, and rotated in phases). */
export type CaId = "kubernetes-ca" | "etcd-ca" | "front-proxy-ca";
export const CA_IDS: CaId[] = ["kubernetes-ca", "etcd-ca", "front-proxy-ca"];

/** A CA's name in config keys (kubernetesCaCertificate, pki.caGenerations.kubernetesCa). */
export const CA_CONFIG_NAME: Record<CaId, string> = { "kubernetes-ca": "kubernetesCa", "etcd-ca": "etcdCa", "front-proxy-ca": "frontProxyCa" };

/** The rotation type whose `pki.rotation` number is a CA's single active generation when its generations are not listed. */
export const CA_ROTATION_TYPE: Record<CaId, RotationType> = { "kubernetes-ca": "kubernetesCa", "etcd-ca": "etcdCa", "front-proxy-ca": "frontProxy" };

/**
 * A CA generation's place in a zero-downtime rotation: "trusted" = in every trust bundle, signs
 * nothing; "active" = in every bundle and signs the leaves (exactly one per CA); "retired" = gone
 * from the bundles, its key deleted.
 */
export type CaGenerationState = "trusted" | "active" | "retired";

export interface CaGeneration {
    generation: number;
    state: CaGenerationState;
}

/** The service-account key pair's row id: its key generations go through the same phases as a CA's. */
export const SERVICE_ACCOUNT_ID = "service-account";

/** What rotates in phases: the CAs and the service-account signing key. */
export type PhasedId = CaId | typeof SERVICE_ACCOUNT_ID;

/**
 * Per CA of the layout, and for the service-account key pair, its generations in ascending order
 * (for the key: "trusted" = its public key verifies tokens, "active" = it signs them).
 */
export type CaGenerations = Partial<Record<PhasedId, CaGeneration[]>>;

/**
 * phased: each `pulumi up` moves a CA by one phase (trust, activate, retire); oneShot: one up
 * chains the phases; immediate: one rollout switches everything, outage accepted (a CA that has
 * expired or leaked).
 */
export type CaRotationMode = "phased" | "oneShot" | "immediate";

/**
 * An existing CA used as is: generation 0 of that CA. Later generations are generated; the
 * adopted one stays in the trust bundles until it is retired.
 */
export interface AdoptedCa {
    certPem: string;
    /** Secret: never a plain string inside the program. */
    keyPem: pulumi.Input<string>;
    facts: CertificateFacts;
}

/**
 * The cluster's current service-account signing key, kept as generation 0 of the key pair, so a
 * certificate rotation does not invalidate every token (AKS Engine: apiserver.key signs them).
 */
export interface AdoptedKeyPair {
    /** Secret: never a plain string inside the program. */
    keyPem: pulumi.Input<string>;
    publicKeyPem: string;
}

export interface PkiSettings {
    catalog: CatalogOptions;
    key: KeySpec;
    sans: SanSettings;
    validity: ValiditySettings;
    /** Certificates whose notAfter is less than this many days away are listed (expiryWarnings.ts). */
    warnDays: number;
    rotation: RotationGenerations;
    /** The target state of every CA's generations (the last phase of this run). */
    caGenerations: CaGenerations;
    caRotation: CaRotationMode;
    /**
     * Hours between activating a new service-account key and retiring the old one: tokens signed
     * with the old key (the kubelets re-request projected ones within 24 h) must be re-issued
     * first. 0 lets a retire follow at once (tokens not yet re-issued are refused).
     */
    serviceAccountRetireAfterHours: number;
    /** CAs used as is, as their generation 0 (only while generation 0 is not retired). */
    adopted: Partial<Record<CaId, AdoptedCa>>;
    /** The service-account key pair used as is, as its generation 0 (only while generation 0 is not retired). */
    adoptedServiceAccountKey?: AdoptedKeyPair;
}
