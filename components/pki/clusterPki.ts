import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { KUBECONFIG_CATALOG, KubeconfigSpec, masters, PkiInventory } from "./catalog";
import { CertificateAuthority, PRIVATE_KEY_OUTPUTS, tlsKeyArgs } from "./certificateAuthority";
import { LeafCertificate } from "./leafCertificate";
import { certificateReport, CertificateReport, keyPairReport, KeyPairReport, renderKubeconfig } from "./report";
import { ResolvedPki, resolvePki } from "./resolve";
import { resourceNames } from "./rotation";
import { ServiceAccountKey } from "./serviceAccountKey";
import { PkiSettings } from "./settings";

export interface ClusterPkiArgs {
    settings: PkiSettings;
    inventory: PkiInventory;
    /** Cluster name in kubeconfigs (aks-engine: the DNS prefix). Default "kubernetes". */
    clusterName?: string;
    /** Server URL in the kubeconfig outputs. Default https://<fqdn>:443. */
    apiServerEndpoint?: string;
    /** The time adopted CAs are checked against (default: now). */
    now?: Date;
}

/** One file a node receives. */
export interface NodeFile {
    path: string;
    /** The certificate instance it comes from. */
    instance: string;
    /** Secret for private keys. */
    content: pulumi.Output<string>;
    secret: boolean;
}

export type KubeconfigId = KubeconfigSpec["id"];

/**
 * The cluster's whole PKI, built from the catalog: the CAs, the service-account key pair and
 * every leaf, for one inventory. Resource names are the catalog instance ids (see rotation.ts).
 */
export class ClusterPki extends pulumi.ComponentResource {
    readonly resolved: ResolvedPki;
    readonly authorities: Record<string, CertificateAuthority> = {};
    readonly leaves: Record<string, LeafCertificate> = {};
    readonly keyPairs: Record<string, ServiceAccountKey> = {};
    /** Secret: admin, kubelet, controller-manager and scheduler kubeconfigs (embedded certificates). */
    readonly kubeconfigs: pulumi.Output<Record<KubeconfigId, string>>;

    constructor(name: string, args: ClusterPkiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("azs-cert-rotation:pki:ClusterPki", name, {}, opts);
        this.resolved = resolvePki(args.settings, args.inventory);
        const now = args.now ?? new Date();
        const leafDays = args.settings.validity.leaf.days;
        const child = { parent: this };
        const needsClock = this.resolved.entries.some((e) => e.kind === "leaf" && !e.keyFrom);
        const clockKey = needsClock
            ? new tls.PrivateKey(resourceNames.clockKey, tlsKeyArgs({ algorithm: "ECDSA", rsaBits: 2048 }), { ...child, additionalSecretOutputs: PRIVATE_KEY_OUTPUTS })
            : undefined;

        for (const e of this.resolved.entries) {
            if (e.kind === "ca") {
                this.authorities[e.id] = new CertificateAuthority(
                    e.id,
                    {
                        commonName: e.instance.commonName,
                        generation: e.generation,
                        key: e.key,
                        validity: e.validity,
                        adopt: e.adopted && {
                            certPem: e.adopted.certPem,
                            keyPem: e.adopted.keyPem,
                            policy: { now, leafDays, caRenewalDays: e.validity.renewalDays },
                        },
                    },
                    child,
                );
            } else if (e.kind === "keyPair") {
                this.keyPairs[e.id] = new ServiceAccountKey(e.id, { key: e.key, generation: e.generation, adopted: e.adopted }, child);
            } else {
                this.leaves[e.id] = new LeafCertificate(
                    e.id,
                    {
                        issuer: this.authorities[e.issuer]!,
                        commonName: e.instance.commonName,
                        organization: e.instance.organization,
                        dnsNames: e.instance.dnsNames,
                        ipAddresses: e.instance.ipAddresses,
                        usages: [...e.instance.row.keyUsages, ...e.instance.row.extKeyUsages],
                        key: e.key,
                        validity: e.validity,
                        rotation: { type: e.rotation, generation: e.generation },
                        externalKeyPem: e.keyFrom ? this.keyPairs[e.keyFrom]!.privateKeyPem : undefined,
                        clockKeyPem: clockKey?.privateKeyPem,
                    },
                    child,
                );
            }
        }

        const server = args.apiServerEndpoint ?? `https://${args.inventory.fqdn}:443`;
        const clusterName = args.clusterName ?? "kubernetes";
        const entries = KUBECONFIG_CATALOG.map((k) =>
            pulumi.all([this.caBundle("kubernetes-ca"), this.leaves[k.user]!.certPem, this.leaves[k.user]!.keyPem]).apply(([ca, cert, key]) => [
                k.id,
                renderKubeconfig({ clusterName, server, userName: `${clusterName}-${k.id}`, ca: { pem: ca }, cert: { pem: cert }, key: { pem: key } }),
            ]),
        );
        this.kubeconfigs = pulumi.secret(pulumi.all(entries).apply((kv) => Object.fromEntries(kv) as Record<KubeconfigId, string>));
        this.registerOutputs({ kubeconfigs: this.kubeconfigs });
    }

