// The node model: AKS Engine's defaults, declared managers over them, what a role cannot run, and
// the inventory config that carries it.
import { strict as assert } from "assert";
import { parseInventoryConfig } from "../../components/config";
import { AKS_ENGINE_SERVICES, flagFileOf, managerWords, NODE_SERVICES, PLATFORM_SPECS, resolveServiceManagers, restartedByNodeStep, servicesOn } from "../../components/nodeModel";
import { configProblems } from "./support/config";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC2Oi8O6g1lN7D1TsT9sC7SHasyXqOkbdXb4xnP6J71n";
const node = (name: string, role: string, ip: string, extra: Record<string, unknown> = {}) => ({ name, role, ip, hostKey: HOST_KEY, ...extra });
const cluster = (nodes: unknown[]) => ({ clusterName: "azs", fqdn: "azs.local.cloudapp.azurestack.external", nodes });

describe("node model", () => {
    it("AKS Engine's masters: etcd and kubelet systemd units, the control plane static pods, kube-proxy a cluster workload", () => {
        const { managers, problems } = resolveServiceManagers("master", {});
        assert.deepEqual(problems, []);
        assert.equal(managerWords(NODE_SERVICES, managers), "etcd=systemd kube-apiserver=staticPod kube-controller-manager=staticPod kube-scheduler=staticPod kubelet=systemd kube-proxy=clusterWorkload");
        assert.deepEqual([...servicesOn("master", managers)].sort(), ["etcd", "kube-apiserver", "kube-controller-manager", "kube-proxy", "kube-scheduler", "kubectl", "kubelet"]);
        assert.deepEqual([...servicesOn("agent", AKS_ENGINE_SERVICES.agent)].sort(), ["kube-proxy", "kubelet"]);
    });

    it("node steps restart systemd units, static pods and the node's pod of a cluster workload; nothing where the service does not run", () => {
        assert.deepEqual(
            (["systemd", "staticPod", "clusterWorkload", "none"] as const).map(restartedByNodeStep),
            [true, true, true, false],
        );
    });

    it("a service's flags: a static pod's in its manifest, a systemd unit's in its /etc/default file, none for the others", () => {
        assert.equal(flagFileOf("kube-controller-manager", "staticPod"), "/etc/kubernetes/manifests/kube-controller-manager.yaml");
        assert.equal(flagFileOf("kube-controller-manager", "systemd"), "/etc/default/kube-controller-manager");
        assert.equal(flagFileOf("kube-proxy", "clusterWorkload"), undefined);
        assert.equal(flagFileOf("etcd", "none"), undefined);
    });

    it("refuses what a role cannot run, and a static pod without a kubelet", () => {
        assert.deepEqual(resolveServiceManagers("agent", { etcd: "systemd" }).problems, ["etcd: an agent cannot run it as systemd (allowed: none)"]);
        assert.deepEqual(resolveServiceManagers("master", { kubelet: "none" }).problems, [
            "kube-apiserver: a static pod needs the node's kubelet, but kubelet is none",
            "kube-controller-manager: a static pod needs the node's kubelet, but kubelet is none",
            "kube-scheduler: a static pod needs the node's kubelet, but kubelet is none",
        ]);
        assert.deepEqual(resolveServiceManagers("master", { kubelet: "none", "kube-apiserver": "systemd", "kube-controller-manager": "systemd", "kube-scheduler": "systemd" }).problems, []);
    });

    it("one command line per platform, through the platform map", () => {
        assert.equal(PLATFORM_SPECS.linux.commandLine(["rotate", "etcd", "m0"]), "sudo -n bash -s -- rotate etcd m0");
        assert.deepEqual(PLATFORM_SPECS.linux.scripts, { lock: ["lib.sh", "lock.sh"], preflight: ["lib.sh", "verify.sh", "preflight.sh"], rotate: ["lib.sh", "verify.sh", "gates.sh", "rotate.sh"], clusterCheck: ["lib.sh", "gates.sh", "cluster-check.sh"] });
    });
});

describe("config: nodes[].platform and nodes[].services", () => {
    it("defaults to linux and AKS Engine's managers; declared ones go over them", () => {
        const inv = parseInventoryConfig(cluster([node("m0", "master", "10.0.0.5", { services: { "kube-apiserver": "systemd" } }), node("a0", "agent", "10.0.0.6")]));
        assert.equal(inv.nodes[0]!.platform, "linux");
        assert.equal(inv.nodes[0]!.services["kube-apiserver"], "systemd");
        assert.equal(inv.nodes[0]!.services["kube-scheduler"], "staticPod");
        assert.deepEqual(inv.nodes[1]!.services, AKS_ENGINE_SERVICES.agent);
    });

    it("names the node's key for a platform, a service or a manager it does not know, and for what its role cannot run", () => {
        const problems = configProblems(() =>
            parseInventoryConfig(
                cluster([
                    node("m0", "master", "10.0.0.5", { platform: "windows", services: { "kube-apiserver": "podman", kubeproxy: "none" } }),
                    node("a0", "agent", "10.0.0.6", { services: { etcd: "systemd" } }),
                ]),
            ),
        );
        assert.deepEqual(problems, [
            'nodes[0].platform: must be one of "linux", got "windows"',
            'nodes[0].services.kubeproxy: unknown key (did you mean nodes[0].services.kube-proxy?); known: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy',
            'nodes[0].services.kube-apiserver: must be one of "systemd", "staticPod", "clusterWorkload", "none", got "podman"',
            "nodes[1].services: etcd: an agent cannot run it as systemd (allowed: none)",
        ]);
    });
});
