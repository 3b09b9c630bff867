import { strict as assert } from "assert";
import { AdoptionInput } from "../../../components/config";
import { RotationType } from "../../../components/pki/catalog";
import { PkiInventory } from "../../../components/pki/instances";
import { resolvePki } from "../../../components/pki/resolve";
import { describePlan, planReplacements, ReplacementPlan } from "../../../components/pki/rotation";
import { inventory3x3, Registration, simulateReplacements } from "../support/mocks";
import { caFixture, Pem } from "../support/openssl";
import { runPki, settingsOf } from "../support/pki";

type Raw = Record<string, unknown>;

function plan(before: Raw, after: Raw, opts: { adoption?: AdoptionInput; inventoryAfter?: PkiInventory } = {}): ReplacementPlan {
    return planReplacements(
        resolvePki(settingsOf(before, opts.adoption), inventory3x3()),
        resolvePki(settingsOf(after, opts.adoption), opts.inventoryAfter ?? inventory3x3()),
    );
}

const bump = (base: Raw, type: RotationType): Raw => ({ ...base, rotation: { [type]: 1 } });
const ids = (p: ReplacementPlan) => p.replaced.map((c) => c.id);
const leaf = (id: string) => [`${id}-clock`, `${id}-key`, `${id}-csr`, `${id}-cert`];

const ETCD_LEAVES = ["etcd-server", "etcd-client", "etcd-peer-0", "etcd-peer-1", "etcd-peer-2"];
const K8S_LEAVES = ["apiserver", "client", "kubectl-client"];

