// The catalog: one table of every certificate and key of an AKS Engine cluster (rows, readers,
// layout options, structural checks) and the CA tree derived from it. Pure data and pure
// functions: no Pulumi resources here. instances.ts expands the table for an inventory.
import { ETCD_PEER_ROW_ID, MASTER_INDEX_PLACEHOLDER, NODE_NAME_PLACEHOLDER } from "./names";

/** Forced-rotation types, as Rafay names them (plus FrontProxy, ServiceAccount and KubeletServer). */
export const ROTATION_TYPES = ["kubernetesCa", "kubernetesLeaf", "etcdCa", "etcdLeaf", "frontProxy", "serviceAccount", "kubeletServer"] as const;
export type RotationType = (typeof ROTATION_TYPES)[number];

export const ROTATION_TYPE_LABELS: Record<RotationType, string> = {
    kubernetesCa: "Kubernetes-CA",
    kubernetesLeaf: "Kubernetes-Leaf",
    etcdCa: "ETCD-CA",
    etcdLeaf: "ETCD-Leaf",
    frontProxy: "FrontProxy",
    serviceAccount: "ServiceAccount",
    kubeletServer: "Kubelet-Server",
};

export type KeyUsage = "digitalSignature" | "keyEncipherment" | "certSign" | "crlSign";
export type ExtKeyUsage = "serverAuth" | "clientAuth";

/** Processes on the nodes that read PKI files. */
export type Service =
    | "etcd"
    | "kube-apiserver"
    | "kube-controller-manager"
    | "kube-scheduler"
    | "kubelet"
    | "kube-proxy"
    | "kubectl";

/**
 * How a service picks up a new version of a file (Kubernetes 1.35 / etcd 3.6, from their sources):
 * "dynamic" = reloaded by the running process; "restart" = only read at start.
 */
export type Reload = "dynamic" | "restart";

export interface Reader {
    service: Service;
    /** The flag or kubeconfig field through which the service reads the file. */
    via: string;
    reload: Reload;
    /**
     * The rollout points `via` (one flag) at this file in the service's flag file (nodeModel
     * `flagFileOf`): AKS Engine sets the flag to another file.
     */
    setsFlag?: true;
}

/** Which nodes hold a file: every master, every node, or (per-master and per-node rows) only the owning node. */
export type FilePlacement = "masters" | "all" | "owner";

export interface FileSpec {
    /** File name under /etc/kubernetes/certs; `{index}` is the master index for per-master rows. */
    name: string;
    /**
     * "cert": a leaf's certificate, or a CA's trust bundle (every generation a stage trusts);
     * "activeCert": a CA's active generation alone, the one its installed key belongs to;
     * "publicKey": the public keys of every generation of a key pair a stage trusts.
     */
    content: "cert" | "activeCert" | "key" | "publicKey";
    nodes: FilePlacement;
    readers: Reader[];
}

/** Subject alternative names, computed from the inventory (see `expandInstances` in instances.ts). */
export type SanRule = "none" | "apiServer" | "etcdServer" | "etcdPeer" | "kubeletServer";

export type CertKind = "ca" | "leaf" | "keyPair";

/** One instance for the cluster, one per master, or one per node (masters and agents). */
export type RowPlacement = "cluster" | "perMaster" | "perNode";

export interface CertRow {
    /** Stable id, also the Pulumi resource name prefix; `{index}` for per-master rows, `{node}` for per-node rows. */
    id: string;
    kind: CertKind;
    description: string;
    rotation: RotationType;
    /** Row id of the issuing CA (leaves only). CAs are self-signed; key pairs have no certificate. */
    issuer?: string;
    /** Row id whose private key this row's certificate uses instead of a key of its own. */
    keyFrom?: string;
    commonName: string;
    organization?: string;
    keyUsages: KeyUsage[];
    extKeyUsages: ExtKeyUsage[];
    sans: SanRule;
    placement: RowPlacement;
    files: FileSpec[];
}

