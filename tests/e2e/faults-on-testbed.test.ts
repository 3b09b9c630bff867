// Faults during a step, on a real testbed node, with the step scripts run directly over SSH and
// the parameters the program sends: each ends in an error naming the node and the check, the node
// back on its previous files (or, for a refusal, never off them), and a rerun after the fault is
// removed converges. Faults driven through `pulumi up` are in rollout-on-testbed.test.ts.
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InputFile } from "../../components/rollout";
import { stepParams } from "../../components/rollout/stepParams";
import { StepKind } from "../../components/rollout/registry";
import { certFile, CERTS, newClientCert, runStep, serviceRunScript, StepResult, testbedParamContext, testbedParamNode } from "./support/steps";
import { onNode, testbed, testbedNodes } from "./support/testbed";

const HEALTH_TIMEOUT = 10;

describe("faults during a step on a testbed node", function () {
    let scratch: string;
    let m0: string;
    let m2: { name: string; ip: string };
    let a0: string;
    let run = 0;

    const hashes = (node: string, files: string[]) => onNode(node, `sudo sha256sum ${files.map((f) => `${CERTS}/${f}`).join(" ")}`).trim();
    const activity = (node: string) => JSON.parse(onNode(node, "cat /var/log/azure/rotate-certs-activity.json")) as Record<string, { status: string; message: string }>;
    /** Runs a step of `kind` on `node` with `files`; each call gets a new watch digest, as a changed input would. */
    const step = (node: string, kind: StepKind, files: InputFile[], opts: { disconnectAfterMs?: number } = {}): Promise<StepResult> =>
        runStep(node, "rotate", [kind, node, `fault${++run}`], stepParams(testbedParamContext(HEALTH_TIMEOUT), testbedParamNode(node), kind), files, opts);
    /** A new cluster client certificate (client.crt/.key, read by the control plane, the kubelets and the apiserver). */
    const clientFiles = (subject: string, restarts: string[]) => {
        const { cert, key } = newClientCert(fs.mkdtempSync(path.join(scratch, "c-")), subject);
        return [certFile("client.crt", cert, restarts), certFile("client.key", key, restarts)];
    };
    /** Breaks a VM's service run script for the duration of `body`; the supervisor restarts the good one after. */
    async function withBrokenService<T>(vm: string, service: string, prefix: string, body: () => Promise<T>): Promise<T> {
        const file = serviceRunScript(vm, service);
        const good = fs.readFileSync(file, "utf8");
        fs.writeFileSync(file, `${prefix}\n${good}`);
        try {
            return await body();
        } finally {
            fs.writeFileSync(file, good);
            onNode(vm, `sudo systemctl restart ${service}`);
        }
    }

    before(function () {
        this.timeout(300_000);
        testbed("down");
        testbed("up");
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "azs-faults-"));
        const masters = testbedNodes().filter((n) => n.role === "master").sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
        m0 = masters[0]!.name;
        m2 = masters[2]!;
        a0 = testbedNodes().find((n) => n.role === "agent")!.name;
    });

    after(function () {
        this.timeout(120_000);
        fs.rmSync(scratch, { recursive: true, force: true });
        // the faults leave new (valid) certificates behind: the next test file starts from a fresh testbed
        testbed("down");
    });

    it("(f) another etcd member down: the etcd step refuses before any change, naming the member", async () => {
        onNode(m2.name, "sudo systemctl stop etcd");
        try {
            const files = ["etcdserver.crt", "etcdserver.key"];
            const before = hashes(m0, files);
            const pid = onNode(m0, "systemctl show -p MainPID etcd").trim();
            const r = await step(m0, "etcd", files.map((f) => certFile(f, onNode(m0, `sudo cat ${CERTS}/${f}`))));
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, new RegExp(`etcd/${m0}: etcd member ${m2.ip.replace(/\./g, "\\.")} is not healthy: restarting this member as well could lose quorum; nothing was changed`));
            assert.equal(hashes(m0, files), before);
            assert.equal(onNode(m0, "systemctl show -p MainPID etcd").trim(), pid, "etcd was not restarted");
            assert.equal(activity(m0)[`etcd/${m0}`]!.status, "Failed");
        } finally {
            onNode(m2.name, "sudo systemctl start etcd");
        }
    });

    /**
     * A step installing a new client certificate (`subject`) under `fault`: it fails with stderr
     * matching every `expect`, the node keeps its previous files, and when `converges` the same step
     * succeeds once the fault is gone (`fault` removes it when the step returns).
     */
    async function rollsBack(node: string, kind: StepKind, o: { subject?: string; restarts: string[]; fault: (run: () => Promise<StepResult>) => Promise<StepResult>; expect: RegExp[]; converges: boolean }) {
        const files = ["client.crt", "client.key"];
        const before = hashes(node, files);
        const next = clientFiles(o.subject ?? "/O=system:masters/CN=client", o.restarts);
        const started = Date.now();
        const r = await o.fault(() => step(node, kind, next));
        console.log(`      ${kind}/${node}: error after ${((Date.now() - started) / 1000).toFixed(1)} s`);
        assert.notEqual(r.status, 0);
        for (const e of o.expect) assert.match(r.stderr, e);
        assert.equal(hashes(node, files), before, "back on the previous files");
        if (!o.converges) return;
        const rerun = await step(node, kind, next);
        assert.equal(rerun.status, 0, rerun.stderr);
        assert.notEqual(hashes(node, files), before, "the new files are in place");
    }

    it("(c) a restart that fails: rolled back, the error names the service and says the node is still unhealthy; converges once the unit starts", () =>
        rollsBack(m0, "controlPlane", {
            restarts: ["kube-controller-manager", "kube-scheduler"],
            fault: (run) => withBrokenService(m0, "kube-scheduler", "exit 1", run),
            expect: [new RegExp(`controlPlane/${m0}: restarting kube-scheduler \\(systemd\\) failed \\(exit status 1\\); rolled back 2 file\\(s\\) from \\S+; STILL UNHEALTHY after the rollback: restarting kube-scheduler`)],
            converges: true,
        }));

    it("(b) the controller-manager's new client certificate refused by the apiserver: rolled back and healthy again", () =>
        rollsBack(m0, "controlPlane", {
            // signed by the cluster CA, so the staged check passes, but without rights (no system:masters)
            subject: "/CN=nobody",
            restarts: ["kube-controller-manager", "kube-scheduler"],
            fault: (run) => run(),
            expect: [new RegExp(`controlPlane/${m0}: health check failed: (kube-(controller-manager|scheduler) /healthz|the apiserver does not answer kube-controller-manager).*; rolled back 2 file\\(s\\) from \\S+; healthy again on the previous files`)],
            converges: false,
        }));

    it("(a) an apiserver that runs but whose /readyz fails (its etcd unreachable): rolled back; converges once etcd is reachable", () =>
        rollsBack(m0, "apiserver", {
            restarts: ["kube-apiserver"],
            fault: async (run) => {
                const block = "sudo iptables -w 5 -I OUTPUT -p tcp --dport 2379 -j REJECT";
                onNode(m0, block);
                try {
                    return await run();
                } finally {
                    onNode(m0, block.replace("-I OUTPUT", "-D OUTPUT"));
                }
            },
            expect: [new RegExp(`apiserver/${m0}: health check failed: kube-apiserver /readyz on [0-9.]+:443 not ok \\(not within ${HEALTH_TIMEOUT} s\\); rolled back 2 file\\(s\\)`)],
            converges: true,
        }));

    it("(h) a kubelet that crash-loops after its restart: the old lease does not pass the gate; rolled back; converges once it runs", () =>
        rollsBack(a0, "kubelet", {
            restarts: ["kubelet"],
            // up for 2 s (so the restart itself succeeds), then exits: never renews the Node's lease
            fault: (run) => withBrokenService(a0, "kubelet", "sleep 2; exit 1", run),
            expect: [new RegExp(`kubelet/${a0}: health check failed: Node ${a0} not Ready with a lease renewed since the kubelet restarted`), /STILL UNHEALTHY after the rollback/],
            converges: true,
        }));

    it("(d) a step killed after its files moved: the next run restores them first, then converges", async () => {
        const files = ["client.crt", "client.key"];
        const before = hashes(m0, files);
        const next = clientFiles("/O=system:masters/CN=client", ["kube-controller-manager", "kube-scheduler"]);
        const running = step(m0, "controlPlane", next);
        // SIGKILL the step (as power loss would) once its journal says files are moving
        let killed = false;
        for (let i = 0; i < 100 && !killed; i++) {
            killed = onNode(m0, "if sudo test -f /etc/kubernetes/rotate-certs/journal; then sudo pkill -KILL -f 'bash -s -- rotate [c]ontrolPlane' && echo killed; fi || true").includes("killed");
            if (!killed) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.ok(killed, "the step was killed while its journal was open");
        await running;
        assert.equal(activity(m0)[`controlPlane/${m0}`]!.status, "Initiated", "a killed step records nothing more");
        const rerun = await step(m0, "controlPlane", next);
        assert.equal(rerun.status, 0, rerun.stderr);
        assert.match(rerun.stderr, new RegExp(`step controlPlane/${m0} was interrupted after its files moved: restored its previous files`));
        assert.notEqual(hashes(m0, files), before);
        assert.equal(onNode(m0, "sudo test -e /etc/kubernetes/rotate-certs/journal && echo open || echo closed").trim(), "closed");
    });

    it("(g) two stacks on one cluster: the second is refused the lock, naming the first, until the first releases it", async () => {
        const lock = (action: string, holder: string) => runStep(m0, "lock", [action, m0, `fault${++run}`], { lock_holder: holder }, []);
        const [a, b] = ["organization/azs-cert-rotation/staging", "organization/azs-cert-rotation/other-checkout"];
        assert.equal((await lock("take", a)).status, 0);
        try {
            assert.equal((await lock("take", a)).status, 0, "the holder's rerun goes on");
            const refused = await lock("take", b);
            assert.notEqual(refused.status, 0);
            assert.match(refused.stderr, new RegExp(`${m0}: the cluster's rotation lock is held by ${a} since \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z: another stack is rotating this cluster; .*sudo rm /etc/kubernetes/rotate-certs/cluster-lock`));
            assert.equal((await lock("release", b)).status, 0);
            assert.notEqual((await lock("take", b)).status, 0, "a release by another stack does not free it");
        } finally {
            assert.equal((await lock("release", a)).status, 0);
        }
        assert.equal((await lock("take", b)).status, 0, "free once the holder released it");
        assert.equal((await lock("release", b)).status, 0);
        assert.equal(onNode(m0, "sudo test -e /etc/kubernetes/rotate-certs/cluster-lock && echo held || echo free").trim(), "free");
    });

    it("(e) the SSH connection cut during a restart: the step finishes on its own and records its outcome", async () => {
        const next = clientFiles("/O=system:masters/CN=client", ["kube-controller-manager", "kube-scheduler"]);
        const r = await step(m0, "controlPlane", next, { disconnectAfterMs: 1500 });
        assert.notEqual(r.status, 0, "the operator's side saw the connection drop");
        let status = "Initiated";
        for (let i = 0; i < 60 && status === "Initiated"; i++) {
            await new Promise((resolve) => setTimeout(resolve, 1000));
            status = activity(m0)[`controlPlane/${m0}`]!.status;
        }
        assert.equal(status, "Success");
        assert.equal(hashes(m0, ["client.crt"]).split(" ")[0], createHash("sha256").update(next[0]!.content).digest("hex"));
    });
});
