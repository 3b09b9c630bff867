import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseApiModel } from "../../../components/config/apimodel";
import { chooseHostKeys, hostKeyFingerprint, reconcile, StackNode } from "../../../discovery/reconcile";
import { apimodel, SUFFIX } from "../support/apimodel";

/** A real ed25519 host key made by ssh-keygen, as "<type> <base64>", with ssh-keygen's own fingerprint of it. */
function hostKey(dir: string, name: string): { key: string; fingerprint: string } {
    const file = path.join(dir, name);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file]);
    const fingerprint = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${file}.pub`], { encoding: "utf8" }).split(" ")[1]!;
    return { key: fs.readFileSync(`${file}.pub`, "utf8").split(" ").slice(0, 2).join(" "), fingerprint };
}

describe("discovery: the live cluster held against the apimodel and the stack file", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azs-discover-unit-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const keys = ["m0", "m1", "m2", "a0", "a1", "other"].map((n) => hostKey(dir, n));
    const master = (i: number) => `k8s-master-${SUFFIX}-${i}`;
    const agent = (i: number) => `k8s-agentpool1-${SUFFIX}-${i}`;
    const cluster = (shape = { masters: 3, pools: [{ name: "agentpool1", count: 2 }] }, excluded: string[] = []) => parseApiModel(apimodel(shape), SUFFIX, "apimodelPath test", excluded);
    const live = () => [
        ...[0, 1, 2].map((i) => ({ name: master(i), internalIp: `10.240.255.${5 + i}`, pool: undefined })),
        ...[0, 1].map((i) => ({ name: agent(i), internalIp: `10.240.0.${4 + i}`, pool: "agentpool1" })),
    ];
    const scanned = () => new Map([...[0, 1, 2].map((i) => [`10.240.255.${5 + i}`, keys[i]!.key] as const), ...[0, 1].map((i) => [`10.240.0.${4 + i}`, keys[3 + i]!.key] as const)]);

    it("fingerprints a host key as ssh-keygen -l does", () => {
        for (const k of keys) assert.equal(hostKeyFingerprint(k.key), k.fingerprint);
    });

    it("chooses the stack's pinned key type, else ed25519 over ecdsa over rsa; skips comments and unknown types", () => {
        const scan = ["# 10.0.0.1:22 SSH-2.0-OpenSSH_9.2", "10.0.0.1 ssh-rsa AAAArsa", "10.0.0.1 ecdsa-sha2-nistp256 AAAAec", "10.0.0.1 ssh-ed25519 AAAAed", "10.0.0.2 ssh-rsa AAAArsa2", "10.0.0.3 ssh-dss AAAAdss"].join("\n");
        const chosen = chooseHostKeys(scan, (host) => (host === "10.0.0.1" ? undefined : "ssh-rsa"));
        assert.deepEqual([...chosen], [["10.0.0.1", "ssh-ed25519 AAAAed"], ["10.0.0.2", "ssh-rsa AAAArsa2"]]);
        assert.equal(chooseHostKeys(scan, () => "ecdsa-sha2-nistp256").get("10.0.0.1"), "ecdsa-sha2-nistp256 AAAAec");
    });

    it("a first run: every VM of the apimodel with its address (masters from the apimodel, agents from the Node) and scanned key, all new", () => {
        const result = reconcile(cluster(), live(), scanned(), []);
        assert.deepEqual(result.differences, []);
        assert.deepEqual(
            result.nodes,
            [...[0, 1, 2].map((i) => ({ name: master(i), ip: `10.240.255.${5 + i}`, hostKey: keys[i]!.key })), ...[0, 1].map((i) => ({ name: agent(i), ip: `10.240.0.${4 + i}`, hostKey: keys[3 + i]!.key }))],
        );
        assert.equal(result.newHostKeys.length, 5);
        assert.deepEqual(result.changedHostKeys, []);
    });

    it("a rerun with nothing changed: the same nodes, the stack's other fields kept, nothing new or changed", () => {
        const first = reconcile(cluster(), live(), scanned(), []).nodes;
        const typed: StackNode[] = first.map((n, i) => (i === 0 ? { ...n, services: { kubelet: "systemd" } } : n));
        const again = reconcile(cluster(), live(), scanned(), typed);
        assert.deepEqual(again.nodes, typed);
        assert.deepEqual([again.newHostKeys, again.changedHostKeys, again.differences, again.dropped], [[], [], [], []]);
    });

    it("a changed host key is reported with both keys (the caller refuses it without the flag)", () => {
        const first = reconcile(cluster(), live(), scanned(), []).nodes;
        const rebuilt = scanned().set("10.240.0.5", keys[5]!.key);
        const result = reconcile(cluster(), live(), rebuilt, first);
        assert.deepEqual(result.changedHostKeys, [{ name: agent(1), ip: "10.240.0.5", pinned: keys[4]!.key, scanned: keys[5]!.key }]);
        assert.equal(result.nodes[4]!.hostKey, keys[5]!.key);
    });

    it("differences between the apimodel and the cluster: a VM without a Node, a Node without a VM, a master's other address, a VM whose sshd does not answer", () => {
        const scaledOut = [...live(), { name: agent(2), internalIp: "10.240.0.6", pool: "agentpool1" }];
        const moved = live().map((n) => (n.name === master(2) ? { ...n, internalIp: "10.240.255.99" } : n));
        const lost = live().filter((n) => n.name !== agent(0));
        const silent = scanned();
        silent.delete("10.240.0.5");
        assert.deepEqual(reconcile(cluster(), scaledOut, scanned(), []).differences, [
            `${agent(2)}: a Node of the cluster (pool agentpool1) that the apimodel has no VM for (a pool scaled out: update the apimodel; a Windows or scale-set pool: list it in apimodelExcludePools)`,
        ]);
        assert.deepEqual(reconcile(cluster(), moved, scanned(), []).differences, [`${master(2)}: the apimodel gives 10.240.255.7 (properties.masterProfile.firstConsecutiveStaticIP + 2), the Node's InternalIP is 10.240.255.99`]);
        assert.match(reconcile(cluster(), lost, scanned(), []).differences.join("\n"), new RegExp(`^${agent(0)}: a VM of the apimodel \\(pool agentpool1\\) that the cluster has no Node for`));
        assert.deepEqual(reconcile(cluster(), live(), silent, []).differences, [`${agent(1)} (10.240.0.5): no SSH host key: sshd did not answer ssh-keyscan on port 22`]);
    });

    it("Nodes of an excluded pool are not differences; stack entries that are no VM are dropped and named", () => {
        const shape = { masters: 3, pools: [{ name: "agentpool1", count: 2 }, { name: "winpool", count: 1, osType: "Windows" }] };
        const windows = [...live(), { name: "3141k8s900", internalIp: "10.240.0.9", pool: "winpool" }];
        const result = reconcile(cluster(shape, ["winpool"]), windows, scanned(), [{ name: "k8s-agentpool9-31415926-0", ip: "10.240.0.50", hostKey: keys[5]!.key }]);
        assert.deepEqual(result.differences, []);
        assert.deepEqual(result.dropped, ["k8s-agentpool9-31415926-0"]);
        assert.equal(result.nodes.length, 5);
    });
});
