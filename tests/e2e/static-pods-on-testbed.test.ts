// The rollout on masters as AKS Engine builds them (testbed/up --control-plane static-pods): a real
// kubelet and containerd run kube-apiserver, kube-controller-manager and kube-scheduler as static
// pods. (1) A takeover re-issues every leaf: each static pod's container is replaced (a new
// container id, started by the kubelet after the step stopped the old one), each apiserver serves
// the new certificate, every Node is Ready, 0 failed prober requests, the etcd canary unchanged.
// (2) A static-pod apiserver that cannot start with its new files is rolled back. (3) With
// pki.kubeletServing: issue each master's real kubelet serves a certificate for its node from the
// cluster CA, and forcing the Kubelet-Server rotation replaces it.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { whileProbing } from "../../testbed/harness/prober";
import { setObjectConfig } from "../../testbed/harness/workspace";
import { stepParams } from "../../components/rollout/stepParams";
import { assertEngineWithPlugin, filesWithPemPrivateKeys } from "./support/engine";
import { openTestbedTestStack, removeTestbedTestStack, TestbedTestStack } from "./support/testbedStack";
import { certFile, CERTS, runStep, testbedParamContext, testbedParamNode } from "./support/steps";
import { activityOf, etcdCanaryHash, fingerprint, inVm, onNode, saveNodeLogs, servedFingerprint, testbed, TESTBED_STATE, testbedNodes, TestbedNode, waitForReady } from "./support/testbed";

const CONTROL_PLANE = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;

/** The running container of each control-plane static pod on a master (crictl, as the kubelet's runtime sees it). */
function staticPodContainers(node: string): Record<string, string> {
    const ids: Record<string, string> = {};
    for (const name of CONTROL_PLANE) ids[name] = inVm(node, ["crictl", "--runtime-endpoint", "unix:///run/containerd/containerd.sock", "ps", "-q", "--state", "running", "--name", `^${name}$`]).trim();
    return ids;
}

