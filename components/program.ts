// The Pulumi program: stack config → inventory → PKI → rollout → alert rules (optional) → outputs.
// Config is validated first, so bad input stops `pulumi preview` before any resource is planned.
import * as pulumi from "@pulumi/pulumi";
import { profileWriteBack } from "./apimodel/profileWriteBack";
import { CONFIG_NAMESPACE, InventorySettings, readStackConfig } from "./config";
import { PkiSettings, SERVICE_ACCOUNT_ID } from "./pki/settings";
import { CLUSTER_PKI_NAME, ClusterPki, expectedNodeFiles, pkiInventoryFrom, stackOutputs } from "./pki";
import { NodeFilesOutput, parseNodeFilesOutput } from "./pki/stackOutputs";
import { generationsFromRecord, planCaStages, trustBundleFiles } from "./pki/caPhases";
import { logExpiringCertificates } from "./pki/expiryWarnings";
import { CertificateAlertRules, readRuleGroups } from "./monitoring/certificateAlertRules";
import { OVERRIDE_ENV, overrideRequested, Rollout, windowStatus } from "./rollout";
import { describeDrift, describeExpiring, DriftReading, readDrift, recordedRepairMarks, RepairMarks } from "./rollout/drift";
import { catalogTargets } from "../report/targets";
import { readClusterObjects } from "./cluster/listing";
import { budgetProblems, ClusterObjects } from "./cluster/objects";
import { clusterStagesOf, ClusterPlan } from "./cluster/trust";
import { pathOfFile } from "./rollout/stepParams";
import { masters } from "./pki/instances";

/**
 * What the last successful run left, from this stack's own outputs (a failed run keeps the
 * previous ones): `caGenerations`, the CA generations the cluster has now, so a phase counts as
 * done only once it finished on every node; `lockDigest`, the cluster lock's digest then, which
 * the maintenance-window guard compares this run's with; `nodeFiles`, what the nodes hold since,
 * and `repairMarks`, the drift repairs planned so far (drift.ts).
 */
