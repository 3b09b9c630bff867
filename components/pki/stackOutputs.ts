// The PKI's part of the stack outputs: certificate facts, trust bundles, kubeconfigs, the
// apimodel certificate profile and the certificate files each node should hold (for the expiry
// report). Private keys appear only inside secret outputs.
import * as pulumi from "@pulumi/pulumi";
import { certificateProfile } from "./certificateProfile";
import type { ClusterPki } from "./clusterPki";
import { KUBECONFIG_CATALOG } from "./kubeconfigs";
import { caBundle, installsLeaves, kubeconfig, nodeFiles } from "./nodeFiles";
import { certificateReport, CertificateReport, keyPairReport, KeyPairReport } from "./report";
import type { ResolvedCa, ResolvedLeaf } from "./resolve";
import { certificateBlocks, certificateFingerprint, publicKeyBlocks, publicKeyPemFingerprint } from "./x509";

/** The PKI's stack outputs (program.ts adds the cluster, the plans and the rollout's). */
export function stackOutputs(pki: ClusterPki, now: Date = new Date()) {
    return {
        certificates: certificatesReport(pki, now),
        trustBundles: pulumi.all(Object.fromEntries(Object.keys(pki.authorities).map((id) => [id, caBundle(pki, id)]))),
        /** What clients outside the cluster trust the apiserver with. */
        caBundle: caBundle(pki, "kubernetes-ca"),
        adminKubeconfig: kubeconfig(pki, "admin"),
        kubeconfigs: pki.kubeconfigs,
        certificateProfile: certificateProfile(pki),
    };
}

/** One certificate of the `certificates` output, with the nodes that hold it. */
export interface ReportedCertificate {
    /** The output's key: the leaf's instance id or the CA generation's name. */
    id: string;
    /** The nodes its row's files go to. */
    nodeNames: string[];
    /** The leaf, or the CA the generation belongs to. */
    entry: ResolvedLeaf | ResolvedCa;
    /** Unknown at preview while this run re-issues the certificate. */
    report: pulumi.Output<CertificateReport>;
}

/** Every leaf and CA generation of the PKI with its report: subject, issuer, SANs, validity, days left and renewal date. */
export function reportedCertificates(pki: ClusterPki, now: Date = new Date()): ReportedCertificate[] {
    return pki.resolved.entries.flatMap((e): ReportedCertificate[] => {
        if (e.kind === "keyPair") return [];
        const nodeNames = [...new Set(e.instance.files.flatMap((f) => f.nodeNames))];
        if (e.kind === "leaf") return [{ id: e.id, nodeNames, entry: e, report: pki.leaves[e.id]!.certPem.apply((p) => certificateReport(p, e.validity.renewalDays, now, "automatic")) }];
        return e.generations.map((g) => ({
            id: g.name,
            nodeNames,
            entry: e,
            report: pki.generations[e.id]!.get(g.generation)!.certPem.apply((p) => certificateReport(p, e.validity.renewalDays, now, g.adopted ? "manual" : "automatic")),
        }));
    });
}

/** Per certificate its report; per key pair its fingerprint. No private key. */
export function certificatesReport(pki: ClusterPki, now: Date = new Date()): pulumi.Output<Record<string, CertificateReport | KeyPairReport>> {
    type Item = [string, CertificateReport | KeyPairReport];
    const certificates = reportedCertificates(pki, now);
    // in catalog order, key pairs among the certificates
    const items = pki.resolved.entries.flatMap((e): pulumi.Output<Item>[] =>
        e.kind === "keyPair"
            ? [pki.keyPairs[e.id]!.publicKeyPem.apply((pem): Item => [e.id, keyPairReport(pem)])]
            : certificates.filter((c) => c.entry === e).map((c) => c.report.apply((r): Item => [c.id, r])),
    );
    return pulumi.all(items).apply((kv) => Object.fromEntries(kv));
}