describe("static-pod masters on the testbed: a real kubelet restarts the control plane", function () {
    let run: TestbedTestStack | undefined;
    let stack: Stack;
    let nodes: TestbedNode[];
    let masters: TestbedNode[];
    const log: string[] = [];
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "azs-static-e2e-"));

    before(async function () {
        assertEngineWithPlugin("@pulumi/tls");
        assertEngineWithPlugin("@pulumi/command");
        testbed("down");
        testbed("up", ["--control-plane", "static-pods"]);
        nodes = testbedNodes();
        masters = nodes.filter((n) => n.role === "master").sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
        run = await openTestbedTestStack("azs-static-e2e", "static");
        stack = run.stack;
    });

    afterEach(function () {
        saveNodeLogs(`static-pods-${this.currentTest?.title.split(":")[0]!.replace(/\W+/g, "-")}`);
    });

    after(async function () {
        await removeTestbedTestStack(run);
        fs.rmSync(tmp, { recursive: true, force: true });
        testbed("down");
    });

    it("(1) a takeover re-issues every leaf: every static pod gets a new container, each apiserver serves its new certificate, all Nodes Ready, 0 failed requests", async () => {
        const before = Object.fromEntries(masters.map((m) => [m.name, staticPodContainers(m.name)]));
        for (const m of masters) for (const name of CONTROL_PLANE) assert.match(before[m.name]![name]!, /^[0-9a-f]{64}$/, `${m.name}: ${name} runs as a container`);
        const canary = etcdCanaryHash();
        const { result, probe, seconds } = await whileProbing(() => stack.up({ onOutput: (o) => log.push(o) }));
        console.log(`      takeover on static pods: ${seconds.toFixed(0)} s, prober ${probe.ok} ok / ${probe.fail} failed`);
        assert.equal(result.summary.result, "succeeded");
        assert.ok(probe.ok > 100, `the prober ran (${JSON.stringify(probe)})`);
        assert.equal(probe.fail, 0, `failed requests: ${(probe.explained ?? []).join("; ")}`);

        const profile = result.outputs.certificateProfile!.value as Record<string, string>;
        for (const m of masters) {
            const after = staticPodContainers(m.name);
            for (const name of CONTROL_PLANE) {
                assert.match(after[name]!, /^[0-9a-f]{64}$/, `${m.name}: ${name} runs again`);
                assert.notEqual(after[name], before[m.name]![name], `${m.name}: ${name} is a new container`);
            }
            assert.equal(servedFingerprint(m.ip, 443), fingerprint(profile.apiServerCertificate!), `${m.name} serves the new apiserver.crt`);
            const steps = activityOf(m.name);
            assert.match(steps[`apiserver/${m.name}`]!.message, /restarted: kube-apiserver/);
            assert.match(steps[`controlPlane/${m.name}`]!.message, /restarted: kube-controller-manager kube-scheduler/);
        }
        const ready = await waitForReady(masters[0]!.name, nodes.map((n) => n.name), 120_000);
        assert.deepEqual(ready, nodes.map((n) => n.name).sort(), "every Node Ready");
        assert.equal(etcdCanaryHash(), canary, "the etcd canary data are unchanged");
        assert.deepEqual(filesWithPemPrivateKeys(run!.backend.dir), []);
        assert.doesNotMatch(log.join(""), /PRIVATE KEY-----/);
    });

    it("(2) a static-pod apiserver that cannot start with its new files (a negative serial number: openssl accepts it, Go refuses it): rolled back, healthy again on the previous files, 0 failed requests", async () => {
        const m = masters[0]!;
        const dir = fs.mkdtempSync(path.join(tmp, "bad-serial-"));
        execFileSync("sh", ["-c", `openssl req -new -newkey rsa:2048 -nodes -subj /CN=apiserver -keyout key.pem -out csr.pem 2>/dev/null && printf 'extendedKeyUsage = serverAuth\\nsubjectAltName = IP:${m.ip}\\n' >ext && openssl x509 -req -in csr.pem -CA "$1/ca.crt" -CAkey "$1/ca.key" -set_serial -1234 -days 30 -extfile ext -out cert.pem 2>/dev/null`, "sh", path.join(TESTBED_STATE, "pki")], { cwd: dir });
        const files = ["apiserver.crt", "apiserver.key"];
        const hashes = () => onNode(m.name, `sudo sha256sum ${files.map((f) => `${CERTS}/${f}`).join(" ")}`);
        const before = hashes();
        const containerBefore = staticPodContainers(m.name)["kube-apiserver"];
        const input = [certFile("apiserver.crt", fs.readFileSync(path.join(dir, "cert.pem"), "utf8"), ["kube-apiserver"]), certFile("apiserver.key", fs.readFileSync(path.join(dir, "key.pem"), "utf8"), ["kube-apiserver"])];
        const { result: r, probe } = await whileProbing(() => runStep(m.name, "rotate", ["apiserver", m.name, "bad-serial"], stepParams(testbedParamContext(30, true), testbedParamNode(m.name), "apiserver"), input));
        console.log(`      ${r.stderr.split("\n").filter((l) => /rolled back/.test(l)).slice(-1)[0]}; prober ${probe.ok} ok / ${probe.fail} failed`);
        assert.notEqual(r.status, 0, "the step failed");
        // the new container exits at once; the gate sees no new one running, or one that does not answer
        assert.match(r.stderr, new RegExp(`apiserver/${m.name}: health check failed: (kube-apiserver \\(static pod\\): no new container running since its restart \\(crash-looping\\?\\)|kube-apiserver /readyz on [0-9.]+:443 not ok) \\(not within 30 s\\); rolled back 2 file\\(s\\) from \\S+; healthy again on the previous files`));
        assert.equal(hashes(), before, "back on the previous files");
        const after = staticPodContainers(m.name)["kube-apiserver"];
        assert.match(after!, /^[0-9a-f]{64}$/, "the apiserver runs again");
        assert.notEqual(after, containerBefore, "in a new container");
        assert.equal(probe.fail, 0, `failed requests: ${(probe.explained ?? []).join("; ")}`);
        const ready = await waitForReady(m.name, nodes.map((n) => n.name), 120_000);
        assert.deepEqual(ready, nodes.map((n) => n.name).sort(), "every Node Ready");
    });

    it("(3) pki.kubeletServing issue: each master's real kubelet serves a certificate for its node from the cluster CA; forcing the Kubelet-Server rotation replaces it; 0 failed requests", async () => {
        /** Subject and issuer CNs and fingerprint of the certificate a master's kubelet serves on :10250. */
        const served = (m: TestbedNode) => {
            const pem = execFileSync("sh", ["-c", `openssl s_client -connect ${m.ip}:10250 </dev/null 2>/dev/null | openssl x509`], { encoding: "utf8", timeout: 20_000 });
            const cn = (which: string) => execFileSync("openssl", ["x509", "-noout", `-${which}`, "-nameopt", "multiline"], { input: pem, encoding: "utf8" }).match(/commonName\s*=\s*(\S+)/)![1]!;
            return { subject: cn("subject"), issuer: cn("issuer"), fingerprint: fingerprint(pem) };
        };
        for (const m of masters) assert.equal(served(m).issuer, m.name, `${m.name}: before, the kubelet serves the node's self-signed certificate`);
        const upWith = async (pki: Record<string, unknown>, what: string) => {
            await setObjectConfig(stack, "azs-cert-rotation:pki", pki);
            const { result, probe, seconds } = await whileProbing(() => stack.up({ onOutput: (o) => log.push(o) }));
            console.log(`      ${what}: ${seconds.toFixed(0)} s, prober ${probe.ok} ok / ${probe.fail} failed`);
            assert.equal(result.summary.result, "succeeded");
            assert.equal(probe.fail, 0, `failed requests: ${(probe.explained ?? []).join("; ")}`);
            assert.deepEqual(await waitForReady(masters[0]!.name, nodes.map((n) => n.name), 120_000), nodes.map((n) => n.name).sort(), "every Node Ready");
            return Object.fromEntries(masters.map((m) => [m.name, served(m)]));
        };
        const issued = await upWith({ kubeletServing: "issue" }, "kubeletServing issue");
        for (const m of masters) assert.deepEqual([issued[m.name]!.subject, issued[m.name]!.issuer], [`system:node:${m.name}`, "ca"], `${m.name}: its kubelet serves the program's certificate`);
        const rotated = await upWith({ kubeletServing: "issue", rotation: { kubeletServer: 1 } }, "Kubelet-Server rotation");
        for (const m of masters) {
            assert.equal(rotated[m.name]!.subject, `system:node:${m.name}`);
            assert.notEqual(rotated[m.name]!.fingerprint, issued[m.name]!.fingerprint, `${m.name}: a new serving certificate`);
        }
        assert.deepEqual(filesWithPemPrivateKeys(run!.backend.dir), []);
        assert.doesNotMatch(log.join(""), /PRIVATE KEY-----/);
    });
});