describe("rotation: which certificates a forced rotation replaces (3 masters + 3 agents)", () => {
    describe("AKS Engine layout (one cluster CA, apiserver.key = SA key)", () => {
        const base: Raw = {};

        it("Kubernetes-Leaf: apiserver, client, kubectlClient — 10 resources, the CA untouched", () => {
            const p = plan(base, bump(base, "kubernetesLeaf"));
            assert.deepEqual(ids(p), K8S_LEAVES);
            assert.deepEqual(p.replaced[0]!.resources, ["apiserver-csr", "apiserver-cert"], "the apiserver keeps the SA key");
            assert.deepEqual(p.replaced[1]!.resources, leaf("client"));
            assert.equal(p.resourceCount, 10);
            assert.deepEqual([p.created, p.deleted], [[], []]);
        });

        it("ETCD-Leaf: etcd server, client and the 3 peers — 20 resources", () => {
            const p = plan(base, bump(base, "etcdLeaf"));
            assert.deepEqual(ids(p), ETCD_LEAVES);
            assert.equal(p.resourceCount, 20);
        });

        it("Kubernetes-CA: a new CA generation (the old one deleted) and every leaf it signs, etcd's included — 8 certificates, 30 resources", () => {
            const p = plan(base, bump(base, "kubernetesCa"));
            assert.deepEqual(ids(p), [...K8S_LEAVES, ...ETCD_LEAVES]);
            assert.deepEqual([p.created, p.deleted], [["kubernetes-ca-g1-key", "kubernetes-ca-g1-cert"], ["kubernetes-ca-key", "kubernetes-ca-cert"]]);
            assert.equal(p.resourceCount, 30);
            assert.ok(!ids(p).includes("front-proxy-client") && !ids(p).includes("service-account"));
        });

        it("FrontProxy: a new front-proxy CA generation and the client re-issued — 4 resources replaced", () => {
            const p = plan(base, bump(base, "frontProxy"));
            assert.deepEqual(ids(p), ["front-proxy-client"]);
            assert.deepEqual(p.created, ["front-proxy-ca-g1-key", "front-proxy-ca-g1-cert"]);
            assert.equal(p.resourceCount, 4);
        });

        it("ServiceAccount: a key pair of a new generation, and the apiserver certificate re-issued over it — 2 resources", () => {
            const p = plan(base, bump(base, "serviceAccount"));
            assert.deepEqual(p.created, ["service-account-g1-key"]);
            assert.deepEqual(p.deleted, ["service-account-key"]);
            assert.deepEqual(ids(p), ["apiserver"]);
            assert.deepEqual(p.replaced.flatMap((c) => c.resources), ["apiserver-csr", "apiserver-cert"]);
            assert.deepEqual(p.replaced[0]!.reasons, ["its key pair changed: service-account-key → service-account-g1-key"]);
        });

        it("says why, in words", () => {
            assert.deepEqual(describePlan(plan(base, bump(base, "frontProxy"))), [
                "front-proxy-client: replace 4 resource(s) — forced rotation: FrontProxy#0 issuer=front-proxy-ca#0 → FrontProxy#1 issuer=front-proxy-ca#1",
            ]);
        });

        it("replaces nothing when nothing changes, or when only a renewal lead changes (updated in place)", () => {
            assert.deepEqual(plan(base, base), { replaced: [], created: [], deleted: [], resourceCount: 0 });
            assert.equal(plan(base, { validity: { leafRenewalDays: 20, caRenewalDays: 400 } }).resourceCount, 0);
        });
    });

    describe("separate etcd CA (kubeadm layout)", () => {
        const base: Raw = { etcdCa: "separate" };

        it("Kubernetes-CA: apiserver, client, kubectlClient only — 10 resources", () => {
            const p = plan(base, bump(base, "kubernetesCa"));
            assert.deepEqual(ids(p), K8S_LEAVES);
            assert.equal(p.resourceCount, 10);
        });

        it("ETCD-CA: the 5 etcd leaves under a new etcd CA generation — 20 resources", () => {
            const p = plan(base, bump(base, "etcdCa"));
            assert.deepEqual(ids(p), ETCD_LEAVES);
            assert.deepEqual(p.created, ["etcd-ca-g1-key", "etcd-ca-g1-cert"]);
            assert.equal(p.resourceCount, 20);
        });

        it("the leaf types and FrontProxy / ServiceAccount are as in the AKS Engine layout", () => {
            const counts = (["kubernetesLeaf", "etcdLeaf", "frontProxy", "serviceAccount"] as const).map((t) => plan(base, bump(base, t)).resourceCount);
            assert.deepEqual(counts, [10, 20, 4, 2]);
        });

        it("switching the layout creates the etcd CA and re-issues the etcd leaves under it", () => {
            const p = plan({}, base);
            assert.deepEqual(p.created, ["etcd-ca-key", "etcd-ca-cert"]);
            assert.deepEqual(ids(p), ETCD_LEAVES);
            assert.equal(p.resourceCount, 20);
        });
    });

    describe("dedicated service-account key (sa.key / sa.pub)", () => {
        const base: Raw = { serviceAccountKey: "dedicated" };

        it("ServiceAccount makes a key pair of a new generation and replaces nothing; Kubernetes-Leaf gives the apiserver a fresh key too", () => {
            const sa = plan(base, bump(base, "serviceAccount"));
            assert.deepEqual([sa.created, sa.replaced], [["service-account-g1-key"], []]);
            const p = plan(base, bump(base, "kubernetesLeaf"));
            assert.deepEqual(p.replaced[0]!.resources, leaf("apiserver"));
            assert.equal(p.resourceCount, 12);
        });
    });

    describe("other changes", () => {
        it("a new key algorithm replaces every key and certificate but not the renewal clocks", () => {
            const p = plan({}, { keyAlgorithm: "ECDSA" });
            assert.equal(p.resourceCount, 31); // 11 keys, 2 CA certs, 9 CSRs, 9 certificates
            assert.ok(p.replaced.every((c) => !c.resources.some((r) => r.endsWith("-clock"))));
        });

        it("a new leaf validity re-issues every leaf with a fresh key (its renewal clock changes)", () => {
            const p = plan({}, { validity: { leafDays: 180 } });
            assert.equal(p.resourceCount, 8 * 4 + 1); // 8 own-key leaves, the apiserver certificate
            assert.ok(!ids(p).includes("kubernetes-ca"));
        });

        it("a fourth master: apiserver and etcd server re-issued for the new SANs (same keys), a new peer", () => {
            const inv = inventory3x3();
            inv.nodes.push({ name: "k8s-master-31415926-3", role: "master", ip: "10.240.255.8", index: 3 });
            const p = plan({}, {}, { inventoryAfter: inv });
            assert.deepEqual(p.replaced.map((c) => `${c.id}:${c.resources.join(",")}`), ["apiserver:apiserver-csr,apiserver-cert", "etcd-server:etcd-server-csr,etcd-server-cert"]);
            assert.deepEqual(p.created, leaf("etcd-peer-3"));
        });
    });
});

