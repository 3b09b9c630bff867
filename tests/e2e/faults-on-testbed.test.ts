// The fault matrix on a real testbed: faults during a step (the step scripts run directly over SSH
// with the parameters the program sends; the faults of the run itself, `pulumi up` killed and two
// stacks at once, are in the rollout file, on its stack). Every case runs with the prober sending API requests
// through the load balancer and ends with the same checks: the error names the node and the check;
// that node is back on its previous files (or, for a refusal, never off them) and a rerun after
// the fault is removed converges; no other node was touched; every Node is Ready and every
// apiserver's /readyz answers 200 "ok"; the etcd canary data are unchanged; and the prober's
// failed requests are printed with the time to the error, and must be 0.
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InputFile } from "../../components/rollout";
import { stepParams } from "../../components/rollout/stepParams";
import { StepKind } from "../../components/rollout/registry";
import { whileProbing } from "../../testbed/harness/prober";
import { sleep, until } from "./support/processes";
import { certFile, CERTS, newClientCert, runStep, serviceRunScript, StepResult, testbedParamContext, testbedParamNode } from "./support/steps";
import { activityOf, E2E_PROBE_TIMEOUT_SECONDS, etcdCanaryHash, onNode, testbed, testbedNodes, TestbedNode, vmDir, waitForReady } from "./support/testbed";

/** The health timeout of a step under a fault: short, so each fault fails fast. */
const HEALTH_TIMEOUT = 10;
/** The health timeout of the steps that must succeed (a rerun that converges, a step the fault only interrupts): a loaded machine can take more than 10 s to bring a restarted controller-manager to its first request. */
const SUCCESS_TIMEOUT = 60;
/** The files each node's steps change: a node whose hashes of these moved was touched. */
const WATCHED: Record<TestbedNode["role"], string[]> = { master: ["client.crt", "client.key", "apiserver.crt", "etcdserver.crt"], agent: ["client.crt", "client.key"] };

/** A fault case: `inject` and `remove` run outside the prober's window, `during` inside it and returns the seconds to the error. */
interface FaultCase {
    inject?: () => Promise<void>;
    during: () => Promise<number | undefined>;
    remove?: () => Promise<void>;
    /** Nodes no step may have touched (default: every node but the faulted one). */
    untouched?: TestbedNode[];
}

