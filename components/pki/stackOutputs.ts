// The PKI's part of the stack outputs: certificate facts, trust bundles, kubeconfigs and the
// apimodel certificate profile. Private keys appear only inside secret outputs.
import * as pulumi from "@pulumi/pulumi";
import { certificateProfile } from "./certificateProfile";
import type { ClusterPki } from "./clusterPki";
import { caBundle, kubeconfig } from "./nodeFiles";
import { certificateReport, CertificateReport, keyPairReport, KeyPairReport } from "./report";

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

/** Per certificate: subject, issuer, SANs, validity, days left and renewal date; per key pair its fingerprint. No private key. */
export function certificatesReport(pki: ClusterPki, now: Date = new Date()): pulumi.Output<Record<string, CertificateReport | KeyPairReport>> {
    type Item = [string, CertificateReport | KeyPairReport];
    const items = pki.resolved.entries.flatMap((e): pulumi.Output<Item>[] => {
        if (e.kind === "keyPair") return [pki.keyPairs[e.id]!.publicKeyPem.apply((pem): Item => [e.id, keyPairReport(pem)])];
        if (e.kind === "leaf") return [pki.leaves[e.id]!.certPem.apply((p): Item => [e.id, certificateReport(p, e.validity.renewalDays, now, "automatic")])];
        return e.generations.map((g) =>
            pki.generations[e.id]!.get(g.generation)!.certPem.apply((p): Item => [g.name, certificateReport(p, e.validity.renewalDays, now, g.adopted ? "manual" : "automatic")]),
        );
    });
    return pulumi.all(items).apply((kv) => Object.fromEntries(kv));
}
