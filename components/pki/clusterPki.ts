import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { CertInstance, KUBECONFIG_CATALOG, KubeconfigSpec, masters, PkiInventory } from "./catalog";
import { CertificateAuthority, PRIVATE_KEY_OUTPUTS, tlsKeyArgs } from "./certificateAuthority";
import { LeafCertificate } from "./leafCertificate";
import { certificateReport, CertificateReport, keyPairReport, KeyPairReport, renderKubeconfig } from "./report";
import { ResolvedEntry, ResolvedPki, resolvePki } from "./resolve";
import { resourceNames } from "./rotation";
import { ServiceAccountKey } from "./serviceAccountKey";
import { activeOf, trustedOf } from "./caPhases";
import { CaGenerations, CaId, PkiSettings } from "./settings";

export interface ClusterPkiArgs {
    settings: PkiSettings;
    inventory: PkiInventory;
    /** Cluster name in kubeconfigs (aks-engine: the DNS prefix). Default "kubernetes". */
    clusterName?: string;
    /** Server URL in the kubeconfig outputs. Default https://<fqdn>:443. */
    apiServerEndpoint?: string;
    /** The time adopted CAs are checked against (default: now). */
    now?: Date;
    /** The CA states this run goes through, in order (planCaStages); default: only the configured one. */
    caStages?: CaGenerations[];
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

/** PEM blocks one after the other, each ending in exactly one newline. */
const pemBundle = (pems: pulumi.Output<string>[]): pulumi.Output<string> => pulumi.all(pems).apply((texts) => texts.map((t) => `${t.trim()}\n`).join(""));

/**
 * The cluster's whole PKI, built from the catalog: the CAs, the service-account key pair and
 * every leaf, for one inventory. Resource names are the catalog instance ids (see rotation.ts).
 */
export class ClusterPki extends pulumi.ComponentResource {
    readonly resolved: ResolvedPki;
    /** Each CA's active generation (the one that signs the leaves). */
    readonly authorities: Record<string, CertificateAuthority> = {};
    /** Every generation of each CA that some stage of this run trusts. */
    readonly generations: Record<string, Map<number, CertificateAuthority>> = {};
    /** The CA states of this run, in order; the last is the configured one. */
    readonly stages: CaGenerations[];
    private readonly crossSigned: Record<string, Map<number, pulumi.Output<string>>> = {};
    private readonly server: string;
    private readonly clusterName: string;
    readonly leaves: Record<string, LeafCertificate> = {};
    readonly keyPairs: Record<string, ServiceAccountKey> = {};
    /** Secret: admin, kubelet, controller-manager and scheduler kubeconfigs (embedded certificates). */
    readonly kubeconfigs: pulumi.Output<Record<KubeconfigId, string>>;

