import { strict as assert } from "assert";
import { certificateCatalog, CertRow, checkCatalog, deriveCaTree } from "../../../components/pki/catalog";
import { apiServerSans, DEFAULT_SAN_SETTINGS, expandInstances, filesForNode, firstServiceIp, pkiInventoryFrom } from "../../../components/pki/instances";
import { inventory3x3 } from "../support/mocks";

const MASTERS = ["k8s-master-31415926-0", "k8s-master-31415926-1", "k8s-master-31415926-2"];
const AGENTS = ["k8s-agentpool1-31415926-0", "k8s-agentpool1-31415926-1", "k8s-agentpool1-31415926-2"];
const ALL = [...MASTERS, ...AGENTS];

describe("catalog: every certificate of an AKS Engine cluster", () => {
    const rows = certificateCatalog();
    const instances = expandInstances(rows, inventory3x3());
    const byId = new Map(instances.map((i) => [i.id, i]));
    const files = new Map(instances.flatMap((i) => i.files.map((f) => [f.name, { ...f, instance: i.id }] as const)));

    it("has every file of the AKS Engine layout under /etc/kubernetes/certs, and no other", () => {
        const expected = [
            "ca.crt", "ca.key", "ca-signing.crt", "proxy-ca.crt", "proxy-ca.key",
            "apiserver.crt", "apiserver.key", "client.crt", "client.key", "kubectlClient.crt", "kubectlClient.key",
            "etcdserver.crt", "etcdserver.key", "etcdclient.crt", "etcdclient.key",
            "etcdpeer0.crt", "etcdpeer0.key", "etcdpeer1.crt", "etcdpeer1.key", "etcdpeer2.crt", "etcdpeer2.key",
            "proxy.crt", "proxy.key", "sa.pub",
        ];
        assert.deepEqual([...files.keys()].sort(), expected.sort());
        for (const f of files.values()) assert.equal(f.path, `/etc/kubernetes/certs/${f.name}`);
    });

    it("expands to 2 CAs, 9 leaves and the service-account key pair for 3 masters", () => {
        assert.deepEqual(
            instances.map((i) => `${i.row.kind}:${i.id}`),
            [
                "ca:kubernetes-ca", "ca:front-proxy-ca", "keyPair:service-account",
                "leaf:apiserver", "leaf:client", "leaf:kubectl-client", "leaf:etcd-server", "leaf:etcd-client",
                "leaf:etcd-peer-0", "leaf:etcd-peer-1", "leaf:etcd-peer-2", "leaf:front-proxy-client",
            ],
        );
    });

    it("names issuer, subject and usages of each row", () => {
        const summary = (id: string) => {
            const i = byId.get(id)!;
            return [i.row.issuer ?? "-", i.commonName, i.organization ?? "-", [...i.row.keyUsages, ...i.row.extKeyUsages].join(",")].join(" | ");
        };
        assert.equal(summary("kubernetes-ca"), "- | ca | - | certSign,crlSign,digitalSignature");
        assert.equal(summary("front-proxy-ca"), "- | proxyClientCA | - | certSign,crlSign,digitalSignature");
        assert.equal(summary("apiserver"), "kubernetes-ca | apiserver | - | digitalSignature,keyEncipherment,serverAuth");
        assert.equal(summary("client"), "kubernetes-ca | client | system:masters | digitalSignature,keyEncipherment,clientAuth");
        assert.equal(summary("kubectl-client"), "kubernetes-ca | client | system:masters | digitalSignature,keyEncipherment,clientAuth");
        assert.equal(summary("etcd-server"), "kubernetes-ca | etcdserver | - | digitalSignature,keyEncipherment,serverAuth,clientAuth");
        assert.equal(summary("etcd-client"), "kubernetes-ca | etcdclient | - | digitalSignature,keyEncipherment,clientAuth");
        assert.equal(summary("etcd-peer-1"), "kubernetes-ca | etcdpeer1 | - | digitalSignature,keyEncipherment,serverAuth,clientAuth");
        assert.equal(summary("front-proxy-client"), "front-proxy-ca | aggregator | system:masters | digitalSignature,keyEncipherment,clientAuth");
    });

    it("gives each row its rotation type", () => {
        const rotation = Object.fromEntries(instances.map((i) => [i.id, i.row.rotation]));
        assert.deepEqual(rotation, {
            "kubernetes-ca": "kubernetesCa",
            "front-proxy-ca": "frontProxy",
            "service-account": "serviceAccount",
            apiserver: "kubernetesLeaf",
            client: "kubernetesLeaf",
            "kubectl-client": "kubernetesLeaf",
            "etcd-server": "etcdLeaf",
            "etcd-client": "etcdLeaf",
            "etcd-peer-0": "etcdLeaf",
            "etcd-peer-1": "etcdLeaf",
            "etcd-peer-2": "etcdLeaf",
            "front-proxy-client": "frontProxy",
        });
    });

    it("derives the apiserver SANs from the inventory", () => {
        const api = byId.get("apiserver")!;
        assert.deepEqual(api.dnsNames, [
            "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
            "azstb.local.cloudapp.azurestack.external",
        ]);
        assert.deepEqual(api.ipAddresses, ["10.240.255.5", "10.240.255.6", "10.240.255.7", "10.240.255.15", "10.0.0.1", "127.0.0.1"]);
    });

    it("uses the cluster domain, the service CIDR and extra SANs from settings", () => {
        const sans = apiServerSans(inventory3x3(), { clusterDomain: "corp.example", serviceCidr: "172.16.8.0/21", apiServerExtraSans: ["api.corp.example", "192.0.2.10"] });
        assert.ok(sans.dnsNames.includes("kubernetes.default.svc.corp.example"));
        assert.ok(!sans.dnsNames.includes("kubernetes.default.svc.cluster.local"));
        assert.ok(sans.dnsNames.includes("api.corp.example"));
        assert.ok(sans.ipAddresses.includes("172.16.8.1"));
        assert.ok(sans.ipAddresses.includes("192.0.2.10"));
    });

    it("gives each etcd peer its own master's IP, 127.0.0.1 and hostname; the shared server cert every master", () => {
        for (const i of [0, 1, 2]) {
            const peer = byId.get(`etcd-peer-${i}`)!;
            assert.deepEqual(peer.ipAddresses, [`10.240.255.${5 + i}`, "127.0.0.1"]);
            assert.deepEqual(peer.dnsNames, [MASTERS[i]]);
        }
        const server = byId.get("etcd-server")!;
        assert.deepEqual(server.ipAddresses, ["127.0.0.1", "10.240.255.5", "10.240.255.6", "10.240.255.7"]);
        assert.deepEqual(server.dnsNames, ["localhost", ...MASTERS]);
        for (const id of ["client", "kubectl-client", "etcd-client", "front-proxy-client"]) {
            assert.deepEqual([byId.get(id)!.dnsNames, byId.get(id)!.ipAddresses], [[], []], id);
        }
    });

    it("places files on masters, on all nodes, or on the owning master only", () => {
        const nodesOf = (name: string) => files.get(name)!.nodeNames;
        assert.deepEqual(nodesOf("ca.crt"), ALL);
        assert.deepEqual(nodesOf("ca.key"), MASTERS);
        assert.deepEqual(nodesOf("ca-signing.crt"), MASTERS);
        assert.deepEqual(nodesOf("client.crt"), ALL);
        assert.deepEqual(nodesOf("client.key"), ALL);
        assert.deepEqual(nodesOf("apiserver.crt"), ALL);
        assert.deepEqual(nodesOf("apiserver.key"), MASTERS);
        assert.deepEqual(nodesOf("kubectlClient.key"), MASTERS);
        assert.deepEqual(nodesOf("etcdpeer1.key"), [MASTERS[1]]);
        assert.deepEqual(nodesOf("proxy.key"), MASTERS);
        assert.deepEqual(
            filesForNode(instances, AGENTS[0]!).map((f) => f.path.replace("/etc/kubernetes/certs/", "")),
            ["ca.crt", "apiserver.crt", "client.crt", "client.key"],
        );
        assert.deepEqual(nodesOf("sa.pub"), MASTERS);
        assert.equal(filesForNode(instances, MASTERS[2]!).length, 20); // 24 files minus the other two masters' peer pairs
    });

    it("says which services read each file and whether they reload it", () => {
        const readers = (name: string) => files.get(name)!.readers.map((r) => `${r.service}:${r.reload}`);
        assert.deepEqual(readers("etcdserver.crt"), ["etcd:dynamic"]);
        assert.deepEqual(readers("etcdclient.crt"), ["kube-apiserver:restart"]);
        assert.ok(readers("ca.crt").includes("etcd:restart"), "etcd trusts the cluster CA in the shared layout");
        assert.ok(readers("ca.crt").includes("kube-apiserver:dynamic"));
        assert.ok(readers("apiserver.key").includes("kube-controller-manager:restart"), "apiserver.key is the SA signing key");
        assert.deepEqual(
            files.get("apiserver.key")!.readers.map((r) => `${r.service} ${r.via}`),
            ["kube-apiserver --tls-private-key-file", "kube-apiserver --service-account-signing-key-file", "kube-controller-manager --service-account-private-key-file"],
            "the token verifier reads sa.pub, not the signing key",
        );
        assert.deepEqual(readers("proxy-ca.crt"), ["kube-apiserver:dynamic"]);
    });

    it("shares apiserver.key with the service-account key pair (AKS Engine), or gives it sa.key/sa.pub (dedicated)", () => {
        assert.equal(byId.get("apiserver")!.row.keyFrom, "service-account");
        // the verifying public keys are a file of their own, which AKS Engine's flag does not name: the rollout points it there
        assert.deepEqual(
            byId.get("service-account")!.files.map((f) => [f.name, f.content, f.readers.map((r) => `${r.service} ${r.via}${r.setsFlag ? " (set)" : ""}`)]),
            [["sa.pub", "publicKey", ["kube-apiserver --service-account-key-file (set)"]]],
        );
        const dedicated = expandInstances(certificateCatalog({ etcdCa: "shared", serviceAccountKey: "dedicated" }), inventory3x3());
        const sa = dedicated.find((i) => i.id === "service-account")!;
        assert.deepEqual(sa.files.map((f) => `${f.name}:${f.content}`), ["sa.key:key", "sa.pub:publicKey"]);
        assert.ok(!sa.files.some((f) => f.readers.some((r) => r.setsFlag)), "kubeadm's flags already name sa.key and sa.pub");
        assert.equal(dedicated.find((i) => i.id === "apiserver")!.row.keyFrom, undefined);
    });

    it("computes the first service IP of IPv4 and IPv6 CIDRs, and rejects bad ones", () => {
        assert.equal(firstServiceIp("10.0.0.0/16"), "10.0.0.1");
        assert.equal(firstServiceIp("10.0.5.7/16"), "10.0.0.1");
        assert.equal(firstServiceIp("fd00:10:96::/112"), "fd00:10:96:0:0:0:0:1");
        assert.throws(() => firstServiceIp("10.0.0.0"), /not a CIDR/);
        assert.throws(() => firstServiceIp("10.0.0.0/32"), /not a CIDR/);
        assert.throws(() => firstServiceIp("300.0.0.0/8"), /not a CIDR/);
    });

    it("rejects a broken table", () => {
        const base = certificateCatalog();
        const withRow = (patch: Partial<CertRow>, at = base.length) => [...base.slice(0, at), { ...base.find((r) => r.id === "client")!, ...patch }, ...base.slice(at)];
        assert.throws(() => checkCatalog(withRow({ id: "x", issuer: "nope" })), /nope must come before/);
        assert.throws(() => checkCatalog(withRow({ id: "x", issuer: "apiserver" })), /issuer apiserver is not a CA/);
        assert.throws(() => checkCatalog(withRow({ id: "x" })), /file client.crt appears twice/);
        assert.throws(() => checkCatalog(withRow({ id: "x", issuer: "kubernetes-ca" }, 0)), /kubernetes-ca must come before/);
        assert.doesNotThrow(() => checkCatalog(withRow({ id: "x", files: [] })));
    });
});