    /**
     * The PEM bundle that trusts a CA: today its one active generation. Issue 7 adds the other
     * trusted generations here; every trust file and kubeconfig already reads it from this method.
     */
    caBundle(caId: string): pulumi.Output<string> {
        const ca = this.authorities[caId];
        if (!ca) throw new Error(`no CA ${caId} in this PKI (have ${Object.keys(this.authorities).join(", ")})`);
        return ca.certPem;
    }

    /** The files a node receives, with their contents (keys secret). */
    nodeFiles(nodeName: string): NodeFile[] {
        return this.resolved.entries.flatMap((e) =>
            e.instance.files
                .filter((f) => f.nodeNames.includes(nodeName))
                .map((f): NodeFile => {
                    const secret = f.content === "key";
                    let content: pulumi.Output<string>;
                    if (e.kind === "ca") content = f.content === "cert" ? this.caBundle(e.id) : this.authorities[e.id]!.keyPem;
                    else if (e.kind === "keyPair") content = f.content === "publicKey" ? this.keyPairs[e.id]!.publicKeyPem : this.keyPairs[e.id]!.privateKeyPem;
                    else content = f.content === "cert" ? this.leaves[e.id]!.certPem : this.leaves[e.id]!.keyPem;
                    return { path: f.path, instance: e.id, content: secret ? pulumi.secret(content) : content, secret };
                }),
        );
    }

    /**
     * aks-engine's `properties.certificateProfile` for apimodel.json (secret): aks-engine scale and
     * upgrade push these to nodes, so the apimodel must follow a rotation. No front-proxy fields:
     * aks-engine makes those on the masters.
     */
    certificateProfile(): pulumi.Output<Record<string, string | string[]>> {
        const cert = (id: string) => this.leaves[id]!.certPem;
        const key = (id: string) => this.leaves[id]!.keyPem;
        const peers = masters(this.resolved.inventory).map((m) => `etcd-peer-${m.index}`);
        const ca = this.authorities["kubernetes-ca"]!;
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

    /**
     * Everything index.ts exports: certificate facts (plain), kubeconfigs, trust bundles and the
     * apimodel certificate profile. Private keys appear only inside secret outputs.
     */
    stackOutputs(now: Date = new Date()) {
        return {
            certificates: this.report(now),
            trustBundles: pulumi.all(Object.fromEntries(Object.keys(this.authorities).map((id) => [id, this.caBundle(id)]))),
            kubeconfigs: this.kubeconfigs,
            certificateProfile: this.certificateProfile(),
        };
    }

    /** Per certificate: subject, issuer, SANs, validity, days left and renewal date; per key pair its fingerprint. No private key. */
    report(now: Date = new Date()): pulumi.Output<Record<string, CertificateReport | KeyPairReport>> {
        type Item = [string, CertificateReport | KeyPairReport];
        const items = this.resolved.entries.map((e): pulumi.Output<Item> => {
            if (e.kind === "keyPair") return this.keyPairs[e.id]!.publicKeyPem.apply((pem): Item => [e.id, keyPairReport(pem)]);
            const pem = e.kind === "ca" ? this.authorities[e.id]!.certPem : this.leaves[e.id]!.certPem;
            const renewal = e.kind === "ca" && e.adopted ? "manual" : "automatic";
            return pem.apply((p): Item => [e.id, certificateReport(p, e.validity.renewalDays, now, renewal)]);
        });
        return pulumi.all(items).apply((kv) => Object.fromEntries(kv));
    }
}
