// The rollout with the real engine, the command plugin and the testbed's real sshd, etcd,
// kube-apiserver, kubelets and haproxy: (a) every leaf type rotated and served, no CA changed, the
// certificateProfile written back into apimodel.json, (b) a second up
// runs nothing, (f) the expiry report finds the nodes healthy and a hand-changed file drifted,
// (c) a certificate near expiry is planned for rotation, (e) a master that fails
// its health check is rolled back and a rerun converges, (d, g) a second stack is refused while the
// first runs and the first, SIGKILLed during a file swap, converges on its rerun, (d) a cluster whose
// certificates have already expired is repaired.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { OutputMap } from "@pulumi/pulumi/automation";
import type { Report } from "../../report/classify";
import { PROMETHEUS_RULE_NAME, readRuleGroups } from "../../components/monitoring/certificateAlertRules";
import { REPO_ROOT, setObjectConfig } from "../../testbed/harness/workspace";
import { whileProbing } from "../../testbed/harness/prober";
import { ageLeavesInState, assertEngineWithPlugin, changesOf, filesWithPemPrivateKeys, spawnPulumi } from "./support/engine";
import { childPids, killAll, until } from "./support/processes";
import { openTestbedTestStack, removeTestbedTestStack, TestbedTestStack } from "./support/testbedStack";
import { activityOf, apiGet, E2E_PROBE_TIMEOUT_SECONDS, etcdCanaryHash, fingerprint, inVm, onNode, servedFingerprint, testbed, TESTBED_STATE, testbedNodes, TestbedNode, vmDir, waitForReady } from "./support/testbed";

const STACK = "rollout";
const CERTS = "/etc/kubernetes/certs";

interface Run extends TestbedTestStack {
    log: string[];
}

const openRun = async (): Promise<Run> => ({ ...(await openTestbedTestStack("azs-rollout-e2e", STACK)), log: [] });

const up = (run: Run) => run.stack.up({ onOutput: (o) => run.log.push(o) });

/** sha256 of each file on a node (sudo: keys are 0600). */
function hashes(node: string, files: string[]): Record<string, string> {
    const out = onNode(node, `cd ${CERTS} && sudo sha256sum ${files.join(" ")}`);
    return Object.fromEntries(out.trim().split("\n").map((l) => l.split(/\s+/).reverse() as [string, string]));
}

function certOnNode(node: string, file: string): string {
    return onNode(node, `cat ${CERTS}/${file}`);
}

