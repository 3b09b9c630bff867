// Which files the expiry report reads on a node, and what the stack's state says each should hold.
// Pure: the catalog's files for the node (the program's certificates, etcd's and the front-proxy's
// included), the `nodeFiles` stack output (fingerprints per node and path), and the files on an AKS
// Engine node that the program does not write (the kubelet's serving and self-rotated client
// certificates, the kubelet's kubeconfig).
import { certificateCatalog, CatalogOptions, KUBELET_ROTATED_CLIENT } from "../components/pki/catalog";
import { KUBECONFIG_CATALOG } from "../components/pki/kubeconfigs";
import { expandInstances, PkiInventory, SanSettings } from "../components/pki/instances";
import type { ExpectedNodeFile, NodeFilesOutput } from "../components/pki/stackOutputs";

export interface Target {
    path: string;
    /** "publicKeys": a file of PEM public keys (sa.pub), read for their fingerprints alone. */
    kind: "certificate" | "kubeconfig" | "publicKeys";
    /** The private key file of its first certificate on this node (the path itself for a pem holding both); a kubeconfig names its own. */
    key?: string;
    /** The state or the catalog puts it on this node: its absence is a problem. Otherwise it is read when it is there. */
    expected: boolean;
    /** The certificate instance it comes from ("kubernetes-ca", "etcd-peer-1"), when the program writes it. */
    source?: string;
    /** The fingerprints the stack's state says it holds, in order (public keys: hex SHA-256 of each SubjectPublicKeyInfo); undefined: the state does not say. */
    stateSha256?: string[];
}

/**
 * Files of AKS Engine nodes the program does not write, read when they are there: the kubelet's
 * serving certificate (AKS Engine's CSE makes /etc/kubernetes/certs/kubeletserver.crt, self-signed,
 * for --tls-cert-file; a kubelet without that flag makes /var/lib/kubelet/pki/kubelet.crt, and with
 * --rotate-server-certificates kubelet-server-current.pem), its self-rotated client certificate
 * (--rotate-certificates) and its kubeconfig (AKS Engine's names the files in /etc/kubernetes/certs).
 * With pki.kubeletServing: issue the catalog has kubeletserver.crt, and targetsFor takes its entry.
 */
export const NODE_EXTRAS: Omit<Target, "expected">[] = [
    { path: "/etc/kubernetes/certs/kubeletserver.crt", kind: "certificate", key: "/etc/kubernetes/certs/kubeletserver.key" },
    { path: "/var/lib/kubelet/pki/kubelet.crt", kind: "certificate", key: "/var/lib/kubelet/pki/kubelet.key" },
    { path: "/var/lib/kubelet/pki/kubelet-server-current.pem", kind: "certificate", key: "/var/lib/kubelet/pki/kubelet-server-current.pem" },
    { path: KUBELET_ROTATED_CLIENT, kind: "certificate", key: KUBELET_ROTATED_CLIENT },
    { path: KUBECONFIG_CATALOG.find((k) => k.id === "kubelet")!.path, kind: "kubeconfig" },
];

/** The admin kubeconfig's path on the masters. */
export function adminKubeconfigPath(adminUser: string): string {
    return KUBECONFIG_CATALOG.find((k) => k.id === "admin")!.path.replace("{adminUser}", adminUser);
}

/**
 * The catalog's certificate files on a node, each with the key file of its instance on the same
 * node. Not its public-key files (sa.pub): the program adds them to clusters that never had one, so
 * they are read only where the state (nodeFiles) lists them.
 */
export function catalogTargets(catalog: CatalogOptions, inventory: PkiInventory, sans: SanSettings, nodeName: string): Target[] {
    return expandInstances(certificateCatalog(catalog), inventory, sans).flatMap((inst) => {
        const here = inst.files.filter((f) => f.nodeNames.includes(nodeName));
        const key = here.find((f) => f.content === "key")?.path;
        return here.filter((f) => f.content === "cert").map((f): Target => ({ path: f.path, kind: "certificate", ...(key ? { key } : {}), expected: true, source: inst.id }));
    });
}

const fromState = (path: string, f: ExpectedNodeFile): Target => ({
    path,
    kind: f.kind,
    ...(f.key ? { key: f.key } : {}),
    expected: true,
    source: f.source,
    stateSha256: f.sha256,
});

/** The files the state (one node's part of the nodeFiles output) says the node holds. */
export function stateTargets(stateFiles: NodeFilesOutput[string]): Target[] {
    return Object.entries(stateFiles).map(([path, f]) => fromState(path, f));
}

/**
 * Every file the report reads on one node, in this order: what the state says the node holds
 * (`stateFiles`, from the nodeFiles output), the catalog's files the state does not list (all of
 * them when the stack has no such output), the admin kubeconfig on a master, then NODE_EXTRAS.
 */
export function targetsFor(input: { node: string; role: "master" | "agent"; adminUser: string; catalog: Target[]; stateFiles?: NodeFilesOutput[string] }): Target[] {
    const out: Target[] = stateTargets(input.stateFiles ?? {});
    const has = (path: string) => out.some((t) => t.path === path);
    for (const t of input.catalog) if (!has(t.path)) out.push(t);
    const admin = adminKubeconfigPath(input.adminUser);
    if (input.role === "master" && !has(admin)) out.push({ path: admin, kind: "kubeconfig", expected: true, source: "kubectl-client" });
    for (const t of NODE_EXTRAS) if (!has(t.path)) out.push({ ...t, expected: false });
    return out;
}

/** The script's arguments for the targets: KIND PATH KEY per file. */
export function scriptArgs(targets: Target[]): string[] {
    return targets.flatMap((t) => {
        switch (t.kind) {
            case "kubeconfig": return ["kubeconfig", t.path, "-"];
            case "publicKeys": return ["pubkeys", t.path, "-"];
            default: return ["cert", t.path, t.key ?? "-"];
        }
    });
}
