// Gates of the remote scripts (gates.sh) run by bash against a local HTTPS server that answers as an
// apiserver does. The apiserver readmission check (apiserver_readmit), healthy or failing in the
// ways it exists for: a /readyz that fails with "[+]ping ok" in its body, and reads of one resource
// that hang while /readyz says ok (an etcd client still reconnecting after a restart); after a
// restart and after a step that restarted nothing. The kubelet's gate after a restart (gate_kubelet):
// which lease renewals prove the new kubelet.
import { strict as assert } from "assert";
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { AddressInfo } from "net";
import { OpenSsl } from "../../support/openssl";

const SCRIPTS = path.resolve(__dirname, "../../../../components/rollout/scripts");
const IP = "127.0.0.42";
const NODE = "k8s-agentpool1-1";

type Mode = "healthy" | "readyz-500" | "pods-hang";

const DISCOVERY: Record<string, unknown> = {
    "/apis": { groups: [{ preferredVersion: { groupVersion: "apps/v1" } }, { preferredVersion: { groupVersion: "metrics.k8s.io/v1beta1" } }] },
    "/api/v1": { groupVersion: "v1", resources: [{ name: "namespaces", verbs: ["get", "list"] }, { name: "pods", verbs: ["get", "list"] }, { name: "pods/log", verbs: ["get"] }, { name: "componentstatuses", verbs: ["list"] }] },
    "/apis/apps/v1": { groupVersion: "apps/v1", resources: [{ name: "deployments", verbs: ["list"] }] },
    "/apis/apiregistration.k8s.io/v1/apiservices": { items: [{ spec: { group: "metrics.k8s.io", version: "v1beta1", service: { name: "metrics-server" } } }, { spec: { group: "apps", version: "v1" } }] },
};