describe("rotation: adopted CA", function () {
    const f = caFixture();
    const adopt = (ca: Pem): AdoptionInput => ({ "kubernetes-ca": { certificate: ca.cert, privateKey: ca.key } });

    it("bumping its generation creates a generated CA and re-issues the 8 leaves it signed — 30 resources", () => {
        const adoption = adopt(f.ca);
        const p = plan({}, bump({}, "kubernetesCa"), { adoption });
        assert.deepEqual([p.created, p.deleted], [["kubernetes-ca-g1-key", "kubernetes-ca-g1-cert"], []]);
        assert.deepEqual(ids(p), [...K8S_LEAVES, ...ETCD_LEAVES]);
        assert.equal(p.resourceCount, 30);
        // while it stays adopted, the leaf rotations are as usual
        assert.equal(plan({}, bump({}, "kubernetesLeaf"), { adoption }).resourceCount, 10);
    });

    it("a renewed adopted certificate (same key) re-issues the 8 leaf certificates, keeping their keys", () => {
        const renewed = f.ssl.renew(f.ca, { days: 5000 });
        const p = planReplacements(resolvePki(settingsOf({}, adopt(f.ca)), inventory3x3()), resolvePki(settingsOf({}, adopt(renewed)), inventory3x3()));
        assert.deepEqual(ids(p), [...K8S_LEAVES, ...ETCD_LEAVES]);
        assert.deepEqual(p.replaced.map((c) => c.resources.join(",")), [...K8S_LEAVES, ...ETCD_LEAVES].map((id) => `${id}-cert`));
        assert.deepEqual(p.replaced[1]!.reasons, ["issuer certificate changed"]);
    });

    it("another adopted CA (new key) re-issues the leaves with fresh keys", () => {
        const p = planReplacements(resolvePki(settingsOf({}, adopt(f.ca)), inventory3x3()), resolvePki(settingsOf({}, adopt(f.other)), inventory3x3()));
        assert.equal(p.resourceCount, 30);
        assert.deepEqual(p.replaced[1]!.resources, leaf("client"));
    });
});

describe("rotation: the components replace exactly what the plan says (engine simulated under mocks)", function () {
    this.timeout(60_000);
    const f = caFixture();
    const runs = new Map<string, Registration[]>();
    async function registrations(raw: Raw, inventory = inventory3x3(), adoption: AdoptionInput = {}): Promise<Registration[]> {
        const key = JSON.stringify([raw, inventory, adoption]);
        if (!runs.has(key)) runs.set(key, (await runPki(settingsOf(raw, adoption), inventory)).registrations);
        return runs.get(key)!;
    }
    interface Side {
        raw: Raw;
        inventory?: PkiInventory;
        adoption?: AdoptionInput;
    }
    async function check(before: Raw | Side, after: Raw | Side): Promise<number> {
        const side = (x: Raw | Side): Required<Side> => ("raw" in x ? { inventory: inventory3x3(), adoption: {}, ...(x as Side) } : { raw: x, inventory: inventory3x3(), adoption: {} });
        const [b, a] = [side(before), side(after)];
        const simulated = simulateReplacements(await registrations(b.raw, b.inventory, b.adoption), await registrations(a.raw, a.inventory, a.adoption));
        const planned = planReplacements(resolvePki(settingsOf(b.raw, b.adoption), b.inventory), resolvePki(settingsOf(a.raw, a.adoption), a.inventory));
        assert.deepEqual(simulated, planned.replaced.flatMap((c) => c.resources).sort());
        return simulated.length;
    }

    it("AKS Engine layout: every rotation type", async () => {
        const counts: Record<string, number> = {};
        for (const t of ["kubernetesCa", "kubernetesLeaf", "etcdLeaf", "frontProxy", "serviceAccount"] as const) counts[t] = await check({}, bump({}, t));
        assert.deepEqual(counts, { kubernetesCa: 30, kubernetesLeaf: 10, etcdLeaf: 20, frontProxy: 4, serviceAccount: 2 });
    });

    it("separate etcd CA: ETCD-CA and Kubernetes-CA", async () => {
        const base = { etcdCa: "separate" };
        assert.equal(await check(base, bump(base, "etcdCa")), 20);
        assert.equal(await check(base, bump(base, "kubernetesCa")), 10);
    });

    it("key algorithm, leaf validity and a fourth master", async () => {
        assert.equal(await check({}, { keyAlgorithm: "ECDSA" }), 31);
        assert.equal(await check({}, { validity: { leafDays: 180 } }), 33);
        const inv = inventory3x3();
        inv.nodes.push({ name: "k8s-master-31415926-3", role: "master", ip: "10.240.255.8", index: 3 });
        assert.equal(await check({}, { raw: {}, inventory: inv }), 4);
    });

    it("adopted CA: renewed certificate, another CA, generation bump", async () => {
        const adoption = { "kubernetes-ca": { certificate: f.ca.cert, privateKey: f.ca.key } };
        const renewed = f.ssl.renew(f.ca, { days: 5000 });
        assert.equal(await check({ raw: {}, adoption }, { raw: {}, adoption: { "kubernetes-ca": { certificate: renewed.cert, privateKey: renewed.key } } }), 8);
        assert.equal(await check({ raw: {}, adoption }, { raw: {}, adoption: { "kubernetes-ca": { certificate: f.other.cert, privateKey: f.other.key } } }), 30);
        assert.equal(await check({ raw: {}, adoption }, { raw: bump({}, "kubernetesCa"), adoption }), 30);
    });

    it("adopted service-account key: leaf rotations keep it; bumping its generation or adopting another re-issues only the apiserver certificate", async () => {
        const adoption: AdoptionInput = { serviceAccountPrivateKey: f.ca.key };
        assert.ok(!(await registrations({}, inventory3x3(), adoption)).some((r) => r.name === "service-account-key"), "no key resource while adopted");
        assert.equal(await check({ raw: {}, adoption }, { raw: bump({}, "kubernetesLeaf"), adoption }), 10);
        assert.equal(await check({ raw: {}, adoption }, { raw: bump({}, "serviceAccount"), adoption }), 2);
        assert.equal(await check({ raw: {}, adoption }, { raw: {}, adoption: { serviceAccountPrivateKey: f.other.key } }), 2);
        const p = planReplacements(resolvePki(settingsOf({}, adoption), inventory3x3()), resolvePki(settingsOf(bump({}, "serviceAccount"), adoption), inventory3x3()));
        assert.deepEqual(p.created, ["service-account-g1-key"]);
        assert.deepEqual(p.replaced.map((c) => [c.id, c.resources]), [["apiserver", ["apiserver-csr", "apiserver-cert"]]]);
    });

    it("a renewal-lead change replaces nothing", async () => {
        assert.equal(await check({}, { validity: { leafRenewalDays: 20 } }), 0);
    });

    it("kubelet serving certificates issued: Kubelet-Server, Kubernetes-CA, and the leaf rotations that leave them alone", async () => {
        const issue: Raw = { kubeletServing: "issue" };
        assert.equal(await check(issue, bump(issue, "kubeletServer")), 24);
        assert.equal(await check(issue, bump(issue, "kubernetesCa")), 54);
        assert.equal(await check(issue, bump(issue, "kubernetesLeaf")), 10);
        assert.equal(await check({}, issue), 0, "turning it on creates, replaces nothing");
    });
});

