import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { InventoryNode, parseInventoryConfig, readInventoryConfig } from "../../../components/config";
import { hostKeyProblems } from "../../../components/config/inventory";
import { configProblems } from "../support/config";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC2Oi8O6g1lN7D1TsT9sC7SHasyXqOkbdXb4xnP6J71n";

function node(name: string, role: string, ip: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { name, role, ip, hostKey: HOST_KEY, ...extra };
}

function cluster(nodes: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { clusterName: "azsstaging", fqdn: "azsstaging.redmond.cloudapp.azurestack.contoso.com", nodes, ...extra };
}

const threeByThree = [
    node("k8s-master-1-0", "master", "10.240.255.5"),
    node("k8s-master-1-1", "master", "10.240.255.6"),
    node("k8s-master-1-2", "master", "10.240.255.7"),
    node("k8s-agentpool1-1-0", "agent", "10.240.0.4"),
    node("k8s-agentpool1-1-1", "agent", "10.240.0.5", { pool: "linuxpool" }),
    node("k8s-agentpool1-1-2", "agent", "10.240.0.6"),
];

const problems = (raw: Record<string, unknown>): string[] => configProblems(() => parseInventoryConfig(raw));

describe("config: the inventory", () => {
    it("reads a 3-master, 3-agent cluster with defaults for endpoint, admin user, pools and master indexes", () => {
        const inv = parseInventoryConfig(cluster(threeByThree));
        assert.equal(inv.apiServerEndpoint, "https://azsstaging.redmond.cloudapp.azurestack.contoso.com:443");
        assert.equal(inv.adminUsername, "azureuser");
        assert.deepEqual(inv.loadBalancerIps, []);
        assert.equal(inv.jumpbox, undefined);
        const masters = inv.nodes.filter((n: InventoryNode) => n.role === "master");
        assert.deepEqual(masters.map((m) => [m.index, m.pool]), [[0, "master"], [1, "master"], [2, "master"]]);
        assert.deepEqual(inv.nodes.filter((n) => n.role === "agent").map((a) => a.pool), ["agentpool1", "linuxpool", "agentpool1"]);
    });

    it("takes the load balancer address from an IP endpoint, and reads the jumpbox", () => {
        const inv = parseInventoryConfig(
            cluster(threeByThree, { apiServerEndpoint: "https://10.240.255.15:443", privateNetwork: "true", jumpbox: { host: "10.240.255.250", hostKey: HOST_KEY } }),
        );
        assert.deepEqual(inv.loadBalancerIps, ["10.240.255.15"]);
        assert.equal(inv.privateNetwork, true);
        assert.deepEqual(inv.jumpbox, { host: "10.240.255.250", port: 22, user: "azureuser", hostKey: HOST_KEY });
    });

    it("names every problem: duplicate names and IPs, unknown role, missing host key", () => {
        const bad = [
            node("m0", "master", "10.0.0.5"),
            node("m0", "master", "10.0.0.6"),
            node("m2", "master", "10.0.0.5"),
            { name: "a0", role: "worker", ip: "10.0.0.9", hostKey: HOST_KEY },
            { name: "a1", role: "agent", ip: "10.0.0.10" },
        ];
        assert.deepEqual(problems(cluster(bad)), [
            'nodes[3].role: must be one of "master", "agent", got "worker"',
            "nodes[4].hostKey: required",
            "nodes[1].name: m0 is already nodes[0].name",
            "nodes[2].ip: 10.0.0.5 is already nodes[0].ip",
        ]);
    });

    it("refuses an even number of etcd members and master indexes that are not 0..n-1", () => {
        const two = [node("m0", "master", "10.0.0.5"), node("m1", "master", "10.0.0.6"), node("a0", "agent", "10.0.0.7")];
        assert.match(problems(cluster(two)).join("\n"), /2 masters: etcd needs an odd number of members/);
        const gap = [node("m0", "master", "10.0.0.5", { index: 0 }), node("m1", "master", "10.0.0.6", { index: 2 }), node("m2", "master", "10.0.0.7", { index: 2 })];
        assert.match(problems(cluster(gap)).join("\n"), /master indexes must be 0\.\.2, each once \(etcdpeer<index>\), got 0, 2, 2/);
    });

    it("refuses an index on an agent, saying only masters have one (not a range that agents above 8 would fail)", () => {
        const nodes = [node("m0", "master", "10.0.0.5"), node("a0", "agent", "10.0.0.7", { index: 3 }), node("a1", "agent", "10.0.0.8", { index: 12 })];
        assert.deepEqual(problems(cluster(nodes)).filter((p) => p.includes("index")), [
            "nodes[1].index: only masters have an index (their etcd member: etcdpeer<index>); remove it from this agent",
            "nodes[2].index: only masters have an index (their etcd member: etcdpeer<index>); remove it from this agent",
        ]);
    });

    it("refuses a private network without a jumpbox, bad addresses, host keys and names", () => {
        const got = problems({
            clusterName: "Bad_Name",
            fqdn: "not a host",
            privateNetwork: true,
            apiServerEndpoint: "http://10.0.0.1",
            nodes: [node("m0", "master", "10.0.0.300"), { name: "a0", role: "agent", ip: "10.0.0.8", hostKey: "AAAA" }],
        });
        assert.deepEqual(got, [
            'clusterName: must be an aks-engine DNS prefix (lower-case letters, digits, -), got "Bad_Name"',
            'fqdn: must be a DNS name, got "not a host"',
            'apiServerEndpoint: must be an https:// URL, got "http://10.0.0.1"',
            'nodes[0].ip: must be an IP address, got "10.0.0.300"',
            'nodes[1].hostKey: must be an SSH public host key "<type> <base64>" (ssh-keyscan prints it), got "AAAA"',
            "privateNetwork is true but no jumpbox is set: the nodes cannot be reached",
        ]);
    });

    it("refuses IPv6 node addresses (the scripts put them in URLs unbracketed); IPv6 stays allowed for the jumpbox and the load balancer (SSH through the plugin, SANs)", () => {
        const v6 = [node("m0", "master", "10.0.0.5"), node("a0", "agent", "fd00:10:240::4")];
        assert.deepEqual(problems(cluster(v6)), [
            'nodes[1].ip: IPv6 node addresses are not supported: the rotation scripts use a node\'s address in URLs (https://<ip>:2379) and iptables rules without brackets; give its IPv4 address, got "fd00:10:240::4"',
        ]);
        const inv = parseInventoryConfig(cluster([node("m0", "master", "10.0.0.5"), node("a0", "agent", "10.0.0.6")], { loadBalancerIps: ["10.0.0.15", "fd00::15"], jumpbox: { host: "2001:db8::1", hostKey: HOST_KEY } }));
        assert.deepEqual(inv.nodes.map((n) => n.ip), ["10.0.0.5", "10.0.0.6"]);
        assert.deepEqual(inv.loadBalancerIps, ["10.0.0.15", "fd00::15"]);
        assert.equal(inv.jumpbox?.host, "2001:db8::1");
    });

    it("refuses a host key two machines share (nodes, the jumpbox), naming both; one key each is accepted", () => {
        const key = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC2Oi8O6g1lN7D1TsT9sC7SHasyXqOkbdXb4xnP6J7${n}n`;
        const inv = (keys: number[], jumpboxKey?: number) =>
            parseInventoryConfig(
                cluster(
                    keys.map((k, i) => node(i === 0 ? "m0" : `a${i}`, i === 0 ? "master" : "agent", `10.0.0.${5 + i}`, { hostKey: key(k) })),
                    jumpboxKey === undefined ? {} : { jumpbox: { host: "jump.contoso.com", hostKey: key(jumpboxKey) } },
                ),
            );
        assert.deepEqual(hostKeyProblems(inv([0, 1, 0, 2, 1], 2)), [
            "nodes[2].hostKey: a2 has the same host key as nodes[0] (m0): pinning would no longer tie an address to one VM; give each VM its own host keys",
            "nodes[4].hostKey: a4 has the same host key as nodes[1] (a1): pinning would no longer tie an address to one VM; give each VM its own host keys",
            "jumpbox.hostKey: jump.contoso.com has the same host key as nodes[3] (a3): pinning would no longer tie an address to one VM; give each VM its own host keys",
        ]);
        assert.deepEqual(hostKeyProblems(inv([0, 1, 2, 3], 4)), []);
    });

    it("requires a non-empty node list and rejects unknown node keys", () => {
        assert.deepEqual(problems(cluster([])), ["nodes: must be a non-empty list, got []"]);
        assert.match(problems(cluster([node("m0", "master", "10.0.0.5", { hostkey: HOST_KEY })])).join("\n"), /nodes\[0\]\.hostkey: unknown key \(did you mean nodes\[0\]\.hostKey\?\)/);
    });

    it("reads the stack's keys through pulumi.Config, treating Pulumi.yaml's empty defaults as unset", () => {
        pulumi.runtime.setAllConfig({
            "azs-cert-rotation:clusterName": "azstb",
            "azs-cert-rotation:fqdn": "azstb.local.cloudapp.azurestack.external",
            "azs-cert-rotation:apiServerEndpoint": "",
            "azs-cert-rotation:loadBalancerIps": "[]",
            "azs-cert-rotation:jumpbox": "{}",
            "azs-cert-rotation:nodes": JSON.stringify(threeByThree),
        });
        try {
            const inv = readInventoryConfig();
            assert.equal(inv.apiServerEndpoint, "https://azstb.local.cloudapp.azurestack.external:443");
            assert.equal(inv.jumpbox, undefined);
            assert.equal(inv.nodes.length, 6);
        } finally {
            pulumi.runtime.setAllConfig({});
        }
    });
});
