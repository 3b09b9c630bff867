// Discovery on a private testbed (only the jumpbox's SSH and the load balancer reachable from
// here): a stack that names the apimodel, the jumpbox, the SSH key and how the testbed's masters
// run their services (testbedStackFileBeforeDiscovery) gets its nodes' addresses, their
// host keys and the front-proxy CA from the live cluster; a rerun changes nothing; a changed host
// key and a cluster that differs from the apimodel are refused with nothing written; a wrong jumpbox
// key stops it; the first preview then plans no new CA.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { parseDocument } from "yaml";
import { hostKeyFingerprint } from "../../discovery/reconcile";
import { openGeneratedStack, REPO_ROOT, setAccessConfig, setObjectConfig, testbedRollout, testbedStackFileBeforeDiscovery } from "../../testbed/harness/workspace";
import { assertEngineWithPlugin, createTestBackend, TestBackend } from "./support/engine";
import { onNode, testbed, TESTBED_STATE, testbedNodes } from "./support/testbed";

const NS = "azs-cert-rotation";
const STACK = "discovered";

describe("discovery on a private testbed: nodes, host keys and the front-proxy CA from the live cluster", function () {
    let backend: TestBackend;
    let workspace: string;
    let stack: Stack;
    let stackFile: string;

    /** Runs `npm run discover`'s program on the stack; its exit code and output. */
    function discover(...args: string[]): { code: number; output: string } {
        const run = spawnSync("node", ["-r", "ts-node/register/transpile-only", path.join(REPO_ROOT, "discovery/index.ts"), "--stack", STACK, "--cwd", workspace, ...args], {
            cwd: REPO_ROOT,
            env: { ...process.env, ...backend.envVars },
            encoding: "utf8",
            timeout: 300_000,
        });
        const output = `${run.stdout}${run.stderr}`;
        console.log(output.replace(/^/gm, "      | "));
        return { code: run.status ?? -1, output };
    }
    const stackNodes = (): { name: string; ip: string; hostKey: string }[] => (parseDocument(fs.readFileSync(stackFile, "utf8")).toJS() as { config: Record<string, never> }).config[`${NS}:nodes`];

    before(async function () {
        assertEngineWithPlugin("@pulumi/tls");
        testbed("down");
        // leaves valid for 20 days: less than pki.warnDays (60), so the report and the preview warn
        testbed("up", ["--private", "--cert-days", "20"]);
        backend = createTestBackend("azs-discover-e2e");
        workspace = fs.mkdtempSync(path.join(os.tmpdir(), "azs-discover-project-"));
        stack = await openGeneratedStack(workspace, STACK, testbedStackFileBeforeDiscovery(), backend.envVars);
        await setAccessConfig(stack, TESTBED_STATE, testbedRollout());
        stackFile = path.join(workspace, `Pulumi.${STACK}.yaml`);
    });

    after(() => {
        backend?.remove();
        if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
    });

    it("writes every node with its address and host key, prints each fingerprint, and adopts the front-proxy CA the masters share", async () => {
        const { code, output } = discover();
        assert.equal(code, 0);
        const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
        const expected = testbedNodes().map((n) => ({ name: n.name, ip: n.ip, hostKey: (n as unknown as { hostKey: string }).hostKey }));
        const written = stackNodes().map(({ name, ip, hostKey }) => ({ name, ip, hostKey }));
        assert.deepEqual(written.sort(byName), [...expected].sort(byName));
        for (const n of expected) assert.match(output, new RegExp(`^${n.name} +${n.ip.replace(/\./g, "\\.")} +ssh-ed25519 ${hostKeyFingerprint(n.hostKey).replace(/[+/]/g, "\\$&")} \\(new\\)$`, "m"));
        const masters = testbedNodes().filter((n) => n.role === "master");
        const onMasters = masters.map((m) => onNode(m.name, "cat /etc/kubernetes/certs/proxy-ca.crt"));
        const config = await stack.getAllConfig();
        assert.equal(config[`${NS}:frontProxyCaCertificate`]!.value.trim(), onMasters[0]!.trim());
        assert.equal(config[`${NS}:frontProxyCaPrivateKey`]!.secret, true);
        assert.equal(config[`${NS}:frontProxyCaPrivateKey`]!.value.trim(), onNode(masters[1]!.name, "sudo cat /etc/kubernetes/certs/proxy-ca.key").trim());
        assert.doesNotMatch(fs.readFileSync(stackFile, "utf8"), /PRIVATE KEY/);
        assert.doesNotMatch(output, /PRIVATE KEY/);
    });

    it("a rerun with nothing changed writes nothing", () => {
        const before = fs.readFileSync(stackFile, "utf8");
        const { code, output } = discover();
        assert.equal(code, 0);
        assert.match(output, /The stack's nodes are up to date: nothing written/);
        assert.match(output, /front-proxy-ca: adopted already \(frontProxyCaCertificate\); the masters' \/etc\/kubernetes\/certs\/proxy-ca\.crt is the same/);
        assert.equal(fs.readFileSync(stackFile, "utf8"), before);
    });

    it("a changed host key is shown with both fingerprints and written only with --accept-changed-host-keys", () => {
        const nodes = stackNodes();
        const agent = nodes[nodes.length - 1]!;
        const keyFile = path.join(workspace, "impostor");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile]);
        const impostor = fs.readFileSync(`${keyFile}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
        fs.writeFileSync(stackFile, fs.readFileSync(stackFile, "utf8").replace(agent.hostKey, impostor));
        const pinned = fs.readFileSync(stackFile, "utf8");
        const refused = discover();
        assert.equal(refused.code, 1);
        assert.ok(refused.output.includes(`${agent.name} (${agent.ip}): pinned ${hostKeyFingerprint(impostor)}, now presents ${hostKeyFingerprint(agent.hostKey)}`), refused.output);
        assert.equal(fs.readFileSync(stackFile, "utf8"), pinned, "nothing written");
        assert.equal(discover("--accept-changed-host-keys").code, 0);
        assert.equal(stackNodes().find((n) => n.name === agent.name)!.hostKey, agent.hostKey);
    });

    it("an apimodel that no longer matches the cluster (a pool scaled out in the file) is refused with the difference, nothing written", async () => {
        const config = await stack.getAllConfig();
        const apimodelPath = config[`${NS}:apimodelPath`]!.value;
        const copy = fs.mkdtempSync(path.join(workspace, "_output-"));
        const model = JSON.parse(fs.readFileSync(apimodelPath, "utf8"));
        const pool = model.properties.agentPoolProfiles[0];
        pool.count += 1;
        fs.writeFileSync(path.join(copy, "apimodel.json"), JSON.stringify(model, null, 2));
        fs.copyFileSync(path.join(path.dirname(apimodelPath), "azuredeploy.json"), path.join(copy, "azuredeploy.json"));
        fs.cpSync(path.join(path.dirname(apimodelPath), "kubeconfig"), path.join(copy, "kubeconfig"), { recursive: true });
        await stack.setConfig(`${NS}:apimodelPath`, { value: path.join(copy, "apimodel.json") });
        try {
            const before = fs.readFileSync(stackFile, "utf8");
            const { code, output } = discover();
            assert.equal(code, 1);
            assert.match(output, new RegExp(`k8s-${pool.name}-\\d+-${pool.count - 1}: a VM of the apimodel \\(pool ${pool.name}\\) that the cluster has no Node for`));
            assert.match(output, /nothing was written/);
            assert.equal(fs.readFileSync(stackFile, "utf8"), before);
        } finally {
            await stack.setConfig(`${NS}:apimodelPath`, { value: apimodelPath });
        }
    });

    it("a jumpbox that presents another host key than the pinned one stops discovery before anything is read", () => {
        const before = fs.readFileSync(stackFile, "utf8");
        const doc = parseDocument(before);
        doc.setIn(["config", `${NS}:jumpbox`, "hostKey"], stackNodes()[0]!.hostKey);
        fs.writeFileSync(stackFile, doc.toString());
        try {
            const { code, output } = discover();
            assert.equal(code, 2);
            assert.match(output, /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
        } finally {
            fs.writeFileSync(stackFile, before);
        }
    });

    it("certificates on the nodes 20 days from expiry: the first preview lists them (read through the jumpbox), and npm run report exits 1 (due), nothing drifted", async () => {
        const output: string[] = [];
        await stack.preview({ onOutput: (o) => output.push(o) });
        const text = output.join("");
        assert.match(text, /on the nodes now, certificates expiring within pki\.warnDays \(60 days\), soonest first/);
        for (const n of testbedNodes()) assert.match(text, new RegExp(`- ${n.name} /etc/kubernetes/certs/client\\.crt \\(.*\\): notAfter \\S+, daysLeft 1[89]\\b`), `${n.name}: its client.crt is listed`);
        assert.doesNotMatch(text, /drift: /, "no record yet: no drift is judged");

        const r = spawnSync("node", ["-r", "ts-node/register/transpile-only", path.join(REPO_ROOT, "report/index.ts"), "--stack", STACK, "--cwd", workspace, "--json"], {
            cwd: REPO_ROOT,
            env: { ...process.env, ...backend.envVars },
            encoding: "utf8",
            timeout: 300_000,
        });
        assert.equal(r.status, 1, `${r.stdout.slice(0, 2000)}${r.stderr}`);
        const report = JSON.parse(r.stdout) as { summary: { status: string; stateCompared: boolean; filesByState: Record<string, number> } };
        assert.deepEqual([report.summary.status, report.summary.stateCompared, report.summary.filesByState.drifted], ["due", false, 0]);
        assert.ok(report.summary.filesByState.due > 0);
    });

    it("the first preview of the discovered stack plans no new CA: every CA is the cluster's own", async () => {
        /** The self-signed certificates a preview plans that are not a leaf's renewal clock (…-clock): generated CAs. */
        async function plannedCas(): Promise<string[]> {
            const planned: string[] = [];
            const preview = await stack.preview({
                onEvent: (e) => e.resourcePreEvent && planned.push(`${e.resourcePreEvent.metadata.op} ${e.resourcePreEvent.metadata.type} ${e.resourcePreEvent.metadata.urn.split("::").pop()}`),
            });
            assert.ok((preview.changeSummary.create ?? 0) > 40, JSON.stringify(preview.changeSummary));
            assert.ok(planned.some((p) => p.startsWith("create tls:index/locallySignedCert:LocallySignedCert ")), "leaves are issued");
            const selfSigned = planned.filter((p) => p.includes(" tls:index/selfSignedCert:SelfSignedCert "));
            assert.ok(selfSigned.length > 0, "the leaves' renewal clocks are planned");
            return selfSigned.filter((p) => !p.endsWith("-clock"));
        }
        assert.deepEqual(await plannedCas(), [], "no CA is generated");
        // the check sees a generated CA: a new front-proxy CA asked for on purpose
        await setObjectConfig(stack, `${NS}:pki`, { caRotation: "immediate", caGenerations: { frontProxyCa: { "0": "retired", "1": "active" } } });
        assert.equal((await plannedCas()).length, 1);
    });
});
