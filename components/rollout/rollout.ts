// The rollout: the plan (plan.ts) turned into remote commands. Every node's preflight runs
// first; then each wave of steps starts when the previous wave succeeded, so a failed gate stops
// the run before any further node is touched, and a rerun resumes with the steps not yet done
// (completed steps are in the state with unchanged inputs, so they do not run again).
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { InventorySettings, RolloutSettings } from "../config";
import { ClusterPki, installsLeaves, instancesAt, KUBECONFIG_CATALOG, kubeconfig, nodeFiles } from "../pki";
import { ClusterLock } from "./clusterLock";
import { guardLockDigest, MaintenanceDecision, MaintenanceGuardArgs } from "./maintenanceGuard";
import { NodeCertificates, SourcedFile } from "./nodeCertificates";
import { confirmRepairs, ConfirmedRepairs, DriftedFile, planRepairs, RepairMarks, RepairPlan } from "./drift";
import { digestOf, NodeConnection } from "./remoteCommand";
import { describeRollout, ExtraFile, planRollout, RolloutStep } from "./plan";
import { STEP_KINDS, stepWorstCaseSeconds } from "./registry";
import { clusterCheckParams, ParamContext, preflightParams, stepParams } from "./stepParams";
import { ClusterStage, rolledWorkloads } from "../cluster/clusterStage";
import { describeObjects } from "../cluster/objects";
import { ClusterPlan } from "../cluster/trust";

export interface RolloutArgs {
    pki: ClusterPki;
    inventory: InventorySettings;
    settings: RolloutSettings;
    /**
     * One name per CA stage of the run (pki.stages), for the resources of every stage but the
     * last, which keeps the plain node names (so the next run finds its steps unchanged).
     */
    stageNames?: string[];
    /** Who takes the cluster's rotation lock: the stack (organization/project/stack). */
    lockHolder: string;
    /** The maintenance window and what the guard compares the lock's digest with (maintenanceGuard.ts). */
    maintenance: MaintenanceGuardArgs;
    /** Drift found on the nodes and the last run's repair marks (drift.ts); unset: no drift check. */
    drift?: { drifted: DriftedFile[]; recorded: RepairMarks };
    /** Per CA stage, what the cluster stage does after its node steps (cluster/trust.ts). */
    cluster: ClusterPlan;
}

export const ADMIN_KUBECONFIG_ID = "admin-kubeconfig";

export function adminKubeconfigFile(adminUser: string): ExtraFile {
    const spec = KUBECONFIG_CATALOG.find((k) => k.id === "admin")!;
    return {
        id: ADMIN_KUBECONFIG_ID,
        path: spec.path.replace("{adminUser}", adminUser),
        nodes: "masters",
        secret: true,
        from: [spec.user, "kubernetes-ca"],
        readers: spec.readers.map((service) => ({ service, reload: "dynamic" as const })),
    };
}

/**
 * The rollout of one run: per CA stage (one, or a one-shot rotation's trust / activate / retire),
 * a full pass over the nodes in dependency order; each stage starts when the one before finished.
 */
export class Rollout extends pulumi.ComponentResource {
    readonly steps: RolloutStep[] = [];
    /** The plan in words, in order. */
    readonly planText: string[] = [];
    /** Per stage, per node. */
    readonly nodes: Record<string, NodeCertificates>[] = [];
    /** The cluster lock's commands. */
    readonly lock: { take: command.remote.Command; release: command.remote.Command };
    /** Per node, each step's outcome (status, changed files, restarted services, timestamps). */
    readonly activity: pulumi.Output<Record<string, unknown[]>>;
    /** The maintenance-window guard's decision; rejects when it refused the run. */
    readonly maintenance: pulumi.Output<MaintenanceDecision>;
    /** The cluster lock's digest, once the lock was released after every step: the next run's guard compares its own with it. */
    readonly lockDigest: pulumi.Output<string>;
    /** Per CA stage, its cluster stage (undefined where the stage changes nothing the workloads see). */
    readonly clusterStages: (ClusterStage | undefined)[] = [];
    /** The steps that would repair drifted files (in the last CA stage), before confirmRepairs. */
    readonly repairs: RepairPlan;
    /** The repairs that run and every step's repair mark: the next run's record (the repairMarks output). */
    readonly confirmedRepairs: pulumi.Output<ConfirmedRepairs>;

