import { strict as assert } from "assert";
import { certificateCatalog } from "../../../components/pki/catalog";
import { expandInstances, filesForNode, PkiInventory } from "../../../components/pki/instances";
import { adminKubeconfigFile, describeRollout, PlanInput, planRollout, RolloutStep } from "../../../components/rollout";
import { AKS_ENGINE_SERVICES } from "../../../components/nodeModel";
import { inventory3x3 } from "../support/mocks";

const M = [0, 1, 2].map((i) => `k8s-master-31415926-${i}`);
const A = [0, 1, 2].map((i) => `k8s-agentpool1-31415926-${i}`);

function planInput(inventory: PkiInventory = inventory3x3(), extra: Partial<PlanInput> = {}): PlanInput {
    return {
        instances: expandInstances(certificateCatalog(), inventory),
        extraFiles: [adminKubeconfigFile("azureuser")],
        nodes: inventory.nodes.map((n) => ({ ...n, pool: n.role === "master" ? "master" : "agentpool1", services: AKS_ENGINE_SERVICES[n.role] })),
        maxUnavailable: 1,
        ...extra,
    };
}

const running = (steps: RolloutStep[]) => steps.filter((s) => s.runs);
const restartsOf = (steps: RolloutStep[]) => Object.fromEntries(running(steps).map((s) => [s.id, s.restarts]));

function inventoryOf(masters: number, agents: number): PkiInventory {
    return {
        nodes: [
            ...Array.from({ length: masters }, (_, i) => ({ name: `m${i}`, role: "master" as const, ip: `10.1.0.${i + 1}`, index: i })),
            ...Array.from({ length: agents }, (_, i) => ({ name: `a${i}`, role: "agent" as const, ip: `10.2.${Math.floor(i / 200)}.${(i % 200) + 1}` })),
        ],
        fqdn: "c.local",
        loadBalancerIps: ["10.1.0.100"],
    };
}