describe("catalog: the CA tree derived from the table", () => {
    const tree = (opts: Parameters<typeof certificateCatalog>[0]) =>
        Object.fromEntries(deriveCaTree(certificateCatalog(opts)).map((n) => [n.ca.id, n.leaves.map((l) => l.id)]));

    it("single cluster CA (AKS Engine): the cluster CA signs etcd's certificates too", () => {
        assert.deepEqual(tree({ etcdCa: "shared", serviceAccountKey: "apiserver" }), {
            "kubernetes-ca": ["apiserver", "client", "kubectl-client", "etcd-server", "etcd-client", "etcd-peer-{index}"],
            "front-proxy-ca": ["front-proxy-client"],
        });
    });

    it("separate etcd CA (kubeadm): etcd's certificates move under etcd-ca, which etcd and the apiserver trust", () => {
        assert.deepEqual(tree({ etcdCa: "separate", serviceAccountKey: "apiserver" }), {
            "kubernetes-ca": ["apiserver", "client", "kubectl-client"],
            "etcd-ca": ["etcd-server", "etcd-client", "etcd-peer-{index}"],
            "front-proxy-ca": ["front-proxy-client"],
        });
        const rows = certificateCatalog({ etcdCa: "separate", serviceAccountKey: "apiserver" });
        const etcdCa = rows.find((r) => r.id === "etcd-ca")!;
        assert.deepEqual(etcdCa.files.map((f) => f.name), ["etcd-ca.crt", "etcd-ca.key"]);
        assert.deepEqual(etcdCa.files[0]!.readers.map((r) => r.service), ["etcd", "kube-apiserver"]);
        const caCrt = rows.find((r) => r.id === "kubernetes-ca")!.files[0]!;
        assert.ok(!caCrt.readers.some((r) => r.service === "etcd"), "etcd no longer trusts the cluster CA");
    });

    it("the service-account key pair and the CAs have no issuer", () => {
        for (const row of certificateCatalog()) {
            if (row.kind !== "leaf") assert.equal(row.issuer, undefined, row.id);
        }
    });
});

