// End-to-end test of the testbed itself (issue 5): up → everything healthy → the prober sees
// 0 failures over 30 s → down leaves nothing behind. Needs root (namespaces, mounts) and the
// Debian packages of testbed/install-deps.sh; builds the Go binaries first if the cache is cold.
import { strict as assert } from "assert";
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TESTBED_STATE as state } from "../../testbed/harness/workspace";

const repo = path.resolve(__dirname, "..", "..");
const tb = (name: string) => path.join(repo, "testbed", name);
const env = { ...process.env, TESTBED_STATE: state };

function run(cmd: string, args: string[], timeoutMs: number): SpawnSyncReturns<string> {
    const r = spawnSync(cmd, args, { cwd: repo, env, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
    if (r.error) {
        throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}\n${r.stdout}\n${r.stderr}`);
    }
    return r;
}

function ok(cmd: string, args: string[], timeoutMs: number): string {
    const r = run(cmd, args, timeoutMs);
    assert.equal(r.status, 0, `${path.basename(cmd)} ${args.join(" ")} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
}

function ssh(node: string, command: string): SpawnSyncReturns<string> {
    return run("ssh", ["-F", path.join(state, "ssh", "config"), "-o", "BatchMode=yes", node, command], 60_000);
}

function leftovers(): string[] {
    const found: string[] = [];
    const netns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
    if (/^azstb-/m.test(netns)) found.push(`netns: ${netns.trim()}`);
    if (spawnSync("ip", ["link", "show", "azstb0"]).status === 0) found.push("bridge azstb0");
    const ipt = spawnSync("iptables", ["-S"], { encoding: "utf8" }).stdout ?? "";
    if (ipt.includes("AZSTB")) found.push("iptables AZSTB rules");
    const mounts = fs.readFileSync("/proc/self/mounts", "utf8");
    if (mounts.includes(state + "/")) found.push("mounts under the state dir");
    for (const p of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        try {
            const cmdline = fs.readFileSync(`/proc/${p}/cmdline`, "utf8");
            if (cmdline.includes(`${state}/vms/`)) found.push(`process ${p}: ${cmdline.replace(/\0/g, " ").slice(0, 80)}`);
        } catch {
            // process went away
        }
    }
    if (fs.existsSync(state)) found.push(`state dir ${state}`);
    return found;
}

describe("testbed: a real AKS Engine-style cluster in namespaces", function () {
    before(function () {
        if (os.platform() !== "linux" || process.getuid?.() !== 0) {
            this.skip(); // needs root for network and mount namespaces
        }
        // Cold builds of etcd and Kubernetes take tens of minutes on 2 cores; cached afterwards.
        this.timeout(100 * 60_000);
        ok(tb("install-deps.sh"), [], 15 * 60_000);
        ok(tb("build.sh"), [], 95 * 60_000);
    });

    after(function () {
        this.timeout(120_000);
        run(tb("down"), [], 110_000); // never leave a testbed running, even after a failure
    });

    // The up time is printed, not asserted: speed is a benchmark's business, not a test's.
    it("comes up healthy with 3 masters and 3 agents", function () {
        this.timeout(10 * 60_000);
        run(tb("down"), [], 110_000);
        const t0 = Date.now();
        ok(tb("up"), ["--masters", "3", "--agents", "3"], 8 * 60_000);
        const seconds = (Date.now() - t0) / 1000;
        console.log(`      up took ${seconds.toFixed(0)} s`);
        const status = ok(tb("status"), [], 120_000);
        assert.match(status, /verdict: healthy/);
        assert.match(status, /Ready 6\/6/);
        assert.equal((status.match(/\| +true \|/g) ?? []).length, 3, `3 healthy etcd members\n${status}`);
    });

    it("is idempotent: a second up leaves the running testbed alone", function () {
        this.timeout(5 * 60_000);
        const before = fs.readFileSync(path.join(state, "vms", "k8s-master-31415926-0", "init.pid"), "utf8");
        ok(tb("up"), [], 4 * 60_000);
        const after = fs.readFileSync(path.join(state, "vms", "k8s-master-31415926-0", "init.pid"), "utf8");
        assert.equal(after, before);
    });

    it("writes the aks-engine artefacts and the Pulumi stack config", function () {
        const apimodel = JSON.parse(fs.readFileSync(path.join(state, "_output", "azstb", "apimodel.json"), "utf8"));
        const p = apimodel.properties;
        assert.equal(p.masterProfile.count, 3);
        assert.equal(p.masterProfile.firstConsecutiveStaticIP, "10.240.255.5");
        assert.equal(p.agentPoolProfiles[0].count, 3);
        assert.equal(p.linuxProfile.adminUsername, "azureuser");
        assert.match(p.certificateProfile.caCertificate, /BEGIN CERTIFICATE/);
        assert.equal(p.certificateProfile.etcdPeerCertificates.length, 3);
        const stack = fs.readFileSync(path.join(state, "Pulumi.testbed.yaml"), "utf8");
        assert.match(stack, /azs-cert-rotation:nodes:/);
        assert.match(stack, /hostKey: "ssh-ed25519 /);
        assert.doesNotMatch(stack, /PRIVATE KEY/);
        const inv = JSON.parse(fs.readFileSync(path.join(state, "inventory.json"), "utf8"));
        assert.equal(inv.nodes.length, 6);
    });

    it("lets the admin user in over SSH with sudo and a systemctl that drives the supervisor", function () {
        this.timeout(3 * 60_000);
        const r = ssh("k8s-master-31415926-0",
            "hostname && sudo -n systemctl restart kube-scheduler && systemctl is-active kube-scheduler etcd kube-apiserver" +
            " && ls /etc/kubernetes/certs/etcdpeer0.crt");
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^k8s-master-31415926-0\nactive\nactive\nactive\n/);
        const a = ssh("k8s-agentpool1-31415926-0", "ls /etc/kubernetes/certs; systemctl is-active kubelet");
        assert.equal(a.status, 0, a.stderr);
        assert.doesNotMatch(a.stdout, /ca\.key/);
        assert.match(a.stdout, /client\.crt[\s\S]*active/);
    });

    it("runs kube-system's workloads on the hollow agents, and the controller-manager fills the legacy token secrets with a token that authenticates", function () {
        this.timeout(60_000);
        const pki = (f: string) => path.join(state, "pki", f);
        const endpoint = (JSON.parse(fs.readFileSync(path.join(state, "inventory.json"), "utf8")) as { apiServerEndpoint: string }).apiServerEndpoint;
        const curl = (url: string, extra: string[] = []) =>
            run("curl", ["-sS", "--max-time", "10", "--cacert", pki("ca.crt"), ...extra, `${endpoint}${url}`], 20_000);
        const get = (url: string) => {
            const r = curl(url, ["--fail", "--cert", pki("kubectlClient.crt"), "--key", pki("kubectlClient.key")]);
            assert.equal(r.status, 0, `GET ${url}: ${r.stderr}`);
            return JSON.parse(r.stdout) as { items: { metadata: { name: string }; spec: Record<string, unknown>; status: Record<string, number> }[] };
        };
        const ns = "/namespaces/kube-system";
        const ready = (kind: string, field: string) => Object.fromEntries(get(`/apis/apps/v1${ns}/${kind}?labelSelector=k8s-app`).items.map((i) => [i.metadata.name, i.status[field] ?? 0]));
        assert.deepEqual(ready("deployments", "readyReplicas"), { coredns: 2, "metrics-server": 1 });
        assert.deepEqual(ready("daemonsets", "numberReady"), { "azure-ip-masq-agent": 3, "kube-proxy": 3 }, "one per agent");
        assert.deepEqual(ready("statefulsets", "readyReplicas"), { "azs-testbed-store": 2 });
        const pods = get(`/api/v1${ns}/pods?labelSelector=k8s-app%3Dkube-proxy`).items.map((p) => p.spec.nodeName as string);
        assert.deepEqual(pods.sort(), [0, 1, 2].map((i) => `k8s-agentpool1-31415926-${i}`));
        const budgets = get(`/apis/policy/v1${ns}/poddisruptionbudgets`).items.map((b) => [b.metadata.name, b.status.disruptionsAllowed]);
        assert.deepEqual(budgets.sort(), [["azs-testbed-store-pdb", 1], ["coredns-pdb", 1], ["metrics-server-pdb", 1]]);
        const secrets = (get(`/api/v1${ns}/secrets?fieldSelector=type%3Dkubernetes.io%2Fservice-account-token`) as unknown as { items: { metadata: { name: string }; data: Record<string, string> }[] }).items;
        assert.deepEqual(secrets.map((x) => x.metadata.name).sort(), ["coredns-token", "kube-proxy-token", "metrics-server-token"]);
        for (const secret of secrets) {
            assert.equal(Buffer.from(secret.data["ca.crt"]!, "base64").toString("utf8").trim(), fs.readFileSync(pki("ca.crt"), "utf8").trim(), `${secret.metadata.name}: ca.crt`);
            const header = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tb-token-")), "header");
            fs.writeFileSync(header, `Authorization: Bearer ${Buffer.from(secret.data.token!, "base64").toString("utf8")}\n`, { mode: 0o600 });
            const status = curl("/api", ["-o", "/dev/null", "-w", "%{http_code}", "-H", `@${header}`]).stdout;
            fs.rmSync(path.dirname(header), { recursive: true, force: true });
            assert.equal(status, "200", `${secret.metadata.name}'s token authenticates`);
        }
    });

    it("serves the API through the load balancer with 0 failures over 30 s at 20 req/s, data intact", function () {
        this.timeout(3 * 60_000);
        const before = JSON.parse(ok(tb("etcd-check"), [], 90_000));
        assert.equal(before.canaryKeys, 20);
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "probe-"));
        const summary = JSON.parse(ok(tb("probe"), ["--rate", "20", "--duration", "30s", "--out", out], 90_000));
        assert.equal(summary.fail, 0, JSON.stringify(summary, null, 2));
        assert.ok(summary.total >= 580, `expected ~600 requests, got ${summary.total}`);
        const lines = fs.readFileSync(path.join(out, "probe-seconds.jsonl"), "utf8").trim().split("\n");
        assert.equal(lines.length, 30);
        const after = JSON.parse(ok(tb("etcd-check"), [], 90_000));
        assert.equal(after.canarySha256, before.canarySha256);
        fs.rmSync(out, { recursive: true, force: true });
    });

    it("goes down leaving nothing behind, twice", function () {
        this.timeout(4 * 60_000);
        ok(tb("down"), [], 110_000);
        ok(tb("down"), [], 110_000);
        assert.deepEqual(leftovers(), []);
    });
});