    constructor(name: string, args: RolloutArgs, opts?: pulumi.ComponentResourceOptions) {
        super("azs-cert-rotation:rollout:Rollout", name, {}, opts);
        const { pki, inventory, settings } = args;
        const sshPrivateKey = settings.sshPrivateKey;
        if (!sshPrivateKey) throw new Error("Rollout needs settings.sshPrivateKey");

        // What every stage shares: the nodes' connections, the scripts' parameters, the bounds.
        const masters = inventory.nodes.filter((n) => n.role === "master");
        const shared: StageContext = {
            pki,
            inventory,
            settings,
            adminKubeconfig: adminKubeconfigFile(inventory.adminUsername),
            params: {
                instances: pki.resolved.entries.map((e) => e.instance),
                masters,
                etcdCaId: pki.resolved.settings.catalog.etcdCa === "separate" ? "etcd-ca" : "kubernetes-ca",
                healthTimeoutSeconds: settings.healthTimeoutSeconds,
                loadBalancerSettleSeconds: settings.loadBalancerSettleSeconds,
                loadBalancerProbeSources: settings.loadBalancerProbeSources,
                backupsKept: settings.backupsKept,
            },
            // the longest step's worst case: no command is cancelled in the middle of its rollback
            commandTimeoutSeconds: Math.max(
                ...STEP_KINDS.map((kind) => stepWorstCaseSeconds(kind, { healthTimeoutSeconds: settings.healthTimeoutSeconds, loadBalancerSettleSeconds: settings.loadBalancerSettleSeconds, members: masters.length })),
            ),
            connections: Object.fromEntries(
                inventory.nodes.map((node): [string, NodeConnection] => [
                    node.name,
                    {
                        host: node.ip,
                        port: 22,
                        user: inventory.adminUsername,
                        hostKey: node.hostKey,
                        privateKey: sshPrivateKey,
                        ...(inventory.privateNetwork && inventory.jumpbox ? { proxy: inventory.jumpbox } : {}),
                    },
                ]),
            ),
        };

        const stageCount = pki.stages.length;
        // each stage's plan and files, made once: the drift repairs and the lock need the last one's too
        const plans = pki.stages.map((_, k): StagePlan => ({ steps: stageSteps(shared, k), files: Object.fromEntries(inventory.nodes.map((node) => [node.name, stageFiles(shared, k, node)])) }));
        // drift is repaired by the steps of the configured (last) stage, whose files the nodes keep
        const lastStage = stageCount - 1;
        const last = plans[lastStage]!;
        this.repairs = planRepairs(last.steps, args.drift?.drifted ?? [], args.drift?.recorded ?? {});
        const desired = (node: string, path: string) => last.files[node]?.find((f) => f.path === path)?.content;
        this.confirmedRepairs = confirmRepairs(this.repairs, desired);
        // without marks or repairs the digests are the files' alone, as for a stack that never drifted
        const marked = Object.keys(this.repairs.kept).length > 0 || this.repairs.repairs.length > 0;
        const marks = marked ? this.confirmedRepairs.apply((c) => c.marks) : undefined;
        // taken before every preflight (every stage's), released after every step. It runs when the
        // files of the configured (last) stage change: they do in every run that changes a node, and
        // not in the run after a one-shot, whose intermediate stages are gone but whose files stay.
        const firstMaster = [...masters].sort((a, b) => (a.index ?? 0) - (b.index ?? 0))[0]!;
        // The maintenance-window guard sits on the lock's digest: a refused run fails the lock's
        // input, and every preflight and step waits for the lock, so no remote command runs.
        const everyFile = inventory.nodes.flatMap((node) => last.files[node.name]!.map((f) => f.content));
        const lockDigest = digestOf(everyFile, marks?.apply((m) => marksText(m)));
        const guard = guardLockDigest(lockDigest, args.maintenance);
        this.maintenance = guard.decision;
        const lock = new ClusterLock(
            "cluster-lock",
            { node: firstMaster.name, platform: firstMaster.platform, connection: shared.connections[firstMaster.name]!, holder: args.lockHolder, digest: guard.lockDigest, timeoutSeconds: 120 },
            { parent: this },
        );
        let previous: pulumi.Resource[] = [];
        const all: pulumi.Resource[] = [];
        for (let stage = 0; stage < stageCount; stage++) {
            const label = stage === stageCount - 1 ? undefined : (args.stageNames?.[stage] ?? `stage${stage + 1}`);
            const built = this.stage(shared, plans[stage]!, label, previous, lock.take, stage === lastStage ? marks : undefined);
            all.push(...Object.values(built.nodes).map((n) => n.preflight), ...built.commands);
            if (stageCount > 1) this.planText.push(`stage ${stage + 1} of ${stageCount}${label ? ` (${label})` : ""}:`);
            this.planText.push(...describeRollout(built.steps));
            this.steps.push(...built.steps);
            this.nodes.push(built.nodes);
            previous = built.commands.length > 0 ? built.commands : previous;
            const cluster = this.clusterStage(shared, args.cluster, stage, label, previous, firstMaster);
            this.clusterStages.push(cluster);
            if (cluster) {
                all.push(...cluster.resources);
                previous = [cluster.check];
            }
        }
        this.lock = { take: lock.take, release: lock.release(all) };
        this.lockDigest = pulumi.unsecret(pulumi.all([lockDigest, this.lock.release.stdout]).apply(([digest]) => digest));
        const perNode = inventory.nodes.map((n) => pulumi.all(this.nodes.map((stage) => stage[n.name]!.activity)).apply((lists) => [n.name, lists.flat()] as const));
        this.activity = pulumi.all(perNode).apply((kv) => Object.fromEntries(kv));
        this.registerOutputs({ plan: this.planText, activity: this.activity });
    }

