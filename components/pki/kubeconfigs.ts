// The kubeconfigs on the nodes: which certificate instance authenticates each, and who reads it.
import type { Service } from "./catalog";

export interface KubeconfigSpec {
    id: "admin" | "kubelet" | "controllerManager" | "scheduler";
    /** Path on the node ({adminUser} is the admin user name). AKS Engine shares one file for the last three. */
    path: string;
    nodes: "masters" | "all";
    /** The certificate instance whose cert/key authenticate the user. */
    user: string;
    readers: Service[];
}

export const KUBECONFIG_CATALOG: KubeconfigSpec[] = [
    { id: "admin", path: "/home/{adminUser}/.kube/config", nodes: "masters", user: "kubectl-client", readers: ["kubectl"] },
    { id: "kubelet", path: "/var/lib/kubelet/kubeconfig", nodes: "all", user: "client", readers: ["kubelet", "kube-proxy"] },
    { id: "controllerManager", path: "/var/lib/kubelet/kubeconfig", nodes: "masters", user: "client", readers: ["kube-controller-manager"] },
    { id: "scheduler", path: "/var/lib/kubelet/kubeconfig", nodes: "masters", user: "client", readers: ["kube-scheduler"] },
];
