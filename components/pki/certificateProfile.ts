// aks-engine's apimodel.json `properties.certificateProfile`, from a ClusterPki's resources.
import * as pulumi from "@pulumi/pulumi";
import { masters } from "./instances";
import type { ClusterPki } from "./clusterPki";
import { atMasterIndex, ETCD_PEER_ROW_ID } from "./names";
import type { CaId } from "./settings";

/**
 * The CAs that sign the certificates the profile holds (an etcd CA exists only in the separate
 * layout). The apimodel holds one CA certificate, so none of them may have two generations trusted
 * when the profile is written back.
 */
export const CERTIFICATE_PROFILE_CAS: CaId[] = ["kubernetes-ca", "etcd-ca"];

/**
 * The apimodel's certificate profile (secret): aks-engine scale and upgrade push these to nodes,
 * so the apimodel must follow a rotation. No front-proxy fields: aks-engine makes those on the masters.
 */
export function certificateProfile(pki: ClusterPki): pulumi.Output<Record<string, string | string[]>> {
    const cert = (id: string) => pki.leaves[id]!.certPem;
    const key = (id: string) => pki.leaves[id]!.keyPem;
    const peers = masters(pki.resolved.inventory).map((m) => atMasterIndex(ETCD_PEER_ROW_ID, m.index));
    const ca = pki.authorities["kubernetes-ca"]!;
    const fields: Record<string, pulumi.Input<string | string[]>> = {
        caCertificate: ca.certPem,
        caPrivateKey: ca.keyPem,
        apiServerCertificate: cert("apiserver"),
        apiServerPrivateKey: key("apiserver"),
        clientCertificate: cert("client"),
        clientPrivateKey: key("client"),
        kubeConfigCertificate: cert("kubectl-client"),
        kubeConfigPrivateKey: key("kubectl-client"),
        etcdServerCertificate: cert("etcd-server"),
        etcdServerPrivateKey: key("etcd-server"),
        etcdClientCertificate: cert("etcd-client"),
        etcdClientPrivateKey: key("etcd-client"),
        etcdPeerCertificates: pulumi.all(peers.map(cert)),
        etcdPeerPrivateKeys: pulumi.all(peers.map(key)),
    };
    return pulumi.secret(pulumi.all(fields));
}
