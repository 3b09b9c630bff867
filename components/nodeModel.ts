// How each node runs: its platform, and for each service on it, what manages the service. Every
// platform or manager difference goes through this module: the plan asks it which services run
// where and which a node step restarts, the scripts get the manager with each service, and the
// preflight checks the declaration against the node.
import { Service } from "./pki/catalog";

/** Operating systems of nodes. Windows agents plug in here: a value, and a case in `platformSpec`. */
export const PLATFORMS = ["linux"] as const;
export type Platform = (typeof PLATFORMS)[number];

export type NodeRole = "master" | "agent";

/**
 * What runs a service on a node:
 * - systemd: a unit, restarted with systemctl (AKS Engine: etcd, kubelet);
 * - staticPod: a manifest in /etc/kubernetes/manifests, run by the node's kubelet; restarted by
 *   stopping its container (AKS Engine: kube-apiserver, kube-controller-manager, kube-scheduler);
 * - clusterWorkload: a DaemonSet's pod (kube-proxy): the node step of the files it reads replaces
 *   the node's pod through the API (CLUSTER_WORKLOADS finds it), and the DaemonSet creates it anew;
 * - none: the service does not run on this node.
 */
export const SERVICE_MANAGERS = ["systemd", "staticPod", "clusterWorkload", "none"] as const;
export type ServiceManager = (typeof SERVICE_MANAGERS)[number];

/** Services a node may run; kubectl, the admin's client, only reads files on masters. */
export const NODE_SERVICES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"] as const satisfies readonly Service[];
export type NodeService = (typeof NODE_SERVICES)[number];

export type ServiceManagers = Record<NodeService, ServiceManager>;

export const isNodeService = (s: Service): s is NodeService => (NODE_SERVICES as readonly Service[]).includes(s);

/** AKS Engine's nodes. */
export const AKS_ENGINE_SERVICES: Record<NodeRole, ServiceManagers> = {
    master: { etcd: "systemd", "kube-apiserver": "staticPod", "kube-controller-manager": "staticPod", "kube-scheduler": "staticPod", kubelet: "systemd", "kube-proxy": "clusterWorkload" },
    agent: { etcd: "none", "kube-apiserver": "none", "kube-controller-manager": "none", "kube-scheduler": "none", kubelet: "systemd", "kube-proxy": "clusterWorkload" },
};

/** The managers a service may have on a node of a role. */
const ALLOWED: Record<NodeRole, Record<NodeService, readonly ServiceManager[]>> = {
    master: {
        etcd: ["systemd", "staticPod"],
        "kube-apiserver": ["systemd", "staticPod"],
        "kube-controller-manager": ["systemd", "staticPod"],
        "kube-scheduler": ["systemd", "staticPod"],
        kubelet: ["systemd", "none"],
        "kube-proxy": ["clusterWorkload", "none"],
    },
    agent: { etcd: ["none"], "kube-apiserver": ["none"], "kube-controller-manager": ["none"], "kube-scheduler": ["none"], kubelet: ["systemd"], "kube-proxy": ["clusterWorkload", "none"] },
};

/**
 * A node's managers: AKS Engine's for its role with `declared` over them. Problems (a manager a
 * role cannot have, a static pod without a kubelet to run it) are returned, one per service.
 */
export function resolveServiceManagers(role: NodeRole, declared: Partial<ServiceManagers>): { managers: ServiceManagers; problems: string[] } {
    const managers = { ...AKS_ENGINE_SERVICES[role], ...declared };
    const problems: string[] = [];
    for (const svc of NODE_SERVICES) {
        const allowed = ALLOWED[role][svc];
        if (!allowed.includes(managers[svc])) problems.push(`${svc}: ${role === "agent" ? "an agent" : "a master"} cannot run it as ${managers[svc]} (allowed: ${allowed.join(", ")})`);
        if (managers[svc] === "staticPod" && managers.kubelet !== "systemd") problems.push(`${svc}: a static pod needs the node's kubelet, but kubelet is ${managers.kubelet}`);
    }
    return { managers, problems };
}

/** The services running on a node, with kubectl on masters (it reads the admin kubeconfig). */
export function servicesOn(role: NodeRole, managers: ServiceManagers): Set<Service> {
    const running: Service[] = NODE_SERVICES.filter((s) => managers[s] !== "none");
    return new Set(role === "master" ? [...running, "kubectl"] : running);
}

/** Whether a node step restarts the service: a process on the node, or the node's pod of a cluster workload. */
export function restartedByNodeStep(manager: ServiceManager): boolean {
    return manager !== "none";
}

/** Where a service run as a cluster workload has its pods: AKS Engine's kube-proxy DaemonSet (labels k8s-app=kube-proxy). */
export const CLUSTER_WORKLOADS: Partial<Record<NodeService, { namespace: string; selector: string }>> = {
    "kube-proxy": { namespace: "kube-system", selector: "k8s-app=kube-proxy" },
};

/**
 * Where a service's command-line flags live on a node, for the rollout to point one at a file of
 * its own: a static pod's manifest, a systemd unit's environment file; none for the others.
 */
export function flagFileOf(service: NodeService, manager: ServiceManager): string | undefined {
    switch (manager) {
        case "staticPod":
            return `/etc/kubernetes/manifests/${service}.yaml`;
        case "systemd":
            return `/etc/default/${service}`;
        default:
            return undefined;
    }
}

/** "name=manager" words, the form the remote scripts read (PARAM[services]). */
export function managerWords(services: readonly NodeService[], managers: ServiceManagers): string {
    return services.map((s) => `${s}=${managers[s]}`).join(" ");
}

/** How the rollout runs its remote steps on a platform. */
export interface PlatformSpec {
    shell: "bash";
    /** Per step script, the files sent as its script, in the order the shell reads them (its main call last). */
    scripts: { lock: string[]; preflight: string[]; rotate: string[]; clusterCheck: string[] };
    /** The command line that runs a step whose script and input come on stdin. */
    commandLine(args: string[]): string;
}

function platformSpec(platform: Platform): PlatformSpec {
    switch (platform) {
        case "linux":
            return { shell: "bash", scripts: { lock: ["lib.sh", "lock.sh"], preflight: ["lib.sh", "verify.sh", "preflight.sh"], rotate: ["lib.sh", "verify.sh", "gates.sh", "rotate.sh"], clusterCheck: ["lib.sh", "gates.sh", "cluster-check.sh"] }, commandLine: (args) => ["sudo", "-n", "bash", "-s", "--", ...args].join(" ") };
        default: {
            const unknown: never = platform;
            throw new Error(`no platform ${String(unknown)}`);
        }
    }
}

export const PLATFORM_SPECS: Record<Platform, PlatformSpec> = Object.fromEntries(PLATFORMS.map((p) => [p, platformSpec(p)])) as Record<Platform, PlatformSpec>;