describe("rollout plan: order, files and restarts from the catalog", () => {
    it("orders etcd, apiservers, controller-manager/scheduler one master at a time, then kubelets", () => {
        const steps = planRollout(planInput());
        const order = steps.map((s) => `${s.wave}:${s.id}`);
        assert.deepEqual(order, [
            ...M.map((m, i) => `${i}:etcd/${m}`),
            ...M.map((m, i) => `${3 + i}:apiserver/${m}`),
            ...M.map((m, i) => `${6 + i}:controlPlane/${m}`),
            ...M.map((m, i) => `${9 + i}:kubelet/${m}`),
            ...A.map((a, i) => `${12 + i}:kubelet/${a}`),
        ]);
        assert.deepEqual(steps[0]!.after, []);
        for (let i = 1; i < steps.length; i++) assert.deepEqual(steps[i]!.after, [steps[i - 1]!.id]);
    });

    it("installs every file of every node exactly once, at the first step whose services read it", () => {
        const input = planInput();
        const steps = planRollout(input);
        for (const node of [...M, ...A]) {
            const expected = filesForNode(input.instances, node).map((f) => f.path);
            if (M.includes(node)) expected.push("/home/azureuser/.kube/config");
            const installed = steps.filter((s) => s.node === node).flatMap((s) => s.installs.map((f) => f.path));
            assert.deepEqual([...installed].sort(), [...expected].sort(), node);
        }
        const master = (kind: string) => steps.find((s) => s.id === `${kind}/${M[1]}`)!.installs.map((f) => f.path.split("/").pop()).sort();
        assert.deepEqual(master("etcd"), ["ca.crt", "etcdpeer1.crt", "etcdpeer1.key", "etcdserver.crt", "etcdserver.key"]);
        assert.deepEqual(master("apiserver"), ["apiserver.crt", "apiserver.key", "client.crt", "client.key", "etcdclient.crt", "etcdclient.key", "proxy-ca.crt", "proxy-ca.key", "proxy.crt", "proxy.key", "sa.pub"]);
        assert.deepEqual(master("controlPlane"), ["ca-signing.crt", "ca.key", "config", "kubectlClient.crt", "kubectlClient.key"]);
        assert.deepEqual(master("kubelet"), []);
        // an agent's apiserver.crt has no reader there: it travels with the agent's only step
        const agent = steps.find((s) => s.id === `kubelet/${A[0]}`)!;
        assert.deepEqual(agent.installs.map((f) => f.path.split("/").pop()).sort(), ["apiserver.crt", "ca.crt", "client.crt", "client.key"]);
        // keys are secret, certificates are not
        for (const f of steps.flatMap((s) => s.installs)) assert.equal(f.secret, f.path.endsWith(".key") || f.path.endsWith("/config"), f.path);
    });

    it("ETCD-Leaf: etcd reloads its certificates (no restart); the apiserver restarts for its etcd client cert", () => {
        const steps = planRollout(planInput(undefined, { changed: new Set(["etcd-server", "etcd-client", "etcd-peer-0", "etcd-peer-1", "etcd-peer-2"]) }));
        assert.deepEqual(restartsOf(steps), {
            ...Object.fromEntries(M.map((m) => [`etcd/${m}`, []])),
            ...Object.fromEntries(M.map((m) => [`apiserver/${m}`, ["kube-apiserver"]])),
        });
    });

    it("client certificate: apiserver (kubelet client), controller-manager, scheduler and every kubelet restart; etcd untouched", () => {
        const steps = planRollout(planInput(undefined, { changed: new Set(["client"]) }));
        assert.deepEqual(restartsOf(steps), {
            ...Object.fromEntries(M.map((m) => [`apiserver/${m}`, ["kube-apiserver"]])),
            ...Object.fromEntries(M.map((m) => [`controlPlane/${m}`, ["kube-controller-manager", "kube-scheduler"]])),
            ...Object.fromEntries([...M, ...A].map((n) => [`kubelet/${n}`, ["kubelet", "kube-proxy"]])),
        });
    });

    it("front-proxy and apiserver serving certificates reload on the fly: the apiserver steps run without a restart", () => {
        const steps = planRollout(planInput(undefined, { changed: new Set(["front-proxy-ca", "front-proxy-client"]) }));
        assert.deepEqual(restartsOf(steps), Object.fromEntries(M.map((m) => [`apiserver/${m}`, []])));
        // the apiserver serving cert is also on agents (unread there): their step installs it, no restart
        const serving = planRollout(planInput(undefined, { changed: new Set(["apiserver"]) }));
        assert.deepEqual(restartsOf(serving), Object.fromEntries([...M.map((m) => [`apiserver/${m}`, []]), ...A.map((a) => [`kubelet/${a}`, []])]));
    });

    it("the cluster CA: everything that reads ca.crt or ca.key at start restarts, and the admin kubeconfig follows", () => {
        const steps = planRollout(planInput(undefined, { changed: new Set(["kubernetes-ca"]) }));
        assert.deepEqual(restartsOf(steps), {
            ...Object.fromEntries(M.map((m) => [`etcd/${m}`, ["etcd"]])),
            ...Object.fromEntries(M.map((m) => [`apiserver/${m}`, ["kube-apiserver"]])),
            ...Object.fromEntries(M.map((m) => [`controlPlane/${m}`, ["kube-controller-manager", "kube-scheduler"]])),
            ...Object.fromEntries([...M, ...A].map((n) => [`kubelet/${n}`, ["kubelet", "kube-proxy"]])),
        });
    });

    it("the controller-manager's signing flag: its controlPlane step installs ca-signing.crt and points --cluster-signing-cert-file at it where the node model says its flags are, and says so", () => {
        const steps = planRollout(planInput(undefined, { changed: new Set(["kubernetes-ca"]) }));
        const edit = (file: string) => [{ service: "kube-controller-manager", flag: "--cluster-signing-cert-file", value: "/etc/kubernetes/certs/ca-signing.crt", file }];
        const apiserverEdit = [{ service: "kube-apiserver", flag: "--service-account-key-file", value: "/etc/kubernetes/certs/sa.pub", file: "/etc/kubernetes/manifests/kube-apiserver.yaml" }];
        for (const s of steps) assert.deepEqual(s.flagEdits, s.kind === "controlPlane" ? edit("/etc/kubernetes/manifests/kube-controller-manager.yaml") : s.kind === "apiserver" ? apiserverEdit : [], s.id);
        assert.match(
            describeRollout(steps).find((l) => l.includes(`${M[0]} controlPlane`))!,
            /install ca\.key, ca-signing\.crt, .*; set kube-controller-manager --cluster-signing-cert-file=\/etc\/kubernetes\/certs\/ca-signing\.crt in \/etc\/kubernetes\/manifests\/kube-controller-manager\.yaml \(restarts it if that changed\); restart kube-controller-manager if ca\.crt, ca\.key, ca-signing\.crt/,
        );
        // the processes layout: the controller-manager a systemd unit, its flags in an environment file
        const input = planInput();
        const systemd = planRollout({ ...input, nodes: input.nodes.map((n) => (n.role === "master" ? { ...n, services: { ...n.services, "kube-controller-manager": "systemd" as const } } : n)) });
        assert.deepEqual(systemd.find((s) => s.id === `controlPlane/${M[0]}`)!.flagEdits, edit("/etc/default/kube-controller-manager"));
    });

    it("the service-account key: the apiservers (sa.pub, apiserver.key) and the controller-manager (apiserver.key) restart; --service-account-key-file is pointed at sa.pub", () => {
        // the step restarts a service only for a file whose content changed: a trust or retire phase changes sa.pub alone
        const steps = planRollout(planInput(undefined, { changed: new Set(["service-account"]) }));
        const only = (services: Record<string, string[]>) => Object.fromEntries(M.flatMap((m) => Object.entries(services).map(([kind, s]) => [`${kind}/${m}`, s])));
        assert.deepEqual(restartsOf(steps), only({ apiserver: ["kube-apiserver"], controlPlane: ["kube-controller-manager"] }));
        const apiserver = describeRollout(steps).find((l) => l.includes(`${M[0]} apiserver`))!;
        assert.match(apiserver, /set kube-apiserver --service-account-key-file=\/etc\/kubernetes\/certs\/sa\.pub in \/etc\/kubernetes\/manifests\/kube-apiserver\.yaml/);
        assert.match(apiserver, /restart kube-apiserver if [^;]*sa\.pub/);
    });

    it("nothing changed: no step runs", () => {
        assert.deepEqual(running(planRollout(planInput(undefined, { changed: new Set() }))), []);
    });

    it("agents go in batches of maxUnavailable, each batch after the whole previous one", () => {
        const steps = planRollout(planInput(inventoryOf(3, 5), { maxUnavailable: 2 }));
        const agentWaves = steps.filter((s) => s.node.startsWith("a"));
        assert.deepEqual(agentWaves.map((s) => `${s.wave}:${s.node}`), ["12:a0", "12:a1", "13:a2", "13:a3", "14:a4"]);
        assert.deepEqual(agentWaves[2]!.after, ["kubelet/a0", "kubelet/a1"]);
        assert.deepEqual(agentWaves[0]!.after, ["kubelet/m2"]);
        assert.throws(() => planRollout(planInput(undefined, { maxUnavailable: 0 })), /maxUnavailable/);
    });

    /** 3 masters and agents in pools: [pool, count], named <pool>-<i>. */
    function poolsInput(pools: [string, number][], extra: Partial<PlanInput> = {}): PlanInput {
        const masters = inventoryOf(3, 0);
        const agents = pools.flatMap(([pool, count], p) => Array.from({ length: count }, (_, i) => ({ name: `${pool}-${i}`, role: "agent" as const, ip: `10.2.${p}.${i + 1}` })));
        const input = planInput({ ...masters, nodes: [...masters.nodes, ...agents] }, extra);
        return { ...input, nodes: input.nodes.map((n) => (n.role === "agent" ? { ...n, pool: n.name.split("-")[0]! } : n)) };
    }
    /** The agents' waves, as lists of node names, numbered from the first agent wave. */
    const agentWaves = (steps: RolloutStep[]) => {
        const agents = steps.filter((s) => s.kind === "kubelet" && !s.node.startsWith("m"));
        const first = agents[0]!.wave;
        const waves: string[][] = [];
        for (const s of agents) (waves[s.wave - first] ??= []).push(s.node);
        return waves;
    };

    it("agent pools go side by side, each in batches of its own limit (maxUnavailablePerPool, else maxUnavailable); every step of a wave after the whole previous wave", () => {
        const steps = planRollout(poolsInput([["poola", 4], ["poolb", 3]], { maxUnavailable: 1, maxUnavailablePerPool: { poola: 2 } }));
        // max(ceil(4 / 2), 3 / 1) = 3 agent waves, not 2 + 3
        assert.deepEqual(agentWaves(steps), [
            ["poola-0", "poola-1", "poolb-0"],
            ["poola-2", "poola-3", "poolb-1"],
            ["poolb-2"],
        ]);
        // every agent after every master: the first agent wave follows the last master's kubelet
        const lastMaster = Math.max(...steps.filter((s) => s.node.startsWith("m")).map((s) => s.wave));
        const agents = steps.filter((s) => !s.node.startsWith("m"));
        assert.ok(agents.every((s) => s.wave > lastMaster));
        assert.deepEqual(agents[0]!.after, ["kubelet/m2"]);
        // the steps of a wave depend on the previous wave's steps only, never on each other
        for (const s of agents) assert.deepEqual(s.after, s.wave === agents[0]!.wave ? ["kubelet/m2"] : steps.filter((p) => p.wave === s.wave - 1).map((p) => p.id), s.id);
        // the same with both limits given per pool, the integer unused
        assert.deepEqual(agentWaves(planRollout(poolsInput([["poola", 4], ["poolb", 3]], { maxUnavailable: 3, maxUnavailablePerPool: { poola: 2, poolb: 1 } }))), agentWaves(steps));
    });

    it("maxUnavailable alone is every pool's limit: one pool as before, several pools side by side", () => {
        const one = (extra: Partial<PlanInput>) => agentWaves(planRollout(poolsInput([["poola", 5]], extra)));
        assert.deepEqual(one({ maxUnavailable: 2 }), [["poola-0", "poola-1"], ["poola-2", "poola-3"], ["poola-4"]]);
        assert.deepEqual(one({ maxUnavailable: 2, maxUnavailablePerPool: {} }), one({ maxUnavailable: 2 }));
        // two pools: a batch of each per wave (before: batches of 2 across the pools, [a0 a1] [a2 b0] [b1])
        assert.deepEqual(agentWaves(planRollout(poolsInput([["poola", 3], ["poolb", 2]], { maxUnavailable: 2 }))), [["poola-0", "poola-1", "poolb-0", "poolb-1"], ["poola-2"]]);
        assert.throws(() => planRollout(poolsInput([["poola", 3]], { maxUnavailablePerPool: { poola: 0 } })), /maxUnavailablePerPool\.poola/);
    });

    it("masters without a kubelet have no kubelet step; their files still land", () => {
        const input = planInput();
        const withoutKubelet = { ...AKS_ENGINE_SERVICES.master, kubelet: "none", "kube-proxy": "none" } as const;
        const steps = planRollout({ ...input, nodes: input.nodes.map((n) => (n.role === "master" ? { ...n, services: withoutKubelet } : n)) });
        assert.equal(steps.filter((s) => s.kind === "kubelet" && M.includes(s.node)).length, 0);
        assert.equal(steps.filter((s) => s.node === M[0]).flatMap((s) => s.installs).length, 21);
    });

    it("grows linearly: 5 masters + 200 agents is 4 steps per master and one per agent", () => {
        const steps = planRollout(planInput(inventoryOf(5, 200)));
        assert.equal(steps.length, 5 * 4 + 200);
        assert.equal(new Set(steps.map((s) => s.id)).size, steps.length);
    });

    it("describes the steps that run, in order, with their restarts and gates", () => {
        const lines = describeRollout(planRollout(planInput(undefined, { changed: new Set(["etcd-server"]) })));
        assert.equal(lines.length, 3);
        assert.match(lines[0]!, /^1\. k8s-master-31415926-0 etcd: first: refused, nothing changed, while another member is unhealthy \(quorum\), unless this member's installed certificates have expired \(the repair\); install .*etcdserver\.crt.*; no restart \(reloads on its own\); gate: .*quorum/);
        assert.doesNotMatch(lines[0]!, /before the restart/, "no restart, so no before-restart words");
    });
});

describe("rollout plan: kubelet serving certificates (pki.kubeletServing: issue)", () => {
    const issued = (extra: Partial<PlanInput> = {}) =>
        planInput(undefined, { instances: expandInstances(certificateCatalog({ etcdCa: "shared", serviceAccountKey: "apiserver", kubeletServing: "issue" }), inventory3x3()), ...extra });
    const serverOf = (node: string) => `kubelet-server-${node}`;
    const PAIR = ["/etc/kubernetes/certs/kubeletserver.crt", "/etc/kubernetes/certs/kubeletserver.key"];

    it("each node's kubelet step installs its own pair (the key secret) and restarts the kubelet when it changes; the other steps are as without it", () => {
        const steps = planRollout(issued());
        const without = planRollout(planInput());
        assert.deepEqual(steps.map((s) => s.id), without.map((s) => s.id));
        for (const step of steps) {
            const pair = step.installs.filter((f) => PAIR.includes(f.path));
            const rest = { ...step, installs: step.installs.filter((f) => !PAIR.includes(f.path)), watches: step.watches.filter((p) => !PAIR.includes(p)) };
            if (step.kind !== "kubelet") {
                assert.deepEqual(step, without.find((s) => s.id === step.id), step.id);
                continue;
            }
            assert.deepEqual(pair, [
                { path: PAIR[0], source: serverOf(step.node), secret: false, restarts: ["kubelet"] },
                { path: PAIR[1], source: serverOf(step.node), secret: true, restarts: ["kubelet"] },
            ], step.id);
            assert.deepEqual(step.restartTriggers.kubelet!.slice(-2), PAIR, step.id);
            const before = without.find((s) => s.id === step.id)!;
            assert.deepEqual({ ...rest, restartTriggers: { ...step.restartTriggers, kubelet: step.restartTriggers.kubelet!.slice(0, -2) } }, before, step.id);
        }
    });

    it("Kubelet-Server: exactly the kubelet steps of the nodes whose certificate changed run, each restarting its kubelet", () => {
        const one = planRollout(issued({ changed: new Set([serverOf(A[1]!)]) }));
        assert.deepEqual(restartsOf(one), { [`kubelet/${A[1]}`]: ["kubelet"] });
        const all = planRollout(issued({ changed: new Set([...M, ...A].map(serverOf)) }));
        assert.deepEqual(restartsOf(all), Object.fromEntries([...M, ...A].map((n) => [`kubelet/${n}`, ["kubelet"]])));
        assert.match(describeRollout(one)[0]!, /k8s-agentpool1-31415926-1 kubelet: install .*kubeletserver\.crt, kubeletserver\.key; restart kubelet if .*kubeletserver\.crt, kubeletserver\.key changed/);
    });
});
