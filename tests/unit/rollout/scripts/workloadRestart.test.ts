// How the kubelet step replaces the node's kube-proxy pod (a cluster workload: rotate.sh
// restart_service, gates.sh workload_pods_replaced, checked after the kubelet gate), run by bash against a stand-in curl that plays the
// API: the pods of kube-system in a file, a DELETE that removes the pod it names when its uid
// precondition holds and, as the DaemonSet controller would, adds a successor (Ready or not, as
// the test says). The node's pod is deleted by name with its uid as precondition, the gate waits for
// a new pod on the node that is Ready, and an API that does not answer fails the restart.
import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { sourceStepScripts } from "../../support/stepScripts";


interface Pod {
    uid: string;
    name: string;
    node: string;
    ready: boolean;
}

describe("kube-proxy pod replacement in the kubelet step (rotate.sh, gates.sh) with a stand-in API", function () {
    this.timeout(20_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azs-workload-"));
    const calls = path.join(dir, "curl-calls");
    const podsFile = path.join(dir, "pods.json");

    /** A curl that answers the pod list from pods.json (filtered by the fieldSelector's node) and DELETEs with a uid precondition; `successorReady` says whether the DaemonSet's new pod is Ready. */
    function standInApi(pods: Pod[], opts: { successorReady: boolean; down?: boolean }): void {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { recursive: true });
        fs.writeFileSync(podsFile, JSON.stringify(pods));
        const script = `#!/bin/bash
${opts.down ? "exit 7" : ""}
method=GET data="" url=""
while (($#)); do case $1 in -X) method=$2; shift 2 ;; --data) data=$2; shift 2 ;; --cacert|--cert|--key|--max-time|-H) shift 2 ;; -*) shift ;; *) url=$1; shift ;; esac; done
echo "$method $url $data" >> ${calls}
cd ${dir}
if [[ $method == DELETE ]]; then
  name=\${url##*/} uid=$(jq -r '.preconditions.uid' <<<"$data")
  jq -e --arg n "$name" --arg u "$uid" 'any(.name == $n and .uid == $u)' pods.json >/dev/null || exit 22
  node=$(jq -r --arg n "$name" '.[] | select(.name == $n) | .node' pods.json)
  jq --arg n "$name" --arg node "$node" --argjson ready ${opts.successorReady} '[.[] | select(.name != $n)] + [{uid: "new-\\($n)", name: "\\($n)-next", node: $node, ready: $ready}]' pods.json > p && mv p pods.json
  echo '{}'
  exit 0
fi
node=$(sed -n 's/.*fieldSelector=spec.nodeName%3D\\([^&]*\\).*/\\1/p' <<<"$url")
jq --arg node "$node" '{items: [.[] | select(.node == $node) | {metadata: {uid, name}, status: {conditions: [{type: "Ready", status: (if .ready then "True" else "False" end)}]}}]}' pods.json
`;
        fs.writeFileSync(path.join(bin, "curl"), script, { mode: 0o755 });
        fs.mkdirSync(path.join(dir, "var/lib/kubelet"), { recursive: true });
        fs.writeFileSync(path.join(dir, "var/lib/kubelet/kubeconfig"), "clusters:\n- cluster:\n    server: https://10.0.0.4:443\n");
        fs.rmSync(calls, { force: true });
    }

    /** restart_service kube-proxy then workload_pods_replaced on node a1: "OK" or "FAILED: …", and the API's calls. */
    function replace(): Promise<{ result: string; calls: string[] }> {
        const script = `${sourceStepScripts("rotate")}
log() { :; }
PARAM[services]="kubelet=systemd kube-proxy=clusterWorkload"
PARAM[workload_selectors]="kube-proxy=kube-system/k8s-app=kube-proxy"
PARAM[node_name]=a1 PARAM[health_timeout]=2 PARAM[kubelet_kubeconfig]=/var/lib/kubelet/kubeconfig
PARAM[api_ca]=/ca.crt PARAM[api_client_cert]=/client.crt PARAM[api_client_key]=/client.key
NODE=a1
if ! restart_service kube-proxy; then echo "FAILED: $RESTART_FAILURE"
elif workload_pods_replaced kubelet kube-proxy; then echo OK; else echo "FAILED: $GATE_FAILURE"; fi`;
        return new Promise((resolve, reject) =>
            execFile("bash", ["-c", script], { env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, AZS_ROOT: dir }, timeout: 15_000 }, (err, stdout, stderr) =>
                err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ result: stdout.trim(), calls: fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [] }),
            ),
        );
    }

    const pods = (): Pod[] => JSON.parse(fs.readFileSync(podsFile, "utf8")) as Pod[];
    const THREE_NODES: Pod[] = [
        { uid: "u-a0", name: "kube-proxy-aaaaa", node: "a0", ready: true },
        { uid: "u-a1", name: "kube-proxy-bbbbb", node: "a1", ready: true },
        { uid: "u-a2", name: "kube-proxy-ccccc", node: "a2", ready: true },
    ];

    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("deletes the node's pod by name with its uid as precondition, then passes once the DaemonSet's new pod on the node is Ready; the other nodes' pods are left alone", async () => {
        standInApi(THREE_NODES, { successorReady: true });
        const { result, calls: asked } = await replace();
        assert.equal(result, "OK");
        const deletes = asked.filter((c) => c.startsWith("DELETE "));
        assert.deepEqual(deletes, ['DELETE https://10.0.0.4:443/api/v1/namespaces/kube-system/pods/kube-proxy-bbbbb {"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"u-a1"}}']);
        assert.ok(asked.some((c) => c.startsWith("GET https://10.0.0.4:443/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-proxy&fieldSelector=spec.nodeName%3Da1")), asked.join("; "));
        assert.deepEqual(pods().map((p) => p.name).sort(), ["kube-proxy-aaaaa", "kube-proxy-bbbbb-next", "kube-proxy-ccccc"]);
    });

    it("fails the gate when the new pod does not become Ready within the health timeout, saying so", async () => {
        standInApi(THREE_NODES, { successorReady: false });
        const { result } = await replace();
        assert.equal(result, "FAILED: kube-proxy: no new pod Ready on a1 since its pod was deleted: its new pod new-kube-proxy-bbbbb is not Ready (not within 2 s)");
    });

    it("the old pod still listed (not yet replaced) does not pass the gate", async () => {
        standInApi(THREE_NODES, { successorReady: true });
        // a DaemonSet controller that never creates the successor: DELETE succeeds, the pod stays
        fs.writeFileSync(path.join(dir, "bin", "curl"), fs.readFileSync(path.join(dir, "bin", "curl"), "utf8").replace("jq --arg n \"$name\" --arg node", "true || jq --arg n \"$name\" --arg node"));
        const { result } = await replace();
        assert.match(result, /^FAILED: kube-proxy: no new pod Ready on a1 since its pod was deleted \(not within 2 s\)$/);
    });

    it("a node without a kube-proxy pod: nothing is deleted and nothing is waited for", async () => {
        standInApi(THREE_NODES.filter((p) => p.node !== "a1"), { successorReady: true });
        const { result, calls: asked } = await replace();
        assert.equal(result, "OK");
        assert.ok(!asked.some((c) => c.startsWith("DELETE ")), asked.join("; "));
    });

    it("an API that does not answer fails the restart before anything is deleted", async () => {
        standInApi(THREE_NODES, { successorReady: true, down: true });
        const { result } = await replace();
        assert.equal(result, "FAILED: kube-proxy: its pods on a1 could not be listed through the API");
        assert.equal(pods().length, 3);
    });
});
