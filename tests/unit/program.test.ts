// The whole program under mocks: stack config in (as the engine passes it, Pulumi.yaml's defaults
// included), resources and stack outputs out. The StackReference to the stack's own outputs (the
// deployed CA generations) and the remote commands' stdout come from the mocks.
import { strict as assert } from "assert";
import { generateKeyPairSync, X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../../components/config";
import { readRuleGroups } from "../../components/monitoring/certificateAlertRules";
import { program } from "../../components/program";
import { apimodel, SUFFIX } from "./support/apimodel";
import { setWritable } from "./support/files";
import { FAKE_SSH_KEY, fakeKeyPem, promiseOf, Registration, runMocked } from "./support/mocks";
import { OpenSsl } from "./support/openssl";

const NS = "azs-cert-rotation";
const HOST_KEY = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC2Oi8O6g1lN7D1TsT9sC7SHasyXqOkbdXb4xnP6J7${n}n`;
const MASTERS = [0, 1, 2].map((i) => `k8s-master-31415926-${i}`);
const AGENTS = [0, 1, 2].map((i) => `k8s-agentpool1-31415926-${i}`);
const NODES = [
    ...MASTERS.map((name, i) => ({ name, role: "master", ip: `10.240.255.${5 + i}`, hostKey: HOST_KEY(i) })),
    ...AGENTS.map((name, i) => ({ name, role: "agent", ip: `10.240.255.${40 + i}`, hostKey: HOST_KEY(3 + i) })),
];

/** Pulumi.yaml's defaults: the engine passes them for the keys a stack leaves unset. */
function projectDefaults(): Record<string, unknown> {
    // js-yaml comes with @pulumi/pulumi (pinned in package-lock.json)
    const yaml = require("js-yaml") as { load(text: string): unknown };
    const project = yaml.load(fs.readFileSync(path.join(__dirname, "../../Pulumi.yaml"), "utf8")) as { config: Record<string, { default?: unknown }> };
    return Object.fromEntries(Object.entries(project.config).filter(([, decl]) => "default" in decl).map(([key, decl]) => [key, decl.default]));
}

/** The testbed's stack: 3 masters + 3 agents behind the load balancer at 10.240.255.15. */
const TESTBED_STACK: Record<string, unknown> = {
    clusterName: "azstb",
    fqdn: "azstb.local.cloudapp.azurestack.external",
    apiServerEndpoint: "https://10.240.255.15:443",
    nodes: NODES,
    sshPrivateKey: FAKE_SSH_KEY,
    // no node is read over SSH under mocks, for drift or the cluster stage's workloads (their own tests; the e2e tests read the testbed)
    rollout: { loadBalancerSettleSeconds: 3, driftCheck: false, clusterNamespaces: [] },
};

/** Sets the stack config (`azs-cert-rotation:<key>`, objects as JSON); `secrets` are the keys set with --secret. */
function setStackConfig(stack: Record<string, unknown>, secrets: string[] = ["sshPrivateKey"]): void {
    const values = { ...projectDefaults(), ...stack };
    pulumi.runtime.setAllConfig(
        Object.fromEntries(Object.entries(values).map(([k, v]) => [`${NS}:${k}`, typeof v === "string" ? v : JSON.stringify(v)])),
        secrets.map((k) => `${NS}:${k}`),
    );
}

type Outputs = Record<string, unknown>;

interface ProgramRun {
    outputs?: Outputs;
    error?: unknown;
    registrations: Registration[];
    /** Names of the StackReferences the program read. */
    stackReferences: string[];
    logs: { severity: "info" | "warn" | "error"; message: string }[];
}

/** This stack's last outputs besides `caGenerations`, and how the engine runs the program. */
interface RunOptions {
    /** The last successful run's `lockDigest` output. */
    lockDigest?: string;
    preview?: boolean;
    /** A remote command whose step fails (its resource is not created). */
    failingStep?: string;
    /** Certificates in the state (certPem by resource name), as a preview sees those it does not replace. */
    certificates?: Record<string, string>;
}

/**
 * Runs program() under mocks. `deployed` is this stack's current `caGenerations` output (undefined:
 * the stack has no outputs yet). Every remote command prints one JSON line naming itself. A failed
 * program or a stack output that rejects is the run's `error`.
 */
async function runProgram(deployed?: unknown, opts: RunOptions = {}): Promise<ProgramRun> {
    const stackReferences: string[] = [];
    const logs: ProgramRun["logs"] = [];
    const log = pulumi.log as { info: (m: string) => void; warn: (m: string) => void; error: (m: string) => void };
    const { info, warn, error: logError } = log;
    log.info = (message: string) => logs.push({ severity: "info", message });
    log.warn = (message: string) => logs.push({ severity: "warn", message });
    log.error = (message: string) => logs.push({ severity: "error", message });
    let error: unknown;
    try {
        const { result, registrations } = await runMocked(
            program,
            (outputs) => outputs.then((o) => promiseOf(pulumi.output(o))).catch((e) => (error = e)),
            {
                organization: "organization",
                preview: opts.preview ?? false,
                stateOf: (args) => {
                    if (args.type === "pulumi:pulumi:StackReference") {
                        stackReferences.push(args.name);
                        const outputs = { ...(deployed === undefined ? {} : { caGenerations: deployed }), ...(opts.lockDigest === undefined ? {} : { lockDigest: opts.lockDigest }) };
                        return { ...args.inputs, outputs, secretOutputNames: [] };
                    }
                    if (args.type === "command:remote:Command" && args.name === opts.failingStep) throw new Error(`${args.name}: gate failed, rolled back`);
                    if (args.type === "command:remote:Command") return { ...args.inputs, stdout: `${JSON.stringify({ command: args.name })}\n` };
                    const certPem = opts.certificates?.[args.name];
                    if (certPem !== undefined) return { ...args.inputs, certPem, readyForRenewal: false };
                    return undefined;
                },
            },
        );
        // a program that returned has outputs, though one of them may have rejected (the run's error)
        return { outputs: await result.catch(() => undefined), error, registrations, stackReferences, logs };
    } finally {
        log.info = info;
        log.warn = warn;
        log.error = logError;
    }
}

const TLS_TYPES = ["tls:index/privateKey:PrivateKey", "tls:index/selfSignedCert:SelfSignedCert", "tls:index/certRequest:CertRequest", "tls:index/locallySignedCert:LocallySignedCert"];
const tlsOf = (run: ProgramRun) => run.registrations.filter((r) => TLS_TYPES.includes(r.type));
const commandsOf = (run: ProgramRun) => run.registrations.filter((r) => r.type === "command:remote:Command");
const value = (o: unknown): Promise<unknown> => promiseOf(pulumi.output(o));

describe("program: stack config → resources and outputs (whole program under mocks, 3 masters + 3 agents)", function () {
    this.timeout(60_000);
    afterEach(() => pulumi.runtime.setAllConfig({}));

    describe("a first run (the stack has no outputs yet)", () => {
        let run: ProgramRun;
        let outputs: Outputs;
        before(async () => {
            setStackConfig(TESTBED_STACK);
            run = await runProgram();
            assert.equal(run.error, undefined, `program failed: ${run.error}`);
            outputs = run.outputs!;
        });

        it("reads its own stack's outputs through a StackReference", () => {
            assert.deepEqual(run.stackReferences, ["organization/azs-cert-rotation/unit"]);
        });

        it("registers the PKI's tls resources under the ClusterPki, named as in production", () => {
            const tls = tlsOf(run);
            const count = (type: string) => tls.filter((r) => r.type === type).length;
            // keys: shared clock, 2 CAs, the service-account key, 8 leaves (the apiserver signs the SA key)
            assert.deepEqual(TLS_TYPES.map(count), [12, 10, 9, 9]);
            const names = new Set(tls.map((r) => r.name));
            for (const name of ["renewal-clock-key", "kubernetes-ca-key", "kubernetes-ca-cert", "front-proxy-ca-cert", "service-account-key", "apiserver-csr", "apiserver-cert", "client-clock", "etcd-peer-2-key", "front-proxy-client-cert"]) {
                assert.ok(names.has(name), `${name} registered`);
            }
            assert.equal(names.has("apiserver-key"), false, "the apiserver certificate is issued over the service-account key");
            assert.ok(tls.every((r) => r.parent.includes("azs-cert-rotation:pki:ClusterPki")), "every tls resource is inside the ClusterPki");
        });

        it("registers one remote command per node preflight and per rollout step, under the node's NodeCertificates", () => {
            const commands = commandsOf(run);
            const expected = [
                `${MASTERS[0]}-lock-take`,
                `${MASTERS[0]}-lock-release`,
                ...[...MASTERS, ...AGENTS].map((n) => `${n}-preflight`),
                ...MASTERS.flatMap((n) => ["etcd", "apiserver", "controlPlane", "kubelet"].map((s) => `${n}-${s}`)),
                ...AGENTS.map((n) => `${n}-kubelet`),
            ];
            assert.deepEqual(commands.map((c) => c.name).sort(), expected.sort());
            for (const c of commands) {
                const node = NODES.find((n) => c.name.startsWith(`${n.name}-`))!;
                const lock = c.name.includes("-lock-");
                assert.ok(c.parent.endsWith(lock ? "azs-cert-rotation:rollout:ClusterLock::cluster-lock" : `azs-cert-rotation:rollout:NodeCertificates::${node.name}`), `${c.name} parent ${c.parent}`);
                assert.equal((c.inputs.connection as { host: string }).host, node.ip, c.name);
                assert.match(c.inputs.create as string, new RegExp(`^sudo -n bash -s -- (preflight|rotate \\w+|lock (take|release)) ${node.name} [0-9a-f]{16}$`), c.name);
            }
        });

        it("outputs the cluster's masters and agents, and a report of every certificate", async () => {
            assert.deepEqual(await value(outputs.cluster), { name: "azstb", apiServerEndpoint: "https://10.240.255.15:443", masters: MASTERS, agents: AGENTS });
            const certificates = (await value(outputs.certificates)) as Record<string, { kind: string }>;
            assert.deepEqual(Object.keys(certificates), ["kubernetes-ca", "front-proxy-ca", "service-account", "apiserver", "client", "kubectl-client", "etcd-server", "etcd-client", "etcd-peer-0", "etcd-peer-1", "etcd-peer-2", "front-proxy-client"]);
            assert.equal(certificates["service-account"]!.kind, "keyPair");
            assert.equal(certificates["apiserver"]!.kind, "certificate");
        });

        it("outputs nodeFiles: per node the certificate files it should hold (fingerprints, key paths), sa.pub's public keys and the admin kubeconfig on the masters", async () => {
            const nodeFiles = (await value(outputs.nodeFiles)) as Record<string, Record<string, { kind: string; source: string; sha256: string[]; key?: string }>>;
            assert.deepEqual(Object.keys(nodeFiles), [...MASTERS, ...AGENTS]);
            const C = "/etc/kubernetes/certs";
            assert.deepEqual(Object.keys(nodeFiles[MASTERS[1]!]!), [...["ca", "ca-signing", "proxy-ca", "sa.pub", "apiserver", "client", "kubectlClient", "etcdserver", "etcdclient", "etcdpeer1", "proxy"].map((f) => `${C}/${f.includes(".") ? f : `${f}.crt`}`), "/home/azureuser/.kube/config"]);
            assert.deepEqual(nodeFiles[AGENTS[0]!], {
                [`${C}/ca.crt`]: { kind: "certificate", source: "kubernetes-ca", sha256: nodeFiles[AGENTS[0]!]![`${C}/ca.crt`]!.sha256 },
                [`${C}/apiserver.crt`]: { kind: "certificate", source: "apiserver", sha256: nodeFiles[AGENTS[0]!]![`${C}/apiserver.crt`]!.sha256 },
                [`${C}/client.crt`]: { kind: "certificate", source: "client", sha256: nodeFiles[AGENTS[0]!]![`${C}/client.crt`]!.sha256, key: `${C}/client.key` },
            });
            assert.deepEqual(nodeFiles[MASTERS[0]!]!["/home/azureuser/.kube/config"], { kind: "kubeconfig", source: "kubectl-client", sha256: nodeFiles[MASTERS[0]!]![`${C}/kubectlClient.crt`]!.sha256 });
            assert.equal(nodeFiles[MASTERS[1]!]![`${C}/sa.pub`]!.kind, "publicKeys");
            // certificates: openssl's AB:CD:… form; public keys: the hex SHA-256 of the SubjectPublicKeyInfo
            for (const files of Object.values(nodeFiles)) for (const f of Object.values(files)) assert.match(f.sha256.join(" "), f.kind === "publicKeys" ? /^[0-9a-f]{64}$/ : /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
            assert.equal(await pulumi.isSecret(pulumi.output(outputs.nodeFiles)), false);
        });

        it("outputs the rollout plan in order: etcd → apiserver → controlPlane → kubelet, masters one at a time", async () => {
            const plan = (await value(outputs.rolloutPlan)) as string[];
            const steps = plan.filter((line) => /^\d+\. /.test(line)).map((line) => /^(\d+)\. (\S+) (\w+):/.exec(line)!.slice(1));
            assert.deepEqual(
                steps.map(([n, node, kind]) => `${n} ${node} ${kind}`),
                [
                    ...["etcd", "apiserver", "controlPlane", "kubelet"].flatMap((kind) => MASTERS.map((m) => `${m} ${kind}`)),
                    ...AGENTS.map((a) => `${a} kubelet`),
                ].map((s, i) => `${i + 1} ${s}`),
            );
            assert.deepEqual(run.logs.find((l) => l.message.startsWith("rollout plan"))?.message.split("\n").slice(1), plan, "the plan is logged as output");
        });

        it("outputs the CA plan (nothing to rotate) and the CA generations the run leaves", async () => {
            assert.deepEqual(await value(outputs.caRotationPlan), ["Kubernetes CA: no change (generation 0 active)", "front-proxy CA: no change (generation 0 active)", "service-account signing key: no change (generation 0 active)"]);
            assert.deepEqual(await value(outputs.caGenerations), { "kubernetes-ca": { "0": "active" }, "front-proxy-ca": { "0": "active" }, "service-account": { "0": "active" } });
            assert.ok(run.logs.some((l) => l.severity === "info" && l.message.startsWith("CA and service-account key rotation (phased):")));
        });

        it("outputs each node's step outcomes, in step order", async () => {
            const activity = (await value(outputs.activity)) as Record<string, unknown[]>;
            assert.deepEqual(Object.keys(activity), [...MASTERS, ...AGENTS]);
            assert.deepEqual(activity[MASTERS[1]!], ["etcd", "apiserver", "controlPlane", "kubelet"].map((s) => ({ command: `${MASTERS[1]}-${s}` })));
            assert.deepEqual(activity[AGENTS[0]!], [{ command: `${AGENTS[0]}-kubelet` }]);
        });

        it("keeps private keys in secret outputs only: adminKubeconfig, kubeconfigs, certificateProfile", async () => {
            const secret: string[] = [];
            for (const [key, v] of Object.entries(outputs)) {
                if (await pulumi.isSecret(pulumi.output(v))) secret.push(key);
                else assert.ok(!JSON.stringify(await value(v)).includes("PRIVATE KEY"), `${key} holds a private key`);
            }
            assert.deepEqual(secret.sort(), ["adminKubeconfig", "certificateProfile", "kubeconfigs"]);
            // the keys are there, where they belong
            const profile = (await value(outputs.certificateProfile)) as Record<string, string>;
            // the mock keys' PEM header, built at run time (no key text in the repository)
            const keyHeader = fakeKeyPem("").split("\n")[0]!;
            assert.ok(profile.caPrivateKey!.startsWith(`${keyHeader}\nmock kubernetes-ca-key `), profile.caPrivateKey);
            const admin = JSON.parse((await value(outputs.adminKubeconfig)) as string);
            assert.match(Buffer.from(admin.users[0].user["client-key-data"], "base64").toString(), /PRIVATE KEY-----\nmock kubectl-client-key /);
        });
    });

    describe("a later run reads the CA generations the last run left", () => {
        const ACTIVATE = { pki: { caGenerations: { kubernetesCa: { "0": "trusted", "1": "active" } } } };

        it("a stack from before phased key rotation (no record of the key) keeps its service-account key: the generation pki.rotation.serviceAccount names takes the unnumbered resource over", async () => {
            setStackConfig({ ...TESTBED_STACK, pki: { rotation: { serviceAccount: 2 } } });
            const keyOf = (run: ProgramRun) => run.registrations.find((r) => r.type === "azs-cert-rotation:pki:ServiceAccountKey")!;
            const older = await runProgram({ "kubernetes-ca": { "0": "active" }, "front-proxy-ca": { "0": "active" } });
            assert.equal(older.error, undefined, `program failed: ${older.error}`);
            assert.deepEqual([keyOf(older).name, keyOf(older).aliasNames], ["service-account-g2", ["service-account"]]);
            const recorded = await runProgram({ "kubernetes-ca": { "0": "active" }, "front-proxy-ca": { "0": "active" }, "service-account": { "2": "active" } });
            assert.equal(recorded.error, undefined, `program failed: ${recorded.error}`);
            assert.deepEqual([keyOf(recorded).name, keyOf(recorded).aliasNames], ["service-account-g2", []], "a recorded key is named by its generation alone");
        });

        it("activates a generation the deployed record trusts: new CA resources, cross-signed by the old, the plan and record follow", async () => {
            setStackConfig({ ...TESTBED_STACK, ...ACTIVATE });
            const run = await runProgram({ "kubernetes-ca": { "0": "active", "1": "trusted" }, "front-proxy-ca": { "0": "active" }, "service-account": { "0": "active" } });
            assert.equal(run.error, undefined, `program failed: ${run.error}`);
            const outputs = run.outputs!;
            const names = new Set(tlsOf(run).map((r) => r.name));
            for (const name of ["kubernetes-ca-key", "kubernetes-ca-cert", "kubernetes-ca-g1-key", "kubernetes-ca-g1-cert", "kubernetes-ca-g1-by-g0-csr", "kubernetes-ca-g1-by-g0-cert"]) {
                assert.ok(names.has(name), `${name} registered`);
            }
            const apiserverCert = tlsOf(run).find((r) => r.name === "apiserver-cert")!;
            assert.match(apiserverCert.inputs.caCertPem as string, /mock kubernetes-ca-g1-cert /, "leaves are signed by generation 1");
            const plan = (await value(outputs.caRotationPlan)) as string[];
            assert.match(plan[0]!, /^Kubernetes CA: ACTIVATE generation 1: /);
            assert.ok(plan.some((l) => l.startsWith("Kubernetes CA: next, once every client outside the cluster has the new CA bundle, retire generation 0")));
            assert.deepEqual(await value(outputs.caGenerations), { "kubernetes-ca": { "0": "trusted", "1": "active" }, "front-proxy-ca": { "0": "active" }, "service-account": { "0": "active" } });
            assert.ok(run.logs.some((l) => l.severity === "warn" && l.message.startsWith("CA and service-account key rotation (phased):")), "a CA change is logged as a warning");
        });

        it("the same config without a deployed record is refused (activating an untrusted generation), before any resource", async () => {
            setStackConfig({ ...TESTBED_STACK, ...ACTIVATE });
            const run = await runProgram();
            assert.match(String(run.error), /CA and key rotation refused, nothing was changed:\n {2}- pki\.caGenerations\.kubernetesCa: activating generation 1 before it is trusted everywhere is refused/);
            assert.deepEqual(run.registrations, []);
        });
    });

    it("bad config: a ConfigError naming every problem, before any resource is registered or the stack read", async () => {
        const nodes = NODES.map((n, i) => (i === 4 ? { ...n, ip: "10.240.255.300" } : n));
        setStackConfig({ ...TESTBED_STACK, nodes, rollout: { maxUnavailable: 0 } }, []);
        const run = await runProgram();
        assert.ok(run.error instanceof ConfigError, `expected a ConfigError, got ${run.error}`);
        const problems = (run.error as ConfigError).problems.join("\n");
        assert.match(problems, /nodes\[4\]\.ip/);
        assert.match(problems, /rollout\.maxUnavailable/);
        assert.match(problems, /sshPrivateKey: a private key must be stored as a secret/);
        assert.deepEqual(run.registrations, []);
        assert.deepEqual(run.stackReferences, []);
    });

    it("rollout.enabled false: the PKI and its outputs, no remote command, a warning", async () => {
        const { sshPrivateKey: _unused, ...withoutKey } = TESTBED_STACK;
        setStackConfig({ ...withoutKey, rollout: { enabled: false } }, []);
        const run = await runProgram();
        assert.equal(run.error, undefined, `program failed: ${run.error}`);
        assert.equal(tlsOf(run).length, 40);
        assert.deepEqual(commandsOf(run), []);
        assert.equal(run.registrations.some((r) => r.type.startsWith("azs-cert-rotation:rollout:")), false);
        assert.deepEqual(await value(run.outputs!.rolloutPlan), []);
        assert.deepEqual(await value(run.outputs!.activity), {});
        assert.deepEqual(await value(run.outputs!.caGenerations), { "kubernetes-ca": { "0": "active" }, "front-proxy-ca": { "0": "active" }, "service-account": { "0": "active" } });
        assert.ok(run.logs.some((l) => l.severity === "warn" && l.message.startsWith("rollout.enabled is false")));
    });

    describe("the maintenance window guard (windows set around the real clock, UTC)", () => {
        const EVERY_DAY = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        const clockIn = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString().slice(11, 16);
        /** Opened an hour ago, open for another hour. */
        const OPEN = { days: EVERY_DAY, start: clockIn(-60), duration: "2h" };
        /** Opens in three hours (today or tomorrow, every day), for an hour. */
        const CLOSED = { days: EVERY_DAY, start: clockIn(180), duration: "1h" };
        const lockTake = (run: ProgramRun) => commandsOf(run).find((c) => c.name.endsWith("-lock-take"));
        let steady: { lockDigest: string; lockCreate: unknown };
        before(async () => {
            setStackConfig(TESTBED_STACK);
            const first = await runProgram();
            assert.equal(first.error, undefined, `program failed: ${first.error}`);
            steady = { lockDigest: (await value(first.outputs!.lockDigest)) as string, lockCreate: lockTake(first)!.inputs.create };
            assert.match(steady.lockDigest, /^[0-9a-f]{16}$/);
        });
        afterEach(() => delete process.env.AZS_MAINTENANCE_OVERRIDE);

        it("an update outside the window that changes the nodes is refused, naming the next opening, and no remote command is registered", async () => {
            setStackConfig({ ...TESTBED_STACK, maintenanceWindow: CLOSED });
            const run = await runProgram(undefined, { lockDigest: "0123456789abcdef" });
            assert.ok(run.error instanceof Error, `expected a refusal, got ${run.error}`);
            const message = (run.error as Error).message;
            assert.match(message, /^maintenance window: this update would change the nodes \(cluster lock digest [0-9a-f]{16}; the last successful run recorded 0123456789abcdef\) and is refused: /);
            assert.match(message, new RegExp(`outside the maintenance window Mon, Tue, Wed, Thu, Fri, Sat, Sun ${CLOSED.start} for 1h \\(UTC\\); the next opens \\w{3} \\d{4}-\\d{2}-\\d{2} ${CLOSED.start} UTC`));
            assert.match(message, /set AZS_MAINTENANCE_OVERRIDE=1 for this run to override/);
            // every file (so the lock's digest) is known once the certificates are; the lock would register right after
            await value(run.outputs!.certificates);
            await new Promise((resolve) => setTimeout(resolve, 200));
            assert.deepEqual(commandsOf(run).map((c) => c.name), []);
        });

        it("a first update (no digest recorded) outside the window is refused too", async () => {
            setStackConfig({ ...TESTBED_STACK, maintenanceWindow: CLOSED });
            const run = await runProgram();
            assert.match(String(run.error), /cluster lock digest [0-9a-f]{16}; no earlier run recorded one\) and is refused/);
            assert.deepEqual(commandsOf(run), []);
        });

        it("the same update inside the window passes and records its decision", async () => {
            setStackConfig({ ...TESTBED_STACK, maintenanceWindow: OPEN });
            const run = await runProgram(undefined, { lockDigest: "0123456789abcdef" });
            assert.equal(run.error, undefined, `program failed: ${run.error}`);
            assert.equal(commandsOf(run).length, 2 + 6 + 15);
            const decision = (await value(run.outputs!.maintenance)) as { allowed: boolean; text: string };
            assert.equal(decision.allowed, true);
            assert.match(decision.text, /^the nodes change; now \(.*\) is inside the maintenance window /);
            assert.equal(await value(run.outputs!.lockDigest), steady.lockDigest);
        });

        it("a steady-state update outside the window (the recorded digest) passes, with the lock's command unchanged", async () => {
            setStackConfig({ ...TESTBED_STACK, maintenanceWindow: CLOSED });
            const run = await runProgram(undefined, { lockDigest: steady.lockDigest });
            assert.equal(run.error, undefined, `program failed: ${run.error}`);
            assert.deepEqual(lockTake(run)!.inputs.create, steady.lockCreate, "the lock's inputs are those of the last run: the engine runs nothing");
            assert.match(((await value(run.outputs!.maintenance)) as { text: string }).text, /^nothing changes on the nodes; now .* is outside the maintenance window/);
        });

        it("AZS_MAINTENANCE_OVERRIDE=1 lets the update run outside the window, logged as a warning and recorded in the maintenance output", async () => {
            setStackConfig({ ...TESTBED_STACK, maintenanceWindow: CLOSED });
            process.env.AZS_MAINTENANCE_OVERRIDE = "1";
            const run = await runProgram(undefined, { lockDigest: "0123456789abcdef" });
            assert.equal(run.error, undefined, `program failed: ${run.error}`);
            assert.ok(lockTake(run), "the lock is taken");
            const decision = (await value(run.outputs!.maintenance)) as { allowed: boolean; overridden?: string };
            assert.equal(decision.allowed, true);
            assert.match(decision.overridden ?? "", /^AZS_MAINTENANCE_OVERRIDE=1 at \d{4}-\d{2}-\d{2}T/);
            assert.ok(run.logs.some((l) => l.severity === "warn" && l.message.startsWith("maintenance window overridden: the nodes change outside the window")));
        });

        it("a preview outside the window is never refused: it says where now stands, the next opening, and that an up would be refused", async () => {
            setStackConfig({ ...TESTBED_STACK, maintenanceWindow: CLOSED });
            const run = await runProgram(undefined, { lockDigest: "0123456789abcdef", preview: true });
            assert.equal(run.error, undefined, `preview failed: ${run.error}`);
            assert.ok(lockTake(run), "the lock's command is planned");
            const status = run.logs.find((l) => l.message.startsWith("now ("));
            assert.match(status?.message ?? "", new RegExp(`is outside the maintenance window .*; the next opens \\w{3} \\d{4}-\\d{2}-\\d{2} ${CLOSED.start} UTC; outside it, pulumi up refuses`));
            assert.ok(run.logs.some((l) => l.severity === "warn" && l.message.startsWith("pulumi up now would be refused: maintenance window: this update would change the nodes")));
        });

        it("a preview inside the window says so", async () => {
            setStackConfig({ ...TESTBED_STACK, maintenanceWindow: OPEN });
            const run = await runProgram(undefined, { preview: true });
            assert.equal(run.error, undefined, `preview failed: ${run.error}`);
            assert.match(run.logs.find((l) => l.message.startsWith("now ("))?.message ?? "", /is inside the maintenance window .*, opened /);
        });

        it("a bad window is a ConfigError naming the key, before any resource", async () => {
            setStackConfig({ ...TESTBED_STACK, maintenanceWindow: { days: ["Sat"], start: "22:00", duration: "6h", timeZone: "Europe/Berlln" } });
            const run = await runProgram();
            assert.ok(run.error instanceof ConfigError, `expected a ConfigError, got ${run.error}`);
            assert.deepEqual((run.error as ConfigError).problems, ['maintenanceWindow.timeZone: must be an IANA time zone name such as "Europe/Berlin" or "UTC", got "Europe/Berlln"']);
            assert.deepEqual(run.registrations, []);
        });
    });

    describe("expiry warnings: certificates less than pki.warnDays from expiry, listed at preview from the state and the adopted CAs", () => {
        const ssl = new OpenSsl();
        after(() => ssl.remove());
        const notAfter = (pem: string): string => new Date(new X509Certificate(pem).validTo).toISOString();

        it("a leaf 40 days from expiry is listed with its nodes and date while not yet renewed; one 70 days away is not", async () => {
            const ca = ssl.ca();
            const [in40, in70] = [40, 70].map((days) => ssl.leaf(ca, { subj: `/CN=in-${days}-days`, days, ext: ["basicConstraints=critical,CA:FALSE"] }));
            setStackConfig(TESTBED_STACK);
            const run = await runProgram(undefined, { preview: true, certificates: { "etcd-server-cert": in40!.cert, "apiserver-cert": in70!.cert } });
            assert.equal(run.error, undefined, `program failed: ${run.error}`);
            const warnings = run.logs.filter((l) => l.message.startsWith("certificates expiring within pki.warnDays (60 days)"));
            assert.equal(warnings.length, 1, "one message per run");
            const lines = warnings[0]!.message.split("\n").slice(1);
            assert.equal(lines.length, 1, warnings[0]!.message);
            const renewalDate = new Date(Date.parse(notAfter(in40!.cert)) - 30 * 86_400_000).toISOString().slice(0, 10);
            assert.equal(
                lines[0]!.replace(/daysLeft 39|daysLeft 40/, "daysLeft N"),
                `  - etcd-server (on ${MASTERS.join(", ")}): notAfter ${notAfter(in40!.cert)}, daysLeft N; the first pulumi up from ${renewalDate} (its renewal date) re-issues it and installs it on its nodes`,
            );
            assert.equal(warnings[0]!.severity, "warn");
            assert.deepEqual(run.logs.filter((l) => l.severity === "error"), []);
            assert.deepEqual(await value(run.outputs!.expiryWarnings), { warning: warnings[0]!.message });
        });

        it("an adopted CA 50 days from expiry is listed with what to do: the program never renews it", async () => {
            const ca = ssl.ca({ cn: "ca", days: 50, key: "rsa2048" });
            setStackConfig(
                { ...TESTBED_STACK, kubernetesCaCertificate: ca.cert, kubernetesCaPrivateKey: ca.key, pki: { validity: { leafDays: 30, leafRenewalDays: 10, caRenewalDays: 30 } } },
                ["sshPrivateKey", "kubernetesCaPrivateKey"],
            );
            const run = await runProgram(undefined, { preview: true });
            assert.equal(run.error, undefined, `program failed: ${run.error}`);
            const warning = run.logs.find((l) => l.severity === "warn" && l.message.startsWith("certificates expiring within pki.warnDays (60 days)"));
            assert.equal(
                warning?.message.split("\n")[1]?.replace(/daysLeft 4[89]/, "daysLeft N"),
                `  - kubernetes-ca (on every node): notAfter ${notAfter(ca.cert)}, daysLeft N; adopted, so never renewed by this program: rotate it in phases, ` +
                    'pki.caGenerations.kubernetesCa: { "0": active, "1": trusted } then activate and retire (README "Rotating a CA without downtime"; pki.caRotation: immediate if it already expired)',
            );
        });

        it("pki.warnDays not more than the leaf renewal lead: a ConfigError before any resource", async () => {
            setStackConfig({ ...TESTBED_STACK, pki: { warnDays: 30 } });
            const run = await runProgram();
            assert.ok(run.error instanceof ConfigError, `expected a ConfigError, got ${run.error}`);
            assert.deepEqual((run.error as ConfigError).problems, ["pki.warnDays (30) must be more than pki.validity.leafRenewalDays (30), so that a leaf is listed before its renewal is planned"]);
            assert.deepEqual(run.registrations, []);
        });
    });

    describe("apimodelWriteBack: the certificateProfile written into apimodel.json once every node step succeeded", () => {
        /** AKS Engine's certificateProfile (vlabs CertificateProfile): every field this program issues. */
        const PROFILE_FIELDS = [
            "caCertificate", "caPrivateKey", "apiServerCertificate", "apiServerPrivateKey", "clientCertificate", "clientPrivateKey", "kubeConfigCertificate", "kubeConfigPrivateKey",
            "etcdServerCertificate", "etcdServerPrivateKey", "etcdClientCertificate", "etcdClientPrivateKey", "etcdPeerCertificates", "etcdPeerPrivateKeys",
        ];
        const DEPLOYED = { "kubernetes-ca": { "0": "active" }, "front-proxy-ca": { "0": "active" } };
        const ssl = new OpenSsl();
        let model: Record<string, unknown>;
        let dir: string;
        let file: string;
        let original: string;
        /** The cluster's front-proxy CA, as discovery adopts it from the masters (the apimodel does not hold it). */
        let proxyCaAdopted: Record<string, string>;
        before(() => {
            const ca = ssl.ca({ cn: "ca", key: "rsa2048" });
            const proxyCa = ssl.ca({ cn: "proxyClientCA", key: "rsa2048" });
            proxyCaAdopted = { frontProxyCaCertificate: proxyCa.cert, frontProxyCaPrivateKey: proxyCa.key };
            const saKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
            // the leaves AKS Engine issued: certificates of the old CA, keys only the file knows
            const old = (name: string) => ssl.leaf(ca, { subj: `/CN=old-${name}`, days: 365, ext: ["basicConstraints=critical,CA:FALSE"] });
            const [apiServer, client, kubeConfig, etcdServer, etcdClient, ...peers] = ["apiserver", "client", "kubectl", "etcd-server", "etcd-client", "peer-0", "peer-1", "peer-2"].map(old);
            model = apimodel(
                { masters: 3 },
                {
                    caCertificate: ca.cert, caPrivateKey: ca.key, apiServerCertificate: apiServer!.cert, apiServerPrivateKey: saKey, clientCertificate: client!.cert, clientPrivateKey: client!.key,
                    kubeConfigCertificate: kubeConfig!.cert, kubeConfigPrivateKey: kubeConfig!.key, etcdServerCertificate: etcdServer!.cert, etcdServerPrivateKey: etcdServer!.key,
                    etcdClientCertificate: etcdClient!.cert, etcdClientPrivateKey: etcdClient!.key, etcdPeerCertificates: peers.map((p) => p.cert), etcdPeerPrivateKeys: peers.map((p) => p.key),
                },
            );
            original = `${JSON.stringify(model, null, 2)}\n`;
        });
        after(() => ssl.remove());
        beforeEach(() => {
            dir = fs.mkdtempSync(path.join(ssl.dir, "_output-"));
            file = path.join(dir, "apimodel.json");
            fs.writeFileSync(file, original, { mode: 0o644 });
            fs.writeFileSync(path.join(dir, "azuredeploy.json"), JSON.stringify({ parameters: { nameSuffix: { type: "string", defaultValue: SUFFIX } } }));
        });

        /** The testbed's stack over the apimodel (names, addresses and the CA come from the file), with write-back unless told. */
        function setApiModelStack(extra: Record<string, unknown> = {}): void {
            const { clusterName: _name, fqdn: _fqdn, ...typed } = TESTBED_STACK;
            setStackConfig({ ...typed, apimodelPath: file, apimodelWriteBack: true, ...proxyCaAdopted, ...extra }, ["sshPrivateKey", "frontProxyCaPrivateKey"]);
        }
        const untouched = (): void => {
            assert.equal(fs.readFileSync(file, "utf8"), original, "the file is untouched");
            assert.deepEqual(fs.readdirSync(dir).sort(), ["apimodel.json", "azuredeploy.json"], "no backup, no temporary file");
        };
        const withoutProfile = (m: Record<string, unknown>): unknown => ({ ...m, properties: { ...(m.properties as object), certificateProfile: undefined } });

        it("writes the stack's certificateProfile (CA, service-account key, every leaf), leaves every other field identical, backs up the old file (0600) and replaces it atomically (0600)", async () => {
            setApiModelStack();
            const inode = fs.statSync(file).ino;
            const run = await runProgram(DEPLOYED);
            assert.equal(run.error, undefined, `program failed: ${run.error}`);
            const status = (await value(run.outputs!.apimodelWriteBack)) as string;
            const backup = /^apimodelWriteBack: wrote the new certificateProfile into (\S+) \(the previous file is (\S+)\)$/.exec(status);
            assert.ok(backup, status);
            assert.equal(backup[1], file);
            assert.match(backup[2]!, new RegExp(`^${file.replace(/[.]/g, "\\.")}\\.\\d{8}T\\d{9}Z\\.bak$`));
            assert.deepEqual(fs.readdirSync(dir).sort(), ["apimodel.json", path.basename(backup[2]!), "azuredeploy.json"], "no temporary file left");
            assert.equal(fs.readFileSync(backup[2]!, "utf8"), original, "the backup holds the old file");
            assert.equal(fs.statSync(backup[2]!).mode & 0o777, 0o600);
            assert.equal(fs.statSync(file).mode & 0o777, 0o600);
            assert.notEqual(fs.statSync(file).ino, inode, "renamed over the old file");

            const written = JSON.parse(fs.readFileSync(file, "utf8"));
            const profile = (await value(run.outputs!.certificateProfile)) as Record<string, unknown>;
            assert.deepEqual(written.properties.certificateProfile, profile, "the stack's certificateProfile output");
            assert.deepEqual(Object.keys(written.properties.certificateProfile), PROFILE_FIELDS);
            const before = (model.properties as { certificateProfile: Record<string, unknown> }).certificateProfile;
            assert.equal(written.properties.certificateProfile.caCertificate, before.caCertificate, "the adopted CA stays");
            assert.equal(written.properties.certificateProfile.apiServerPrivateKey, before.apiServerPrivateKey, "the service-account key stays");
            for (const field of PROFILE_FIELDS.filter((f) => !["caCertificate", "caPrivateKey", "apiServerPrivateKey"].includes(f))) {
                assert.notDeepEqual(written.properties.certificateProfile[field], before[field], `${field} is this run's`);
            }
            assert.deepEqual(withoutProfile(written), withoutProfile(model), "every other field identical");
            assert.equal(await pulumi.isSecret(pulumi.output(run.outputs!.apimodelWriteBack)), false);
            assert.ok(!run.logs.some((l) => l.message.includes("PRIVATE KEY")), "no key in the log");
            assert.ok(run.logs.some((l) => l.severity === "info" && l.message === status));

            // the next up with the same certificates writes nothing
            const again = await runProgram(DEPLOYED);
            assert.match((await value(again.outputs!.apimodelWriteBack)) as string, /holds this certificateProfile already; not written$/);
            assert.equal(fs.readdirSync(dir).length, 3, "no second backup");
        });

        it("a node step that fails: nothing is written", async () => {
            setApiModelStack();
            const run = await runProgram(DEPLOYED, { failingStep: `${AGENTS[2]}-kubelet` });
            assert.match(String(run.error), /gate failed, rolled back/);
            untouched();
        });

        it("mid-CA-rotation (trust, activate): refused, the file untouched, a warning saying why and when; the retire phase's up writes it", async () => {
            for (const [phase, generations, deployed] of [
                ["trust", { "0": "active", "1": "trusted" }, { "0": "active" }],
                ["activate", { "0": "trusted", "1": "active" }, { "0": "active", "1": "trusted" }],
            ] as const) {
                setApiModelStack({ pki: { caGenerations: { kubernetesCa: generations } } });
                const run = await runProgram({ ...DEPLOYED, "kubernetes-ca": deployed });
                assert.equal(run.error, undefined, `${phase}: program failed: ${run.error}`);
                const [active, trusted] = phase === "trust" ? [0, 1] : [1, 0];
                const warning = run.logs.find((l) => l.severity === "warn" && l.message.startsWith("apimodelWriteBack:"));
                assert.equal(
                    warning?.message.replace(/ \(Kubernetes CA: next, .*\); until then/, " (NEXT); until then"),
                    `apimodelWriteBack: refused, ${file} left untouched: the Kubernetes CA is mid-rotation (generation ${active} active, ${trusted} trusted too) ` +
                        "and AKS Engine's apimodel holds one CA (certificateProfile.caCertificate), so aks-engine scale or upgrade would give new nodes one generation alone. " +
                        "The profile is written back at the end of the up that runs the retire phase, once every node step succeeded (NEXT); until then do not run aks-engine scale or upgrade",
                    phase,
                );
                assert.equal(await value(run.outputs!.apimodelWriteBack), warning!.message);
                untouched();
            }
            setApiModelStack({ pki: { caGenerations: { kubernetesCa: { "0": "retired", "1": "active" } } } });
            const retire = await runProgram({ ...DEPLOYED, "kubernetes-ca": { "0": "trusted", "1": "active" } });
            assert.equal(retire.error, undefined, `retire: program failed: ${retire.error}`);
            assert.match((await value(retire.outputs!.apimodelWriteBack)) as string, /^apimodelWriteBack: wrote the new certificateProfile into /);
            assert.match(JSON.parse(fs.readFileSync(file, "utf8")).properties.certificateProfile.caCertificate, /mock kubernetes-ca-g1-cert /, "generation 1 written");
        });

        it("mid-key-rotation: refused while two service-account keys verify (the apimodel holds one apiServerPrivateKey)", async () => {
            setApiModelStack({ pki: { serviceAccountKeyGenerations: { "0": "active", "1": "trusted" } } });
            const run = await runProgram({ ...DEPLOYED, "service-account": { "0": "active" } });
            assert.equal(run.error, undefined, `program failed: ${run.error}`);
            assert.match(
                (await value(run.outputs!.apimodelWriteBack)) as string,
                /^apimodelWriteBack: refused, \S+ left untouched: the service-account signing key is mid-rotation \(generation 0 active, 1 trusted too\) and AKS Engine's apimodel holds one service-account key \(certificateProfile\.apiServerPrivateKey\)/,
            );
            untouched();
        });

        it("a preview writes nothing and says the up will write back", async () => {
            setApiModelStack();
            const run = await runProgram(DEPLOYED, { preview: true });
            assert.equal(run.error, undefined, `preview failed: ${run.error}`);
            const plan = `apimodelWriteBack: pulumi up will write the new certificateProfile into ${file} once every node step succeeded (a 0600 backup beside it first; nothing when it holds that profile already); this preview writes nothing`;
            assert.ok(run.logs.some((l) => l.severity === "info" && l.message === plan), "the preview says it");
            assert.equal(await value(run.outputs!.apimodelWriteBack), plan);
            untouched();
        });

        it("rollout.enabled false: not written, with a warning", async () => {
            const { sshPrivateKey: _unused, clusterName: _name, fqdn: _fqdn, ...typed } = TESTBED_STACK;
            setStackConfig({ ...typed, apimodelPath: file, apimodelWriteBack: true, ...proxyCaAdopted, rollout: { enabled: false } }, ["frontProxyCaPrivateKey"]);
            const run = await runProgram(DEPLOYED);
            assert.equal(run.error, undefined, `program failed: ${run.error}`);
            assert.ok(run.logs.some((l) => l.severity === "warn" && /^apimodelWriteBack: not written back, .* rollout\.enabled is false/.test(l.message)));
            untouched();
        });

        it("without apimodelPath: a ConfigError naming both keys, before any resource", async () => {
            setStackConfig({ ...TESTBED_STACK, apimodelWriteBack: true });
            const run = await runProgram();
            assert.ok(run.error instanceof ConfigError, `expected a ConfigError, got ${run.error}`);
            assert.deepEqual((run.error as ConfigError).problems, [
                "apimodelWriteBack: true needs apimodelPath, the apimodel.json to write the certificateProfile into; set apimodelPath or set apimodelWriteBack to false",
            ]);
            assert.deepEqual(run.registrations, []);
        });

        it("a file or directory the program cannot write: a ConfigError naming both keys, before any resource", async function () {
            try {
                setWritable(file, false);
            } catch {
                this.skip(); // this file system has no immutable attribute: nothing stops root from writing
            }
            for (const [target, what] of [
                [file, `the file ${file}`],
                [dir, `its directory (the backup and the temporary file are written beside it) ${dir}`],
            ] as const) {
                if (target === dir) {
                    setWritable(file, true);
                    setWritable(dir, false);
                }
                try {
                    setApiModelStack();
                    const run = await runProgram(DEPLOYED);
                    assert.ok(run.error instanceof ConfigError, `expected a ConfigError, got ${run.error}`);
                    const problems = (run.error as ConfigError).problems;
                    assert.equal(problems.length, 1);
                    assert.match(problems[0]!, new RegExp(`^apimodelWriteBack: the certificateProfile cannot be written back into apimodelPath ${file}: `));
                    assert.ok(problems[0]!.includes(`: ${what} is not writable (E`), problems[0]);
                    assert.deepEqual(run.registrations, []);
                } finally {
                    setWritable(target, true);
                }
            }
        });
    });

    describe("monitoring.prometheusRule: the certificate alert rules as a PrometheusRule, through a provider of the admin kubeconfig's", () => {
        const PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule";
        const KUBERNETES_PROVIDER = "pulumi:providers:kubernetes";

        it("off by default: no Kubernetes resource or provider, no output", async () => {
            setStackConfig(TESTBED_STACK);
            const run = await runProgram();
            assert.equal(run.error, undefined, `program failed: ${run.error}`);
            assert.deepEqual(
                run.registrations.filter((r) => r.type.startsWith("kubernetes:") || r.type === KUBERNETES_PROVIDER || r.type.startsWith("azs-cert-rotation:monitoring:")),
                [],
            );
            assert.equal("certificateAlertRules" in run.outputs!, false);
        });

        it("on: one PrometheusRule in monitoring with the rules file's groups and the configured labels, through its own provider of the admin kubeconfig, after every node step", async () => {
            setStackConfig({ ...TESTBED_STACK, monitoring: { prometheusRule: true, labels: { release: "kube-prometheus-stack" } } });
            const run = await runProgram();
            assert.equal(run.error, undefined, `program failed: ${run.error}`);
            const rules = run.registrations.filter((r) => r.type === PROMETHEUS_RULE);
            assert.equal(rules.length, 1);
            const rule = rules[0]!;
            assert.deepEqual(rule.inputs.metadata, {
                name: "azs-cert-rotation-certificate-alerts",
                namespace: "monitoring",
                labels: { "app.kubernetes.io/managed-by": "azs-cert-rotation", release: "kube-prometheus-stack" },
            });
            assert.deepEqual(rule.inputs.spec, { groups: readRuleGroups() });
            assert.match(rule.parent, /::azs-cert-rotation:monitoring:CertificateAlertRules::certificate-alerts$/);

            const providers = run.registrations.filter((r) => r.type === KUBERNETES_PROVIDER);
            assert.equal(providers.length, 1, "one explicit provider, no default one");
            assert.ok(rule.provider.includes(`$${KUBERNETES_PROVIDER}::${providers[0]!.name}::`), `the rule's provider ${rule.provider}`);
            assert.equal(providers[0]!.inputs.kubeconfig, await value(run.outputs!.adminKubeconfig), "the admin kubeconfig: trust bundle, apiServerEndpoint, admin client certificate");
            assert.deepEqual(providers[0]!.secretInputs, ["kubeconfig"]);

            const waitsFor = (name: string) => rule.dependencies.some((urn) => urn.endsWith(`::${name}`));
            const steps = commandsOf(run).map((c) => c.name);
            assert.ok(steps.length > 0);
            assert.deepEqual(steps.filter((name) => !waitsFor(name)), [], "every remote command runs before the rule");
            assert.equal(await value(run.outputs!.certificateAlertRules), "monitoring/azs-cert-rotation-certificate-alerts");
        });

        it("the namespace from config", async () => {
            setStackConfig({ ...TESTBED_STACK, monitoring: { prometheusRule: true, namespace: "cattle-monitoring-system" } });
            const run = await runProgram();
            assert.equal(run.error, undefined, `program failed: ${run.error}`);
            const rule = run.registrations.find((r) => r.type === PROMETHEUS_RULE)!;
            assert.equal((rule.inputs.metadata as { namespace: string }).namespace, "cattle-monitoring-system");
        });

        it("a bad namespace or label: a ConfigError naming the key, before any resource", async () => {
            setStackConfig({ ...TESTBED_STACK, monitoring: { prometheusRule: true, namespace: "Monitoring", labels: { release: "not a value" } } });
            const run = await runProgram();
            assert.ok(run.error instanceof ConfigError, `expected a ConfigError, got ${run.error}`);
            assert.deepEqual(
                (run.error as ConfigError).problems.map((p) => p.split(":")[0]),
                ["monitoring.namespace", "monitoring.labels.release"],
            );
            assert.deepEqual(run.registrations, []);
        });
    });
});
