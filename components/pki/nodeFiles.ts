// What the nodes receive at each CA stage of a run, made of a ClusterPki's resources: the files
// per node, the trust bundles, serving chains and kubeconfigs they are made of.
import * as pulumi from "@pulumi/pulumi";
import { CertInstance } from "./instances";
import { KUBECONFIG_CATALOG, KubeconfigSpec } from "./kubeconfigs";
import { activeOf, trustedOf } from "./caPhases";
import type { ClusterPki } from "./clusterPki";
import { renderKubeconfig } from "./report";
import { ResolvedEntry } from "./resolve";
import { CaGenerations, CaId, PhasedId } from "./settings";

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

const lastStage = (pki: ClusterPki): number => pki.stages.length - 1;

function stageOf(pki: ClusterPki, index: number): CaGenerations {
    const stage = pki.stages[index];
    if (!stage) throw new Error(`no CA stage ${index} (this run has ${pki.stages.length})`);
    return stage;
}

/**
 * The PEM bundle that trusts a CA at a stage of the run (default: the last): every trusted
 * generation, the active one first. Every trust file and kubeconfig reads it from here.
 */
export function caBundle(pki: ClusterPki, caId: string, stageIndex = lastStage(pki)): pulumi.Output<string> {
    const generations = pki.generations[caId];
    if (!generations) throw new Error(`no CA ${caId} in this PKI (have ${Object.keys(pki.authorities).join(", ")})`);
    const pems = trustedOf(stageOf(pki, stageIndex)[caId as CaId]!).map((g) => generations.get(g)!.certPem);
    return pemBundle(pems);
}

/** The certificate of a CA's active generation at a stage of the run: the one whose key the stage installs. */
function activeCertificate(pki: ClusterPki, caId: string, stageIndex: number): pulumi.Output<string> {
    const active = activeOf(stageOf(pki, stageIndex)[caId as CaId]!);
    if (active === undefined) throw new Error(`${caId} has no active generation at stage ${stageIndex}`);
    return pki.generations[caId]!.get(active)!.certPem;
}

/** A kubeconfig as a stage of the run installs it (default: the last): the stage's CA bundle, the user's certificate. Secret. */
export function kubeconfig(pki: ClusterPki, id: KubeconfigId, stageIndex = lastStage(pki)): pulumi.Output<string> {
    const user = pki.leaves[KUBECONFIG_CATALOG.find((k) => k.id === id)!.user]!;
    const userName = `${pki.clusterName}-${id}`;
    return pulumi.secret(
        pulumi.all([caBundle(pki, "kubernetes-ca", stageIndex), user.certPem, user.keyPem]).apply(([ca, cert, key]) =>
            renderKubeconfig({ clusterName: pki.clusterName, server: pki.server, userName, ca: { pem: ca }, cert: { pem: cert }, key: { pem: key } }),
        ),
    );
}

/** Every kubeconfig of the catalog as the last stage installs it, by id. Secret. */
export function kubeconfigs(pki: ClusterPki): pulumi.Output<Record<KubeconfigId, string>> {
    const entries = KUBECONFIG_CATALOG.map((k) => kubeconfig(pki, k.id).apply((text) => [k.id, text]));
    return pulumi.secret(pulumi.all(entries).apply((kv) => Object.fromEntries(kv) as Record<KubeconfigId, string>));
}

/** The public keys of the key pair's generations a stage trusts, the active one first. */
function publicKeyBundle(pki: ClusterPki, id: string, stageIndex: number): pulumi.Output<string> {
    const generations = pki.keyGenerations[id]!;
    return pemBundle(trustedOf(stageOf(pki, stageIndex)[id as PhasedId]!).map((g) => generations.get(g)!.publicKeyPem));
}

/**
 * Whether a stage installs leaves and private keys: only when every CA's and the key pair's
 * active generation is the final one (a one-shot run's trust stage installs the bundles alone).
 */
export function installsLeaves(pki: ClusterPki, stageIndex: number): boolean {
    const stage = stageOf(pki, stageIndex);
    return pki.resolved.entries.every((e) => e.kind === "leaf" || activeOf(stage[e.id as PhasedId]!) === e.generation);
}

/** A serving certificate as installed: the leaf, then its CA cross-signed by every older generation the stage still trusts. */
function servingChain(pki: ClusterPki, leafId: string, caId: string, stageIndex: number): pulumi.Output<string> {
    const trusted = new Set(trustedOf(stageOf(pki, stageIndex)[caId as CaId]!));
    const crosses = [...pki.crossSigned[caId]!].filter(([g]) => trusted.has(g)).map(([, pem]) => pem);
    return pemBundle([pki.leaves[leafId]!.certPem, ...crosses]);
}

/**
 * The entries a stage installs, each with the files it installs (a trust-only stage: the CA
 * certificates and public keys alone, its keys unchanged, and so the active generations too).
 */
function entriesAt(pki: ClusterPki, stageIndex: number): { entry: ResolvedEntry; files: CertInstance["files"] }[] {
    const leaves = installsLeaves(pki, stageIndex);
    return pki.resolved.entries
        .filter((e) => leaves || e.kind !== "leaf")
        .map((entry) => ({ entry, files: entry.instance.files.filter((f) => leaves || f.content !== "key") }));
}

/** The certificate instances as a stage installs them (default: the last), for the rollout plan. */
export function instancesAt(pki: ClusterPki, stageIndex = lastStage(pki)): CertInstance[] {
    return entriesAt(pki, stageIndex).map(({ entry, files }) => ({ ...entry.instance, files }));
}

/** The files a node receives at a stage of the run (default: the last), with their contents (keys secret). */
export function nodeFiles(pki: ClusterPki, nodeName: string, stageIndex = lastStage(pki)): NodeFile[] {
    return entriesAt(pki, stageIndex).flatMap(({ entry: e, files }) =>
        files
            .filter((f) => f.nodeNames.includes(nodeName))
            .map((f): NodeFile => {
                const secret = f.content === "key";
                let content: pulumi.Output<string>;
                if (e.kind === "ca") content = f.content === "cert" ? caBundle(pki, e.id, stageIndex) : f.content === "activeCert" ? activeCertificate(pki, e.id, stageIndex) : pki.authorities[e.id]!.keyPem;
                else if (e.kind === "keyPair") content = f.content === "publicKey" ? publicKeyBundle(pki, e.id, stageIndex) : pki.keyPairs[e.id]!.privateKeyPem;
                else if (f.content === "key") content = pki.leaves[e.id]!.keyPem;
                else content = e.instance.row.extKeyUsages.includes("serverAuth") ? servingChain(pki, e.id, e.issuer, stageIndex) : pki.leaves[e.id]!.certPem;
                return { path: f.path, instance: e.id, content: secret ? pulumi.secret(content) : content, secret };
            }),
    );
}
