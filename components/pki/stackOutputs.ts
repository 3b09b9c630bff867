// The PKI's part of the stack outputs: certificate facts, trust bundles, kubeconfigs and the
// apimodel certificate profile. Private keys appear only inside secret outputs.
import * as pulumi from "@pulumi/pulumi";
import { certificateProfile } from "./certificateProfile";
import type { ClusterPki } from "./clusterPki";
import { caBundle, kubeconfig } from "./nodeFiles";
import { certificateReport, CertificateReport, keyPairReport, KeyPairReport } from "./report";
import type { ResolvedCa, ResolvedLeaf } from "./resolve";

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