    /** The cluster stage after a CA stage's node steps, when the stage changes what the workloads see; its plan in words either way. */
    private clusterStage(ctx: StageContext, plan: ClusterPlan, stage: number, label: string | undefined, after: pulumi.Resource[], master: InventorySettings["nodes"][number]): ClusterStage | undefined {
        const { trust, actions } = plan.stages[stage]!;
        if (!actions.roll) {
            this.planText.push("cluster stage: nothing to do (the CA bundle the workloads load and the signing key are unchanged)");
            return undefined;
        }
        const rolled = rolledWorkloads(plan.objects).length;
        this.planText.push(
            `cluster stage (${actions.reasons.join("; ")}): in ${plan.namespaces.join(", ") || "no namespace"}:`,
            ...describeObjects(plan.objects, actions.roll, actions.refreshTokens).map((line, i) => `  ${i + 1}. ${line}`),
            `  then check on ${master.name}: kube-root-ca.crt in every namespace holds the installed CA bundle; ${plan.objects.tokenSecrets.length} legacy token secret(s) hold it and a token of the active signing key that authenticates; ${rolled} rolled workload(s) ready`,
        );
        return new ClusterStage(
            label ? `cluster-${label}` : "cluster",
            {
                ...(label ? { label } : {}),
                trust,
                actions,
                objects: plan.objects,
                kubeconfig: kubeconfig(ctx.pki, "admin", stage),
                after,
                check: {
                    platform: master.platform,
                    connection: ctx.connections[master.name]!,
                    params: clusterCheckParams(ctx.params, master),
                    timeoutSeconds: 3 * ctx.settings.healthTimeoutSeconds + 120,
                },
                workloadTimeoutSeconds: ctx.settings.workloadTimeoutSeconds,
            },
            { parent: this },
        );
    }