describe("catalog: the PKI's view of the stack's inventory", () => {
    it("keeps masters and agents, takes the load balancer IP from the apiserver endpoint", () => {
        const inv = pkiInventoryFrom({
            nodes: [
                { name: "k8s-master-31415926-0", role: "master", ip: "10.240.255.5", index: 0 },
                { name: "k8s-agentpool1-31415926-0", role: "agent", ip: "10.240.255.40", index: 0 },
                { name: "azstb-jumpbox", role: "jumpbox", ip: "10.240.255.250" },
            ],
            fqdn: "azstb.local.cloudapp.azurestack.external",
            apiServerEndpoint: "https://10.240.255.15:443",
        });
        assert.deepEqual(inv, {
            nodes: [
                { name: "k8s-master-31415926-0", role: "master", ip: "10.240.255.5", index: 0 },
                { name: "k8s-agentpool1-31415926-0", role: "agent", ip: "10.240.255.40" },
            ],
            fqdn: "azstb.local.cloudapp.azurestack.external",
            loadBalancerIps: ["10.240.255.15"],
        });
        assert.deepEqual(pkiInventoryFrom({ nodes: [], fqdn: "x.example", apiServerEndpoint: "https://x.example:443" }).loadBalancerIps, []);
        assert.deepEqual(pkiInventoryFrom({ nodes: [], fqdn: "x.example", apiServerEndpoint: "https://x.example", loadBalancerIps: ["192.0.2.1"] }).loadBalancerIps, ["192.0.2.1"]);
    });
});