describe("faults during a step on a testbed node", function () {
    let scratch: string;
    let nodes: TestbedNode[];
    let masters: TestbedNode[];
    let m0: string;
    let m2: TestbedNode;
    let a0: string;
    let run = 0;

    const hashes = (node: string, files: string[]) => onNode(node, `sudo sha256sum ${files.map((f) => `${CERTS}/${f}`).join(" ")}`).trim();

    /** Runs a step of `kind` on `node` with `files` (health timeout HEALTH_TIMEOUT unless given); each call gets a new watch digest, as a changed input would. */
    const step = (node: string, kind: StepKind, files: InputFile[], opts: { disconnectAfterMs?: number; healthTimeout?: number } = {}): Promise<StepResult> =>
        runStep(node, "rotate", [kind, node, `fault${++run}`], stepParams(testbedParamContext(opts.healthTimeout ?? HEALTH_TIMEOUT, true), testbedParamNode(node), kind), files, opts);
    /** A new cluster client certificate (client.crt/.key, read by the control plane, the kubelets and the apiserver). */
    const clientFiles = (subject: string, restarts: string[]) => {
        const { cert, key } = newClientCert(fs.mkdtempSync(path.join(scratch, "c-")), subject);
        return [certFile("client.crt", cert, restarts), certFile("client.key", key, restarts)];
    };
    /** Breaks a VM's service run script (`broken` of the good one) for the duration of `body`; the supervisor restarts the good one after. */
    async function withBrokenService<T>(vm: string, service: string, broken: (good: string) => string, body: () => Promise<T>): Promise<T> {
        const file = serviceRunScript(vm, service);
        const good = fs.readFileSync(file, "utf8");
        assert.notEqual(broken(good), good, `the fault is in ${service}'s run script`);
        fs.writeFileSync(file, broken(good));
        try {
            return await body();
        } finally {
            fs.writeFileSync(file, good);
            onNode(vm, `sudo systemctl restart ${service}`);
        }
    }

    const watchedHashes = (n: TestbedNode) => hashes(n.name, WATCHED[n.role]);

    /** Every Node Ready, and every apiserver's /readyz on its own address answers 200 with exactly "ok" (within a minute: a removed fault may have restarted one). */
    async function assertClusterHealthy(): Promise<void> {
        const ready = await waitForReady(m0, nodes.map((n) => n.name), 120_000);
        assert.deepEqual(ready, nodes.map((n) => n.name).sort(), "every Node Ready");
        const readyz = (m: TestbedNode) => onNode(m.name, `curl -s --max-time 5 -w ' %{http_code}' --cacert ${CERTS}/ca.crt https://${m.ip}:443/readyz || true`);
        for (const m of masters) {
            await until(`${m.name} /readyz answers 200 "ok"`, 60_000, () => readyz(m) === "ok 200");
        }
    }

    /** Runs one fault case of the matrix with its common checks (see the header); `faulted` is the node the fault is on. */
    async function faultCase(id: string, faulted: string, c: FaultCase): Promise<void> {
        const untouched = c.untouched ?? nodes.filter((n) => n.name !== faulted);
        const before = untouched.map(watchedHashes);
        const canary = etcdCanaryHash();
        await c.inject?.();
        let probed: Awaited<ReturnType<typeof whileProbing<number | undefined>>>;
        try {
            probed = await whileProbing(c.during, { timeoutSeconds: E2E_PROBE_TIMEOUT_SECONDS });
        } finally {
            await c.remove?.();
        }
        const { result: toError, probe } = probed;
        console.log(`      (${id}) ${faulted}: ${toError === undefined ? "" : `error after ${toError.toFixed(1)} s; `}prober ${probe.ok} ok / ${probe.fail} failed`);
        assert.ok(probe.ok > 0, "the prober ran");
        assert.equal(probe.fail, 0, `failed requests during (${id}): ${(probe.explained ?? []).join("; ")}`);
        assert.deepEqual(untouched.map(watchedHashes), before, `no other node was touched: ${untouched.map((n) => n.name).join(", ")}`);
        assert.equal(etcdCanaryHash(), canary, "the etcd canary data are unchanged");
        await assertClusterHealthy();
    }

    before(function () {
        this.timeout(300_000);
        testbed("down");
        testbed("up");
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "azs-faults-"));
        nodes = testbedNodes();
        masters = nodes.filter((n) => n.role === "master").sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
        m0 = masters[0]!.name;
        m2 = masters[2]!;
        a0 = nodes.find((n) => n.role === "agent")!.name;
    });

    after(function () {
        fs.rmSync(scratch, { recursive: true, force: true });
        // Left up, healthy (every case ends so): the pki and remote-script files run on it (they read
        // the CA and leaves from the nodes); the rollout file starts from a fresh one.
    });

    it("(f) another etcd member down: the etcd step refuses before any change, naming the member", () =>
        faultCase("f", m0, {
            // the master down as a whole (its apiserver would serve errors without its local member):
            // the balancer marks it down (2 refused probes) before the prober's window opens
            inject: async () => {
                onNode(m2.name, "sudo systemctl stop kube-apiserver etcd");
                await sleep(5000);
            },
            during: async () => {
                const files = ["etcdserver.crt", "etcdserver.key"];
                const before = hashes(m0, files);
                const pid = onNode(m0, "systemctl show -p MainPID etcd").trim();
                const started = Date.now();
                const r = await step(m0, "etcd", files.map((f) => certFile(f, onNode(m0, `sudo cat ${CERTS}/${f}`))));
                assert.notEqual(r.status, 0);
                assert.match(r.stderr, new RegExp(`etcd/${m0}: etcd member ${m2.ip.replace(/\./g, "\\.")} is not healthy: restarting this member as well could lose quorum; nothing was changed`));
                assert.equal(hashes(m0, files), before);
                assert.equal(onNode(m0, "systemctl show -p MainPID etcd").trim(), pid, "etcd was not restarted");
                assert.equal(activityOf(m0)[`etcd/${m0}`]!.status, "Failed");
                return (Date.now() - started) / 1000;
            },
            remove: async () => {
                onNode(m2.name, "sudo systemctl start etcd kube-apiserver");
            },
        }));

    /**
     * A step installing a new client certificate (`subject`) under `fault`: it fails with stderr
     * matching every `expect`, the node keeps its previous files, and when `converges` the same step
     * succeeds once the fault is gone (`fault` removes it when the step returns). Returns the seconds to the error.
     */
    async function rollsBack(node: string, kind: StepKind, o: { subject?: string; restarts: string[]; fault: (run: () => Promise<StepResult>) => Promise<StepResult>; expect: RegExp[]; converges: boolean }): Promise<number> {
        const files = ["client.crt", "client.key"];
        const before = hashes(node, files);
        const next = clientFiles(o.subject ?? "/O=system:masters/CN=client", o.restarts);
        const started = Date.now();
        const r = await o.fault(() => step(node, kind, next));
        const toError = (Date.now() - started) / 1000;
        assert.notEqual(r.status, 0);
        for (const e of o.expect) assert.match(r.stderr, e);
        assert.equal(hashes(node, files), before, "back on the previous files");
        if (o.converges) {
            const rerun = await step(node, kind, next, { healthTimeout: SUCCESS_TIMEOUT });
            assert.equal(rerun.status, 0, rerun.stderr);
            assert.notEqual(hashes(node, files), before, "the new files are in place");
        }
        return toError;
    }

    it("(c) a restart that fails: rolled back, the error names the service and says the node is still unhealthy; converges once the unit starts", () =>
        faultCase("c", m0, { during: () => rollsBack(m0, "controlPlane", {
            restarts: ["kube-controller-manager", "kube-scheduler"],
            fault: (run) => withBrokenService(m0, "kube-scheduler", (good) => `exit 1\n${good}`, run),
            // A unit that exits at once fails its restart, or, when systemctl saw it running first (as
            // systemd does for a Type=simple unit), its health check: both must end rolled back.
            expect: [
                new RegExp(
                    `controlPlane/${m0}: (restarting kube-scheduler \\(systemd\\) failed \\(exit status 1\\)|health check failed: kube-scheduler /healthz [^;]*not ok[^;]*); ` +
                        `rolled back 2 file\\(s\\) from \\S+; STILL UNHEALTHY after the rollback: [^\\n]*kube-scheduler`,
                ),
            ],
            converges: true,
        }) }));

    it("(b) the controller-manager's new client certificate refused by the apiserver: rolled back and healthy again", () =>
        faultCase("b", m0, { during: () => rollsBack(m0, "controlPlane", {
            // signed by the cluster CA, so the staged check passes, but without rights (no system:masters)
            subject: "/CN=nobody",
            restarts: ["kube-controller-manager", "kube-scheduler"],
            fault: (run) => run(),
            expect: [new RegExp(`controlPlane/${m0}: health check failed: (kube-(controller-manager|scheduler) /healthz|the apiserver does not answer kube-controller-manager).*; rolled back 2 file\\(s\\) from \\S+; healthy again on the previous files`)],
            converges: false,
        }) }));

    it("(a) an apiserver that runs but whose /readyz fails (its etcd unreachable): rolled back; converges once etcd is reachable", () =>
        faultCase("a", m0, { during: () => rollsBack(m0, "apiserver", {
            restarts: ["kube-apiserver"],
            // only the restarted apiserver (after the drain) gets an etcd address nothing listens on;
            // its flags are in /etc/default/kube-apiserver (the rollout edits them there), changed after it is read
            fault: (run) =>
                withBrokenService(m0, "kube-apiserver", (good) => good.replace("source /etc/default/kube-apiserver\n", "source /etc/default/kube-apiserver\nKUBE_APISERVER_FLAGS=${KUBE_APISERVER_FLAGS/127.0.0.1:2379/127.0.0.1:2999}\n"), run),
            expect: [new RegExp(`apiserver/${m0}: health check failed: kube-apiserver /readyz on [0-9.]+:443 not ok \\(not within ${HEALTH_TIMEOUT} s\\); rolled back 2 file\\(s\\)`), /STILL UNHEALTHY after the rollback/],
            converges: true,
        }) }));

    it("(h) a kubelet that crash-loops after its restart: the old lease does not pass the gate; rolled back (its self-rotated client certificate too); converges once it runs", () =>
        faultCase("h", a0, {
            during: async () => {
                // a client certificate the kubelet rotated itself (--rotate-certificates): a symlink to its dated pem
                const pki = "/var/lib/kubelet/pki";
                const rotated = () => onNode(a0, `sudo readlink ${pki}/kubelet-client-current.pem || echo none`).trim();
                onNode(a0, `sudo sh -c 'mkdir -p ${pki} && cat ${CERTS}/client.crt ${CERTS}/client.key > ${pki}/kubelet-client-2026-01-01-00-00-00.pem && chmod 600 ${pki}/kubelet-client-2026-01-01-00-00-00.pem && ln -sfn ${pki}/kubelet-client-2026-01-01-00-00-00.pem ${pki}/kubelet-client-current.pem'`);
                const target = rotated();
                const toError = await rollsBack(a0, "kubelet", {
                    restarts: ["kubelet"],
                    // up for 2 s (so the restart itself succeeds), then exits: never renews the Node's lease
                    fault: async (run) => {
                        const r = await withBrokenService(a0, "kubelet", (good) => `sleep 2; exit 1\n${good}`, run);
                        assert.equal(rotated(), target, "the rollback put the self-rotated client certificate back");
                        return r;
                    },
                    // counted from the new process's start (plus 50 ms) when that is before its restart returned,
                    // else from the return: the testbed's systemctl returns within 0.1 s of the start, so either
                    expect: [new RegExp(`kubelet/${a0}: health check failed: Node ${a0} not Ready with a lease renewed since (the kubelet's new process \\(pid \\d+\\) started|the kubelet restarted)`), /STILL UNHEALTHY after the rollback/],
                    converges: true,
                });
                assert.equal(rotated(), "none", "set aside once the step succeeded: the kubelet uses the installed client.crt");
                return toError;
            },
        }));

    it("(d) the step itself SIGKILLed after its files moved (as power loss would): the next run restores them first, then converges", () =>
        faultCase("d, on the node", m0, {
            during: async () => {
                const files = ["client.crt", "client.key"];
                const before = hashes(m0, files);
                const next = clientFiles("/O=system:masters/CN=client", ["kube-controller-manager", "kube-scheduler"]);
                const running = step(m0, "controlPlane", next, { healthTimeout: SUCCESS_TIMEOUT });
                const journal = path.join(vmDir(m0), "root/etc-kubernetes/rotate-certs/journal");
                await until("the step opened its journal", 30_000, () => fs.existsSync(journal));
                onNode(m0, "sudo pkill -KILL -f 'bash -s -- rotate [c]ontrolPlane'");
                await running;
                assert.equal(activityOf(m0)[`controlPlane/${m0}`]!.status, "Initiated", "a killed step records nothing more");
                const rerun = await step(m0, "controlPlane", next, { healthTimeout: SUCCESS_TIMEOUT });
                assert.equal(rerun.status, 0, rerun.stderr);
                assert.match(rerun.stderr, new RegExp(`step controlPlane/${m0} was interrupted after its files moved: restored its previous files`));
                assert.notEqual(hashes(m0, files), before);
                assert.equal(fs.existsSync(journal), false, "the journal is closed");
                return undefined;
            },
        }));

    it("(g) the lock script: a second stack is refused, naming the first and where it connected from, until the first releases it", () =>
        faultCase("g, on the node", m0, {
            during: async () => {
                const lock = (action: string, holder: string) => runStep(m0, "lock", [action, m0, `fault${++run}`], { lock_holder: holder }, []);
                const [a, b] = ["organization/azs-cert-rotation/staging", "organization/azs-cert-rotation/other-checkout"];
                assert.equal((await lock("take", a)).status, 0);
                try {
                    assert.equal((await lock("take", a)).status, 0, "the holder's rerun goes on");
                    const refused = await lock("take", b);
                    assert.notEqual(refused.status, 0);
                    assert.match(refused.stderr, new RegExp(`${m0}: the cluster's rotation lock is held by ${a} since \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z \\(connected from [0-9.]+\\): another stack is rotating this cluster; .*sudo rm /etc/kubernetes/rotate-certs/cluster-lock`));
                    assert.equal((await lock("release", b)).status, 0);
                    assert.notEqual((await lock("take", b)).status, 0, "a release by another stack does not free it");
                } finally {
                    assert.equal((await lock("release", a)).status, 0);
                }
                assert.equal((await lock("take", b)).status, 0, "free once the holder released it");
                assert.equal((await lock("release", b)).status, 0);
                assert.equal(onNode(m0, "sudo test -e /etc/kubernetes/rotate-certs/cluster-lock && echo held || echo free").trim(), "free");
                return undefined;
            },
        }));

    it("(e) the SSH connection cut during a restart: the step finishes on its own and records its outcome", () =>
        faultCase("e", m0, {
            during: async () => {
                const next = clientFiles("/O=system:masters/CN=client", ["kube-controller-manager", "kube-scheduler"]);
                const r = await step(m0, "controlPlane", next, { disconnectAfterMs: 1500, healthTimeout: SUCCESS_TIMEOUT });
                assert.notEqual(r.status, 0, "the operator's side saw the connection drop");
                await until("the step recorded its outcome", 60_000, () => activityOf(m0)[`controlPlane/${m0}`]!.status !== "Initiated");
                assert.equal(activityOf(m0)[`controlPlane/${m0}`]!.status, "Success");
                assert.equal(hashes(m0, ["client.crt"]).split(" ")[0], createHash("sha256").update(next[0]!.content).digest("hex"));
                return undefined;
            },
        }));
});