/** A file the state puts on a node, as the expiry report and the drift check compare it: no content, no key. */
export interface ExpectedNodeFile {
    /**
     * "certificate": PEM certificates; "kubeconfig": the certificate is its client-certificate-data;
     * "publicKeys": PEM public keys (sa.pub: the service-account key's generations, the active one first).
     */
    kind: "certificate" | "kubeconfig" | "publicKeys";
    /** The certificate instance (or key pair) its certificates or public keys come from. */
    source: string;
    /**
     * In file order: of a certificate or kubeconfig, the SHA-256 fingerprints of its certificates'
     * DER (openssl's AB:CD:… form); of "publicKeys", the SHA-256 of each key's DER
     * SubjectPublicKeyInfo, lowercase hex (as `openssl pkey -pubin -outform DER | sha256sum`).
     */
    sha256: string[];
    /** The path of the private key that belongs to its first certificate on this node, if the node holds it. */
    key?: string;
}

/** Per node, per path, the certificate and public-key files the last stage of the run installs. */
export type NodeFilesOutput = Record<string, Record<string, ExpectedNodeFile>>;

/**
 * What the nodes should hold once this run's rollout finished (the last CA stage): per node every
 * certificate file of nodeFiles, and on the masters the admin kubeconfig (/home/<adminUser>/.kube/config),
 * each with the fingerprints of the certificates in it and the path of the key that goes with it,
 * and every public-key file (sa.pub) with the fingerprints of its keys.
 * Fingerprints and paths only: it holds no private key.
 */
export function expectedNodeFiles(pki: ClusterPki, adminUser: string): pulumi.Output<NodeFilesOutput> {
    const admin = KUBECONFIG_CATALOG.find((k) => k.id === "admin")!;
    const last = pki.stages.length - 1;
    const perNode = pki.resolved.inventory.nodes.map((node) => {
        const files = nodeFiles(pki, node.name, last);
        const keyOf = (instance: string) => files.find((f) => f.secret && f.instance === instance)?.path;
        const certificates = files
            .filter((f) => !f.secret)
            .map((f) => f.content.apply((text): [string, ExpectedNodeFile] | undefined => {
                const blocks = certificateBlocks(text);
                if (blocks.length === 0) {
                    // a public-key file (sa.pub): the keys' fingerprints; it has no key file beside it to compare
                    const keys = publicKeyBlocks(text);
                    return keys.length === 0 ? undefined : [f.path, { kind: "publicKeys", source: f.instance, sha256: keys.map(publicKeyPemFingerprint) }];
                }
                const key = keyOf(f.instance);
                return [f.path, { kind: "certificate", source: f.instance, sha256: blocks.map(certificateFingerprint), ...(key ? { key } : {}) }];
            }));
        if (node.role === "master" && installsLeaves(pki, last)) {
            certificates.push(
                pki.leaves[admin.user]!.certPem.apply((pem): [string, ExpectedNodeFile] => [
                    admin.path.replace("{adminUser}", adminUser),
                    { kind: "kubeconfig", source: admin.user, sha256: certificateBlocks(pem).map(certificateFingerprint) },
                ]),
            );
        }
        return pulumi.all(certificates).apply((entries) => [node.name, Object.fromEntries(entries.filter((e) => e !== undefined))] as const);
    });
    return pulumi.all(perNode).apply((entries) => Object.fromEntries(entries));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The nodeFiles output checked for its shape; undefined when absent. */
export function parseNodeFilesOutput(value: unknown): NodeFilesOutput | undefined {
    if (value === undefined) return undefined;
    const bad = (why: string): never => {
        throw new Error(`the stack's nodeFiles output is not what this version writes (${why}); run pulumi up with this version`);
    };
    if (!isObject(value)) bad("not an object");
    for (const [node, files] of Object.entries(value as object)) {
        if (!isObject(files)) bad(`${node}: not an object`);
        for (const [file, f] of Object.entries(files as object)) {
            const ok = isObject(f) && (f.kind === "certificate" || f.kind === "kubeconfig" || f.kind === "publicKeys") && typeof f.source === "string" && Array.isArray(f.sha256) && f.sha256.every((x) => typeof x === "string") && (f.key === undefined || typeof f.key === "string");
            if (!ok) bad(`${node} ${file}`);
        }
    }
    return value as NodeFilesOutput;
}
