// The values of the remote scripts' parameters (registry STEP_PARAMS) for one node: file paths
// from the certificate catalog's instances, addresses from the inventory, bounds from the rollout
// settings. A step is sent the ones its kind reads (paramsOf).
import { CLUSTER_WORKLOADS, managerWords, NODE_SERVICES } from "../nodeModel";
import { SERVICE_ACCOUNT_ID } from "../pki/settings";
import { CERTS_DIR, KUBELET_ROTATED_CLIENT } from "../pki/catalog";
import { CertInstance } from "../pki/instances";
import { KUBECONFIG_CATALOG } from "../pki/kubeconfigs";
import { FlagEdit, PlanNode, restartedOn } from "./plan";
import { CLUSTER_CHECK_PARAMS, dispatchParams, PREFLIGHT_PARAMS, paramsOf, STEP_REGISTRY, StepKind, StepParam } from "./registry";

/** A node as the parameters need it: the plan's view of it and its address. */
export type ParamNode = Pick<PlanNode, "name" | "role" | "index" | "services"> & { ip: string };

export interface ParamContext {
    /** Every certificate instance of the cluster (the paths do not depend on the CA stage). */
    instances: CertInstance[];
    masters: { ip: string }[];
    etcdCaId: string;
    healthTimeoutSeconds: number;
    loadBalancerSettleSeconds: number;
    loadBalancerProbeSources: string[];
    backupsKept: number;
}

/** The path of an instance's file of one content, e.g. the certificate of "etcd-client". */
export function pathOfFile(instances: CertInstance[], id: string, content: "cert" | "key"): string {
    const file = instances.find((i) => i.id === id)?.files.find((f) => f.content === content);
    if (!file) throw new Error(`the catalog has no ${content} file of ${id}`);
    return file.path;
}

/**
 * CERT=KEY for each certificate file of an instance whose key file is not named after it
 * (ca-signing.crt: ca.key), and for each public-key file the signing key it must hold (sa.pub: sa.key,
 * or in AKS Engine's layout apiserver.key, the key of the row that takes its key from the pair).
 */
function filesKeyedOtherwise(instances: CertInstance[]): string[] {
    const keyOf = (instance: CertInstance) => instance.files.find((f) => f.content === "key");
    return instances.flatMap((instance) => {
        const key = keyOf(instance) ?? instances.map((i) => (i.row.keyFrom === instance.row.id ? keyOf(i) : undefined)).find((k) => k !== undefined);
        if (!key) return [];
        const named = (f: { path: string }) => f.path === key.path.replace(/\.key$/, ".crt");
        return instance.files.filter((f) => f.content === "publicKey" || ((f.content === "cert" || f.content === "activeCert") && !named(f))).map((f) => `${f.path}=${key.path}`);
    });
}

/** The service-account signing key's file on the masters: its own (sa.key), or the file of the row that takes its key from the pair (AKS Engine's apiserver.key). */
function signingKeyPath(instances: CertInstance[]): string {
    const keyOf = (i: CertInstance | undefined) => i?.files.find((f) => f.content === "key")?.path;
    const path = keyOf(instances.find((i) => i.row.id === SERVICE_ACCOUNT_ID)) ?? keyOf(instances.find((i) => i.row.keyFrom === SERVICE_ACCOUNT_ID));
    if (!path) throw new Error("the catalog has no file of the service-account signing key");
    return path;
}

/** The parameters set per cluster stage (cluster/clusterStage.ts), not per node. */
type ClusterStageParam = "token_secrets" | "rolled_workloads" | "trust_words";

/** Every parameter but the step-specific ones (services, dispatch) and the cluster stage's, for one node. */
function nodeValues(ctx: ParamContext, node: ParamNode): Omit<Record<StepParam, string>, "services" | "gate" | "precheck" | "before_restart" | "drain" | "lock_holder" | "flag_edits" | ClusterStageParam> {
    const path = (id: string, content: "cert" | "key" = "cert") => pathOfFile(ctx.instances, id, content);
    return {
        node_name: node.name,
        node_ip: node.ip,
        health_timeout: String(ctx.healthTimeoutSeconds),
        lb_settle: String(ctx.loadBalancerSettleSeconds),
        lb_probe_sources: ctx.loadBalancerProbeSources.join(" "),
        certs_dir: CERTS_DIR,
        backups_kept: String(ctx.backupsKept),
        ca_certs: ctx.instances.filter((i) => i.row.kind === "ca").map((i) => path(i.id)).join(" "),
        cert_keys: filesKeyedOtherwise(ctx.instances).join(" "),
        etcd_members: ctx.masters.map((m) => m.ip).join(" "),
        etcd_ca: path(ctx.etcdCaId),
        etcd_server_cert: path("etcd-server"),
        etcd_client_cert: path("etcd-client"),
        etcd_client_key: path("etcd-client", "key"),
        etcd_peer_cert: node.role === "master" ? path(`etcd-peer-${node.index ?? 0}`) : "",
        api_ca: path("kubernetes-ca"),
        api_client_cert: path("client"),
        api_client_key: path("client", "key"),
        apiserver_cert: path("apiserver"),
        kubelet_kubeconfig: KUBECONFIG_CATALOG.find((k) => k.id === "kubelet")!.path,
        kubelet_rotated_client: KUBELET_ROTATED_CLIENT,
        signing_key: signingKeyPath(ctx.instances),
        workload_selectors: Object.entries(CLUSTER_WORKLOADS)
            .map(([service, w]) => `${service}=${w.namespace}/${w.selector}`)
            .join(" "),
    };
}

const pick = (values: Partial<Record<StepParam, string>>, names: readonly StepParam[]): Record<string, string> =>
    Object.fromEntries(names.map((n) => [n, values[n] ?? ""]));

/** Flag edits as the scripts read them: SERVICE,FILE,--FLAG,VALUE words. */
const flagEditWords = (edits: readonly FlagEdit[]): string => edits.map((e) => [e.service, e.file, e.flag, e.value].join(",")).join(" ");

/** The parameters of a step of this kind on this node, with the flags it points at files (the plan step's flagEdits). */
export function stepParams(ctx: ParamContext, node: ParamNode, kind: StepKind, flagEdits: readonly FlagEdit[] = []): Record<string, string> {
    const services = managerWords(restartedOn(node.services, STEP_REGISTRY[kind].services), node.services);
    return pick({ ...nodeValues(ctx, node), ...dispatchParams(kind), services, flag_edits: flagEditWords(flagEdits) }, paramsOf(kind));
}

/** The preflight's parameters on this node: every service with its manager, and every step's flag edits, to check against the node. */
export function preflightParams(ctx: ParamContext, node: ParamNode, flagEdits: readonly FlagEdit[] = []): Record<string, string> {
    return pick({ ...nodeValues(ctx, node), services: managerWords(NODE_SERVICES, node.services), flag_edits: flagEditWords(flagEdits) }, PREFLIGHT_PARAMS);
}

/** The cluster check's parameters on a master, but those of its stage (ClusterStageParam). */
export function clusterCheckParams(ctx: ParamContext, master: ParamNode): Record<string, string> {
    const values: Partial<Record<StepParam, string>> = nodeValues(ctx, master);
    return pick(values, CLUSTER_CHECK_PARAMS.filter((p) => p in values));
}
