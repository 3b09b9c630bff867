// The contract between the plan and the remote scripts: per step kind, the services it looks
// after, the shell functions the step runs (scripts/gates.sh), the parameters those read and the
// words the preview prints. The plan, the rollout, the scripts' dispatch and the preview derive
// from it; tests/unit/rollout/registry.test.ts parses the scripts and holds them to it.
import { Service } from "../pki/catalog";

export const STEP_KINDS = ["etcd", "apiserver", "controlPlane", "kubelet"] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** Every parameter the remote scripts read (PARAM[name] in scripts/*.sh), and what it holds. */
export const STEP_PARAMS = {
    node_name: "the node's name, as its Node object is named",
    node_ip: "the node's address: what the load balancer and the etcd peers reach",
    services: "name=manager of each service the step may restart (preflight: of every service the node runs)",
    health_timeout: "seconds a gate waits for a component to be healthy",
    gate: "the shell function that checks the step's services after a change",
    precheck: "the shell function run before any file changes (empty: none)",
    before_restart: "the shell function run before the step's services restart (empty: none)",
    drain: "1 when the master leaves the load balancer before the step's services restart",
    lb_settle: "seconds the load balancer's probes take to notice a drain or an undrain",
    lb_probe_sources: "addresses the load balancer probes from (refused while drained)",
    certs_dir: "the directory of the cluster's certificates (the preflight checks it exists)",
    ca_certs: "paths of the CA certificate files: a staged leaf must chain to one of them",
    cert_keys: "CERT=KEY words: certificates whose private key is not named after them, and public-key files with the signing key they must hold (a staged certificate must match its key)",
    backups_kept: "how many backups a node keeps (the newest)",
    flag_edits: "flags the step points at files: SERVICE,FLAG_FILE,--FLAG,VALUE words (the flag file is installed with the step's files; preflight: every step's on the node, checked)",
    etcd_members: "addresses of every etcd member",
    etcd_ca: "path of the CA certificate etcd's certificates chain to",
    etcd_server_cert: "path of etcd's serving certificate",
    etcd_client_cert: "path of the apiserver's client certificate towards etcd",
    etcd_client_key: "path of its key",
    etcd_peer_cert: "path of this member's peer certificate (its key beside it, .key)",
    api_ca: "path of the cluster CA certificate the apiserver serves under",
    api_client_cert: "path of the client certificate the gates query the apiserver with",
    api_client_key: "path of its key",
    apiserver_cert: "path of the apiserver's serving certificate",
    kubelet_kubeconfig: "path of the kubelet's kubeconfig (names the server the kubelet talks to)",
    kubelet_rotated_client: "path of the client certificate the kubelet rotates itself (set aside when its files change)",
    workload_selectors: "SERVICE=NAMESPACE/LABEL_SELECTOR words: where the pods of services run as cluster workloads are (the node's is replaced through the API)",
    lock_holder: "who takes the cluster's rotation lock: the stack (organization/project/stack)",
    signing_key: "path of the service-account signing key on a master (legacy tokens must carry its key id)",
    token_secrets: "NAMESPACE/NAME words: the legacy service-account token secrets the cluster check holds current",
    rolled_workloads: "KIND/NAMESPACE/NAME words: the workloads the cluster stage rolled",
    trust_words: "the CA bundle generations and signing key the rolled pod templates carry (annotation azs-cert-rotation/trust)",
} as const;
export type StepParam = keyof typeof STEP_PARAMS;

/** Read by rotate.sh and lib.sh in every step (a restart of a cluster workload's pod finds it through the API: workload_selectors, kubelet_kubeconfig). */
export const COMMON_PARAMS: readonly StepParam[] = ["node_name", "services", "health_timeout", "gate", "precheck", "before_restart", "drain", "lb_settle", "lb_probe_sources", "ca_certs", "cert_keys", "backups_kept", "flag_edits", "kubelet_kubeconfig", "workload_selectors"];

/** Read by lock.sh. */
export const LOCK_PARAMS: readonly StepParam[] = ["lock_holder"];

/** Read by cluster-check.sh, on the master it runs on. */
export const CLUSTER_CHECK_PARAMS: readonly StepParam[] = ["node_name", "node_ip", "health_timeout", "api_ca", "api_client_cert", "api_client_key", "signing_key", "token_secrets", "rolled_workloads", "trust_words"];

/** Read by preflight.sh. */
export const PREFLIGHT_PARAMS: readonly StepParam[] = ["services", "certs_dir", "lb_probe_sources", "lb_settle", "flag_edits", "ca_certs", "cert_keys"];

export interface StepKindSpec {
    /** The services the step looks after: it may restart them and finds them healthy afterwards. */
    services: readonly Service[];
    /** Shell function names (scripts/gates.sh). */
    gate: string;
    precheck?: string;
    /** What the precheck refuses, in the preview's words (it decides on the node, from what is installed there). */
    precheckText?: string;
    beforeRestart?: string;
    /** What the before-restart function does, in the preview's words. */
    beforeRestartText?: string;
    /** The master leaves the load balancer before these services restart. */
    drain: boolean;
    /** Parameters read by its functions, beyond COMMON_PARAMS. */
    params: readonly StepParam[];
    /** What the gate checks, in the preview's words. */
    gateText: string;
    /** The gate's worst case, in health timeouts and settle times, for a cluster of `members` etcd members. */
    gateBound(members: number): { timeouts: number; settles: number };
}

const ETCD_ACCESS: StepParam[] = ["node_ip", "etcd_members", "etcd_ca", "etcd_client_cert", "etcd_client_key"];
const API_ACCESS: StepParam[] = ["node_ip", "api_ca", "api_client_cert", "api_client_key"];

export const STEP_REGISTRY: Record<StepKind, StepKindSpec> = {
    etcd: {
        services: ["etcd"],
        gate: "gate_etcd",
        // records whether etcd had quorum and the apiserver served before the change (the repair case)
        precheck: "precheck_etcd",
        precheckText: "refused, nothing changed, while another member is unhealthy (quorum), unless this member's installed certificates have expired (the repair)",
        beforeRestart: "etcd_hand_over_leadership",
        beforeRestartText: "a leading member hands leadership to another",
        // this master's apiserver uses only its local member
        drain: true,
        params: [...ETCD_ACCESS, "etcd_server_cert", "etcd_peer_cert", "api_ca", "api_client_cert", "api_client_key"],
        gateText: "this member serves the installed certificates and is healthy, and every member is healthy (quorum)",
        // peer cert, serving cert, each member's /health, then the apiserver's readmission (a settle, and a re-drain)
        gateBound: (members) => ({ timeouts: 3 + members, settles: 2 }),
    },
    apiserver: {
        services: ["kube-apiserver"],
        gate: "gate_apiserver",
        drain: true,
        params: [...API_ACCESS, "apiserver_cert"],
        gateText: "/readyz ok on the node's address and it serves the installed certificate, held for the load balancer's probe",
        gateBound: () => ({ timeouts: 3, settles: 2 }),
    },
    controlPlane: {
        services: ["kube-controller-manager", "kube-scheduler", "kubectl"],
        gate: "gate_controlPlane",
        drain: false,
        params: ["api_ca", "api_client_cert", "api_client_key"],
        gateText: "controller-manager and scheduler /healthz ok, and the apiserver answers their requests (none refused)",
        gateBound: () => ({ timeouts: 3, settles: 0 }),
    },
    // kube-proxy reads the kubelet kubeconfig too: after the kubelet, the node's kube-proxy pod is replaced
    kubelet: {
        services: ["kubelet", "kube-proxy"],
        gate: "gate_kubelet",
        // its self-rotated client certificate may be signed by a CA the cluster is about to drop
        beforeRestart: "kubelet_set_aside_rotated_client",
        beforeRestartText: "its self-rotated client certificate (kubelet-client-current.pem) is set aside with the backup, so it uses the installed client.crt",
        drain: false,
        params: ["api_ca", "api_client_cert", "api_client_key", "kubelet_rotated_client"],
        gateText: "Node Ready, its lease renewed by the restarted kubelet, which is still the one running; a replaced kube-proxy pod: a new one Ready on the node",
        gateBound: () => ({ timeouts: 2, settles: 0 }),
    },
};

/** Bounds of the scripts' own waits (seconds): rotate.sh's node lock, a restart (systemctl's timeout), an etcd member's /health before the change. */
export const SCRIPT_WAITS = { lock: 60, restart: 120, precheckPerMember: 5, rest: 60 } as const;

/**
 * The longest a step of this kind can run: the lock, the precheck, the drain, its restarts and its
 * gate, then the rollback's restarts and gate again. The remote command's timeout must not be
 * shorter, or the provider would cancel the step in the middle of its rollback.
 */
export function stepWorstCaseSeconds(kind: StepKind, t: { healthTimeoutSeconds: number; loadBalancerSettleSeconds: number; members: number }): number {
    const spec = STEP_REGISTRY[kind];
    const gate = spec.gateBound(t.members);
    const gateSeconds = gate.timeouts * t.healthTimeoutSeconds + gate.settles * t.loadBalancerSettleSeconds;
    const restarts = spec.services.length * SCRIPT_WAITS.restart;
    const precheck = spec.precheck ? SCRIPT_WAITS.precheckPerMember * t.members : 0;
    const drain = spec.drain ? t.loadBalancerSettleSeconds : 0;
    return SCRIPT_WAITS.lock + precheck + drain + 2 * (restarts + gateSeconds) + SCRIPT_WAITS.rest;
}

/** The parameters a step of this kind is sent. */
export function paramsOf(kind: StepKind): StepParam[] {
    return [...new Set([...COMMON_PARAMS, ...STEP_REGISTRY[kind].params])];
}

/** The dispatch parameters of a kind: the shell functions rotate.sh calls and whether it drains. */
export function dispatchParams(kind: StepKind): Pick<Record<StepParam, string>, "gate" | "precheck" | "before_restart" | "drain"> {
    const spec = STEP_REGISTRY[kind];
    return { gate: spec.gate, precheck: spec.precheck ?? "", before_restart: spec.beforeRestart ?? "", drain: spec.drain ? "1" : "0" };
}
