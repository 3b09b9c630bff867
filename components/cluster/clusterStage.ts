// The cluster stage of one CA stage: what the cluster must do once the nodes hold the stage's files,
// through a Kubernetes provider of its own built from the stage's admin kubeconfig (its CA bundle,
// the admin client certificate), created only after the stage's node steps:
// 1. after a signing-key change, each legacy token secret's token is emptied (server-side apply),
//    so the tokens controller signs a new one with the active key (it fills only an empty token);
// 2. the workloads are rolled one after another (a pod-template annotation carrying the trust:
//    the provider waits for each rollout to be ready before the next starts, so at most one
//    workload is disrupted at a time, within what its PDBs allowed when the run was planned);
// 3. the cluster check on the first master (scripts/cluster-check.sh) holds kube-root-ca.crt,
//    the token secrets and the rolled workloads to the stage; the next CA stage waits for it.
// The patches are retained when deleted (the next run no longer declares them): deleting one must
// not take the annotation away and roll the workloads again.
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../nodeModel";
import { digestOf, NodeConnection, remoteStep } from "../rollout/remoteCommand";
import { stepInput } from "../rollout/remoteScript";
import { ClusterObjects, Workload } from "./objects";
import { ClusterActions, ClusterTrust, trustWords } from "./trust";

/** The pod-template annotation a roll sets: the trust the pods were started with. */
export const TRUST_ANNOTATION = "azs-cert-rotation/trust";
/** The server-side apply field manager of every patch. */
export const FIELD_MANAGER = "azs-cert-rotation";

export interface ClusterStageArgs {
    /** Suffix of its resources' names: the CA stage's label; none for the configured (last) stage. */
    label?: string;
    trust: ClusterTrust;
    actions: ClusterActions;
    objects: ClusterObjects;
    /** The stage's admin kubeconfig (secret). */
    kubeconfig: pulumi.Output<string>;
    /** The node steps it follows. */
    after: pulumi.Resource[];
    /** Where the check runs (the first master) and its parameters but the stage's own (CLUSTER_CHECK_PARAMS). */
    check: { platform: Platform; connection: NodeConnection; params: Record<string, string>; timeoutSeconds: number };
    /** Bound on one workload's rollout. */
    workloadTimeoutSeconds: number;
}

/** The workloads a template change rolls (not OnDelete, no partition). */
export const rolledWorkloads = (objects: ClusterObjects): Workload[] => objects.workloads.filter((w) => w.unavailableAtOnce !== undefined);

export class ClusterStage extends pulumi.ComponentResource {
    readonly provider: k8s.Provider;
    readonly check: command.remote.Command;
    /** Every resource of the stage (the cluster lock is released after them). */
    readonly resources: pulumi.Resource[] = [];

    constructor(name: string, args: ClusterStageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("azs-cert-rotation:cluster:ClusterStage", name, {}, opts);
        const suffix = args.label ? `-${args.label}` : "";
        const words = trustWords(args.trust);
        this.provider = new k8s.Provider(`cluster${suffix}`, { kubeconfig: args.kubeconfig, enableServerSideApply: true }, { parent: this, dependsOn: args.after });
        const timeout = `${args.workloadTimeoutSeconds}s`;
        const patchOpts = (dependsOn: pulumi.Resource[]): pulumi.CustomResourceOptions => ({
            parent: this,
            provider: this.provider,
            dependsOn,
            retainOnDelete: true,
            customTimeouts: { create: timeout, update: timeout },
        });
        const metadata = (namespace: string, objectName: string, annotations: Record<string, string> = {}) => ({
            name: objectName,
            namespace,
            annotations: { "pulumi.com/patchForce": "true", "pulumi.com/patchFieldManager": FIELD_MANAGER, ...annotations },
        });

        const tokenSecrets = args.actions.refreshTokens ? args.objects.tokenSecrets : [];
        const refreshed = tokenSecrets.map(
            (s) => new k8s.core.v1.SecretPatch(`${s.namespace}-${s.name}${suffix}`, { metadata: metadata(s.namespace, s.name, { "azs-cert-rotation/token-for": words }), data: { token: "" } }, patchOpts([])),
        );
        let previous: pulumi.Resource[] = refreshed;
        const workloads = args.actions.roll ? rolledWorkloads(args.objects) : [];
        const rolled = workloads.map((w) => {
            const patch = { metadata: metadata(w.namespace, w.name), spec: { template: { metadata: { annotations: { [TRUST_ANNOTATION]: words } } } } };
            const resourceName = `${w.namespace}-${w.name}${suffix}`;
            const r =
                w.kind === "Deployment"
                    ? new k8s.apps.v1.DeploymentPatch(resourceName, patch, patchOpts(previous))
                    : w.kind === "DaemonSet"
                      ? new k8s.apps.v1.DaemonSetPatch(resourceName, patch, patchOpts(previous))
                      : new k8s.apps.v1.StatefulSetPatch(resourceName, patch, patchOpts(previous));
            previous = [r];
            return r;
        });

        const stageParams = {
            token_secrets: args.objects.tokenSecrets.map((s) => `${s.namespace}/${s.name}`).join(" "),
            rolled_workloads: workloads.map((w) => `${w.kind}/${w.namespace}/${w.name}`).join(" "),
            trust_words: words,
        };
        const params = { ...args.check.params, ...stageParams };
        this.check = remoteStep(
            `cluster-check${suffix}`,
            {
                platform: args.check.platform,
                connection: args.check.connection,
                script: "clusterCheck",
                args: ["cluster-check"],
                digest: digestOf([pulumi.output(JSON.stringify(params))]),
                input: pulumi.output(stepInput(params, [])),
                after: [...args.after, this.provider, ...refreshed, ...previous],
                timeoutSeconds: args.check.timeoutSeconds,
            },
            this,
        );
        this.resources.push(this.provider, ...refreshed, ...rolled, this.check);
        this.registerOutputs({ trust: words });
    }
}
