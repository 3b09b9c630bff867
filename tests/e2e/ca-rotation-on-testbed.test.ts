// The masters as AKS Engine builds them (testbed/up --control-plane static-pods: a real kubelet and
// containerd run kube-apiserver, kube-controller-manager and kube-scheduler as static pods), with a
// separate etcd CA, on one cluster with the real engine, in order (each test needs the one before):
// (takeover) a new stack re-issues every leaf: each static pod's container is replaced (a new
// container id, started by the kubelet after the step stopped the old one), each apiserver serves
// the new certificate, every Node is Ready, 0 failed prober requests, the etcd canary unchanged;
// the pool's agents (rollout.maxUnavailablePerPool: 2) rotate two at a time, their steps overlapping.
// (rollback) A static-pod apiserver that cannot start with its new files is rolled back.
// (phased) The etcd, Kubernetes and front-proxy CAs and the service-account signing key together
// through trust → activate → retire (one reviewed `up` per phase; a token issued before works until
// the retire and is refused after it; so does a front-proxy client of generation 0, which every
// apiserver authenticates through requestheader). A one-shot chains the same stages in one `up`:
// it is planned in the pki file and the unit tests, and ran here until 2026-12-02 (8 to 15 min of
// CI; see the README). Through every phase the prober (which
// trusts master 0's current CA bundle) has no failed request, every Node is Ready after it, the
// canary data in etcd is unchanged, and a client that trusts only the old CA works until the retire
// phase and fails after it. As on AKS Engine, each master's kubelet has renewed its client
// certificate through a CSR at once (kubelet-client-current.pem, issued by the CA that is retired);
// from the activate phase on it holds none of the retired CA, and after the retire phase it renews
// through the active CA. (kubelet serving) pki.kubeletServing: issue, turned on in the retire
// phase's up (which restarts every kubelet anyway): each master's real kubelet then serves a
// certificate for its node from the active CA instead of its self-signed one. One cluster for all
// (each cluster costs a testbed and a takeover, 4 to 5 minutes of CI).
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { OutputMap, Stack } from "@pulumi/pulumi/automation";
import { whileProbing } from "../../testbed/harness/prober";
import { setObjectConfig } from "../../testbed/harness/workspace";
import { stepParams } from "../../components/rollout/stepParams";
import { assertEngineWithPlugin, filesWithPemPrivateKeys } from "./support/engine";
import { openTestbedTestStack, removeTestbedTestStack, TestbedTestStack } from "./support/testbedStack";
import { certFile, CERTS, runStep, testbedParamContext, testbedParamNode } from "./support/steps";
import { activityOf, E2E_PROBE_TIMEOUT_SECONDS, etcdCanaryHash, fingerprint, inVm, onNode, saveNodeLogs, servedFingerprint, testbed, TESTBED_STATE, testbedNodes, TestbedNode, waitForReady } from "./support/testbed";

type Generations = Record<string, "trusted" | "active" | "retired">;

/** A client that trusts one CA bundle and authenticates with one certificate. */
interface Client {
    ca: string;
    cert: string;
    key: string;
}

/** Where each up's engine events go (kept with the saved node logs). */
const EVENTS_DIR = path.join(os.tmpdir(), "azs-e2e-logs", `engine-events-${process.pid}`);

const CONTROL_PLANE = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;

/** The running container of each control-plane static pod on a master (crictl, as the kubelet's runtime sees it). */
function staticPodContainers(node: string): Record<string, string> {
    const ids: Record<string, string> = {};
    for (const name of CONTROL_PLANE) ids[name] = inVm(node, ["crictl", "--runtime-endpoint", "unix:///run/containerd/containerd.sock", "ps", "-q", "--state", "running", "--name", `^${name}$`]).trim();
    return ids;
}

