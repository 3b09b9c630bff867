// The rollout: the plan (plan.ts) turned into remote commands. Every node's preflight runs
// first; then each wave of steps starts when the previous wave succeeded, so a failed gate stops
// the run before any further node is touched, and a rerun resumes with the steps not yet done
// (completed steps are in the state with unchanged inputs, so they do not run again).
import * as pulumi from "@pulumi/pulumi";
import { InventorySettings, RolloutSettings } from "../config";
import { CERTS_DIR, ClusterPki, KUBECONFIG_CATALOG, Service } from "../pki";
import { NodeCertificates, NodeConnection, SourcedFile } from "./nodeCertificates";
import { describeRollout, ExtraFile, planRollout, RolloutStep, servicesOn, STEP_SERVICES } from "./plan";

export interface RolloutArgs {
    pki: ClusterPki;
    inventory: InventorySettings;
    settings: RolloutSettings;
}

/** Processes the scripts restart (systemd units or static pods); kubectl is a client, kube-proxy a DaemonSet. */
const UNITS = new Set<Service>(["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet"]);

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

export class Rollout extends pulumi.ComponentResource {
    readonly steps: RolloutStep[];
    /** The plan in words, in order. */
    readonly planText: string[];
    readonly nodes: Record<string, NodeCertificates> = {};
    /** Per node, each step's outcome (status, changed files, restarted services, timestamps). */
    readonly activity: pulumi.Output<Record<string, unknown[]>>;

    constructor(name: string, args: RolloutArgs, opts?: pulumi.ComponentResourceOptions) {
        super("azs-cert-rotation:rollout:Rollout", name, {}, opts);
        const { pki, inventory, settings } = args;
        if (!settings.sshPrivateKey) throw new Error("Rollout needs settings.sshPrivateKey");
        const adminKubeconfig = adminKubeconfigFile(inventory.adminUsername);
        this.steps = planRollout({
            instances: pki.resolved.entries.map((e) => e.instance),
            extraFiles: [adminKubeconfig],
            nodes: inventory.nodes,
            maxUnavailable: settings.maxUnavailable,
            masterKubelet: settings.masterKubelet,
        });
        this.planText = describeRollout(this.steps);

        const masters = inventory.nodes.filter((n) => n.role === "master");
        const etcdCaFile = pki.resolved.entries.find((e) => e.kind === "ca" && e.id === (pki.resolved.settings.catalog.etcdCa === "separate" ? "etcd-ca" : "kubernetes-ca"))!;
        const etcdCaPath = etcdCaFile.instance.files.find((f) => f.content === "cert")!.path;
        const healthTimeout = settings.healthTimeoutSeconds;
        // Worst case of one step: every wait of its gate, twice (after the change and after a rollback), plus restarts.
        const commandTimeoutSeconds = 2 * (healthTimeout * (masters.length + 2) + 2 * settings.loadBalancerSettleSeconds) + 300;

        for (const node of inventory.nodes) {
            const files: SourcedFile[] = pki.nodeFiles(node.name).map((f) => ({ path: f.path, source: f.instance, secret: f.secret, content: f.content }));
            if (node.role === "master") {
                files.push({ path: adminKubeconfig.path, source: adminKubeconfig.id, secret: true, content: pulumi.secret(pki.kubeconfigs.apply((k) => k.admin)) });
            }
            const connection: NodeConnection = {
                host: node.ip,
                port: 22,
                user: inventory.adminUsername,
                hostKey: node.hostKey,
                privateKey: settings.sshPrivateKey,
                ...(inventory.privateNetwork && inventory.jumpbox ? { proxy: inventory.jumpbox } : {}),
            };
            const services = [...servicesOn(node.role, settings.masterKubelet)].filter((s) => UNITS.has(s));
            this.nodes[node.name] = new NodeCertificates(node.name, { node: node.name, connection, files, services, commandTimeoutSeconds, loadBalancerProbeSources: settings.loadBalancerProbeSources }, { parent: this });
        }

        const preflights = Object.values(this.nodes).map((n) => n.preflight);
        const byId = new Map<string, pulumi.Resource>();
        for (const step of this.steps) {
            const node = inventory.nodes.find((n) => n.name === step.node)!;
            const params: Record<string, string> = {
                node_name: node.name,
                node_ip: node.ip,
                health_timeout: String(healthTimeout),
                lb_settle: String(settings.loadBalancerSettleSeconds),
                lb_probe_sources: settings.loadBalancerProbeSources.join(" "),
                etcd_members: masters.map((m) => m.ip).join(" "),
                etcd_ca: etcdCaPath,
                etcd_peer_cert: `${CERTS_DIR}/etcdpeer${node.index ?? 0}.crt`,
            };
            const cmd = this.nodes[step.node]!.addStep({
                step,
                params,
                services: STEP_SERVICES[step.kind].filter((s) => UNITS.has(s)),
                // The first wave waits for every preflight; each later wave for the one before it.
                after: step.wave === 0 ? preflights : step.after.map((id) => byId.get(id)!),
            });
            byId.set(step.id, cmd);
        }
        for (const n of Object.values(this.nodes)) n.finish();

        this.activity = pulumi.all(Object.fromEntries(Object.entries(this.nodes).map(([name, n]) => [name, n.activity])));
        this.registerOutputs({ plan: this.planText, activity: this.activity });
    }
}
