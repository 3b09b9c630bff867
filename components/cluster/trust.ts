// What the workloads of the cluster see of a CA stage, and what the cluster stage does about it.
// Pods load the Kubernetes CA bundle (kube-root-ca.crt, a legacy token secret's ca.crt) and their
// token at start: after a stage that changes the bundle (a trust adds a generation, a retire drops
// one) they must restart to trust the apiserver's next serving certificate, and after a stage that
// changes the signing key (activate) legacy token secrets need a token signed by the new key before
// the old one is retired. A leaf-only rotation changes neither: the cluster stage does nothing.
import { activeOf, assumedDeployed, generationsFromRecord, trustedOf } from "../pki/caPhases";
import { CaGenerations, SERVICE_ACCOUNT_ID } from "../pki/settings";
import { ClusterObjects } from "./objects";

export interface ClusterTrust {
    /** Kubernetes CA generations in ca.crt, ascending. */
    bundle: number[];
    /** The service-account key generation that signs tokens. */
    signingKey: number | undefined;
}

export interface ClusterActions {
    /** Roll the workloads (Deployments, DaemonSets, StatefulSets of the configured namespaces). */
    roll: boolean;
    /** Have the legacy token secrets' tokens re-signed (by the key now active). */
    refreshTokens: boolean;
    /** Why, in words; empty when nothing is done. */
    reasons: string[];
}

/** What the cluster stages of a run act on and when. */
export interface ClusterPlan {
    /** Per CA stage of the run. */
    stages: { trust: ClusterTrust; actions: ClusterActions }[];
    namespaces: string[];
    /** Listed only when a stage acts (else empty). */
    objects: ClusterObjects;
}

export function clusterTrustOf(gens: CaGenerations): ClusterTrust {
    const ca = gens["kubernetes-ca"] ?? [];
    return { bundle: [...trustedOf(ca)].sort((a, b) => a - b), signingKey: activeOf(gens[SERVICE_ACCOUNT_ID] ?? []) };
}

/** The trust in words, as the rolled pod templates carry it (annotation azs-cert-rotation/trust). */
export const trustWords = (t: ClusterTrust): string => `kubernetes-ca ${t.bundle.join("+")}; service-account ${t.signingKey ?? "none"}`;

export function clusterActions(before: ClusterTrust, after: ClusterTrust): ClusterActions {
    const reasons: string[] = [];
    const bundleChanged = before.bundle.join() !== after.bundle.join();
    const keyChanged = before.signingKey !== after.signingKey;
    if (bundleChanged) reasons.push(`the Kubernetes CA bundle goes from generation(s) ${before.bundle.join(", ")} to ${after.bundle.join(", ")}`);
    if (keyChanged) reasons.push(`tokens are signed by service-account key generation ${after.signingKey ?? "none"} instead of ${before.signingKey ?? "none"}`);
    return { roll: bundleChanged || keyChanged, refreshTokens: keyChanged, reasons };
}

/**
 * Per CA stage of the run, what the cluster sees after it and the actions it takes. Before the
 * first stage is the recorded state; without a record (the stack's first run) the one the CA
 * phases assume (the adopted generations), so a takeover rolls nothing.
 */
export function clusterStagesOf(record: unknown, stages: CaGenerations[]): { trust: ClusterTrust; actions: ClusterActions }[] {
    const last = stages[stages.length - 1] ?? {};
    const deployed: CaGenerations = {};
    for (const id of ["kubernetes-ca", SERVICE_ACCOUNT_ID] as const) {
        const target = last[id];
        if (target) deployed[id] = generationsFromRecord(record, id) ?? assumedDeployed(target);
    }
    let before = clusterTrustOf(deployed);
    return stages.map((stage) => {
        const trust = clusterTrustOf(stage);
        const actions = clusterActions(before, trust);
        before = trust;
        return { trust, actions };
    });
}