describe("static-pod masters with a separate etcd CA on the testbed: takeover, rollback, CA rotation in phases with kubelet serving certificates issued at the retire", function () {
    let run: TestbedTestStack | undefined;
    let stack: Stack;
    let masters: TestbedNode[];
    let nodes: TestbedNode[];
    let canary: string;
    const log: string[] = [];
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "azs-ca-e2e-"));

    const endpoint = (): string => (JSON.parse(fs.readFileSync(path.join(TESTBED_STATE, "inventory.json"), "utf8")) as { apiServerEndpoint: string }).apiServerEndpoint;

    function clientFiles(name: string, pem: { ca: string; cert: string; key: string }): Client {
        const files = { ca: path.join(tmp, `${name}-ca.crt`), cert: path.join(tmp, `${name}.crt`), key: path.join(tmp, `${name}.key`) };
        fs.writeFileSync(files.ca, pem.ca);
        fs.writeFileSync(files.cert, pem.cert);
        fs.writeFileSync(files.key, pem.key, { mode: 0o600 });
        return files;
    }

    /** HTTP status of a GET (0 when TLS fails, e.g. the server's certificate does not verify). */
    function status(client: Client, url: string): number {
        const out = execFileSync("sh", ["-c", `curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$1" --cert "$2" --key "$3" "$4" || true`, "sh", client.ca, client.cert, client.key, url], { encoding: "utf8" });
        return Number(out.trim() || "0");
    }
    const apiWorks = (c: Client) => status(c, `${endpoint()}/api/v1/namespaces/default`) === 200;
    const etcdWorks = (c: Client) => masters.every((m) => status(c, `https://${m.ip}:2379/health`) === 200);

    /** Subject CNs of the certificates in a file on a node, in order (issuer of the first). */
    function certsInFile(node: string, file: string): { subjects: string[]; issuer: string } {
        const text = onNode(node, `cat ${CERTS}/${file}`);
        const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
        const field = (pem: string, which: "subject" | "issuer") => execFileSync("openssl", ["x509", "-noout", `-${which}`, "-nameopt", "multiline"], { input: pem, encoding: "utf8" }).match(/commonName\s*=\s*(\S+)/)![1]!;
        return { subjects: blocks.map((b) => field(b, "subject")), issuer: field(blocks[0]!, "issuer") };
    }

    const setPki = (pki: Record<string, unknown>) => setObjectConfig(stack, "azs-cert-rotation:pki", { etcdCa: "separate", ...pki });

    /** kube-system as master 0 sees it (support/cluster-view.sh). */
    interface ClusterView {
        workloads: Record<string, { trust: string | null; ready: boolean }>;
        kubeProxy: Record<string, string>;
        tokens: Record<string, { caIsBundle: boolean; kid: string; status: string }>;
        staleRootCa: string[];
    }
    const clusterView = (): ClusterView =>
        JSON.parse(onNode(masters[0]!.name, `echo ${fs.readFileSync(path.join(__dirname, "support", "cluster-view.sh")).toString("base64")} | base64 -d | sudo bash`, 60_000)) as ClusterView;
    /** After a phase: every kube-system workload rolled with `trust` and ready, every legacy token current and accepted, kube-root-ca.crt current everywhere. */
    function assertClusterFollows(name: string, trust: string): ClusterView {
        const view = clusterView();
        assert.deepEqual(Object.keys(view.workloads).sort(), ["DaemonSet/azure-ip-masq-agent", "DaemonSet/kube-proxy", "Deployment/coredns", "Deployment/metrics-server", "StatefulSet/azs-testbed-store"]);
        for (const [w, state] of Object.entries(view.workloads)) assert.deepEqual(state, { trust, ready: true }, `after ${name}: ${w} rolled with the stage's trust and ready`);
        assert.deepEqual(Object.keys(view.tokens).sort(), ["coredns-token", "kube-proxy-token", "metrics-server-token"]);
        for (const [secret, t] of Object.entries(view.tokens)) assert.deepEqual([t.caIsBundle, t.status], [true, "200"], `after ${name}: ${secret} holds the installed bundle and a token the apiserver accepts`);
        assert.deepEqual(view.staleRootCa, [], `after ${name}: kube-root-ca.crt holds the installed bundle in every namespace`);
        assert.deepEqual(Object.keys(view.kubeProxy).sort(), nodes.filter((n) => n.role === "agent").map((n) => n.name).sort(), "a kube-proxy pod on every agent");
        return view;
    }

    /**
     * One `pulumi up` with the prober running; checks what must hold after every phase, among them
     * that the controller-manager signs with `signer` (the active Kubernetes CA generation's CN)
     * and that kube-system follows the stage (`trust`: the annotation its rolled pods carry).
     */
    /** kube-system after the last phase (assertClusterFollows). */
    let cluster: ClusterView;
    /**
     * One `pulumi up` (with `pki` set first, when given) while the prober runs: it succeeds, the
     * prober ran and had no failed request, and every Node is Ready after it.
     */
    async function probedUp(name: string, pki?: Record<string, unknown>): Promise<OutputMap> {
        if (pki) await setPki(pki);
        // the engine's events, for the timeline of a slow or failed up (each resource's start and end)
        const events = path.join(EVENTS_DIR, `${name.replace(/\W+/g, "-")}.jsonl`);
        fs.mkdirSync(path.dirname(events), { recursive: true });
        const { result, probe, seconds } = await whileProbing(() => stack.up({ onOutput: (o) => log.push(o), onEvent: (e) => fs.appendFileSync(events, `${JSON.stringify(e)}\n`) }), { timeoutSeconds: E2E_PROBE_TIMEOUT_SECONDS });
        console.log(`      ${name}: ${seconds.toFixed(0)} s, prober ${probe.ok} ok / ${probe.fail} failed (latency p99 ${probe.p99_ms} ms, max ${probe.max_ms} ms)`);
        assert.equal(result.summary.result, "succeeded");
        assert.ok(probe.ok > 100, `the prober ran (${JSON.stringify(probe)})`);
        assert.equal(probe.fail, 0, `failed requests during ${name}: ${(probe.explained ?? []).join("; ") || JSON.stringify(probe)}`);
        const ready = await waitForReady(masters[0]!.name, nodes.map((n) => n.name), 120_000);
        assert.deepEqual(ready, nodes.map((n) => n.name).sort(), `all Nodes Ready after ${name}`);
        return result.outputs;
    }

    async function phase(name: string, pki: Record<string, unknown>, signer: string, trust: string): Promise<OutputMap> {
        const outputs = await probedUp(name, pki);
        assert.equal(etcdCanaryHash(), canary, `etcd data unchanged after ${name}`);
        assert.equal(controllerManagerSigner(), signer, `after ${name} the controller-manager signs with the active generation`);
        cluster = assertClusterFollows(name, trust);
        return outputs;
    }

    const pem = (f: string) => fs.readFileSync(path.join(TESTBED_STATE, "pki", f), "utf8");

    /** The cluster: a fresh testbed with a separate etcd CA and static-pod masters, and a new stack for it (its takeover is the first test). */
    before(async function () {
        assertEngineWithPlugin("@pulumi/tls");
        assertEngineWithPlugin("@pulumi/command");
        testbed("down");
        testbed("up", ["--separate-etcd-ca", "--control-plane", "static-pods"]);
        nodes = testbedNodes();
        masters = nodes.filter((n) => n.role === "master").sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
        canary = etcdCanaryHash();
        run = await openTestbedTestStack("azs-ca-e2e", "ca");
        stack = run.stack;
        // The cluster CA and the service-account key from apimodel.json alone (typed copies would
        // conflict with it once the write-back has put generation 1 there), written back after each up.
        for (const key of ["kubernetesCaCertificate", "kubernetesCaPrivateKey", "serviceAccountPrivateKey"]) await stack.removeConfig(`azs-cert-rotation:${key}`);
        await stack.setConfig("azs-cert-rotation:apimodelWriteBack", { value: "true" });
        // the pool's agents two at a time (the most a pool of three allows; the rollout file keeps the default, one)
        await stack.setConfig("azs-cert-rotation:rollout.maxUnavailablePerPool.agentpool1", { value: "2" }, true);
        apimodelFile = (JSON.parse(fs.readFileSync(path.join(TESTBED_STATE, "inventory.json"), "utf8")) as { apimodelPath: string }).apimodelPath;
    });

    /** No private key in plain state nor in the engine's output and events (checked at the end of each test). */
    function assertNoPlainKeys(): void {
        assert.deepEqual(filesWithPemPrivateKeys(run!.backend.dir), []);
        assert.deepEqual(filesWithPemPrivateKeys(EVENTS_DIR), []);
        assert.doesNotMatch(log.join(""), /PRIVATE KEY-----/);
    }

    afterEach(function () {
        // at once: CI shows a part of the output, and mocha lists failures only after every file
        if (this.currentTest?.state === "failed") console.log(`      FAILED: ${this.currentTest.title.split(":")[0]}: ${this.currentTest.err?.message}`);
        saveNodeLogs(`ca-rotation-${this.currentTest?.title.split(":")[0]!.replace(/\W+/g, "-")}`);
    });

    after(function () {
        removeTestbedTestStack(run);
        fs.rmSync(tmp, { recursive: true, force: true });
        // the cluster no longer runs the testbed's own CAs: the next test starts from a fresh one
        testbed("down");
    });

    /**
     * The issuer (CN) of the client certificate a master's real kubelet holds from its own renewal
     * through a CSR (--rotate-certificates: kubelet-client-current.pem, signed by the
     * controller-manager with ca.key; "" while it has none).
     */
    const kubeletRenewedBy = (m: TestbedNode): string => {
        const current = "/var/lib/kubelet/pki/kubelet-client-current.pem";
        const text = onNode(m.name, `sudo sh -c 'test -e ${current} && cat ${current} || true'`);
        return text.trim() ? execFileSync("openssl", ["x509", "-noout", "-issuer", "-nameopt", "multiline"], { input: text, encoding: "utf8" }).match(/commonName\s*=\s*(\S+)/)![1]! : "";
    };
    /**
     * The issuer (CN) of a certificate the controller-manager signs now: a CSR for
     * kubernetes.io/kube-apiserver-client made and approved on a master with its client.crt, its
     * certificate awaited (bounded). It signs with ca-signing.crt and ca.key, which must be the
     * active generation in every phase; "" when nothing was signed within 60 s.
     */
    function controllerManagerSigner(): string {
        const script = `set -euo pipefail
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
openssl req -new -newkey rsa:2048 -nodes -keyout "$d/key" -subj /CN=azs-e2e-csr -out "$d/csr" 2>/dev/null
api=https://$(sed -n 's/^ *server: *https:\\/\\///p' /var/lib/kubelet/kubeconfig | head -n1)/apis/certificates.k8s.io/v1/certificatesigningrequests
c=(curl -sS --fail --max-time 10 --cacert /etc/kubernetes/certs/ca.crt --cert /etc/kubernetes/certs/client.crt --key /etc/kubernetes/certs/client.key -H 'Content-Type: application/json')
name=azs-e2e-$(date +%s%N)
jq -n --arg name "$name" --arg req "$(base64 -w0 "$d/csr")" '{apiVersion: "certificates.k8s.io/v1", kind: "CertificateSigningRequest", metadata: {name: $name}, spec: {request: $req, signerName: "kubernetes.io/kube-apiserver-client", usages: ["client auth"], expirationSeconds: 600}}' >"$d/body"
"\${c[@]}" -X POST -d @"$d/body" "$api" >/dev/null
"\${c[@]}" "$api/$name" | jq '.status.conditions = [{type: "Approved", status: "True", reason: "E2E", message: "the CA e2e test checks the signer"}]' >"$d/approved"
"\${c[@]}" -X PUT -d @"$d/approved" "$api/$name/approval" >/dev/null
for _ in $(seq 60); do
  cert=$("\${c[@]}" "$api/$name" | jq -r '.status.certificate // empty')
  if [[ -n $cert ]]; then base64 -d <<<"$cert" | openssl x509 -noout -issuer -nameopt multiline | sed -n 's/^ *commonName *= *//p'; break; fi
  sleep 1
done
"\${c[@]}" -X DELETE "$api/$name" >/dev/null`;
        return onNode(masters[0]!.name, `echo ${Buffer.from(script).toString("base64")} | base64 -d | sudo bash`, 90_000).trim();
    }

    /** Waits (bounded) until every master's kubelet has renewed its client certificate through the CA `issuer`. */
    async function allRenewedThrough(issuer: string): Promise<void> {
        const deadline = Date.now() + 180_000;
        for (const m of masters) {
            let seen = kubeletRenewedBy(m);
            while (seen !== issuer && Date.now() < deadline) {
                await new Promise((r) => setTimeout(r, 2000));
                seen = kubeletRenewedBy(m);
            }
            assert.equal(seen, issuer, `${m.name}'s kubelet renewed its client certificate through the CA ${issuer}`);
        }
    }

    /** A token for the default service account from the TokenRequest API (an hour), signed by the key active now. */
    function requestToken(admin: Client): string {
        const url = `${endpoint()}/api/v1/namespaces/default/serviceaccounts/default/token`;
        const body = JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } });
        const out = execFileSync("curl", ["-sS", "--fail", "--max-time", "10", "--cacert", admin.ca, "--cert", admin.cert, "--key", admin.key, "-H", "Content-Type: application/json", "-X", "POST", "-d", body, url], { encoding: "utf8" });
        return (JSON.parse(out) as { status: { token: string } }).status.token;
    }
    /** HTTP status of GET /api with a bearer token (200: authenticated; 401: refused), trusting master 0's current bundle. */
    function tokenStatus(token: string): number {
        const ca = path.join(tmp, "current-ca.crt");
        const header = path.join(tmp, "token-header");
        fs.writeFileSync(ca, onNode(masters[0]!.name, `cat ${CERTS}/ca.crt`));
        fs.writeFileSync(header, `Authorization: Bearer ${token}\n`, { mode: 0o600 });
        const out = execFileSync("sh", ["-c", `curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$1" -H @"$2" "$3" || true`, "sh", ca, header, `${endpoint()}/api`], { encoding: "utf8" });
        return Number(out.trim() || "0");
    }
    /** The public keys in a master's sa.pub and whether its apiserver's --service-account-key-file names it. */
    const verifyingKeys = (m: TestbedNode) => ({
        keys: (onNode(m.name, `cat ${CERTS}/sa.pub`).match(/-----BEGIN PUBLIC KEY-----/g) ?? []).length,
        flag: onNode(m.name, "sudo grep -c -- '--service-account-key-file=/etc/kubernetes/certs/sa.pub' /etc/kubernetes/manifests/kube-apiserver.yaml || true").trim(),
    });

    let apimodelFile: string;
    /** The CA certificate apimodel.json holds now (its certificateProfile.caCertificate). */
    const apimodelCa = (): string => (JSON.parse(fs.readFileSync(apimodelFile, "utf8")) as { properties: { certificateProfile: { caCertificate: string } } }).properties.certificateProfile.caCertificate;

    /** Set once the takeover passed: every later test starts from its cluster. */
    let takenOver = false;

    it("(takeover) a new stack re-issues every leaf: every static pod gets a new container, each apiserver serves its new certificate, all Nodes Ready, 0 failed requests", async () => {
        const before = Object.fromEntries(masters.map((m) => [m.name, staticPodContainers(m.name)]));
        for (const m of masters) for (const name of CONTROL_PLANE) assert.match(before[m.name]![name]!, /^[0-9a-f]{64}$/, `${m.name}: ${name} runs as a container`);
        const outputs = await probedUp("takeover on static pods");
        assert.deepEqual(outputs.caGenerations!.value, { "kubernetes-ca": { "0": "active" }, "etcd-ca": { "0": "active" }, "front-proxy-ca": { "0": "active" }, "service-account": { "0": "active" } });

        const profile = outputs.certificateProfile!.value as Record<string, string>;
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
        // the agents' kubelet steps ran two at a time: one began while another ran
        const agentSteps = nodes.filter((n) => n.role === "agent").map((n) => activityOf(n.name)[`kubelet/${n.name}`]!);
        const spans = agentSteps.map((a) => [Date.parse(a.initiated), Date.parse(a.finished!)] as const);
        assert.ok(spans.some(([start, end], i) => spans.some(([other], j) => j !== i && start <= other && other < end)), `two agents' kubelet steps overlap: ${JSON.stringify(agentSteps.map((a) => [a.initiated, a.finished]))}`);
        assert.equal(etcdCanaryHash(), canary, "the etcd canary data are unchanged");
        assertNoPlainKeys();
        takenOver = true;
    });

    it("(rollback) a static-pod apiserver that cannot start with its new files (a negative serial number: openssl accepts it, Go refuses it): rolled back, healthy again on the previous files, 0 failed requests", async function () {
        if (!takenOver) this.skip();
        const m = masters[0]!;
        const dir = fs.mkdtempSync(path.join(tmp, "bad-serial-"));
        execFileSync("sh", ["-c", `openssl req -new -newkey rsa:2048 -nodes -subj /CN=apiserver -keyout key.pem -out csr.pem 2>/dev/null && printf 'extendedKeyUsage = serverAuth\\nsubjectAltName = IP:${m.ip}\\n' >ext && openssl x509 -req -in csr.pem -CA "$1/ca.crt" -CAkey "$1/ca.key" -set_serial -1234 -days 30 -extfile ext -out cert.pem 2>/dev/null`, "sh", path.join(TESTBED_STATE, "pki")], { cwd: dir });
        const files = ["apiserver.crt", "apiserver.key"];
        const hashes = () => onNode(m.name, `sudo sha256sum ${files.map((f) => `${CERTS}/${f}`).join(" ")}`);
        const before = hashes();
        const containerBefore = staticPodContainers(m.name)["kube-apiserver"];
        const input = [certFile("apiserver.crt", fs.readFileSync(path.join(dir, "cert.pem"), "utf8"), ["kube-apiserver"]), certFile("apiserver.key", fs.readFileSync(path.join(dir, "key.pem"), "utf8"), ["kube-apiserver"])];
        const { result: r, probe } = await whileProbing(() => runStep(m.name, "rotate", ["apiserver", m.name, "bad-serial"], stepParams(testbedParamContext(30, true), testbedParamNode(m.name), "apiserver"), input), { timeoutSeconds: E2E_PROBE_TIMEOUT_SECONDS });
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

    /**
     * The user the apiserver on a master takes from an X-Remote-User header sent with `proxy` (a
     * front-proxy client: the aggregator's certificate), through a SelfSubjectReview; "" when the
     * apiserver does not trust the front-proxy CA that signed it (the header is then ignored).
     */
    function frontProxyUser(m: TestbedNode, proxy: { cert: string; key: string }): string {
        const client = clientFiles(`front-proxy-${m.name}`, { ca: onNode(m.name, `cat ${CERTS}/ca.crt`), ...proxy });
        const body = JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
        const out = execFileSync("sh", ["-c", `curl -s --max-time 10 --cacert "$1" --cert "$2" --key "$3" -H 'X-Remote-User: azs-e2e-front-proxy' -H 'Content-Type: application/json' -X POST -d "$4" "$5" || true`, "sh", client.ca, client.cert, client.key, body, `https://${m.ip}:443/apis/authentication.k8s.io/v1/selfsubjectreviews`], { encoding: "utf8" });
        try {
            return (JSON.parse(out) as { status?: { userInfo?: { username?: string } } }).status?.userInfo?.username ?? "";
        } catch {
            return "";
        }
    }

    /** Subject and issuer CNs of the certificate a master's kubelet serves on :10250. */
    function kubeletServes(m: TestbedNode): string[] {
        const pem = execFileSync("sh", ["-c", `openssl s_client -connect ${m.ip}:10250 </dev/null 2>/dev/null | openssl x509`], { encoding: "utf8", timeout: 20_000 });
        const cn = (which: string) => execFileSync("openssl", ["x509", "-noout", `-${which}`, "-nameopt", "multiline"], { input: pem, encoding: "utf8" }).match(/commonName\s*=\s*(\S+)/)![1]!;
        return [cn("subject"), cn("issuer")];
    }

    it("the etcd, Kubernetes and front-proxy CAs together: a phase out of order refused at preview, then trust, activate, retire (with pki.kubeletServing: issue)", async function () {
        // three phases of about 4.5 min each on this 2-core machine, and the checks after each
        this.timeout(30 * 60_000);
        if (!takenOver) this.skip();
        await setPki({ caGenerations: { etcdCa: { "1": "active" } } });
        await assert.rejects(stack.preview(), /etcdCa: activating generation 1 before it is trusted everywhere is refused/);
        await setPki({ caGenerations: { kubernetesCa: { "0": "retired" } } });
        await assert.rejects(stack.preview(), /retiring the only CA is refused/);

        const oldEtcdClient = clientFiles("old-etcd", { ca: pem("etcd-ca.crt"), cert: pem("etcdclient.crt"), key: pem("etcdclient.key") });
        const oldAdmin = clientFiles("old-admin", { ca: pem("ca.crt"), cert: pem("kubectlClient.crt"), key: pem("kubectlClient.key") });
        assert.ok(etcdWorks(oldEtcdClient), "the old etcd client works before the rotation");
        assert.ok(apiWorks(oldAdmin), "the old admin client works before the rotation");
        const both = (g: Generations, retireAfterHours = 24) => ({ caGenerations: { etcdCa: g, kubernetesCa: g, frontProxyCa: g }, serviceAccountKeyGenerations: g, serviceAccountRetireAfterHours: retireAfterHours });
        // the front-proxy client the testbed issued (generation 0): every apiserver takes its X-Remote-User
        const oldProxy = { cert: pem("proxy.crt"), key: pem("proxy.key") };
        const proxyUsers = (proxy: (m: TestbedNode) => { cert: string; key: string }) => masters.map((m) => frontProxyUser(m, proxy(m)));
        const installedProxy = (m: TestbedNode) => ({ cert: onNode(m.name, `cat ${CERTS}/proxy.crt`), key: onNode(m.name, `sudo cat ${CERTS}/proxy.key`) });
        const everyMaster = (user: string) => masters.map(() => user);
        assert.deepEqual(proxyUsers(() => oldProxy), everyMaster("azs-e2e-front-proxy"), "before the rotation every apiserver trusts the front-proxy CA generation 0");
        const tokenBefore = requestToken(oldAdmin);
        assert.equal(tokenStatus(tokenBefore), 200, "a token of the current key works before the rotation");

        // each master's kubelet replaced the kubeconfig's client.crt (CN client) through a CSR at once
        await allRenewedThrough("ca");

        const apimodelBefore = fs.readFileSync(apimodelFile, "utf8");
        const before = clusterView();
        const trusted = await phase("etcd, Kubernetes and front-proxy CAs: trust", both({ "0": "active", "1": "trusted" }), "ca", "kubernetes-ca 0+1; service-account 0");
        assert.deepEqual(Object.values(cluster.tokens).map((t) => t.kid), Object.values(before.tokens).map((t) => t.kid), "the trust phase leaves the legacy tokens alone");
        // mid-rotation the apimodel (one CA) is left alone, and the output says why
        assert.match(trusted.apimodelWriteBack!.value as string, /^apimodelWriteBack: refused, .* left untouched: the Kubernetes CA is mid-rotation/);
        assert.equal(fs.readFileSync(apimodelFile, "utf8"), apimodelBefore);
        assert.deepEqual(certsInFile(masters[0]!.name, "etcd-ca.crt").subjects, ["etcd-ca", "etcd-ca-g1"]);
        for (const n of nodes) assert.deepEqual(certsInFile(n.name, "ca.crt").subjects, ["ca", "ca-g1"], `${n.name}: ca.crt holds both generations`);
        assert.equal(certsInFile(masters[1]!.name, "etcdserver.crt").issuer, "etcd-ca", "nothing is signed by generation 1 yet");
        assert.equal(certsInFile(masters[1]!.name, "apiserver.crt").issuer, "ca", "nothing is signed by generation 1 yet");
        for (const m of masters) assert.deepEqual(certsInFile(m.name, "proxy-ca.crt").subjects, ["proxyClientCA", "proxyClientCA-g1"], `${m.name}: proxy-ca.crt holds both generations`);
        assert.equal(certsInFile(masters[1]!.name, "proxy.crt").issuer, "proxyClientCA", "nothing is signed by generation 1 yet");
        assert.deepEqual(proxyUsers(() => oldProxy), everyMaster("azs-e2e-front-proxy"), "the old front-proxy client works after the trust phase");
        assert.ok(etcdWorks(oldEtcdClient) && apiWorks(oldAdmin), "the old clients work after the trust phase");
        const plan = (trusted.caRotationPlan!.value as string[]).join("\n");
        assert.match(plan, /etcd CA: next, activate generation 1/);
        assert.match(plan, /Kubernetes CA: next, activate generation 1/);
        assert.match(plan, /service-account signing key: next, activate generation 1/);
        for (const m of masters) assert.deepEqual(verifyingKeys(m), { keys: 2, flag: "1" }, `${m.name}: the apiserver verifies tokens with both keys`);
        assert.equal(tokenStatus(tokenBefore), 200, "the token works after the trust phase");

        const active = await phase("etcd, Kubernetes and front-proxy CAs: activate", both({ "0": "trusted", "1": "active" }), "ca-g1", "kubernetes-ca 0+1; service-account 1");
        for (const [secret, t] of Object.entries(cluster.tokens)) assert.notEqual(t.kid, before.tokens[secret]!.kid, `${secret}: re-signed by the new key at its activation`);
        for (const m of masters) {
            assert.deepEqual(certsInFile(m.name, "etcdserver.crt"), { subjects: ["etcdserver", "etcd-ca-g1"], issuer: "etcd-ca-g1" }, "leaf + generation 1 cross-signed by 0");
            assert.equal(certsInFile(m.name, `etcdpeer${m.index}.crt`).issuer, "etcd-ca-g1");
            assert.deepEqual(certsInFile(m.name, "apiserver.crt"), { subjects: ["apiserver", "ca-g1"], issuer: "ca-g1" });
        }
        for (const n of nodes) assert.equal(certsInFile(n.name, "client.crt").issuer, "ca-g1");
        for (const m of masters) assert.equal(certsInFile(m.name, "proxy.crt").issuer, "proxyClientCA-g1");
        assert.deepEqual(proxyUsers(installedProxy), everyMaster("azs-e2e-front-proxy"), "each apiserver trusts its new front-proxy client (the aggregator's)");
        assert.deepEqual(proxyUsers(() => oldProxy), everyMaster("azs-e2e-front-proxy"), "the old front-proxy client works until the retire phase");
        // set aside at the kubelet's restart, renewed through a CSR the controller-manager signs with
        // ca-signing.crt (generation 1 alone: it refuses ca.crt's two-certificate bundle)
        await allRenewedThrough("ca-g1");
        assert.ok(etcdWorks(oldEtcdClient) && apiWorks(oldAdmin), "the old clients work until the retire phase");
        assert.equal(tokenStatus(tokenBefore), 200, "a token of the old key works until the retire phase");
        const tokenAfter = requestToken(clientFiles("active-admin", { ...adminClient(active.adminKubeconfig!.value as string), ca: active.caBundle!.value as string }));
        assert.notEqual(tokenAfter.split(".")[0], tokenBefore.split(".")[0], "tokens are signed with the new key (another key id in the header)");
        assert.equal(tokenStatus(tokenAfter), 200);
        assert.match(active.adminKubeconfig!.value as string, /client-certificate-data/);
        assert.match(active.apimodelWriteBack!.value as string, /refused/);
        assert.equal(fs.readFileSync(apimodelFile, "utf8"), apimodelBefore);

        // the key's retire waits 24 h after its activation unless told otherwise
        await setPki(both({ "0": "retired", "1": "active" }));
        await assert.rejects(stack.preview(), /pki\.serviceAccountKeyGenerations: retiring generation 0 is refused until .*, 24 h after generation 1 was activated/);
        // the kubelet serving certificates turned on in the same up: its kubelet steps restart every kubelet anyway
        for (const m of masters) assert.equal(kubeletServes(m)[1], m.name, `${m.name}: before, the kubelet serves the node's self-signed certificate`);
        const retired = await phase("etcd, Kubernetes and front-proxy CAs: retire, kubelet serving issued", { ...both({ "0": "retired", "1": "active" }, 0), kubeletServing: "issue" }, "ca-g1", "kubernetes-ca 1; service-account 1");
        for (const m of masters) assert.deepEqual(kubeletServes(m), [`system:node:${m.name}`, "ca-g1"], `${m.name}: its kubelet serves the program's certificate`);
        assert.equal(tokenStatus(tokenBefore), 401, "a token of the retired key is refused");
        assert.equal(tokenStatus(tokenAfter), 200, "a token of the active key works");
        for (const m of masters) assert.deepEqual(verifyingKeys(m), { keys: 1, flag: "1" });
        assert.deepEqual(certsInFile(masters[2]!.name, "etcd-ca.crt").subjects, ["etcd-ca-g1"]);
        assert.deepEqual(certsInFile(masters[2]!.name, "etcdserver.crt").subjects, ["etcdserver"]);
        for (const n of nodes) assert.deepEqual(certsInFile(n.name, "ca.crt").subjects, ["ca-g1"]);
        await allRenewedThrough("ca-g1");
        assert.ok(!etcdWorks(oldEtcdClient), "a client that trusts only the retired etcd CA fails");
        assert.ok(!apiWorks(oldAdmin), "a client that trusts only the retired Kubernetes CA fails");
        for (const m of masters) assert.deepEqual(certsInFile(m.name, "proxy-ca.crt").subjects, ["proxyClientCA-g1"], `${m.name}: the apiserver trusts front-proxy generation 1 alone`);
        assert.deepEqual(proxyUsers(installedProxy), everyMaster("azs-e2e-front-proxy"), "the front-proxy client of generation 1 works after the retire phase");
        assert.deepEqual(proxyUsers(() => oldProxy), everyMaster(""), "a front-proxy client of the retired generation is no longer trusted");
        const { activatedAt, ...keyGenerations } = (retired.caGenerations!.value as Record<string, Record<string, string>>)["service-account"]!;
        assert.deepEqual({ ...(retired.caGenerations!.value as object), "service-account": keyGenerations }, {
            "kubernetes-ca": { "0": "retired", "1": "active" },
            "etcd-ca": { "0": "retired", "1": "active" },
            "front-proxy-ca": { "0": "retired", "1": "active" },
            "service-account": { "0": "retired", "1": "active" },
        });
        assert.ok(Date.now() - Date.parse(activatedAt!) < 30 * 60_000, `the key's activation time is recorded (${activatedAt})`);
        assert.equal(retired.caBundle!.value, onNode(masters[0]!.name, `cat ${CERTS}/ca.crt`), "the caBundle output is the installed ca.crt");
        assert.match(retired.apimodelWriteBack!.value as string, /^apimodelWriteBack: wrote the new certificateProfile/);
        assert.equal(apimodelCa().trim(), (retired.caBundle!.value as string).trim(), "the apimodel holds generation 1 once generation 0 is retired");
        const bundle = clientFiles("new-admin", { ...adminClient(retired.adminKubeconfig!.value as string), ca: retired.caBundle!.value as string });
        assert.ok(apiWorks(bundle), "the stack outputs caBundle + adminKubeconfig reach the API");
        assertNoPlainKeys();
    });
});

/** Client certificate and key from a kubeconfig's embedded data (the outputs are JSON kubeconfigs). */
function adminClient(kubeconfig: string): { cert: string; key: string } {
    const user = (JSON.parse(kubeconfig) as { users: { user: Record<string, string> }[] }).users[0]!.user;
    const field = (name: string) => Buffer.from(user[name]!, "base64").toString("utf8");
    return { cert: field("client-certificate-data"), key: field("client-key-data") };
}
