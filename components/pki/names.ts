// The names of the PKI's Pulumi resources, made only here. A resource's name is its identity in
// the stack: a changed rule replaces resources on the next run, so these rules must not change.
// The components register under them and rotation.ts's model predicts with the same ones.

/** In a per-master catalog row's texts (id, common name, file names): the master's index. */
export const MASTER_INDEX_PLACEHOLDER = "{index}";
/** In a per-node catalog row's texts (id, common name): the node's name. */
export const NODE_NAME_PLACEHOLDER = "{node}";

/** `{index}` in a per-master catalog row's text → the master's index. */
export const atMasterIndex = (text: string, index: number | undefined): string => (index === undefined ? text : text.split(MASTER_INDEX_PLACEHOLDER).join(String(index)));

/** `{node}` in a per-node catalog row's text → the node's name. */
export const atNodeName = (text: string, name: string | undefined): string => (name === undefined ? text : text.split(NODE_NAME_PLACEHOLDER).join(name));

/** The per-master etcd peer row's id: one instance per master ("etcd-peer-0" …). */
export const ETCD_PEER_ROW_ID = `etcd-peer-${MASTER_INDEX_PLACEHOLDER}`;

/** The ClusterPki component of a stack. */
export const CLUSTER_PKI_NAME = "pki";

/**
 * Logical names of the tls resources. A certificate instance's id ("apiserver", "etcd-peer-1":
 * the catalog row id with `{index}` resolved) names its component and prefixes its resources.
 */
export const resourceNames = {
    /** ECDSA key shared by the renewal clocks of all leaves. */
    clockKey: "renewal-clock-key",
    /** A CA generation's component: the CA id for generation 0, `<id>-g<N>` after. */
    caGeneration: (caId: string, generation: number): string => (generation === 0 ? caId : `${caId}-g${generation}`),
    ca: (name: string) => ({ key: `${name}-key`, cert: `${name}-cert` }),
    /** A CA generation's certificate signed by an older generation. */
    crossSigned: (caName: string, signerGeneration: number) => ({ csr: `${caName}-by-g${signerGeneration}-csr`, cert: `${caName}-by-g${signerGeneration}-cert` }),
    /** `ownClockKey` only for a leaf built without the shared clock key. */
    leaf: (id: string) => ({ ownClockKey: `${id}-clock-key`, clock: `${id}-clock`, key: `${id}-key`, csr: `${id}-csr`, cert: `${id}-cert` }),
    keyPair: (id: string) => ({ key: `${id}-key` }),
};

/** A CA generation's subject common name: distinct per generation, so tools that pick an issuer by name never confuse two. */
export const caGenerationCommonName = (commonName: string, generation: number): string => (generation === 0 ? commonName : `${commonName}-g${generation}`);