/** Layout choices that change the table. */
export interface CatalogOptions {
    /** "shared": AKS Engine's single cluster CA signs the etcd certs; "separate": a dedicated etcd CA (kubeadm). */
    etcdCa: "shared" | "separate";
    /**
     * "apiserver": AKS Engine signs service-account tokens with apiserver.key (the serving key);
     * "dedicated": a key pair of its own in sa.key / sa.pub (kubeadm).
     */
    serviceAccountKey: "apiserver" | "dedicated";
    /**
     * The kubelets' serving certificates (kubeletserver.crt/.key). "keep" (also when absent): the
     * self-signed ones AKS Engine's CSE made on each node stay, only reported; "issue": one per
     * node, signed by the cluster CA.
     */
    kubeletServing?: "keep" | "issue";
}

export const DEFAULT_CATALOG_OPTIONS: CatalogOptions = { etcdCa: "shared", serviceAccountKey: "apiserver" };

export const CERTS_DIR = "/etc/kubernetes/certs";
/**
 * The client certificate a kubelet rotates itself (--rotate-certificates, AKS Engine's default): a
 * symlink to its newest CSR-issued pem, which the kubelet prefers to its kubeconfig's client.crt.
 * Not this program's file: the kubelet step sets it aside when the kubelet's files change.
 */
export const KUBELET_ROTATED_CLIENT = "/var/lib/kubelet/pki/kubelet-client-current.pem";

const r = (service: Service, via: string, reload: Reload): Reader => ({ service, via, reload });

/** Services that authenticate with /var/lib/kubelet/kubeconfig (AKS Engine shares it): they read ca.crt and client.crt/.key through it. */
const KUBECONFIG_SERVICES: Service[] = ["kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"];
const viaKubeconfig = (field: string): Reader[] => KUBECONFIG_SERVICES.map((s) => r(s, `/var/lib/kubelet/kubeconfig ${field}`, "restart"));

/** Readers of the cluster CA certificate that do not depend on the etcd layout. */
const CLUSTER_CA_READERS: Reader[] = [
    r("kube-apiserver", "--client-ca-file", "dynamic"),
    r("kube-controller-manager", "--root-ca-file", "restart"),
    ...viaKubeconfig("certificate-authority"),
    r("kubectl", "admin kubeconfig certificate-authority-data", "dynamic"),
];

/** Readers of whichever CA certificate signs the etcd certificates. */
const ETCD_TRUST_READERS: Reader[] = [
    r("etcd", "--trusted-ca-file, --peer-trusted-ca-file", "restart"),
    r("kube-apiserver", "--etcd-cafile", "restart"),
];

/** Readers of client.crt / client.key. */
const CLIENT_READERS: Reader[] = [...viaKubeconfig("client-certificate"), r("kube-apiserver", "--kubelet-client-certificate/--kubelet-client-key", "restart")];

/** Readers of the service-account key's active private key: the signers of tokens. */
const SA_SIGNERS: Reader[] = [
    r("kube-apiserver", "--service-account-signing-key-file", "restart"),
    r("kube-controller-manager", "--service-account-private-key-file", "restart"),
];

const LEAF_USAGES: KeyUsage[] = ["digitalSignature", "keyEncipherment"];
const CA_USAGES: KeyUsage[] = ["certSign", "crlSign", "digitalSignature"];

/** name.crt + name.key; the key on the same nodes as the certificate unless `keyNodes` says otherwise. */
function pair(name: string, nodes: FilePlacement, certReaders: Reader[], keyReaders: Reader[] = certReaders, keyNodes: FilePlacement = nodes): FileSpec[] {
    return [
        { name: `${name}.crt`, content: "cert", nodes, readers: certReaders },
        { name: `${name}.key`, content: "key", nodes: keyNodes, readers: keyReaders },
    ];
}

type RowFields = Pick<CertRow, "id" | "description" | "rotation" | "commonName" | "files"> & Partial<CertRow>;

/** A self-signed CA row (placement cluster, no SANs). */
const caRow = (f: RowFields): CertRow => ({ kind: "ca", keyUsages: CA_USAGES, extKeyUsages: [], sans: "none", placement: "cluster", ...f });