describe("rollout on the testbed: install, restart in order, gate, roll back, resume", function () {
    const nodes = testbedNodes;
    let masters: TestbedNode[];
    let run: Run | undefined;
    let profile: Record<string, string | string[]>;
    let outputs: OutputMap;

    before(async function () {
        assertEngineWithPlugin("@pulumi/tls");
        assertEngineWithPlugin("@pulumi/command");
        testbed("up");
        masters = nodes().filter((n) => n.role === "master");
        run = await openRun();
        // the certificateProfile goes back into the testbed's apimodel.json after each successful up
        await run.stack.setConfig("azs-cert-rotation:apimodelWriteBack", { value: "true" });
        // (e)'s failing gate gives up after this, not the testbed's 120 s; set before the first up, as
        // a rollout setting is one of every step's parameters: set later, every step would run again
        await run.stack.setConfig("azs-cert-rotation:rollout.healthTimeoutSeconds", { value: "60" }, true);
    });

    after(function () {
        removeTestbedTestStack(run);
        // the certificates are no longer the testbed's own: the next test starts from a fresh one
        testbed("down");
    });

    it("(a) rotates every leaf type: each node holds the new files, each component presents them, all Nodes Ready; no CA changes; the profile written back into apimodel.json", async () => {
        const before = Object.fromEntries(nodes().map((n) => [n.name, hashes(n.name, ["ca.crt", "client.crt", "client.key"])]));
        const saKeyBefore = Object.fromEntries(masters.map((m) => [m.name, hashes(m.name, ["apiserver.key"])]));
        const proxyCaBefore = Object.fromEntries(masters.map((m) => [m.name, fingerprint(certOnNode(m.name, "proxy-ca.crt"))]));
        const apimodelFile = (JSON.parse(fs.readFileSync(path.join(TESTBED_STATE, "inventory.json"), "utf8")) as { apimodelPath: string }).apimodelPath;
        const apimodelBefore = fs.readFileSync(apimodelFile, "utf8");
        const result = await up(run!);
        assert.equal(result.summary.result, "succeeded");
        outputs = result.outputs;

        // the first up adopts every CA: no CA fingerprint changes on any node (ca.crt: below)
        for (const m of masters) assert.equal(fingerprint(certOnNode(m.name, "proxy-ca.crt")), proxyCaBefore[m.name], `${m.name}: the front-proxy CA stays`);
        // write-back: a 0600 backup of the old file, valid JSON, the new profile, every other field as it was
        const status = outputs.apimodelWriteBack!.value as string;
        const backup = /\(the previous file is (\S+)\)/.exec(status)?.[1];
        assert.ok(backup, status);
        assert.equal(fs.readFileSync(backup, "utf8"), apimodelBefore);
        assert.equal(fs.statSync(backup).mode & 0o777, 0o600);
        assert.equal(fs.statSync(apimodelFile).mode & 0o777, 0o600);
        const written = JSON.parse(fs.readFileSync(apimodelFile, "utf8")) as { properties: Record<string, unknown> };
        const original = JSON.parse(apimodelBefore) as { properties: Record<string, unknown> };
        const { certificateProfile: writtenProfile, ...writtenRest } = written.properties;
        const { certificateProfile: _oldProfile, ...originalRest } = original.properties;
        assert.deepEqual({ ...written, properties: writtenRest }, { ...original, properties: originalRest }, "only the certificateProfile changed");
        for (const [field, value] of Object.entries(outputs.certificateProfile!.value as Record<string, unknown>)) {
            assert.deepEqual((writtenProfile as Record<string, unknown>)[field], value, `the apimodel's certificateProfile.${field} is the stack's`);
        }
        profile = outputs.certificateProfile!.value;
        const ca = profile.caCertificate as string;

        for (const m of masters) {
            assert.equal(fingerprint(certOnNode(m.name, "apiserver.crt")), fingerprint(profile.apiServerCertificate as string), `${m.name} apiserver.crt`);
            assert.equal(fingerprint(certOnNode(m.name, "etcdserver.crt")), fingerprint(profile.etcdServerCertificate as string), `${m.name} etcdserver.crt`);
            assert.equal(fingerprint(certOnNode(m.name, "etcdclient.crt")), fingerprint(profile.etcdClientCertificate as string), `${m.name} etcdclient.crt`);
            assert.equal(fingerprint(certOnNode(m.name, "kubectlClient.crt")), fingerprint(profile.kubeConfigCertificate as string), `${m.name} kubectlClient.crt`);
            const peer = (profile.etcdPeerCertificates as string[])[m.index!]!;
            assert.equal(fingerprint(certOnNode(m.name, `etcdpeer${m.index}.crt`)), fingerprint(peer), `${m.name} etcdpeer${m.index}.crt`);
            // served: the apiserver (reloaded or restarted), etcd's client and peer ports (re-read per handshake)
            assert.equal(servedFingerprint(m.ip, 443), fingerprint(profile.apiServerCertificate as string), `${m.name}:443 serves the new cert`);
            const etcdClient = { cert: `${CERTS}/etcdclient.crt`, key: `${CERTS}/etcdclient.key` };
            assert.equal(servedFingerprint(m.ip, 2379, m.name, etcdClient), fingerprint(profile.etcdServerCertificate as string), `${m.name}:2379`);
            assert.equal(servedFingerprint(m.ip, 2380, m.name, { cert: `${CERTS}/etcdpeer${m.index}.crt`, key: `${CERTS}/etcdpeer${m.index}.key` }), fingerprint(peer), `${m.name}:2380`);
            // front-proxy client cert: new, and chains to the front-proxy CA the apiserver now trusts
            assert.match(onNode(m.name, `openssl verify -CAfile ${CERTS}/proxy-ca.crt ${CERTS}/proxy.crt`), /OK/);
            // etcdctl with the new etcd client certificate: every member healthy
            const health = onNode(m.name, `sudo /usr/local/bin/etcdctl --endpoints https://${m.ip}:2379 --cacert ${CERTS}/ca.crt --cert ${CERTS}/etcdclient.crt --key ${CERTS}/etcdclient.key endpoint health --cluster -w json`);
            assert.equal((JSON.parse(health) as { health: boolean }[]).filter((h) => h.health).length, masters.length, health);
            // the adopted service-account key stays: existing tokens keep validating
            assert.deepEqual(hashes(m.name, ["apiserver.key"]), saKeyBefore[m.name], `${m.name}: apiserver.key (the service-account key) kept`);
            // keys 0600, certificates 0644
            assert.deepEqual(onNode(m.name, `stat -c '%a %n' ${CERTS}/apiserver.key ${CERTS}/etcdserver.key ${CERTS}/apiserver.crt`).trim().split("\n"), [
                `600 ${CERTS}/apiserver.key`,
                `600 ${CERTS}/etcdserver.key`,
                `644 ${CERTS}/apiserver.crt`,
            ]);
        }
        for (const n of nodes()) {
            assert.equal(certOnNode(n.name, "ca.crt").trim(), ca.trim(), `${n.name}: the adopted CA stays`);
            assert.equal(fingerprint(certOnNode(n.name, "client.crt")), fingerprint(profile.clientCertificate as string), `${n.name} client.crt`);
            const now = hashes(n.name, ["ca.crt", "client.crt", "client.key"]);
            assert.notEqual(now["client.crt"], before[n.name]!["client.crt"], `${n.name}: client.crt was rotated`);
            assert.notEqual(now["client.key"], before[n.name]!["client.key"], `${n.name}: client.key was rotated`);
            // the node's activity file: every step Success
            const activity = activityOf(n.name);
            assert.ok(Object.keys(activity).length > 0 && Object.values(activity).every((a) => a.status === "Success"), JSON.stringify(activity));
        }
        const ready = await waitForReady(masters[0]!.name, nodes().map((n) => n.name), 120_000);
        assert.deepEqual(ready, nodes().map((n) => n.name).sort(), "all Nodes Ready");

        // the activity output: every step of every node Success, with what it changed and restarted
        const activity = outputs.activity!.value as Record<string, { step: string; status: string; restarted: string[] }[]>;
        assert.deepEqual(Object.keys(activity).sort(), nodes().map((n) => n.name).sort());
        for (const [node, steps] of Object.entries(activity)) {
            assert.ok(steps.length > 0 && steps.every((s) => s.status === "Success"), `${node}: ${JSON.stringify(steps)}`);
        }
        const apiserver0 = activity[masters[0]!.name]!.find((s) => s.step.startsWith("apiserver/"))!;
        assert.deepEqual(apiserver0.restarted, ["kube-apiserver"], "the apiserver restarts for its etcd client and kubelet client certs");
        const etcd0 = activity[masters[0]!.name]!.find((s) => s.step.startsWith("etcd/"))!;
        assert.deepEqual(etcd0.restarted, [], "etcd reloads its serving and peer certs without a restart");

        // no private key in the plain state or in the engine's output
        assert.deepEqual(filesWithPemPrivateKeys(run!.backend.dir), []);
        assert.doesNotMatch(run!.log.join(""), /PRIVATE KEY-----/);
    });

    it("(b) a second up runs no remote command", async () => {
        const result = await up(run!);
        assert.deepEqual(changesOf(result.summary.resourceChanges), {}, JSON.stringify(result.summary.resourceChanges));
        assert.match(result.outputs.apimodelWriteBack!.value as string, /holds this certificateProfile already; not written/);
    });

    it("(i) monitoring.prometheusRule on a cluster with the PrometheusRule type: the rule goes in through the stack's admin credentials, holding the repository's rule groups; no remote command runs; the next preview plans nothing", async () => {
        const rulePath = `/apis/monitoring.coreos.com/v1/namespaces/monitoring/prometheusrules/${PROMETHEUS_RULE_NAME}`;
        assert.equal((apiGet(masters[0]!.name, rulePath) as { code?: number }).code, 404, "the type is served (testbed/lib/monitoring.sh), no rule yet");
        await setObjectConfig(run!.stack, "azs-cert-rotation:monitoring", { prometheusRule: true });
        const commands: string[] = [];
        const result = await run!.stack.up({ onOutput: (o) => run!.log.push(o), onEvent: (e) => e.resOutputsEvent?.metadata.type === "command:remote:Command" && e.resOutputsEvent.metadata.op !== "same" && commands.push(e.resOutputsEvent.metadata.urn) });
        assert.equal(result.summary.result, "succeeded");
        assert.deepEqual(commands, [], "no remote command ran");
        assert.equal(result.outputs.certificateAlertRules!.value, `monitoring/${PROMETHEUS_RULE_NAME}`);
        const rule = apiGet(masters[0]!.name, rulePath) as { metadata: { labels: Record<string, string> }; spec: { groups: unknown } };
        assert.equal(rule.metadata.labels["app.kubernetes.io/managed-by"], "azs-cert-rotation");
        assert.deepEqual(rule.spec.groups, readRuleGroups());
        const again = await run!.stack.preview();
        assert.deepEqual(changesOf(again.changeSummary), {});
    });

    /** npm run report -- --json on the run's stack: its exit code and report. */
    const report = (): { code: number; json: Report } => {
        const r = spawnSync("node", ["-r", "ts-node/register/transpile-only", path.join(REPO_ROOT, "report/index.ts"), "--stack", STACK, "--cwd", run!.workspace, "--json"], {
            cwd: REPO_ROOT,
            env: { ...process.env, ...run!.backend.envVars },
            encoding: "utf8",
            timeout: 300_000,
        });
        assert.doesNotMatch(`${r.stdout}${r.stderr}`, /PRIVATE KEY/);
        assert.ok(r.stdout.trim().startsWith("{"), r.stderr);
        return { code: r.status ?? -1, json: JSON.parse(r.stdout) as Report };
    };

    /** What a preview plans: the remote commands to run and the certificates to replace (resource names, sorted). */
    async function planned(): Promise<{ commands: string[]; replacedCerts: string[] }> {
        const commands: string[] = [];
        const replacedCerts: string[] = [];
        await run!.stack.preview({
            onEvent: (e) => {
                const m = e.resourcePreEvent?.metadata;
                if (m && m.op !== "same" && m.op !== "read" && m.type === "command:remote:Command") commands.push(m.urn.split("::").pop()!);
                if (m?.op === "replace" && /^tls:index\/(locallySignedCert|selfSignedCert):/.test(m.type)) replacedCerts.push(m.urn.split("::").pop()!);
            },
        });
        return { commands: commands.sort(), replacedCerts: replacedCerts.sort() };
    }
    const plannedCommands = async () => (await planned()).commands;

    it("(f) npm run report reads every node: healthy and equal to the state after the rotation; a certificate changed by hand is drifted (exit 2), named by node and file", () => {
        const healthy = report();
        const failing = healthy.json.nodes.flatMap((n) => n.files.filter((f) => f.state !== "ok" && f.state !== "absent").map((f) => `${n.name} ${f.path}: ${f.problems.join("; ")}`));
        assert.deepEqual(failing, []);
        assert.equal(healthy.code, 0);
        assert.deepEqual([healthy.json.schemaVersion, healthy.json.summary.stateCompared, healthy.json.nodes.length], [1, true, nodes().length]);
        const clientCrt = healthy.json.nodes[0]!.files.find((f) => f.path === `${CERTS}/client.crt`)!;
        assert.deepEqual([clientCrt.matchesState, clientCrt.key.status], [true, "match"]);

        // the testbed's original client certificate (same CA, another key) put back by hand on one agent
        const agent = nodes().find((n) => n.role === "agent")!;
        const rotated = certOnNode(agent.name, "client.crt");
        const original = fs.readFileSync(path.join(TESTBED_STATE, "pki", "client.crt"), "utf8");
        onNode(agent.name, `sudo tee ${CERTS}/client.crt >/dev/null <<'PEM'\n${original.trim()}\nPEM`);
        try {
            const drifted = report();
            assert.equal(drifted.code, 2);
            const file = drifted.json.nodes.find((n) => n.name === agent.name)!.files.find((f) => f.path === `${CERTS}/client.crt`)!;
            assert.ok(file.states.includes("drifted") && file.states.includes("key-mismatch"), JSON.stringify(file));
            const others = drifted.json.nodes.flatMap((n) => n.files.filter((f) => f.state !== "ok" && f.state !== "absent" && !(n.name === agent.name && f.path.endsWith("client.crt"))).map((f) => `${n.name} ${f.path}`));
            assert.deepEqual(others.filter((o) => !o.startsWith(`${agent.name} `)), [], "only that node is flagged");
        } finally {
            onNode(agent.name, `sudo tee ${CERTS}/client.crt >/dev/null <<'PEM'\n${rotated.trim()}\nPEM`);
        }
        assert.equal(report().code, 0, "healthy again with the rotated file back");
    });

    // etcd's leaves are left out: (e) then runs no etcd step (three restarts less in CI); the etcd
    // steps of a renewal ran in (a).
    it("(g) drift: a master's etcd peer certificate and key put back by hand from the testbed's own PKI: the report says drifted, the preview plans exactly that node's etcd step, up repairs it, then nothing is planned", async () => {
        const m1 = masters[1]!;
        const peer = `etcdpeer${m1.index}`;
        const stackPeer = certOnNode(m1.name, `${peer}.crt`);
        const pki = (f: string) => fs.readFileSync(path.join(TESTBED_STATE, "pki", f), "utf8").trim();
        onNode(m1.name, `sudo tee ${CERTS}/${peer}.crt >/dev/null <<'PEM'\n${pki(`${peer}.crt`)}\nPEM\nsudo tee ${CERTS}/${peer}.key >/dev/null <<'PEM'\n${pki(`${peer}.key`)}\nPEM`);
        const drifted = report();
        assert.equal(drifted.code, 2);
        const flagged = drifted.json.nodes.flatMap((n) => n.files.filter((f) => f.states.includes("drifted")).map((f) => `${n.name} ${f.path}`));
        assert.deepEqual(flagged, [`${m1.name} ${CERTS}/${peer}.crt`]);

        const lock = `${masters[0]!.name}-lock`;
        assert.deepEqual(await plannedCommands(), [`${lock}-release`, `${lock}-take`, `${m1.name}-etcd`, `${m1.name}-preflight`].sort());
        const result = await up(run!);
        assert.equal(result.summary.result, "succeeded");
        assert.deepEqual(changesOf(result.summary.resourceChanges), { update: 4 }, JSON.stringify(result.summary.resourceChanges));
        assert.equal(certOnNode(m1.name, `${peer}.crt`), stackPeer, "the stack's peer certificate is back");
        assert.match(run!.log.join(""), new RegExp(`etcd/${m1.name} runs to put back ${CERTS}/${peer}\\.crt`));
        assert.equal(report().code, 0, "healthy after the repair");
        assert.deepEqual(await plannedCommands(), [], "the run after the repair plans nothing");
    });

    // One leaf is aged, so the two (e) tests after this one run master steps only, not a rotation of
    // every node: the apiservers' etcd client certificate (read by the apiserver alone, at its start:
    // the step restarts it; apiserver.crt would not do, the agents hold it and the apiserver reloads it).
    it("(c) the apiservers' etcd client certificate 10 days from expiry: a plain preview plans its renewal and exactly the steps that install it", async () => {
        assert.equal(await ageLeavesInState(run!.stack, 10, (name) => name === "etcd-client-cert"), 1);
        const plan = await planned();
        assert.deepEqual(plan.replacedCerts, ["etcd-client-cert"], "only the certificate near expiry is renewed");
        const lock = `${masters[0]!.name}-lock`;
        assert.deepEqual(plan.commands, [`${lock}-release`, `${lock}-take`, ...masters.flatMap((m) => [`${m.name}-apiserver`, `${m.name}-preflight`])].sort());
    });

    it("(e) sshd stopped on a master: the run fails at its preflight, naming it, and no node is changed", async () => {
        const m2 = masters[2]!;
        const watched = ["etcdserver.crt", "apiserver.crt", "client.crt"];
        const before = Object.fromEntries(nodes().filter((n) => n !== m2).map((n) => [n.name, hashes(n.name, n.role === "master" ? watched : ["client.crt"])]));
        inVm(m2.name, ["systemctl", "stop", "sshd"]);
        try {
            await assert.rejects(up(run!), (err: Error) => {
                assert.match(err.message, new RegExp(`${m2.name}-preflight[\\s\\S]*ssh: cannot connect to azureuser@${m2.ip.replace(/\./g, "\\.")}:22`));
                return true;
            });
        } finally {
            inVm(m2.name, ["systemctl", "start", "sshd"]);
        }
        for (const n of nodes().filter((x) => x !== m2)) {
            assert.deepEqual(hashes(n.name, n.role === "master" ? watched : ["client.crt"]), before[n.name], `${n.name} unchanged`);
        }
    });

    it("(e) a master whose apiserver fails its gate is rolled back, healthy again on its previous files once the fault is repaired, the run stops there, and a rerun converges", async () => {
        const [m0, m1, m2] = masters;
        const runFile = path.join(vmDir(m1!.name), "services/kube-apiserver/run");
        const good = fs.readFileSync(runFile, "utf8");
        const m1Before = hashes(m1!.name, ["apiserver.crt", "etcdclient.crt", "client.crt"]);
        const m2Before = hashes(m2!.name, ["apiserver.crt", "etcdclient.crt", "client.crt"]);
        // The fault: master 1's apiserver cannot start (as a broken static pod manifest would), so
        // its restart with the new files fails the /readyz gate. It is the node's, not the new files':
        // repaired once the rollback has restarted the apiserver on its previous files, so the
        // rollback's gate finds it healthy again (left in place, that gate too waited out its timeout).
        const broken = good.replace("exec /usr/local/bin/kube-apiserver ", "exec /usr/local/bin/kube-apiserver --no-such-flag ");
        assert.notEqual(broken, good, "the fault is in place");
        const stepLog = path.join(vmDir(m1!.name), "root/var-log-azure/rotate-certs.log");
        const apiserverRestarts = () => (fs.existsSync(stepLog) ? fs.readFileSync(stepLog, "utf8") : "").split("\n").filter((l) => l.includes(`apiserver/${m1!.name} `) && l.includes("restarting kube-apiserver")).length;
        const restartsBefore = apiserverRestarts();
        fs.writeFileSync(runFile, broken);
        try {
            let running = true;
            const failure = up(run!).then(
                () => undefined,
                (err: Error) => err,
            );
            void failure.then(() => (running = false));
            await until("the rollback restarts master 1's apiserver", 900_000, () => !running || apiserverRestarts() >= restartsBefore + 2);
            fs.writeFileSync(runFile, good);
            const err = await failure;
            assert.ok(err, "the run failed");
            assert.match(err.message, new RegExp(`apiserver/${m1!.name}: health check failed: kube-apiserver /readyz on ${m1!.ip}:443 not ok`));
            assert.match(err.message, /rolled back \d+ file\(s\) from \S+; healthy again on the previous files/);
            // master 1 is back on its previous files; master 2's apiserver step never ran
            assert.deepEqual(hashes(m1!.name, ["apiserver.crt", "etcdclient.crt", "client.crt"]), m1Before, "master 1 rolled back");
            assert.deepEqual(hashes(m2!.name, ["apiserver.crt", "etcdclient.crt", "client.crt"]), m2Before, "master 2 untouched");
            const activity = activityOf(m1!.name);
            assert.equal(activity[`apiserver/${m1!.name}`]!.status, "Failed");
            assert.match(onNode(m1!.name, "cat /var/log/azure/rotate-certs.log"), /health check failed/);
        } finally {
            fs.writeFileSync(runFile, good);
        }
        const m0ApiserverBefore = activityOf(m0!.name)[`apiserver/${m0!.name}`];
        const rerun = await up(run!);
        assert.equal(rerun.summary.result, "succeeded");
        // resumed: master 0's apiserver step, which had succeeded, did not run again
        assert.deepEqual(activityOf(m0!.name)[`apiserver/${m0!.name}`], m0ApiserverBefore);
        const profileNow = rerun.outputs.certificateProfile!.value as Record<string, string>;
        for (const m of masters) assert.equal(servedFingerprint(m.ip, 443), fingerprint(profileNow.apiServerCertificate!), `${m.name} serves the new cert`);
        const ready = await waitForReady(m0!.name, nodes().map((n) => n.name), 120_000);
        assert.equal(ready.length, nodes().length);
        const again = await up(run!);
        assert.deepEqual(changesOf(again.summary.resourceChanges), {});
    });

    // On the stack that rotated above, with the apiserver certificate due again (each master's
    // apiserver step and, as the agents hold it too, their kubelet steps; reloaded, no restart): a
    // new stack would have to take over every node first, minutes of CI for nothing.
    it("(d, g) a second stack refused while the first runs, naming it; the first `pulumi up` SIGKILLed during a file swap; after `pulumi cancel` its rerun converges", async () => {
        assert.equal(await ageLeavesInState(run!.stack, 10, (name) => name === "apiserver-cert"), 1);
        const holder = (stack: string) => `organization/azs-cert-rotation/${stack}`;
        const lockFile = path.join(vmDir(masters[0]!.name), "root/etc-kubernetes/rotate-certs/cluster-lock");
        const lockHolder = () => (fs.existsSync(lockFile) ? fs.readFileSync(lockFile, "utf8").split("\n")[0] : "");
        const journals = masters.map((m) => ({ node: m.name, file: path.join(vmDir(m.name), "root/etc-kubernetes/rotate-certs/journal") }));
        const canary = etcdCanaryHash();
        const other = await openTestbedTestStack("azs-rollout-other", "other");
        /** Plugins of the killed CLI, killed once its step has ended on the node (or when the test fails). */
        let orphans: number[] = [];
        let killedOn = "";
        try {
            const { probe } = await whileProbing(async () => {
                const started = Date.now();
                const upA = spawnPulumi(run!.workspace, run!.backend.envVars, ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", STACK]);
                let outA = "";
                upA.stdout!.on("data", (d: Buffer) => (outA += d.toString()));
                upA.stderr!.on("data", (d: Buffer) => (outA += d.toString()));
                let runningA = true;
                const exitedA = new Promise<void>((resolve) =>
                    upA.on("exit", () => {
                        runningA = false;
                        resolve();
                    }),
                );
                const stillRunning = () => {
                    if (!runningA) throw new Error(`pulumi up of ${STACK} ended before it was killed: ${outA.slice(-3000)}`);
                };
                let refusedB: Promise<void> | undefined;
                try {
                    await until(`stack ${STACK} took the cluster lock`, 300_000, () => (stillRunning(), lockHolder() === holder(STACK)));
                    // (g) the second stack, started now: refused at its lock step (before or after the kill,
                    // the killed run keeps the lock), so none of its node steps runs
                    const bSteps: string[] = [];
                    refusedB = assert
                        .rejects(
                            other.stack.up({ onEvent: (e) => e.resOutputsEvent?.metadata.type === "command:remote:Command" && bSteps.push(e.resOutputsEvent.metadata.urn) }),
                            (err: Error) => {
                                assert.match(err.message, new RegExp(`the cluster's rotation lock is held by ${holder(STACK)} since \\S+ \\(connected from [0-9.]+\\): another stack is rotating this cluster`));
                                return true;
                            },
                        )
                        .then(() => {
                            assert.deepEqual(bSteps, [], "the second stack ran no remote step");
                            console.log(`      (g) the second stack refused after ${((Date.now() - started) / 1000).toFixed(1)} s`);
                        });
                    // (d) SIGKILL the CLI with its plugins once a master's journal says files are moving
                    await until("a master step opened its journal", 600_000, () => (stillRunning(), journals.some((j) => fs.existsSync(j.file))));
                    // the CLI and its language host; its resource plugins run in process groups of their own
                    // and outlive it, as after `kill -9` of pulumi: the command plugin then cancels its step (SIGTERM)
                    orphans = childPids(upA.pid!);
                    process.kill(-upA.pid!, "SIGKILL");
                    killedOn = journals.find((j) => fs.existsSync(j.file))?.node ?? "";
                } finally {
                    if (upA.exitCode === null && upA.signalCode === null) process.kill(-upA.pid!, "SIGKILL");
                    await exitedA;
                    await refusedB;
                }
                assert.notEqual(killedOn, "", `killed during a step: ${outA.slice(-2000)}`);
                // the step goes on without its connection and ends on its own: no journal left, every key matching its certificate
                const journal = journals.find((j) => j.node === killedOn)!.file;
                await until(`the interrupted step on ${killedOn} finished on its own`, 900_000, () => !fs.existsSync(journal) && !Object.values(activityOf(killedOn)).some((x) => x.status === "Initiated"));
                killAll(orphans);
                const pairs = onNode(killedOn, `cd ${CERTS} && for c in *.crt; do k=\${c%.crt}.key; [ -f "$k" ] || continue; a=$(openssl x509 -noout -pubkey -in "$c" | sha256sum); b=$(sudo openssl pkey -pubout -in "$k" | sha256sum); [ "$a" = "$b" ] && echo "ok $c" || echo "MISMATCH $c"; done`);
                assert.doesNotMatch(pairs, /MISMATCH/, `${killedOn}: every certificate matches its key`);
                // the operator's way back: release Pulumi's own stack lock, then run up again
                spawnSync("pulumi", ["cancel", "--yes", "--stack", STACK], { cwd: run!.workspace, env: { ...process.env, ...run!.backend.envVars }, stdio: "inherit" });
                const rerun = await up(run!);
                assert.equal(rerun.summary.result, "succeeded");
                const apiserverCert = (rerun.outputs.certificateProfile!.value as Record<string, string>).apiServerCertificate!;
                for (const m of masters) assert.equal(servedFingerprint(m.ip, 443), fingerprint(apiserverCert), `${m.name} serves the stack's apiserver certificate`);
                assert.equal(lockHolder(), "", "the cluster lock is released");
            }, { timeoutSeconds: E2E_PROBE_TIMEOUT_SECONDS });
            console.log(`      (d, g) prober ${probe.ok} ok / ${probe.fail} failed`);
            assert.ok(probe.ok > 0, "the prober ran");
            assert.equal(probe.fail, 0, `failed requests: ${(probe.explained ?? []).join("; ")}`);
        } finally {
            killAll(orphans);
            removeTestbedTestStack(other);
        }
        const interrupted = Object.entries(activityOf(killedOn)).map(([id, a]) => `${id} ${a.status}`).join(", ");
        console.log(`      (d) killed during a step on ${killedOn}; its steps there: ${interrupted}`);
        assert.equal(etcdCanaryHash(), canary, "the etcd canary data are unchanged");
        const ready = await waitForReady(masters[0]!.name, nodes().map((n) => n.name), 120_000);
        assert.deepEqual(ready, nodes().map((n) => n.name).sort(), "every Node Ready");
    });

    it("(d) a cluster whose certificates already expired: the rotation repairs it", async () => {
        removeTestbedTestStack(run);
        run = undefined;
        testbed("down");
        testbed("up", ["--expired"]);
        run = await openRun();
        const result = await up(run);
        assert.equal(result.summary.result, "succeeded");
        const ready = await waitForReady(masters[0]!.name, nodes().map((n) => n.name), 180_000);
        assert.deepEqual(ready, nodes().map((n) => n.name).sort(), "all Nodes Ready after the repair");
        for (const m of masters) assert.match(onNode(m.name, `curl -sS --cacert ${CERTS}/ca.crt https://${m.ip}:443/readyz`), /^ok/);
    });
});