describe("rotation: kubelet serving certificates (pki.kubeletServing: issue)", () => {
    const issue: Raw = { kubeletServing: "issue" };
    const KUBELET_SERVERS = inventory3x3().nodes.map((n) => `kubelet-server-${n.name}`);

    it("Kubelet-Server: one certificate per node, masters and agents — 24 resources, nothing else", () => {
        const p = plan(issue, bump(issue, "kubeletServer"));
        assert.deepEqual(ids(p), KUBELET_SERVERS);
        assert.deepEqual(p.replaced.map((c) => c.rotation), KUBELET_SERVERS.map(() => "kubeletServer"));
        assert.deepEqual(p.replaced[0]!.resources, leaf(KUBELET_SERVERS[0]!));
        assert.deepEqual(p.replaced[0]!.reasons, ["forced rotation: Kubelet-Server#0 issuer=kubernetes-ca#0 → Kubelet-Server#1 issuer=kubernetes-ca#0"]);
        assert.equal(p.resourceCount, 24);
        assert.deepEqual([p.created, p.deleted], [[], []]);
    });

    it("Kubernetes-CA re-issues them with the other leaves it signs; the other types leave them alone", () => {
        const p = plan(issue, bump(issue, "kubernetesCa"));
        assert.deepEqual(ids(p), [...K8S_LEAVES, ...ETCD_LEAVES, ...KUBELET_SERVERS]);
        assert.equal(p.resourceCount, 30 + 24);
        for (const t of ["kubernetesLeaf", "etcdLeaf", "frontProxy", "serviceAccount"] as const) {
            assert.ok(!ids(plan(issue, bump(issue, t))).some((id) => KUBELET_SERVERS.includes(id)), t);
        }
    });

    it("turning it on creates 4 resources per node and replaces nothing; a new agent gets its own", () => {
        const on = plan({}, issue);
        assert.deepEqual([on.replaced, on.deleted, on.created.length], [[], [], 24]);
        const inv = inventory3x3();
        inv.nodes.push({ name: "k8s-agentpool1-31415926-3", role: "agent", ip: "10.240.255.43" });
        const grown = plan(issue, issue, { inventoryAfter: inv });
        assert.deepEqual([grown.replaced, grown.created], [[], leaf("kubelet-server-k8s-agentpool1-31415926-3")]);
    });
});
