// The checks over the whole stack config (components/config/stack.ts): the rollout's settings
// against the inventory, and host keys unique, as readStackConfig applies them.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { parseInventoryConfig, parseRolloutConfig, readStackConfig, stackProblems } from "../../../components/config";
import { FAKE_SSH_KEY } from "../support/mocks";
import { configProblems } from "../support/config";

const NS = "azs-cert-rotation";
const HOST_KEY = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC2Oi8O6g1lN7D1TsT9sC7SHasyXqOkbdXb4xnP6J7${n}n`;

/** 3 masters; agents by pool: [pool, count] (agentpool1 …). */
function inventory(pools: [string, number][], extra: Record<string, unknown> = {}): Record<string, unknown> {
    const masters = [0, 1, 2].map((i) => ({ name: `k8s-master-1-${i}`, role: "master", ip: `10.240.255.${5 + i}`, hostKey: HOST_KEY(i) }));
    const agents = pools.flatMap(([pool, count], p) =>
        Array.from({ length: count }, (_, i) => ({ name: `k8s-${pool}-1-${i}`, role: "agent", pool, ip: `10.240.${p}.${4 + i}`, hostKey: HOST_KEY(10 * (p + 1) + i) })),
    );
    return { clusterName: "azsstaging", fqdn: "azsstaging.redmond.cloudapp.azurestack.contoso.com", nodes: [...masters, ...agents], ...extra };
}

const JUMPBOX = { jumpbox: { host: "10.240.255.250", hostKey: HOST_KEY(9) }, privateNetwork: true };

function check(inv: Record<string, unknown>, rollout: Record<string, unknown>): string[] {
    return stackProblems(parseInventoryConfig(inv), parseRolloutConfig(rollout, { value: FAKE_SSH_KEY, secret: true }));
}

describe("config: the sections against each other", () => {
    it("accepts the defaults: Azure's probe source, one agent at a time", () => {
        assert.deepEqual(check(inventory([["agentpool1", 3]], JUMPBOX), {}), []);
    });

    it("refuses a probe source that is a node's address or the jumpbox's host, naming the node", () => {
        assert.deepEqual(check(inventory([["agentpool1", 3]], JUMPBOX), { loadBalancerProbeSources: ["168.63.129.16", "10.240.255.6", "10.240.255.250", "10.240.0.5"] }), [
            "rollout.loadBalancerProbeSources[1]: 10.240.255.6 is the address of node k8s-master-1-1 (nodes[1].ip): draining a master would refuse that node's connections to the master's apiserver; list only where the load balancer's health probes come from",
            "rollout.loadBalancerProbeSources[2]: 10.240.255.250 is the jumpbox's host (jumpbox.host): draining a master would refuse the operator's connections from it to the master's apiserver; list only where the load balancer's health probes come from",
            "rollout.loadBalancerProbeSources[3]: 10.240.0.5 is the address of node k8s-agentpool1-1-1 (nodes[4].ip): draining a master would refuse that node's connections to the master's apiserver; list only where the load balancer's health probes come from",
        ]);
        assert.deepEqual(check(inventory([["agentpool1", 3]], JUMPBOX), { loadBalancerProbeSources: ["168.63.129.16", "10.240.255.20"] }), []);
        // a jumpbox given by name is not compared
        assert.deepEqual(check(inventory([["agentpool1", 3]], { jumpbox: { host: "jump.contoso.com", hostKey: HOST_KEY(9) } }), { loadBalancerProbeSources: ["10.240.255.250"] }), []);
    });

    it("refuses a maxUnavailable that could take a whole pool of more than one agent down, naming the pools and the largest value allowed", () => {
        const pools: [string, number][] = [["linuxpool", 3], ["bigpool", 6], ["single", 1]];
        assert.deepEqual(check(inventory(pools), { maxUnavailable: 3 }), [
            "rollout.maxUnavailable: 3 could restart every agent of pool linuxpool (3 agents) at once; it must be less than the agents of each pool that has more than one: at most 2",
        ]);
        assert.deepEqual(check(inventory(pools), { maxUnavailable: 7 }), [
            "rollout.maxUnavailable: 7 could restart every agent of pool bigpool (6 agents), pool linuxpool (3 agents) at once; it must be less than the agents of each pool that has more than one: at most 2",
        ]);
        assert.deepEqual(check(inventory(pools), { maxUnavailable: 2 }), []);
        // pools of one agent (down while it restarts, whatever the value) and clusters without agents set no bound
        assert.deepEqual(check(inventory([["one", 1], ["two", 1]]), { maxUnavailable: 5 }), []);
        assert.deepEqual(check(inventory([]), { maxUnavailable: 5 }), []);
    });

    it("maxUnavailablePerPool: each named pool's own limit, refused when it could take that pool down; maxUnavailable still checked against the other pools", () => {
        const pools: [string, number][] = [["linuxpool", 3], ["bigpool", 6], ["single", 1]];
        assert.deepEqual(check(inventory(pools), { maxUnavailable: 2, maxUnavailablePerPool: { bigpool: 5, single: 4 } }), []);
        assert.deepEqual(check(inventory(pools), { maxUnavailable: 2, maxUnavailablePerPool: { bigpool: 6, linuxpool: 3 } }), [
            "rollout.maxUnavailablePerPool.bigpool: 6 could restart every agent of pool bigpool (6 agents) at once; it must be less than the pool's agents: at most 5",
            "rollout.maxUnavailablePerPool.linuxpool: 3 could restart every agent of pool linuxpool (3 agents) at once; it must be less than the pool's agents: at most 2",
        ]);
        // a pool named there is no longer bound by maxUnavailable; the others still are
        assert.deepEqual(check(inventory(pools), { maxUnavailable: 5, maxUnavailablePerPool: { linuxpool: 1 } }), []);
        assert.deepEqual(check(inventory(pools), { maxUnavailable: 6, maxUnavailablePerPool: { linuxpool: 1 } }), [
            "rollout.maxUnavailable: 6 could restart every agent of pool bigpool (6 agents) at once; it must be less than the agents of each pool that has more than one (of those rollout.maxUnavailablePerPool does not name): at most 5",
        ]);
    });

    it("maxUnavailablePerPool: a pool the inventory has no agent of is refused, naming the agent pools", () => {
        assert.deepEqual(check(inventory([["linuxpool", 3], ["bigpool", 6]]), { maxUnavailablePerPool: { linuxpol: 1, master: 1, bigpool: 2 } }), [
            "rollout.maxUnavailablePerPool.linuxpol: no agent pool linuxpol in the inventory; its agent pools: bigpool, linuxpool",
            "rollout.maxUnavailablePerPool.master: no agent pool master in the inventory; its agent pools: bigpool, linuxpool",
        ]);
        assert.deepEqual(check(inventory([]), { maxUnavailablePerPool: { agentpool1: 1 } }), ["rollout.maxUnavailablePerPool.agentpool1: no agent pool agentpool1 in the inventory; it has no agents"]);
    });

    it("readStackConfig reports them with every other problem, as a ConfigError", () => {
        const inv = inventory([["agentpool1", 2]], JUMPBOX);
        const nodes = (inv.nodes as Record<string, unknown>[]).map((n, i) => (i === 4 ? { ...n, hostKey: HOST_KEY(0) } : n));
        pulumi.runtime.setAllConfig(
            Object.fromEntries(
                Object.entries({ ...inv, nodes, sshPrivateKey: FAKE_SSH_KEY, rollout: { maxUnavailable: 2, loadBalancerProbeSources: ["10.240.255.5"] } }).map(([k, v]) => [
                    `${NS}:${k}`,
                    typeof v === "string" ? v : JSON.stringify(v),
                ]),
            ),
            [`${NS}:sshPrivateKey`],
        );
        try {
            assert.deepEqual(
                configProblems(() => readStackConfig()),
                [
                    "nodes[4].hostKey: k8s-agentpool1-1-1 has the same host key as nodes[0] (k8s-master-1-0): pinning would no longer tie an address to one VM; give each VM its own host keys",
                    "rollout.loadBalancerProbeSources[0]: 10.240.255.5 is the address of node k8s-master-1-0 (nodes[0].ip): draining a master would refuse that node's connections to the master's apiserver; list only where the load balancer's health probes come from",
                    "rollout.maxUnavailable: 2 could restart every agent of pool agentpool1 (2 agents) at once; it must be less than the agents of each pool that has more than one: at most 1",
                ],
            );
            pulumi.runtime.setAllConfig(
                Object.fromEntries(Object.entries({ ...inv, sshPrivateKey: FAKE_SSH_KEY }).map(([k, v]) => [`${NS}:${k}`, typeof v === "string" ? v : JSON.stringify(v)])),
                [`${NS}:sshPrivateKey`],
            );
            assert.equal(readStackConfig().inventory.nodes.length, 5);
        } finally {
            pulumi.runtime.setAllConfig({});
        }
    });
});