describe("gates (gates.sh) against a local apiserver stand-in: readmission and the kubelet's", function () {
    this.timeout(30_000);
    const ssl = new OpenSsl();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "azs-gate-"));
    let server: https.Server;
    let mode: Mode = "healthy";
    let seen: string[] = [];
    let leaseRenewed = "";

    before(async () => {
        const ca = ssl.ca({ cn: "ca", key: "rsa2048" });
        const serving = ssl.leaf(ca, { subj: "/CN=apiserver", days: 30, ext: [`subjectAltName=IP:${IP}`, "extendedKeyUsage=serverAuth"] });
        const client = ssl.leaf(ca, { subj: "/O=system:masters/CN=client", days: 30, ext: ["extendedKeyUsage=clientAuth"] });
        const certs = path.join(root, "etc/kubernetes/certs");
        fs.mkdirSync(certs, { recursive: true });
        fs.writeFileSync(path.join(certs, "ca.crt"), ca.cert);
        fs.writeFileSync(path.join(certs, "client.crt"), client.cert);
        fs.writeFileSync(path.join(certs, "client.key"), client.key, { mode: 0o600 });
        fs.mkdirSync(path.join(root, "var/lib/kubelet"), { recursive: true });
        fs.writeFileSync(path.join(root, "var/lib/kubelet/kubeconfig"), `clusters:\n- cluster:\n    server: https://${IP}:443\n`);
        // systemctl as the kubelet gate asks it: the kubelet's main process is the one a test names
        fs.mkdirSync(path.join(root, "bin"));
        fs.writeFileSync(path.join(root, "bin/systemctl"), '#!/bin/sh\n[ "$1 $2 $3 $4" = "show -p MainPID kubelet" ] && echo "MainPID=$KUBELET_PID"\n', { mode: 0o755 });
        server = https.createServer({ cert: serving.cert, key: serving.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
            const url = req.url ?? "";
            seen.push(url);
            if (url === "/readyz") {
                if (mode === "readyz-500") res.writeHead(500).end("[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\nreadyz check failed\n");
                else res.writeHead(200).end("ok");
            } else if (url === `/api/v1/nodes/${NODE}`) {
                res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: { conditions: [{ type: "Ready", status: "True" }] } }));
            } else if (url === `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${NODE}`) {
                res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ spec: { holderIdentity: NODE, renewTime: leaseRenewed } }));
            } else if (url in DISCOVERY) {
                res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(DISCOVERY[url]));
            } else if (mode === "pods-hang" && url.startsWith("/api/v1/pods")) {
                setTimeout(() => res.writeHead(200).end("{}"), 3000);
            } else {
                res.writeHead(200, { "content-type": "application/json" }).end("{}");
            }
        });
        await new Promise<void>((resolve) => server.listen(443, IP, resolve));
        assert.equal((server.address() as AddressInfo).port, 443);
    });

    after(() => {
        server.closeAllConnections();
        server.close();
        ssl.remove();
        fs.rmSync(root, { recursive: true, force: true });
    });

    beforeEach(() => (seen = []));

    /**
     * Runs apiserver_readmit with a 4 s health timeout and a 1 s settle time: "PASS" or "FAIL: <GATE_FAILURE>".
     * `restarted`: the step restarted the apiserver (rotate.sh's RESTARTED_AT); without, nothing restarted.
     */
    function readmit(restarted = true): Promise<string> {
        const script = `source ${SCRIPTS}/lib.sh; source ${SCRIPTS}/gates.sh
declare -A RESTARTED_AT=(${restarted ? "[kube-apiserver]=1" : ""})
PARAM[node_ip]=${IP} PARAM[health_timeout]=4 PARAM[lb_settle]=1
PARAM[api_ca]=/etc/kubernetes/certs/ca.crt PARAM[api_client_cert]=/etc/kubernetes/certs/client.crt PARAM[api_client_key]=/etc/kubernetes/certs/client.key
if apiserver_readmit; then echo PASS; else echo "FAIL: $GATE_FAILURE"; fi`;
        return new Promise((resolve, reject) =>
            execFile("bash", ["-c", script], { env: { ...process.env, AZS_ROOT: root }, timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim()))),
        );
    }

    it("passes a serving apiserver after reading every listable resource it serves itself, and the prober's GET", async () => {
        mode = "healthy";
        assert.equal(await readmit(), "PASS");
        for (const want of ["/api/v1/namespaces/kube-system", "/api/v1/namespaces?limit=1", "/api/v1/pods?limit=1", "/apis/apps/v1/deployments?limit=1"]) {
            assert.ok(seen.includes(want), `read ${want}`);
        }
        assert.ok(!seen.some((u) => u.startsWith("/apis/metrics.k8s.io")), "aggregated APIs are not read");
        assert.ok(!seen.some((u) => u.includes("componentstatuses") || u.includes("pods/log")), "componentstatuses and subresources are not read");
        // 3 rounds before the readmission and one per settle second, each with every read
        assert.ok(seen.filter((u) => u === "/api/v1/pods?limit=1").length >= 4);
    });

    it("fails on a /readyz that answers 500 with '[+]ping ok' in its body", async () => {
        mode = "readyz-500";
        assert.equal(await readmit(), "FAIL: kube-apiserver on 127.0.0.42:443 does not serve: /readyz not 200 ok (not within 4 s)");
    });

    it("a step that restarted nothing on a master left in the balancer: every read served once passes, with no rounds or settle after it; a failing one still fails", async () => {
        mode = "healthy";
        assert.equal(await readmit(false), "PASS");
        assert.equal(seen.filter((u) => u === "/api/v1/pods?limit=1").length, 1, "one round of reads");
        mode = "readyz-500";
        assert.equal(await readmit(false), "FAIL: kube-apiserver on 127.0.0.42:443 does not serve: /readyz not 200 ok (not within 4 s)");
        mode = "pods-hang";
        assert.equal(await readmit(false), "FAIL: kube-apiserver on 127.0.0.42:443 does not serve: reads failed: /api/v1/pods?limit=1 (HTTP none) (not within 4 s)");
    });

    it("fails when /readyz says ok but reads of one resource hang", async () => {
        mode = "pods-hang";
        assert.equal(await readmit(), "FAIL: kube-apiserver on 127.0.0.42:443 does not serve: reads failed: /api/v1/pods?limit=1 (HTTP none) (not within 4 s)");
    });

    /** Runs gate_kubelet after a restart of the kubelet that returned now, its process `kubeletPid`, a 3 s timeout: "PASS" or "FAIL: <GATE_FAILURE>". */
    function kubeletGate(kubeletPid: number): Promise<string> {
        const script = `source ${SCRIPTS}/lib.sh; source ${SCRIPTS}/gates.sh
PARAM[node_name]=${NODE} PARAM[health_timeout]=3 PARAM[kubelet_kubeconfig]=/var/lib/kubelet/kubeconfig PARAM[services]=kubelet=systemd
PARAM[api_ca]=/etc/kubernetes/certs/ca.crt PARAM[api_client_cert]=/etc/kubernetes/certs/client.crt PARAM[api_client_key]=/etc/kubernetes/certs/client.key
STEP_STARTED=$(($(date +%s) - 5))
declare -A RESTARTED_AT=([kubelet]=$(now_us)) INSTANCE_BEFORE=()
if gate_kubelet; then echo PASS; else echo "FAIL: $GATE_FAILURE"; fi`;
        const env = { ...process.env, AZS_ROOT: root, KUBELET_PID: String(kubeletPid), PATH: `${path.join(root, "bin")}:${process.env.PATH}` };
        return new Promise((resolve, reject) =>
            execFile("bash", ["-c", script], { env, timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim()))),
        );
    }

    it("kubelet gate after a restart: the lease renewed by the new kubelet before its restart returned proves it; one renewed before that process started does not", async () => {
        const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
        let kubelet: ChildProcess | undefined;
        try {
            // the old kubelet's last renewal, then the new kubelet's process, which renews as it starts
            leaseRenewed = new Date().toISOString();
            await pause(300);
            kubelet = spawn("sleep", ["30"]);
            await pause(300); // its restart returns later (the gate takes the earlier of the two)
            assert.equal(await kubeletGate(kubelet.pid!), `FAIL: Node ${NODE} not Ready with a lease renewed since the kubelet's new process (pid ${kubelet.pid}) started (via https://${IP}:443) (not within 3 s)`);
            await pause(300);
            leaseRenewed = new Date().toISOString();
            await pause(500); // the restart returns after the renewal
            assert.equal(await kubeletGate(kubelet.pid!), "PASS");
        } finally {
            kubelet?.kill();
        }
    });
});
