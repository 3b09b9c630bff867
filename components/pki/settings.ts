// Settings of the PKI that come from stack config (parsed and validated in components/config.ts).
import type * as pulumi from "@pulumi/pulumi";
import { CatalogOptions, RotationType, SanSettings } from "./catalog";
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

/** Per-type generation numbers: bumping one forces the rotation of that type. */
export type RotationGenerations = Record<RotationType, number>;

export const ZERO_GENERATIONS: RotationGenerations = {
    kubernetesCa: 0,
    kubernetesLeaf: 0,
    etcdCa: 0,
    etcdLeaf: 0,
    frontProxy: 0,
    serviceAccount: 0,
};

/** Row ids of the CAs that can be adopted. */
export type CaId = "kubernetes-ca" | "etcd-ca" | "front-proxy-ca";
export const CA_IDS: CaId[] = ["kubernetes-ca", "etcd-ca", "front-proxy-ca"];

/**
 * An existing CA used as is. Adoption is generation 0 of that CA: bumping the CA's rotation
 * generation replaces it with a generated CA (and the adopted one stays available as the
 * "previous" generation for trust bundles, issue 7).
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
    rotation: RotationGenerations;
    /** CAs used as is (only those whose rotation generation is 0). */
    adopted: Partial<Record<CaId, AdoptedCa>>;
    /** The service-account key pair used as is (only while its rotation generation is 0). */
    adoptedServiceAccountKey?: AdoptedKeyPair;
}
