// The cluster stage's check (scripts/cluster-check.sh), run by bash as a node runs it (lib.sh,
// gates.sh, cluster-check.sh, then its input on stdin) against a stand-in curl that plays the API
// from a JSON file: it passes on a cluster that follows the stage, and fails, saying what it saw,
// on each fault it exists for: a namespace whose kube-root-ca.crt is stale, a token secret with
// another CA bundle, an empty token, a token of another key, a token the apiserver refuses, and a
// workload not rolled or not ready.
import { strict as assert } from "assert";
import { execFile, execFileSync } from "child_process";
import { createHash, createPublicKey } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const SCRIPTS = path.resolve(__dirname, "../../../../components/rollout/scripts");
const TRUST = "kubernetes-ca 1; service-account 1";

interface ApiState {
    namespaces: string[];
    rootCa: Record<string, string>;
    secrets: Record<string, { ca: string; token: string }>;
    accepted: string[];
    workloads: Record<string, unknown>;
    /** The apiserver does not answer at all. */
    down?: boolean;
}

describe("cluster check (cluster-check.sh) with a stand-in API", function () {
    this.timeout(30_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azs-cluster-check-"));
    const certs = path.join(dir, "etc/kubernetes/certs");
    fs.mkdirSync(certs, { recursive: true });
    const BUNDLE = "-----BEGIN CERTIFICATE-----\nMIIBgeneration1\n-----END CERTIFICATE-----\n";
    fs.writeFileSync(path.join(certs, "ca.crt"), BUNDLE);
    execFileSync("openssl", ["genrsa", "-out", path.join(certs, "apiserver.key"), "2048"], { stdio: "ignore" });
    execFileSync("openssl", ["genrsa", "-out", path.join(dir, "other.key"), "2048"], { stdio: "ignore" });
    const kidOf = (file: string) => createHash("sha256").update(createPublicKey(fs.readFileSync(file)).export({ type: "spki", format: "der" })).digest("base64url");
    const tokenOf = (kid: string) => `${Buffer.from(JSON.stringify({ alg: "RS256", kid })).toString("base64url")}.e30.c2ln`;
    const GOOD = tokenOf(kidOf(path.join(certs, "apiserver.key")));
    const OTHER = tokenOf(kidOf(path.join(dir, "other.key")));

    const rolled = (replicas: number, updated = replicas, trust = TRUST) => ({
        metadata: { generation: 3 },
        spec: { replicas, template: { metadata: { annotations: { "azs-cert-rotation/trust": trust } } } },
        status: { observedGeneration: 3, replicas, updatedReplicas: updated, availableReplicas: updated },
    });
    const healthy = (): ApiState => ({
        namespaces: ["default", "kube-system", "team-a"],
        rootCa: { default: BUNDLE, "kube-system": BUNDLE, "team-a": BUNDLE },
        secrets: { "kube-system/coredns-token": { ca: BUNDLE, token: GOOD } },
        accepted: [GOOD],
        workloads: {
            "deployments/coredns": rolled(2),
            "daemonsets/kube-proxy": { metadata: { generation: 2 }, spec: { template: { metadata: { annotations: { "azs-cert-rotation/trust": TRUST } } } }, status: { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 } },
            "statefulsets/store": { metadata: { generation: 4 }, spec: { replicas: 2, template: { metadata: { annotations: { "azs-cert-rotation/trust": TRUST } } } }, status: { observedGeneration: 4, readyReplicas: 2, currentRevision: "r2", updateRevision: "r2" } },
        },
    });

    /** A curl that answers from api.json: the GETs the check makes, and GET /api with a bearer token from a --config on stdin. */
    function standInApi(state: ApiState): void {
        fs.writeFileSync(path.join(dir, "api.json"), JSON.stringify(state));
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { recursive: true });
        const script = `#!/bin/bash
url="" config=0 out=""
while (($#)); do case $1 in --config) config=1; shift 2 ;; -o) out=$2; shift 2 ;; -w|--cacert|--cert|--key|--max-time) shift 2 ;; -*) shift ;; *) url=$1; shift ;; esac; done
api=${dir}/api.json
jq -e '.down == true' "$api" >/dev/null && exit 7
path=\${url#https://10.240.255.5:443}
if ((config)); then
  token=$(sed -n 's/^header = "Authorization: Bearer \\(.*\\)"$/\\1/p')
  jq -e --arg t "$token" '.accepted | index($t) != null' "$api" >/dev/null && printf 200 || printf 401
  exit 0
fi
case $path in
  /api/v1/namespaces) jq '{items: [.namespaces[] | {metadata: {name: .}, status: {phase: "Active"}}]}' "$api" ;;
  /api/v1/configmaps\\?*) jq '{items: [.rootCa | to_entries[] | {metadata: {namespace: .key, name: "kube-root-ca.crt"}, data: {"ca.crt": .value}}]}' "$api" ;;
  /api/v1/namespaces/*/secrets/*)
    key=\${path#/api/v1/namespaces/}; key=\${key/\\/secrets\\//\\/}
    jq -e --arg k "$key" '.secrets[$k] | {data: {"ca.crt": (.ca | @base64), token: (.token | @base64)}}' "$api" || exit 22 ;;
  /apis/apps/v1/namespaces/*)
    rest=\${path#/apis/apps/v1/namespaces/*/}
    jq -e --arg k "$rest" '.workloads[$k]' "$api" || exit 22 ;;
  *) exit 22 ;;
esac
`;
        fs.writeFileSync(path.join(bin, "curl"), script, { mode: 0o755 });
    }

    /** Runs the check as a node does: "OK <its output>" or "FAILED <its error>". */
    function check(): Promise<string> {
        const params = {
            node_name: "k8s-master-31415926-0",
            node_ip: "10.240.255.5",
            health_timeout: "1",
            api_ca: "/etc/kubernetes/certs/ca.crt",
            api_client_cert: "/etc/kubernetes/certs/client.crt",
            api_client_key: "/etc/kubernetes/certs/client.key",
            signing_key: "/etc/kubernetes/certs/apiserver.key",
            token_secrets: "kube-system/coredns-token",
            rolled_workloads: "Deployment/kube-system/coredns DaemonSet/kube-system/kube-proxy StatefulSet/kube-system/store",
            trust_words: TRUST,
        };
        const input = ["lib.sh", "gates.sh", "cluster-check.sh"].map((f) => fs.readFileSync(path.join(SCRIPTS, f), "utf8")).join("\n") + "\n" + Object.entries(params).map(([k, v]) => `param ${k} ${v}`).join("\n") + "\ndone\n";
        return new Promise((resolve) => {
            const child = execFile("bash", ["-s", "--", "cluster-check"], { env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, AZS_ROOT: dir }, timeout: 25_000 }, (err, stdout, stderr) =>
                resolve(err ? `FAILED ${(/ERROR: (.*)/.exec(stderr)?.[1] ?? stderr).trim()}` : `OK ${stdout.trim()}`),
            );
            child.stdin!.end(input);
        });
    }

    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("passes on a cluster that follows the stage, and says what it checked", async () => {
        standInApi(healthy());
        const out = await check();
        assert.equal(out, `OK {"trust":"${TRUST}","tokenSecrets":["kube-system/coredns-token"],"workloads":["Deployment/kube-system/coredns","DaemonSet/kube-system/kube-proxy","StatefulSet/kube-system/store"]}`);
    });

    it("fails on a namespace whose kube-root-ca.crt is not the installed bundle (or that has none)", async () => {
        const state = healthy();
        state.rootCa["team-a"] = "-----BEGIN CERTIFICATE-----\nMIIBgeneration0\n-----END CERTIFICATE-----\n";
        standInApi(state);
        assert.equal(await check(), "FAILED kube-root-ca.crt does not hold the installed CA bundle in every namespace: 1 namespace(s) without it, e.g. team-a (not within 1 s)");
        delete state.rootCa["team-a"];
        standInApi(state);
        assert.match(await check(), /^FAILED kube-root-ca\.crt does not hold .*e\.g\. team-a/);
    });

    it("fails when the apiserver does not answer (nothing listed is not everything current)", async () => {
        standInApi({ ...healthy(), down: true });
        assert.equal(await check(), "FAILED kube-root-ca.crt does not hold the installed CA bundle in every namespace: the apiserver did not list the namespaces (not within 1 s)");
    });

    it("fails on a legacy token secret with another CA bundle, no token, a token of another key, or a token the apiserver refuses", async () => {
        const cases: [Partial<{ ca: string; token: string }>, string[] | undefined, string][] = [
            [{ ca: "old bundle\n" }, undefined, "kube-system/coredns-token: its CA bundle is not the installed one"],
            [{ token: "" }, undefined, "kube-system/coredns-token: no token (the tokens controller has not filled it)"],
            [{ token: OTHER }, [OTHER], `kube-system/coredns-token: its token is signed by another key (key id ${kidOf(path.join(dir, "other.key"))})`],
            [{}, [], "kube-system/coredns-token: the apiserver answers its token with 401"],
        ];
        for (const [secret, accepted, detail] of cases) {
            const state = healthy();
            state.secrets["kube-system/coredns-token"] = { ...state.secrets["kube-system/coredns-token"]!, ...secret };
            if (accepted) state.accepted = accepted;
            standInApi(state);
            assert.equal(await check(), `FAILED a legacy token secret is not current: ${detail} (not within 1 s)`);
        }
    });

    it("fails on a workload not rolled with the stage's trust, or not every pod updated and ready", async () => {
        for (const coredns of [rolled(2, 1), rolled(2, 2, "kubernetes-ca 0+1; service-account 1"), { ...rolled(2), status: { ...rolled(2).status, observedGeneration: 2 } }]) {
            const state = healthy();
            state.workloads["deployments/coredns"] = coredns;
            standInApi(state);
            assert.equal(await check(), "FAILED a rolled workload is not ready: Deployment/kube-system/coredns: not every pod carries the new template and is ready (not within 1 s)");
        }
        const state = healthy();
        (state.workloads["statefulsets/store"] as { status: { currentRevision: string } }).status.currentRevision = "r1";
        standInApi(state);
        assert.equal(await check(), "FAILED a rolled workload is not ready: StatefulSet/kube-system/store: not every pod carries the new template and is ready (not within 1 s)");
    });
});