async function deployedOutputs(): Promise<{ caGenerations: unknown; lockDigest?: string; nodeFiles?: NodeFilesOutput; repairMarks: RepairMarks }> {
    const self = new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`);
    const read = async (name: string): Promise<unknown> => {
        const details = await self.getOutputDetails(name);
        return details.value ?? details.secretValue;
    };
    const [caGenerations, lockDigest, nodeFiles, repairMarks] = await Promise.all([read("caGenerations"), read("lockDigest"), read("nodeFiles"), read("repairMarks")]);
    let recordedFiles: NodeFilesOutput | undefined;
    try {
        recordedFiles = parseNodeFilesOutput(nodeFiles);
    } catch (e) {
        pulumi.log.warn(`drift not checked: ${(e as Error).message}`);
    }
    return { caGenerations, ...(typeof lockDigest === "string" ? { lockDigest } : {}), ...(recordedFiles ? { nodeFiles: recordedFiles } : {}), repairMarks: recordedRepairMarks(repairMarks) };
}

/** What the nodes hold (drift.ts): against what the last run installed, and their expiry; read with the stack's SSH key. */
async function checkNodes(inventory: InventorySettings, settings: PkiSettings, recorded: NodeFilesOutput | undefined, sshPrivateKey: pulumi.Output<string>): Promise<DriftReading> {
    const key = await new Promise<string>((resolve) => sshPrivateKey.apply(resolve));
    const jumpbox = inventory.privateNetwork ? inventory.jumpbox : undefined;
    const pkiInventory = pkiInventoryFrom(inventory);
    return readDrift({
        nodes: inventory.nodes,
        ...(recorded ? { recorded } : {}),
        catalogTargets: (node) => catalogTargets(settings.catalog, pkiInventory, settings.sans, node),
        warnDays: settings.warnDays,
        user: inventory.adminUsername,
        sshPrivateKey: key,
        ...(jumpbox ? { jumpbox } : {}),
        now: new Date(),
    });
}

/**
 * The cluster stages of the run (cluster/trust.ts) and, when one acts, the objects it acts on,
 * listed through the first master before anything is planned. Refuses the run, before anything
 * changes, when a rollout would take more pods down than a PodDisruptionBudget allows now.
 */
async function planCluster(record: unknown, stages: ClusterPki["stages"], inventory: InventorySettings, pki: ClusterPki, namespaces: string[], sshPrivateKey: pulumi.Output<string>): Promise<ClusterPlan> {
    const perStage = clusterStagesOf(record, [...stages]);
    let objects: ClusterObjects = { workloads: [], budgets: [], tokenSecrets: [] };
    if (perStage.some((s) => s.actions.roll) && namespaces.length > 0) {
        const key = await new Promise<string>((resolve) => sshPrivateKey.apply(resolve));
        const master = masters(inventory)[0]!;
        const instances = pki.resolved.entries.map((e) => e.instance);
        objects = await readClusterObjects({
            master,
            files: { ca: pathOfFile(instances, "kubernetes-ca", "cert"), cert: pathOfFile(instances, "client", "cert"), key: pathOfFile(instances, "client", "key") },
            namespaces,
            user: inventory.adminUsername,
            sshPrivateKey: key,
            ...(inventory.privateNetwork && inventory.jumpbox ? { jumpbox: inventory.jumpbox } : {}),
        });
        const problems = budgetProblems(objects);
        if (problems.length > 0) throw new Error(`the cluster stage cannot roll the workloads without breaking a PodDisruptionBudget; nothing was changed:\n${problems.join("\n")}`);
        for (const w of objects.workloads.filter((x) => x.unavailableAtOnce === undefined)) pulumi.log.warn(`cluster stage: ${w.namespace}/${w.name} (${w.kind}) is not rolled: ${w.notRolled}; restart its pods by hand after each CA stage`);
    }
    return { stages: perStage, namespaces, objects };
}

export async function program(): Promise<Record<string, unknown>> {
    const { inventory, pki: settings, rollout: rolloutSettings, maintenanceWindow, apimodelWriteBack, prometheusRule } = readStackConfig(new pulumi.Config(CONFIG_NAMESPACE));
    const pkiInventory = pkiInventoryFrom(inventory);
    const deployed = await deployedOutputs();
    const now = new Date();
    const caPlan = planCaStages(deployed.caGenerations, settings.caGenerations, settings.caRotation, trustBundleFiles(settings.catalog), {
        now,
        afterHours: settings.serviceAccountRetireAfterHours,
    });
    const caChanges = caPlan.stageNames.some((s) => s !== "steady");
    (caChanges ? pulumi.log.warn : pulumi.log.info)(`CA and service-account key rotation (${settings.caRotation}):\n${caPlan.text.join("\n")}`);
    const pki = new ClusterPki(CLUSTER_PKI_NAME, {
        settings,
        inventory: pkiInventory,
        clusterName: inventory.clusterName,
        apiServerEndpoint: inventory.apiServerEndpoint,
        caStages: caPlan.stages,
        ...(generationsFromRecord(deployed.caGenerations, SERVICE_ACCOUNT_ID) ? {} : { unnumberedKeyGeneration: settings.rotation.serviceAccount }),
    });
    const outputs = stackOutputs(pki, now);
    const maintenance = { ...(maintenanceWindow ? { window: maintenanceWindow } : {}), ...(deployed.lockDigest ? { recordedLockDigest: deployed.lockDigest } : {}), override: overrideRequested(), now };
    // drift needs a record of what the nodes hold (none before the first up); expiry on the nodes does not
    const drift = rolloutSettings.enabled && rolloutSettings.driftCheck && rolloutSettings.sshPrivateKey ? await checkNodes(inventory, settings, deployed.nodeFiles, rolloutSettings.sshPrivateKey) : undefined;
    const cluster = rolloutSettings.enabled && rolloutSettings.sshPrivateKey ? await planCluster(deployed.caGenerations, pki.stages, inventory, pki, rolloutSettings.clusterNamespaces, rolloutSettings.sshPrivateKey) : undefined;
    const rollout = rolloutSettings.enabled && cluster
        ? new Rollout("rollout", {
              pki,
              inventory,
              settings: rolloutSettings,
              stageNames: caPlan.stageNames,
              lockHolder: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
              maintenance,
              drift: { drifted: drift?.drifted ?? [], recorded: deployed.repairMarks },
              cluster,
          })
        : undefined;
    if (rollout && drift) {
        // once the files this run installs are known (at a preview, unknown for the certificates it re-issues: their steps run anyway)
        rollout.confirmedRepairs.apply((confirmed) => {
            const found = describeDrift(drift, rollout.repairs, confirmed);
            if (found.length > 0) pulumi.log.warn(`drift: the nodes' files against what the last run installed:\n${found.join("\n")}`);
            else if (deployed.nodeFiles) pulumi.log.info(`drift: none; every node holds what the last run installed (${inventory.nodes.length} nodes read)`);
        });
        const expiring = describeExpiring(drift, settings.warnDays);
        if (expiring.length > 0) pulumi.log.warn(expiring.join("\n"));
    }
    if (rollout) {
        pulumi.log.info(`rollout plan (a step runs only when its node's files change):\n${rollout.planText.join("\n")}`);
        if (maintenanceWindow) pulumi.log.info(`${windowStatus(maintenanceWindow, now)}; outside it, pulumi up refuses to change the nodes (${OVERRIDE_ENV}=1 overrides)`);
    } else {
        pulumi.log.warn("rollout.enabled is false: certificates are planned and reported, nothing is installed on the nodes");
    }
    const alertRules = prometheusRule
        ? new CertificateAlertRules("certificate-alerts", { ...prometheusRule, kubeconfig: outputs.adminKubeconfig, groups: readRuleGroups(), after: rollout ? [rollout] : [] })
        : undefined;
    return {
        cluster: {
            name: inventory.clusterName,
            apiServerEndpoint: inventory.apiServerEndpoint,
            masters: inventory.nodes.filter((n) => n.role === "master").map((n) => n.name),
            agents: inventory.nodes.filter((n) => n.role === "agent").map((n) => n.name),
        },
        // Certificate facts and CA bundles are public; they inherit secrecy from the CA keys they
        // were computed with, which would hide every expiry date from `pulumi stack output`.
        certificates: pulumi.unsecret(outputs.certificates),
        // per node, per path, the fingerprints of the certificates the node should hold (npm run report compares them); no key
        nodeFiles: pulumi.unsecret(expectedNodeFiles(pki, inventory.adminUsername)),
        // what this run said about certificates less than pki.warnDays from expiry (awaited as an output, so the messages are logged)
        expiryWarnings: pulumi.unsecret(logExpiringCertificates(pki, settings.warnDays, now)),
        trustBundles: pulumi.unsecret(outputs.trustBundles),
        // for users and CI systems outside the cluster: what to trust the apiserver with, and the admin credentials
        caBundle: pulumi.unsecret(outputs.caBundle),
        adminKubeconfig: outputs.adminKubeconfig,
        // read back by the next run (deployedOutputs): which CA phase the cluster is in; it
        // resolves only after every node's steps succeeded, so a failed run leaves the old record
        caGenerations: rollout ? pulumi.unsecret(rollout.activity.apply(() => caPlan.record)) : caPlan.record,
        caRotationPlan: caPlan.text,
        kubeconfigs: outputs.kubeconfigs,
        certificateProfile: outputs.certificateProfile,
        rolloutPlan: rollout?.planText ?? [],
        // Step outcomes printed by the scripts hold no secret; they inherit secrecy from stdin.
        activity: rollout ? pulumi.unsecret(rollout.activity) : {},
        // the maintenance-window guard's decision (an override is recorded here), and what the next run's guard compares with
        maintenance: rollout?.maintenance ?? {},
        lockDigest: rollout?.lockDigest ?? deployed.lockDigest,
        // read back by the next run: per step, the drift repairs planned so far (recorded once every step succeeded)
        repairMarks: rollout ? pulumi.unsecret(pulumi.all([rollout.activity, rollout.confirmedRepairs]).apply(([, confirmed]) => confirmed.marks)) : deployed.repairMarks,
        // namespace/name of the PrometheusRule holding the certificate alert rules
        ...(alertRules ? { certificateAlertRules: alertRules.rule.metadata.apply((m) => `${m.namespace}/${m.name}`) } : {}),
        // written only once the rollout's activity resolves, i.e. every node step succeeded
        ...(apimodelWriteBack
            ? { apimodelWriteBack: profileWriteBack({ writeBack: apimodelWriteBack, caGenerations: caPlan.stages[caPlan.stages.length - 1]!, rolloutDone: rollout?.activity, profile: outputs.certificateProfile, now }) }
            : {}),
    };
}