    /** One pass over the nodes with the plan and files of one CA stage; its first wave waits for `previous` and every preflight. */
    private stage(ctx: StageContext, plan: StagePlan, label: string | undefined, previous: pulumi.Resource[], lock: pulumi.Resource, marks: pulumi.Output<RepairMarks> | undefined) {
        const { inventory } = ctx;
        const { steps } = plan;
        const nodes: Record<string, NodeCertificates> = {};
        for (const node of inventory.nodes) {
            const files = plan.files[node.name]!;
            const resourceName = label ? `${node.name}-${label}` : node.name;

            nodes[node.name] = new NodeCertificates(
                resourceName,
                {
                    node: node.name,
                    resourceName,
                    platform: node.platform,
                    connection: ctx.connections[node.name]!,
                    files,
                    preflightParams: preflightParams(ctx.params, node, steps.filter((s) => s.node === node.name).flatMap((s) => s.flagEdits)),
                    preflightAfter: [lock],
                    commandTimeoutSeconds: ctx.commandTimeoutSeconds,
                    ...(marks ? { repairMarks: marks.apply((m) => marksText(m, node.name)) } : {}),
                },
                { parent: this },
            );
        }

        const preflights = [...previous, ...Object.values(nodes).map((n) => n.preflight)];
        const byId = new Map<string, pulumi.Resource>();
        for (const step of steps) {
            const node = inventory.nodes.find((n) => n.name === step.node)!;
            const cmd = nodes[step.node]!.addStep({
                step,
                params: stepParams(ctx.params, node, step.kind, step.flagEdits),
                ...(marks ? { repairMark: marks.apply((m) => m[step.id] ?? 0) } : {}),
                // The first wave waits for every preflight (and the stage before); each later wave for the one before it.
                after: step.wave === 0 ? preflights : step.after.map((id) => byId.get(id)!),
            });
            byId.set(step.id, cmd);
        }
        for (const n of Object.values(nodes)) n.finish();
        return { steps, nodes, commands: [...byId.values()] };
    }
}

/** Repair marks in words (of one node's steps, or all); "" when there are none. */
function marksText(marks: RepairMarks, node?: string): string {
    return Object.entries(marks)
        .filter(([id]) => node === undefined || id.endsWith(`/${node}`))
        .map(([id, n]) => `${id} ${n}`)
        .join("\n");
}

/** The steps of one CA stage's pass over the nodes, in order. */
function stageSteps(ctx: StageContext, stageIndex: number): RolloutStep[] {
    const { pki, inventory, settings, adminKubeconfig } = ctx;
    return planRollout({
        instances: instancesAt(pki, stageIndex),
        extraFiles: installsLeaves(pki, stageIndex) ? [adminKubeconfig] : [],
        nodes: inventory.nodes,
        maxUnavailable: settings.maxUnavailable,
        maxUnavailablePerPool: settings.maxUnavailablePerPool,
    });
}

/** The files a node receives in a CA stage, with their contents (keys secret). */
function stageFiles(ctx: StageContext, stageIndex: number, node: InventorySettings["nodes"][number]): SourcedFile[] {
    const { pki, adminKubeconfig } = ctx;
    const files: SourcedFile[] = nodeFiles(pki, node.name, stageIndex).map((f) => ({ path: f.path, source: f.instance, secret: f.secret, content: f.content }));
    if (node.role === "master" && installsLeaves(pki, stageIndex)) {
        files.push({ path: adminKubeconfig.path, source: adminKubeconfig.id, secret: true, content: kubeconfig(pki, "admin", stageIndex) });
    }
    return files;
}

/** One CA stage's steps, and per node the files it receives. */
interface StagePlan {
    steps: RolloutStep[];
    files: Record<string, SourcedFile[]>;
}

/** What every stage of a rollout shares. */
interface StageContext {
    pki: ClusterPki;
    inventory: InventorySettings;
    settings: RolloutSettings;
    adminKubeconfig: ExtraFile;
    params: ParamContext;
    commandTimeoutSeconds: number;
    connections: Record<string, NodeConnection>;
}
