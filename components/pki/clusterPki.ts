// The cluster's PKI as Pulumi resources. What the nodes receive is made of them in nodeFiles.ts,
// the apimodel's certificate profile in certificateProfile.ts, the outputs in stackOutputs.ts.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { PkiInventory } from "./instances";
import { CertificateAuthority, PRIVATE_KEY_OUTPUTS, tlsKeyArgs } from "./certificateAuthority";
import { LeafCertificate } from "./leafCertificate";
import { resourceNames } from "./names";
import { KubeconfigId, kubeconfigs } from "./nodeFiles";
import { ResolvedPki, resolvePki } from "./resolve";
import { ServiceAccountKey } from "./serviceAccountKey";
import { CaGenerations, PkiSettings } from "./settings";

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
    /**
     * The key pair's generation that a version before phased key rotation kept under the
     * unnumbered resource name (the stack's record has no entry for the key yet): that
     * generation takes the resource over instead of being made anew.
     */
    unnumberedKeyGeneration?: number;
}

/**
 * The cluster's whole PKI, built from the catalog: the CAs, the service-account key pair and
 * every leaf, for one inventory. Resource names come from names.ts.
 */
export class ClusterPki extends pulumi.ComponentResource {
    readonly resolved: ResolvedPki;
    /** Each CA's active generation (the one that signs the leaves). */
    readonly authorities: Record<string, CertificateAuthority> = {};
    /** Every generation of each CA that some stage of this run trusts. */
    readonly generations: Record<string, Map<number, CertificateAuthority>> = {};
    /** The CA states of this run, in order; the last is the configured one. */
    readonly stages: CaGenerations[];
    /** Per CA, its active generation's certificate cross-signed by each older generation (by the signer's number). */
    readonly crossSigned: Record<string, Map<number, pulumi.Output<string>>> = {};
    /** The apiserver URL in kubeconfigs. */
    readonly server: string;
    /** The cluster's name in kubeconfigs. */
    readonly clusterName: string;
    readonly leaves: Record<string, LeafCertificate> = {};
    /** The key pair's active generation (the one that signs). */
    readonly keyPairs: Record<string, ServiceAccountKey> = {};
    /** Every generation of the key pair that some stage of this run trusts. */
    readonly keyGenerations: Record<string, Map<number, ServiceAccountKey>> = {};
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
                const generations = new Map<number, ServiceAccountKey>();
                for (const g of e.generations) {
                    const former = g.generation > 0 && g.generation === args.unnumberedKeyGeneration ? { aliases: [{ name: e.id }] } : {};
                    generations.set(g.generation, new ServiceAccountKey(g.name, { key: e.key, generation: g.generation, adopted: g.adopted }, { ...child, ...former }));
                }
                this.keyGenerations[e.id] = generations;
                this.keyPairs[e.id] = generations.get(e.generation)!;
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
        this.kubeconfigs = kubeconfigs(this);
        this.registerOutputs({ kubeconfigs: this.kubeconfigs });
    }
}
