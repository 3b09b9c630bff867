// Stack-output facts about certificates (never private keys) and kubeconfig rendering.
import { createPublicKey } from "crypto";
import { certificateFacts, describeKey, publicKeyFingerprint } from "./x509";

const DAY_MS = 86_400_000;

export interface CertificateReport {
    kind: "certificate";
    subject: string;
    issuer: string;
    dnsNames: string[];
    ipAddresses: string[];
    serialNumber: string;
    publicKey: string;
    notBefore: string;
    notAfter: string;
    /** Whole days from the time of the run to notAfter (negative once expired). */
    daysLeft: number;
    /** notAfter minus the renewal lead: from then on a preview plans the replacement. */
    renewalDate: string;
    /** "automatic" (replaced in its renewal window) or "manual" (an adopted CA: rotate it by generation). */
    renewal: "automatic" | "manual";
}

export interface KeyPairReport {
    kind: "keyPair";
    publicKey: string;
    /** SHA-256 of the DER SubjectPublicKeyInfo. */
    publicKeyFingerprint: string;
}

export function certificateReport(pem: string, renewalDays: number, now: Date, renewal: CertificateReport["renewal"] = "automatic"): CertificateReport {
    const f = certificateFacts(pem);
    return {
        kind: "certificate",
        subject: f.subject,
        issuer: f.issuer,
        dnsNames: f.dnsNames,
        ipAddresses: f.ipAddresses,
        serialNumber: f.serialNumber,
        publicKey: f.publicKey,
        notBefore: f.notBefore.toISOString(),
        notAfter: f.notAfter.toISOString(),
        daysLeft: Math.floor((f.notAfter.getTime() - now.getTime()) / DAY_MS),
        renewalDate: new Date(f.notAfter.getTime() - renewalDays * DAY_MS).toISOString(),
        renewal,
    };
}

export function keyPairReport(publicKeyPem: string): KeyPairReport {
    const key = createPublicKey(publicKeyPem);
    return { kind: "keyPair", publicKey: describeKey(key), publicKeyFingerprint: publicKeyFingerprint(key) };
}

/** A PEM embedded as kubeconfig *-data, or a path on the node. */
export type KubeconfigMaterial = { pem: string } | { file: string };

export interface KubeconfigInput {
    clusterName: string;
    server: string;
    userName: string;
    ca: KubeconfigMaterial;
    cert: KubeconfigMaterial;
    key: KubeconfigMaterial;
}

/** A kubeconfig as JSON (YAML's subset; aks-engine writes JSON too). */
export function renderKubeconfig(k: KubeconfigInput): string {
    const field = (name: string, m: KubeconfigMaterial) => ("pem" in m ? { [`${name}-data`]: Buffer.from(m.pem).toString("base64") } : { [name]: m.file });
    return JSON.stringify(
        {
            apiVersion: "v1",
            kind: "Config",
            clusters: [{ name: k.clusterName, cluster: { server: k.server, ...field("certificate-authority", k.ca) } }],
            users: [{ name: k.userName, user: { ...field("client-certificate", k.cert), ...field("client-key", k.key) } }],
            contexts: [{ name: k.clusterName, context: { cluster: k.clusterName, user: k.userName } }],
            "current-context": k.clusterName,
        },
        null,
        2,
    );
}