/** A leaf row: digitalSignature + keyEncipherment (RSA), one for the cluster, no SANs unless given. */
const leafRow = (f: RowFields & Pick<CertRow, "issuer" | "extKeyUsages">): CertRow => ({ kind: "leaf", keyUsages: LEAF_USAGES, sans: "none", placement: "cluster", ...f });

/**
 * The table, in build order (CAs and key pairs before the certificates that use them): AKS
 * Engine's layout (aks-engine `pki.go` and its cloud-init) with the two kubeadm options. A row's
 * rotation type says which generation number in stack config forces its rotation.
 *
 * Security note on `etcdCa: "shared"` (AKS Engine's default): etcd trusts the cluster CA, so any
 * certificate that CA signs — client.crt is on every agent — is accepted by etcd as a client.
 * `etcdCa: "separate"` closes that; it needs etcd's and the apiserver's CA flags pointed at etcd-ca.crt.
 */
export function certificateCatalog(options: CatalogOptions = DEFAULT_CATALOG_OPTIONS): CertRow[] {
    const separateEtcd = options.etcdCa === "separate";
    const etcdIssuer = separateEtcd ? "etcd-ca" : "kubernetes-ca";
    const saShared = options.serviceAccountKey === "apiserver";
    const masters: FilePlacement = "masters";
    const rows: CertRow[] = [
        caRow({
            id: "kubernetes-ca",
            description: "cluster CA: signs the apiserver, client and kubectl certificates (and etcd's, when shared)",
            rotation: "kubernetesCa",
            commonName: "ca",
            // ca.crt on every node, ca.key on masters only
            files: [
                ...pair("ca", "all", [...CLUSTER_CA_READERS, ...(separateEtcd ? [] : ETCD_TRUST_READERS)], [r("kube-controller-manager", "--cluster-signing-key-file", "restart")], masters),
                // The CSR signer takes exactly one certificate, that of ca.key (Kubernetes 1.35
                // refuses a bundle, and ca.crt is one while a rotation trusts two generations):
                // named after the signing flag, which AKS Engine points at ca.crt and the rollout here.
                { name: "ca-signing.crt", content: "activeCert", nodes: masters, readers: [{ ...r("kube-controller-manager", "--cluster-signing-cert-file", "restart"), setsFlag: true }] },
            ],
        }),
        ...(separateEtcd
            ? [caRow({ id: "etcd-ca", description: "etcd CA (kubeadm layout): signs only the etcd server, peer and client certificates", rotation: "etcdCa", commonName: "etcd-ca", files: pair("etcd-ca", masters, ETCD_TRUST_READERS, []) })]
            : []),
        caRow({
            id: "front-proxy-ca",
            description: "front-proxy (aggregation layer) CA",
            rotation: "frontProxy",
            commonName: "proxyClientCA",
            files: pair("proxy-ca", masters, [r("kube-apiserver", "--requestheader-client-ca-file", "dynamic")], []),
        }),
        {
            // Service-account token signing key, rotated in phases like a CA: sa.pub holds the
            // public key of every generation that verifies tokens (the apiserver reads several
            // keys from one file), the private key is the active generation alone. AKS Engine
            // points --service-account-key-file at apiserver.key, so the rollout points it at sa.pub.
            id: "service-account",
            kind: "keyPair",
            description: saShared
                ? "service-account signing key pair; AKS Engine keeps it in apiserver.key (the apiserver serving certificate uses it)"
                : "service-account signing key pair in sa.key / sa.pub",
            rotation: "serviceAccount",
            commonName: "service-account",
            keyUsages: [],
            extKeyUsages: [],
            sans: "none",
            placement: "cluster",
            files: [
                // the private key: written as apiserver.key by the apiserver row (keyFrom) when shared
                ...(saShared ? [] : [{ name: "sa.key", content: "key" as const, nodes: masters, readers: SA_SIGNERS }]),
                { name: "sa.pub", content: "publicKey", nodes: masters, readers: [{ ...r("kube-apiserver", "--service-account-key-file", "restart"), ...(saShared ? { setsFlag: true as const } : {}) }] },
            ],
        },
        leafRow({
            id: "apiserver",
            description: "kube-apiserver serving certificate" + (saShared ? "; its key is also the service-account signing key" : ""),
            rotation: "kubernetesLeaf",
            issuer: "kubernetes-ca",
            keyFrom: saShared ? "service-account" : undefined,
            commonName: "apiserver",
            extKeyUsages: ["serverAuth"],
            sans: "apiServer",
            // aks-engine also writes apiserver.crt on agents (public, unused by agent services).
            files: pair("apiserver", "all", [r("kube-apiserver", "--tls-cert-file", "dynamic")], [r("kube-apiserver", "--tls-private-key-file", "dynamic"), ...(saShared ? SA_SIGNERS : [])], masters),
        }),
        leafRow({
            id: "client",
            description: "cluster client certificate (system:masters): kubelets, controller-manager, scheduler, kube-proxy, apiserver-to-kubelet",
            rotation: "kubernetesLeaf",
            issuer: "kubernetes-ca",
            commonName: "client",
            organization: "system:masters",
            extKeyUsages: ["clientAuth"],
            files: pair("client", "all", CLIENT_READERS),
        }),
        leafRow({
            id: "kubectl-client",
            description: "admin kubeconfig client certificate (system:masters)",
            rotation: "kubernetesLeaf",
            issuer: "kubernetes-ca",
            commonName: "client",
            organization: "system:masters",
            extKeyUsages: ["clientAuth"],
            files: pair("kubectlClient", masters, [r("kubectl", "admin kubeconfig", "dynamic")]),
        }),
        // etcd re-reads its serving and peer certificates on every handshake.
        leafRow({
            id: "etcd-server",
            description: "etcd client-facing serving certificate (one for all masters, as aks-engine)",
            rotation: "etcdLeaf",
            issuer: etcdIssuer,
            commonName: "etcdserver",
            extKeyUsages: ["serverAuth", "clientAuth"],
            sans: "etcdServer",
            files: pair("etcdserver", masters, [r("etcd", "--cert-file", "dynamic")], [r("etcd", "--key-file", "dynamic")]),
        }),
        leafRow({
            id: "etcd-client",
            description: "the apiserver's client certificate towards etcd",
            rotation: "etcdLeaf",
            issuer: etcdIssuer,
            commonName: "etcdclient",
            extKeyUsages: ["clientAuth"],
            files: pair("etcdclient", masters, [r("kube-apiserver", "--etcd-certfile", "restart")], [r("kube-apiserver", "--etcd-keyfile", "restart")]),
        }),
        leafRow({
            id: ETCD_PEER_ROW_ID,
            description: "etcd peer certificate of one master",
            rotation: "etcdLeaf",
            issuer: etcdIssuer,
            commonName: "etcdpeer{index}",
            extKeyUsages: ["serverAuth", "clientAuth"],
            sans: "etcdPeer",
            placement: "perMaster",
            files: pair("etcdpeer{index}", "owner", [r("etcd", "--peer-cert-file", "dynamic")], [r("etcd", "--peer-key-file", "dynamic")]),
        }),
        leafRow({
            id: "front-proxy-client",
            description: "the apiserver's client certificate towards aggregated API servers",
            rotation: "frontProxy",
            issuer: "front-proxy-ca",
            commonName: "aggregator",
            organization: "system:masters",
            extKeyUsages: ["clientAuth"],
            files: pair("proxy", masters, [r("kube-apiserver", "--proxy-client-cert-file", "dynamic")], [r("kube-apiserver", "--proxy-client-key-file", "dynamic")]),
        }),
        ...(options.kubeletServing === "issue"
            ? [
                  // Signed by the cluster CA rather than self-signed: the apiserver can then verify
                  // kubelets (--kubelet-certificate-authority), and a CA rotation re-issues them.
                  leafRow({
                      id: `kubelet-server-${NODE_NAME_PLACEHOLDER}`,
                      description: "kubelet serving certificate of one node (masters and agents), in place of the self-signed one AKS Engine's CSE makes",
                      rotation: "kubeletServer",
                      issuer: "kubernetes-ca",
                      commonName: `system:node:${NODE_NAME_PLACEHOLDER}`,
                      organization: "system:nodes",
                      extKeyUsages: ["serverAuth"],
                      sans: "kubeletServer",
                      placement: "perNode",
                      files: pair("kubeletserver", "owner", [r("kubelet", "--tls-cert-file", "restart")], [r("kubelet", "--tls-private-key-file", "restart")]),
                  }),
              ]
            : []),
    ];
    checkCatalog(rows);
    return rows;
}

