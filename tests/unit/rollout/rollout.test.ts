import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { InventorySettings, parseInventoryConfig, parseRolloutConfig } from "../../../components/config";
import { ClusterPki, pkiInventoryFrom } from "../../../components/pki";
import { CaPlan, caRecordOf, planCaStages } from "../../../components/pki/caPhases";
import { Rollout, RolloutArgs } from "../../../components/rollout";
import { DriftedFile } from "../../../components/rollout/drift";
import { certificateFingerprint } from "../../../components/pki/x509";
import { CERT_PEM, FAKE_SSH_KEY, promiseOf, Registration, runMocked } from "../support/mocks";
import { everything, settingsOf } from "../support/pki";
import { clusterStagesOf, clusterTrustOf, ClusterPlan } from "../../../components/cluster/trust";
import { parseClusterListing } from "../../../components/cluster/objects";

/** A cluster plan that acts in no stage. */
const idleCluster = (stages: ClusterPki["stages"]): ClusterPlan => ({
    stages: stages.map((s) => ({ trust: clusterTrustOf(s), actions: { roll: false, refreshTokens: false, reasons: [] } })),
    namespaces: ["kube-system"],
    objects: { workloads: [], budgets: [], tokenSecrets: [] },
});

const HOST_KEY = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC2Oi8O6g1lN7D1TsT9sC7SHasyXqOkbdXb4xnP6J7${n}n`;

function inventory(privateNetwork: boolean): InventorySettings {
    return parseInventoryConfig({
        clusterName: "azstb",
        fqdn: "azstb.local.cloudapp.azurestack.external",
        apiServerEndpoint: "https://10.240.255.15:443",
        privateNetwork,
        jumpbox: { host: "10.240.255.250", hostKey: HOST_KEY(9) },
        nodes: [
            ...[0, 1, 2].map((i) => ({ name: `k8s-master-31415926-${i}`, role: "master", ip: `10.240.255.${5 + i}`, hostKey: HOST_KEY(i) })),
            ...[0, 1, 2].map((i) => ({ name: `k8s-agentpool1-31415926-${i}`, role: "agent", ip: `10.240.255.${40 + i}`, hostKey: HOST_KEY(3 + i) })),
        ],
    });
}

async function runRollout(privateNetwork = false, pkiConfig: Record<string, unknown> = {}, ca?: CaPlan, drift?: RolloutArgs["drift"], cluster?: (stages: ClusterPki["stages"]) => ClusterPlan): Promise<{ rollout: Rollout; regs: Registration[] }> {
    const inv = inventory(privateNetwork);
    const settings = parseRolloutConfig({ loadBalancerSettleSeconds: 3 }, { value: FAKE_SSH_KEY, secret: true });
    const { result, registrations } = await runMocked(
        () => {
            const pki = new ClusterPki("pki", { settings: settingsOf(pkiConfig), inventory: pkiInventoryFrom(inv), clusterName: inv.clusterName, caStages: ca?.stages });
            return { pki, rollout: new Rollout("rollout", { pki, inventory: inv, settings, stageNames: ca?.stageNames, lockHolder: "organization/azs-cert-rotation/unit", maintenance: { override: false, now: new Date() }, ...(drift ? { drift } : {}), cluster: (cluster ?? idleCluster)(pki.stages) }) };
        },
        ({ pki, rollout }) => promiseOf(pulumi.all([everything(pki), ...rollout.nodes.flatMap((stage) => Object.values(stage)).flatMap((n) => [n.preflight.stdout, ...Object.values(n.steps).map((c) => c.stdout)]), rollout.lock.take.stdout, rollout.lock.release.stdout])),
    );
    return { rollout: result.rollout, regs: registrations };
}

describe("rollout components under mocks (3 masters + 3 agents)", function () {
    let regs: Registration[];
    let rollout: Rollout;
    const commands = () => regs.filter((r) => r.type === "command:remote:Command");
    const command = (name: string) => commands().find((r) => r.name === name)!;

    before(async () => {
        ({ rollout, regs } = await runRollout());
    });

    it("one NodeCertificates per VM under the Rollout, with a preflight and one command per step", () => {
        const nodes = regs.filter((r) => r.type === "azs-cert-rotation:rollout:NodeCertificates");
        assert.equal(nodes.length, 6);
        assert.ok(nodes.every((n) => n.parent.endsWith("azs-cert-rotation:rollout:Rollout::rollout")));
        assert.equal(commands().length, 2 + 6 + 3 * 4 + 3);
        assert.deepEqual(
            commands().filter((c) => c.name.startsWith("k8s-master-31415926-1")).map((c) => c.name),
            ["preflight", "etcd", "apiserver", "controlPlane", "kubelet"].map((s) => `k8s-master-31415926-1-${s}`),
        );
    });

    it("the cluster lock on the first master: taken before every preflight, released after every step", () => {
        const urn = (name: string) => regs.find((r) => r.name === name)!;
        const take = command("k8s-master-31415926-0-lock-take");
        const release = command("k8s-master-31415926-0-lock-release");
        assert.match(take.inputs.stdin as string, /\nparam lock_holder organization\/azs-cert-rotation\/unit\n/);
        assert.ok(take.parent.endsWith("azs-cert-rotation:rollout:ClusterLock::cluster-lock"));
        const takeUrn = urn("k8s-master-31415926-0-lock-take");
        for (const c of commands().filter((x) => x.name.endsWith("-preflight"))) {
            assert.ok(c.dependencies.some((d) => d.endsWith(`::${takeUrn.name}`)), `${c.name} waits for the lock`);
        }
        const steps = commands().filter((x) => !x.name.includes("-lock-"));
        for (const c of steps) assert.ok(release.dependencies.some((d) => d.endsWith(`::${c.name}`)), `the release waits for ${c.name}`);
        assert.equal(take.inputs.create!.toString().split(" ").pop(), release.inputs.create!.toString().split(" ").pop(), "both run when anything changes");
    });

    it("command lines carry only the step, the node and a digest; files and keys travel on a secret stdin", () => {
        for (const c of commands()) {
            assert.match(c.inputs.create as string, /^sudo -n bash -s -- (preflight|rotate \w+|lock (take|release)) k8s-[a-z0-9-]+ [0-9a-f]{16}$/, c.name);
            assert.ok(c.secretInputs.includes("stdin"), `${c.name}: stdin is secret`);
            assert.equal(c.inputs.logging, "stdoutAndStderr");
        }
        const stdin = command("k8s-master-31415926-0-apiserver").inputs.stdin as string;
        assert.match(stdin, /^# Shared functions of the remote steps/);
        assert.match(stdin, /\nrotate_main "\$\{@:2\}".*\n/);
        assert.match(stdin, /\nfile 0600 \/etc\/kubernetes\/certs\/apiserver\.key kube-apiserver,kube-controller-manager\n/);
        assert.match(stdin, /\nfile 0644 \/etc\/kubernetes\/certs\/apiserver\.crt -\n/);
        assert.match(stdin, /\nparam services kube-apiserver=staticPod\n/);
        assert.match(stdin, /\nparam lb_settle 3\n/);
        assert.match(stdin, /\nparam lb_probe_sources 168\.63\.129\.16\n/);
        assert.match(stdin, /\ndone\n$/);
        assert.doesNotMatch(stdin.split("rotate_main")[1]!, /PRIVATE KEY/, "file contents are base64");
    });

    it("connects as the admin user with the pinned host key and the secret SSH key", () => {
        const c = command("k8s-agentpool1-31415926-2-kubelet");
        const conn = c.inputs.connection as Record<string, unknown>;
        assert.equal(conn.host, "10.240.255.42");
        assert.equal(conn.user, "azureuser");
        assert.equal(conn.hostKey, HOST_KEY(5));
        assert.equal(conn.privateKey, FAKE_SSH_KEY);
        assert.equal(conn.proxy, undefined);
    });

    it("goes through the jumpbox on a private network", async () => {
        const { regs: privateRegs } = await runRollout(true);
        const conn = privateRegs.find((r) => r.name === "k8s-master-31415926-0-etcd")!.inputs.connection as Record<string, Record<string, unknown>>;
        assert.equal(conn.proxy!.host, "10.240.255.250");
        assert.equal(conn.proxy!.hostKey, HOST_KEY(9));
        assert.equal(conn.proxy!.privateKey, FAKE_SSH_KEY);
    });

    it("a one-shot CA rotation is three passes; the trust pass installs only the CA bundles, under names of its own", async () => {
        const pkiConfig = { caRotation: "oneShot", caGenerations: { kubernetesCa: { "1": "active" } } };
        const ca = planCaStages(caRecordOf({ "kubernetes-ca": [{ generation: 0, state: "active" }] }), settingsOf(pkiConfig).caGenerations, "oneShot");
        const { rollout: oneShot, regs: oneShotRegs } = await runRollout(false, pkiConfig, ca);
        const names = oneShotRegs.filter((r) => r.type === "command:remote:Command").map((r) => r.name);
        const master0 = names.filter((n) => n.startsWith("k8s-master-31415926-0")).sort();
        assert.deepEqual(master0, [
            "k8s-master-31415926-0-lock-release",
            "k8s-master-31415926-0-lock-take",
            ...["preflight", "etcd", "apiserver", "controlPlane", "kubelet"].map((s) => `k8s-master-31415926-0-trust-${s}`),
            ...["preflight", "etcd", "apiserver", "controlPlane", "kubelet"].map((s) => `k8s-master-31415926-0-activate-${s}`),
            ...["preflight", "etcd", "apiserver", "controlPlane", "kubelet"].map((s) => `k8s-master-31415926-0-${s}`),
        ].sort());
        const files = (name: string) => [...(oneShotRegs.find((r) => r.name === name)!.inputs.stdin as string).matchAll(/^file \d+ (\S+)/gm)].map((m) => m[1]);
        // AKS Engine's layout: etcd trusts ca.crt, so its step installs it; the apiserver step then only the front-proxy CA and the
        // service-account public keys (unchanged here), pointing its verifying flag at them
        assert.deepEqual(files("k8s-master-31415926-0-trust-etcd"), ["/etc/kubernetes/certs/ca.crt"]);
        assert.deepEqual(files("k8s-master-31415926-0-trust-apiserver"), ["/etc/kubernetes/certs/proxy-ca.crt", "/etc/kubernetes/certs/sa.pub"]);
        assert.match(
            oneShotRegs.find((r) => r.name === "k8s-master-31415926-0-trust-apiserver")!.inputs.stdin as string,
            /^param flag_edits kube-apiserver,\/etc\/kubernetes\/manifests\/kube-apiserver\.yaml,--service-account-key-file,\/etc\/kubernetes\/certs\/sa\.pub$/m,
        );
        // every pass points the controller-manager's signing flag at ca-signing.crt, installed with it (the trust pass keeps ca.key)
        assert.deepEqual(files("k8s-master-31415926-0-trust-controlPlane"), ["/etc/kubernetes/certs/ca-signing.crt"]);
        for (const name of ["trust-controlPlane", "activate-controlPlane", "controlPlane"].map((s) => `k8s-master-31415926-0-${s}`)) {
            assert.match(oneShotRegs.find((r) => r.name === name)!.inputs.stdin as string, /^param flag_edits kube-controller-manager,\/etc\/kubernetes\/manifests\/kube-controller-manager\.yaml,--cluster-signing-cert-file,\/etc\/kubernetes\/certs\/ca-signing\.crt$/m, name);
            assert.match(oneShotRegs.find((r) => r.name === name.replace(/controlPlane$/, "preflight"))!.inputs.stdin as string, /^param flag_edits .*kube-controller-manager,\/etc\/kubernetes\/manifests\/kube-controller-manager\.yaml,/m, "the preflight checks it");
            assert.match(oneShotRegs.find((r) => r.name === name)!.inputs.stdin as string, /^param cert_keys \/etc\/kubernetes\/certs\/ca-signing\.crt=\/etc\/kubernetes\/certs\/ca\.key \/etc\/kubernetes\/certs\/sa\.pub=\/etc\/kubernetes\/certs\/apiserver\.key$/m, "the only certificate whose key is named otherwise, and the verifying keys with the signing key");
        }
        assert.ok(files("k8s-master-31415926-0-activate-apiserver").includes("/etc/kubernetes/certs/apiserver.crt"));
        assert.deepEqual(oneShot.planText.filter((l) => l.startsWith("stage ")), ["stage 1 of 3 (trust):", "stage 2 of 3 (activate):", "stage 3 of 3:"]);
    });

    it("states the plan in order, then that the cluster stage has nothing to do", () => {
        assert.equal(rollout.planText.length, 16);
        assert.equal(rollout.planText[15], "cluster stage: nothing to do (the CA bundle the workloads load and the signing key are unchanged)");
        assert.match(rollout.planText[0]!, /^1\. k8s-master-31415926-0 etcd: first: refused, nothing changed, .*; install /);
        assert.match(rollout.planText[14]!, /^15\. k8s-agentpool1-31415926-2 kubelet: install ca\.crt, apiserver\.crt, client\.crt, client\.key; restart kubelet if [^;]*; kube-proxy if [^;]*; before the restart: its self-rotated client certificate \(kubelet-client-current\.pem\) is set aside/);
    });
});

describe("drift repairs in the rollout (components under mocks)", function () {
    const M1 = "k8s-master-31415926-1";
    const PEER = "/etc/kubernetes/certs/etcdpeer1.crt";
    const LOCK = ["k8s-master-31415926-0-lock-take", "k8s-master-31415926-0-lock-release"];
    const creates = (regs: Registration[]) => Object.fromEntries(regs.filter((r) => r.type === "command:remote:Command").map((r) => [r.name, r.inputs.create as string]));
    const changed = (a: Record<string, string>, b: Record<string, string>) => Object.keys(b).filter((name) => a[name] !== b[name]).sort();
    /** The node's etcd peer certificate holds another certificate than the record (a mock certificate's fingerprint is that of CERT_PEM). */
    const drifted = (observed: string[]): DriftedFile => ({ node: M1, paths: [PEER], problems: ["holds another certificate"], observed, contentOnly: true });
    const OTHER = ["AB:CD:EF"];
    let steady: Record<string, string>;
    before(async () => {
        steady = creates((await runRollout()).regs);
    });

    it("a drifted file changes the command of the step that installs it, its node's preflight and the lock's take and release: nothing else", async () => {
        const { rollout, regs } = await runRollout(false, {}, undefined, { drifted: [drifted(OTHER)], recorded: {} });
        assert.deepEqual(changed(steady, creates(regs)), [`${M1}-etcd`, `${M1}-preflight`, ...LOCK].sort());
        const confirmed = await promiseOf(rollout.confirmedRepairs);
        assert.deepEqual(confirmed.marks, { [`etcd/${M1}`]: 1 });
        assert.deepEqual(confirmed.repairs.map((r) => r.step), [`etcd/${M1}`]);
    });

    it("the run after a repair (its marks recorded, no drift) has the repair run's commands: nothing runs again; the same file drifting again is a new repair", async () => {
        const repair = await runRollout(false, {}, undefined, { drifted: [drifted(OTHER)], recorded: {} });
        const marks = (await promiseOf(repair.rollout.confirmedRepairs)).marks;
        const after = await runRollout(false, {}, undefined, { drifted: [], recorded: marks });
        assert.deepEqual(changed(creates(repair.regs), creates(after.regs)), []);
        const again = await runRollout(false, {}, undefined, { drifted: [drifted(OTHER)], recorded: marks });
        assert.deepEqual(changed(creates(after.regs), creates(again.regs)), [`${M1}-etcd`, `${M1}-preflight`, ...LOCK].sort());
        assert.deepEqual((await promiseOf(again.rollout.confirmedRepairs)).marks, { [`etcd/${M1}`]: 2 });
    });

    it("a file that differs from the record but holds what this run installs (an up that failed after its step) is no drift: nothing changes", async () => {
        const { rollout, regs } = await runRollout(false, {}, undefined, { drifted: [drifted([certificateFingerprint(CERT_PEM)])], recorded: {} });
        assert.deepEqual(changed(steady, creates(regs)), []);
        assert.deepEqual(await promiseOf(rollout.confirmedRepairs), { marks: {}, repairs: [] });
        // a key that does not match is drift whatever the certificate
        const broken = await runRollout(false, {}, undefined, { drifted: [{ ...drifted([certificateFingerprint(CERT_PEM)]), contentOnly: false }], recorded: {} });
        assert.deepEqual(changed(steady, creates(broken.regs)), [`${M1}-etcd`, `${M1}-preflight`, ...LOCK].sort());
    });

    it("no drift and no marks: the commands of a stack that never drifted", async () => {
        const { regs } = await runRollout(false, {}, undefined, { drifted: [], recorded: {} });
        assert.deepEqual(changed(steady, creates(regs)), []);
    });
});

describe("the cluster stage under mocks (a one-shot of the Kubernetes CA and the signing key)", function () {
    const record = caRecordOf({ "kubernetes-ca": [{ generation: 0, state: "active" }], "service-account": [{ generation: 0, state: "active" }] });
    const pkiConfig = { caRotation: "oneShot", caGenerations: { kubernetesCa: { "1": "active" } }, serviceAccountKeyGenerations: { "1": "active" }, serviceAccountRetireAfterHours: 0 };
    const objects = parseClusterListing(
        JSON.stringify({
            deployments: [{ metadata: { namespace: "kube-system", name: "coredns" }, spec: { replicas: 2, strategy: { rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, template: { metadata: { labels: { "k8s-app": "kube-dns" } } } } }],
            daemonsets: [
                { metadata: { namespace: "kube-system", name: "kube-proxy" }, spec: { template: { metadata: { labels: { "k8s-app": "kube-proxy" } } } }, status: { desiredNumberScheduled: 3 } },
                { metadata: { namespace: "kube-system", name: "by-hand" }, spec: { updateStrategy: { type: "OnDelete" }, template: { metadata: { labels: { app: "h" } } } }, status: { desiredNumberScheduled: 3 } },
            ],
            statefulsets: [{ metadata: { namespace: "kube-system", name: "store" }, spec: { replicas: 2, template: { metadata: { labels: { app: "store" } } } } }],
            pdbs: [{ metadata: { namespace: "kube-system", name: "coredns-pdb" }, spec: { selector: { matchLabels: { "k8s-app": "kube-dns" } } }, status: { disruptionsAllowed: 1 } }],
            secrets: [
                { metadata: { namespace: "kube-system", name: "coredns-token", annotations: { "kubernetes.io/service-account.name": "coredns" } } },
                { metadata: { namespace: "kube-system", name: "kube-proxy-token", annotations: { "kubernetes.io/service-account.name": "kube-proxy" } } },
            ],
        }),
    );
    let regs: Registration[];
    let rollout: Rollout;
    const of = (type: string) => regs.filter((r) => r.type === type);
    const named = (name: string) => regs.find((r) => r.name === name)!;
    const dependsOn = (r: Registration, name: string) => r.dependencies.some((u) => u.endsWith(`::${name}`));

    before(async () => {
        const ca = planCaStages(record, settingsOf(pkiConfig).caGenerations, "oneShot", {}, { now: new Date(), afterHours: 0 });
        ({ rollout, regs } = await runRollout(false, pkiConfig, ca, undefined, (stages) => ({ stages: clusterStagesOf(record, stages), namespaces: ["kube-system"], objects })));
    });

    it("one ClusterStage per CA stage, each with a Kubernetes provider of its own from that stage's admin kubeconfig", () => {
        assert.deepEqual(of("azs-cert-rotation:cluster:ClusterStage").map((r) => r.name), ["cluster-trust", "cluster-activate", "cluster"]);
        assert.deepEqual(of("pulumi:providers:kubernetes").map((r) => r.name), ["cluster-trust", "cluster-activate", "cluster"]);
        assert.deepEqual(rollout.clusterStages.map((s) => s !== undefined), [true, true, true]);
    });

    it("the provider waits for the stage's node steps (the last agent's kubelet); the next stage's first step waits for the stage's check", () => {
        const provider = of("pulumi:providers:kubernetes").find((r) => r.name === "cluster-trust")!;
        assert.ok(dependsOn(provider, "k8s-agentpool1-31415926-2-trust-kubelet"), provider.dependencies.join("\n"));
        assert.ok(dependsOn(named("k8s-master-31415926-0-activate-etcd"), "cluster-check-trust"));
        assert.ok(dependsOn(named("k8s-master-31415926-0-etcd"), "cluster-check-activate"));
    });

    it("rolls the workloads one after another by a pod-template annotation (server-side apply, forced, retained on delete); OnDelete is left alone", () => {
        const patches = regs.filter((r) => /Patch$/.test(r.type) && r.type.includes("apps/v1"));
        const trust = patches.filter((r) => r.name.endsWith("-trust"));
        assert.deepEqual(trust.map((r) => `${r.type} ${r.name}`), [
            "kubernetes:apps/v1:DeploymentPatch kube-system-coredns-trust",
            "kubernetes:apps/v1:DaemonSetPatch kube-system-kube-proxy-trust",
            "kubernetes:apps/v1:StatefulSetPatch kube-system-store-trust",
        ]);
        const template = (r: Registration) => ((r.inputs.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations);
        assert.deepEqual(trust.map(template), trust.map(() => ({ "azs-cert-rotation/trust": "kubernetes-ca 0+1; service-account 0" })));
        assert.deepEqual((trust[0]!.inputs.metadata as { annotations: Record<string, string> }).annotations, { "pulumi.com/patchForce": "true", "pulumi.com/patchFieldManager": "azs-cert-rotation" });
        assert.ok(dependsOn(trust[1]!, "kube-system-coredns-trust") && dependsOn(trust[2]!, "kube-system-kube-proxy-trust"), "one at a time");
        assert.ok(trust.every((r) => r.provider.includes("pulumi:providers:kubernetes::cluster-trust")));
        assert.equal(template(patches.find((r) => r.name === "kube-system-coredns")!)["azs-cert-rotation/trust"], "kubernetes-ca 1; service-account 1");
    });

    it("re-signs legacy tokens only where the signing key changed (activate): each token emptied for the tokens controller, before the workloads roll", () => {
        const secrets = of("kubernetes:core/v1:SecretPatch");
        assert.deepEqual(secrets.map((r) => r.name), ["kube-system-coredns-token-activate", "kube-system-kube-proxy-token-activate"]);
        assert.ok(secrets.every((r) => (r.inputs.data as Record<string, string>).token === ""));
        assert.ok(dependsOn(named("kube-system-coredns-activate"), "kube-system-coredns-token-activate"));
    });

    it("the check on the first master gets the stage's trust, the token secrets and the rolled workloads, with the signing key's path", () => {
        const stdin = named("cluster-check-activate").inputs.stdin as string;
        assert.match(stdin, /^param trust_words kubernetes-ca 0\+1; service-account 1$/m);
        assert.match(stdin, /^param token_secrets kube-system\/coredns-token kube-system\/kube-proxy-token$/m);
        assert.match(stdin, /^param rolled_workloads Deployment\/kube-system\/coredns DaemonSet\/kube-system\/kube-proxy StatefulSet\/kube-system\/store$/m);
        assert.match(stdin, /^param signing_key \/etc\/kubernetes\/certs\/apiserver\.key$/m);
        assert.match(stdin, /^param node_ip 10\.240\.255\.5$/m);
        assert.match(named("cluster-check-activate").inputs.create as string, /cluster-check [0-9a-f]{16}$/);
    });

    it("states the cluster stage in the plan, and a leaf-only run says it does nothing", async () => {
        assert.ok(rollout.planText.some((l) => l.startsWith("cluster stage (tokens are signed by service-account key generation 1 instead of 0): in kube-system:")), rollout.planText.join("\n"));
        assert.ok(rollout.planText.includes("  4. NOT rolled: kube-system/by-hand (DaemonSet), its updateStrategy is OnDelete: restart its pods by hand"), rollout.planText.join("\n"));
        const leaves = await runRollout();
        assert.ok(leaves.rollout.planText.includes("cluster stage: nothing to do (the CA bundle the workloads load and the signing key are unchanged)"));
        assert.equal(leaves.regs.filter((r) => r.type === "azs-cert-rotation:cluster:ClusterStage").length, 0);
    });
});