    constructor(name: string, args: ClusterPkiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("azs-cert-rotation:pki:ClusterPki", name, {}, opts);
        this.stages = args.caStages ?? [args.settings.caGenerations];
        this.resolved = resolvePki(args.settings, args.inventory, this.stages);
        const now = args.now ?? new Date();
        const leafDays = args.settings.validity.leaf.days;
        const child = { parent: this };
        const needsClock = this.resolved.entries.some((e) => e.kind === "leaf" && !e.keyFrom);
        const clockKey = needsClock
            ? new tls.PrivateKey(resourceNames.clockKey, tlsKeyArgs({ algorithm: "ECDSA", rsaBits: 2048 }), { ...child, additionalSecretOutputs: PRIVATE_KEY_OUTPUTS })
            : undefined;

        for (const e of this.resolved.entries) {
            if (e.kind === "ca") {
                const generations = new Map<number, CertificateAuthority>();
                for (const g of e.generations) {
                    generations.set(
                        g.generation,
                        new CertificateAuthority(
                            g.name,
                            {
                                commonName: g.commonName,
                                caId: e.id,
                                generation: g.generation,
                                key: e.key,
                                validity: e.validity,
                                adopt: g.adopted && { certPem: g.adopted.certPem, keyPem: g.adopted.keyPem, policy: { now, leafDays, caRenewalDays: e.validity.renewalDays } },
                            },
                            child,
                        ),
                    );
                }
                const active = generations.get(e.generation)!;
                this.generations[e.id] = generations;
                this.authorities[e.id] = active;
                this.crossSigned[e.id] = new Map(e.crossSigners.map((g) => [g, active.crossSignedBy(generations.get(g)!, args.settings.validity.leaf)]));
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

        this.server = args.apiServerEndpoint ?? `https://${args.inventory.fqdn}:443`;
        this.clusterName = args.clusterName ?? "kubernetes";
        const entries = KUBECONFIG_CATALOG.map((k) => this.kubeconfig(k.id).apply((text) => [k.id, text]));
        this.kubeconfigs = pulumi.secret(pulumi.all(entries).apply((kv) => Object.fromEntries(kv) as Record<KubeconfigId, string>));
        this.registerOutputs({ kubeconfigs: this.kubeconfigs });
    }

    /** A kubeconfig as a stage of this run installs it (default: the last): the stage's CA bundle, the user's certificate. Secret. */
    kubeconfig(id: KubeconfigId, stageIndex = this.stages.length - 1): pulumi.Output<string> {
        const user = this.leaves[KUBECONFIG_CATALOG.find((k) => k.id === id)!.user]!;
        const userName = `${this.clusterName}-${id}`;
        return pulumi.secret(
            pulumi.all([this.caBundle("kubernetes-ca", stageIndex), user.certPem, user.keyPem]).apply(([ca, cert, key]) =>
                renderKubeconfig({ clusterName: this.clusterName, server: this.server, userName, ca: { pem: ca }, cert: { pem: cert }, key: { pem: key } }),
            ),
        );
    }

    private stage(index: number): CaGenerations {
        const stage = this.stages[index];
        if (!stage) throw new Error(`no CA stage ${index} (this run has ${this.stages.length})`);
        return stage;
    }

    /**
     * The PEM bundle that trusts a CA at a stage of this run (default: the last): every trusted
     * generation, the active one first. Every trust file and kubeconfig reads it from here.
     */
    caBundle(caId: string, stageIndex = this.stages.length - 1): pulumi.Output<string> {
        const generations = this.generations[caId];
        if (!generations) throw new Error(`no CA ${caId} in this PKI (have ${Object.keys(this.authorities).join(", ")})`);
        const pems = trustedOf(this.stage(stageIndex)[caId as CaId]!).map((g) => generations.get(g)!.certPem);
        return pemBundle(pems);
    }

    /**
     * Whether a stage installs leaves: only when every CA's active generation is the one that
     * signed them (a one-shot run's trust stage installs the bundles alone).
     */
    installsLeaves(stageIndex: number): boolean {
        const stage = this.stage(stageIndex);
        return this.resolved.entries.every((e) => e.kind !== "ca" || activeOf(stage[e.id]!) === e.generation);
    }

    /** A serving certificate as installed: the leaf, then its CA cross-signed by every older generation the stage still trusts. */
    private servingChain(leafId: string, caId: string, stageIndex: number): pulumi.Output<string> {
        const trusted = new Set(trustedOf(this.stage(stageIndex)[caId as CaId]!));
        const crosses = [...this.crossSigned[caId]!].filter(([g]) => trusted.has(g)).map(([, pem]) => pem);
        return pemBundle([this.leaves[leafId]!.certPem, ...crosses]);
    }

    /** The entries a stage installs, each with the files it installs (a trust-only stage: the CA certificates alone). */
    private entriesAt(stageIndex: number): { entry: ResolvedEntry; files: CertInstance["files"] }[] {
        const leaves = this.installsLeaves(stageIndex);
        return this.resolved.entries
            .filter((e) => leaves || e.kind === "ca")
            .map((entry) => ({ entry, files: entry.instance.files.filter((f) => leaves || f.content === "cert") }));
    }

    /** The certificate instances as a stage installs them, for the rollout plan. */
    instancesAt(stageIndex = this.stages.length - 1): CertInstance[] {
        return this.entriesAt(stageIndex).map(({ entry, files }) => ({ ...entry.instance, files }));
    }

    /** The files a node receives at a stage of this run (default: the last), with their contents (keys secret). */
    nodeFiles(nodeName: string, stageIndex = this.stages.length - 1): NodeFile[] {
        return this.entriesAt(stageIndex).flatMap(({ entry: e, files }) =>
            files
                .filter((f) => f.nodeNames.includes(nodeName))
                .map((f): NodeFile => {
                    const secret = f.content === "key";
                    let content: pulumi.Output<string>;
                    if (e.kind === "ca") content = f.content === "cert" ? this.caBundle(e.id, stageIndex) : this.authorities[e.id]!.keyPem;
                    else if (e.kind === "keyPair") content = f.content === "publicKey" ? this.keyPairs[e.id]!.publicKeyPem : this.keyPairs[e.id]!.privateKeyPem;
                    else if (f.content === "key") content = this.leaves[e.id]!.keyPem;
                    else content = e.instance.row.extKeyUsages.includes("serverAuth") ? this.servingChain(e.id, e.issuer, stageIndex) : this.leaves[e.id]!.certPem;
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
            /** What clients outside the cluster trust the apiserver with. */
            caBundle: this.caBundle("kubernetes-ca"),
            adminKubeconfig: this.kubeconfig("admin"),
            kubeconfigs: this.kubeconfigs,
            certificateProfile: this.certificateProfile(),
        };
    }

    /** Per certificate: subject, issuer, SANs, validity, days left and renewal date; per key pair its fingerprint. No private key. */
    report(now: Date = new Date()): pulumi.Output<Record<string, CertificateReport | KeyPairReport>> {
        type Item = [string, CertificateReport | KeyPairReport];
        const items = this.resolved.entries.flatMap((e): pulumi.Output<Item>[] => {
            if (e.kind === "keyPair") return [this.keyPairs[e.id]!.publicKeyPem.apply((pem): Item => [e.id, keyPairReport(pem)])];
            if (e.kind === "leaf") return [this.leaves[e.id]!.certPem.apply((p): Item => [e.id, certificateReport(p, e.validity.renewalDays, now, "automatic")])];
            return e.generations.map((g) =>
                this.generations[e.id]!.get(g.generation)!.certPem.apply((p): Item => [g.name, certificateReport(p, e.validity.renewalDays, now, g.adopted ? "manual" : "automatic")]),
            );
        });
        return pulumi.all(items).apply((kv) => Object.fromEntries(kv));
    }
}