/**
 * The placeholder that tells a row's instances apart: their ids must hold it, and it is the only
 * one the row's texts may hold (an agent has no master index; a cluster row has no owner).
 */
const OWNER_PLACEHOLDER: Record<RowPlacement, string | undefined> = { cluster: undefined, perMaster: MASTER_INDEX_PLACEHOLDER, perNode: NODE_NAME_PLACEHOLDER };

/** Structural checks of the table itself: a broken table is a programming error, caught by the unit tests. */
export function checkCatalog(rows: CertRow[]): void {
    const byId = new Map(rows.map((row) => [row.id, row]));
    if (byId.size !== rows.length) throw new Error("catalog: duplicate row id");
    const files = new Set<string>();
    const earlier = new Set<string>();
    for (const row of rows) {
        for (const dep of [row.issuer, row.keyFrom]) {
            if (dep !== undefined && !earlier.has(dep)) throw new Error(`catalog: ${row.id}: ${dep} must come before it (build order)`);
        }
        earlier.add(row.id);
        const placeholder = OWNER_PLACEHOLDER[row.placement];
        if (placeholder !== undefined && !row.id.includes(placeholder)) throw new Error(`catalog: ${row.id}: a ${row.placement} row's id must hold ${placeholder}, or its instances share one id`);
        for (const text of [row.id, row.commonName, ...row.files.map((f) => f.name)]) {
            for (const token of text.match(/\{\w+\}/g) ?? []) {
                if (token !== placeholder) throw new Error(`catalog: ${row.id}: ${token} in ${JSON.stringify(text)} has no value in a ${row.placement} row`);
            }
        }
        if (row.kind === "leaf") {
            const issuer = row.issuer && byId.get(row.issuer);
            if (!issuer || issuer.kind !== "ca") throw new Error(`catalog: ${row.id}: issuer ${row.issuer} is not a CA row`);
        } else if (row.issuer) {
            throw new Error(`catalog: ${row.id}: only leaves have an issuer`);
        }
        if (row.keyFrom !== undefined && byId.get(row.keyFrom)?.kind !== "keyPair") {
            throw new Error(`catalog: ${row.id}: keyFrom ${row.keyFrom} is not a key-pair row`);
        }
        for (const file of row.files) {
            if (files.has(file.name)) throw new Error(`catalog: file ${file.name} appears twice`);
            files.add(file.name);
            // every instance of a per-master or per-node row writes its files, so only to its own node
            if ((file.nodes === "owner") !== (row.placement !== "cluster")) {
                throw new Error(`catalog: ${row.id}: file ${file.name}: "owner" placement is for per-master and per-node rows, and their files go to the owner only`);
            }
            if (file.content === "activeCert" && row.kind !== "ca") throw new Error(`catalog: ${row.id}: file ${file.name}: only a CA has generations to pick the active one of`);
            if (file.content === "publicKey" && row.kind !== "keyPair") throw new Error(`catalog: ${row.id}: file ${file.name}: only a key pair has public keys`);
        }
    }
}

// ---------------------------------------------------------------- the CA tree

export interface CaTreeNode {
    ca: CertRow;
    /** Rows the CA signs, in table order. */
    leaves: CertRow[];
}

/** The CA tree, derived from the issuer column. Every CA is a root (self-signed) in both layouts. */
export function deriveCaTree(rows: CertRow[]): CaTreeNode[] {
    return rows
        .filter((row) => row.kind === "ca")
        .map((ca) => ({ ca, leaves: rows.filter((row) => row.issuer === ca.id) }));
}