describe("catalog: default SAN settings", () => {
    it("are AKS Engine's", () => {
        assert.deepEqual(DEFAULT_SAN_SETTINGS, { clusterDomain: "cluster.local", serviceCidr: "10.0.0.0/16", apiServerExtraSans: [] });
    });
});

describe("catalog: kubelet serving certificates (pki.kubeletServing)", () => {
    const ISSUE = { etcdCa: "shared", serviceAccountKey: "apiserver", kubeletServing: "issue" } as const;
    const kubeletRows = (rows: CertRow[]) => rows.filter((r) => r.rotation === "kubeletServer");

    it("keep (the default): the table has no kubelet serving row; the nodes' own certificates are left alone", () => {
        assert.deepEqual(kubeletRows(certificateCatalog()), []);
        assert.deepEqual(certificateCatalog({ ...ISSUE, kubeletServing: "keep" }), certificateCatalog());
    });

    it("issue: one per-node row signed by the cluster CA, a serving certificate read by the kubelet at start", () => {
        const rows = certificateCatalog(ISSUE);
        assert.deepEqual(rows.slice(0, -1), certificateCatalog(), "the other rows as they were, the new one last");
        const [row, ...others] = kubeletRows(rows);
        assert.deepEqual(others, []);
        assert.deepEqual(
            [row!.id, row!.kind, row!.issuer, row!.placement, row!.commonName, row!.organization, row!.keyUsages, row!.extKeyUsages, row!.sans],
            ["kubelet-server-{node}", "leaf", "kubernetes-ca", "perNode", "system:node:{node}", "system:nodes", ["digitalSignature", "keyEncipherment"], ["serverAuth"], "kubeletServer"],
        );
        assert.deepEqual(
            row!.files.map((f) => `${f.name} ${f.content} ${f.nodes} ${f.readers.map((r) => `${r.service}:${r.via}:${r.reload}`).join(",")}`),
            ["kubeletserver.crt cert owner kubelet:--tls-cert-file:restart", "kubeletserver.key key owner kubelet:--tls-private-key-file:restart"],
        );
        assert.ok(deriveCaTree(rows).find((n) => n.ca.id === "kubernetes-ca")!.leaves.includes(row!), "a Kubernetes-CA rotation re-issues it");
    });

    it("expands to one instance per node, masters and agents, each with its node's name and address, its files on that node only", () => {
        const instances = expandInstances(certificateCatalog(ISSUE), inventory3x3());
        const kubelet = instances.filter((i) => i.row.rotation === "kubeletServer");
        assert.deepEqual(kubelet.map((i) => i.id), ALL.map((n) => `kubelet-server-${n}`));
        inventory3x3().nodes.forEach((node, k) => {
            const i = kubelet[k]!;
            assert.deepEqual(
                [i.owner?.name, i.commonName, i.organization, i.dnsNames, i.ipAddresses],
                [node.name, `system:node:${node.name}`, "system:nodes", [node.name], [node.ip]],
            );
            assert.deepEqual(i.files.map((f) => `${f.path} ${f.nodeNames.join(",")}`), [`/etc/kubernetes/certs/kubeletserver.crt ${node.name}`, `/etc/kubernetes/certs/kubeletserver.key ${node.name}`]);
        });
        assert.deepEqual(
            filesForNode(instances, AGENTS[1]!).map((f) => `${f.path.replace("/etc/kubernetes/certs/", "")} ${f.instance}`),
            ["ca.crt kubernetes-ca", "apiserver.crt apiserver", "client.crt client", "client.key client", `kubeletserver.crt kubelet-server-${AGENTS[1]}`, `kubeletserver.key kubelet-server-${AGENTS[1]}`],
        );
        assert.equal(filesForNode(instances, MASTERS[0]!).length, 20 + 2);
        // the rest of the expansion is the default one
        const others = instances.filter((i) => i.row.rotation !== "kubeletServer");
        assert.deepEqual(others, expandInstances(certificateCatalog(), inventory3x3()));
    });

    it("rejects per-node rows whose instances would share an id, use a master index or write files beyond their node", () => {
        const base = certificateCatalog(ISSUE);
        const row = base.at(-1)!;
        const withRow = (patch: Partial<CertRow>) => [...base.slice(0, -1), { ...row, ...patch }];
        assert.doesNotThrow(() => checkCatalog(base));
        assert.throws(() => checkCatalog(withRow({ id: "kubelet-server" })), /kubelet-server: a perNode row's id must hold \{node\}/);
        assert.throws(() => checkCatalog(withRow({ commonName: "kubelet{index}" })), /\{index\} in "kubelet\{index\}" has no value in a perNode row/);
        assert.throws(() => checkCatalog(withRow({ placement: "cluster" })), /\{node\} in "kubelet-server-\{node\}" has no value in a cluster row/);
        assert.throws(() => checkCatalog(withRow({ id: "etcd-x-{index}", placement: "perMaster" })), /\{node\} in "system:node:\{node\}" has no value in a perMaster row/);
        assert.throws(() => checkCatalog(withRow({ files: row.files.map((f) => ({ ...f, nodes: "all" })) })), /file kubeletserver\.crt: "owner" placement is for per-master and per-node rows/);
    });
});
