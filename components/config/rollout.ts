// The rollout section of the stack config: the `rollout` object (how certificates are installed
// and components restarted) and the SSH key that reaches the nodes.
import * as pulumi from "@pulumi/pulumi";
import type { AcceptedKeys, ConfigKeyDoc } from "./keys";
import { checkIpv4, CONFIG_NAMESPACE, ConfigError, readSecret, SecretInput, secretProblem, Section } from "./reader";

export interface RolloutSettings {
    /** false: manage the PKI only (preview and outputs), install nothing. */
    enabled: boolean;
    /** Agents of one pool restarted at once (every pool that maxUnavailablePerPool does not name). */
    maxUnavailable: number;
    /** Per agent pool: its agents restarted at once, instead of maxUnavailable; only when set. */
    maxUnavailablePerPool?: Readonly<Record<string, number>>;
    /** How long a gate waits for a restarted component to become healthy. */
    healthTimeoutSeconds: number;
    /** How long a restarted apiserver must stay ready before the next is touched (the LB probe's interval × threshold). */
    loadBalancerSettleSeconds: number;
    /** Where the load balancer's health probes come from: refused on a master before its apiserver restarts, to drain it. */
    loadBalancerProbeSources: string[];
    /** How many backups of replaced files each node keeps (the newest). */
    backupsKept: number;
    /** Read the nodes' certificates before planning and plan the repair of those that drifted (drift.ts). */
    driftCheck: boolean;
    /** Namespaces whose workloads the cluster stage rolls and whose legacy token secrets it refreshes ([]: none). */
    clusterNamespaces: string[];
    /** Bound on one workload's rollout in the cluster stage. */
    workloadTimeoutSeconds: number;
    /** The admin user's SSH private key (secret); undefined when the rollout is off. */
    sshPrivateKey?: pulumi.Output<string>;
}

/** The address Azure's load balancer health probes come from (the platform's virtual IP). */
export const AZURE_PROBE_SOURCE = "168.63.129.16";

/** Config key of the admin user's SSH private key. */
export const SSH_PRIVATE_KEY = "sshPrivateKey";
/** The fields of the `rollout` object: what parseRolloutConfig accepts. */
export const ROLLOUT_FIELDS = ["enabled", "maxUnavailable", "maxUnavailablePerPool", "healthTimeoutSeconds", "loadBalancerSettleSeconds", "loadBalancerProbeSources", "backupsKept", "driftCheck", "clusterNamespaces", "workloadTimeoutSeconds"] as const;

/** The keys of this section (see keys.ts). */
export const ROLLOUT_ACCEPTS: AcceptedKeys = { "": ["rollout", SSH_PRIVATE_KEY], rollout: ROLLOUT_FIELDS };

/** The documentation of the keys this section reads (see keys.ts). */
export const ROLLOUT_KEYS: ConfigKeyDoc[] = [
    { key: "rollout.enabled", type: "boolean", default: "true", description: "install the certificates over SSH and restart what needs it; false manages the PKI only" },
    {
        key: "rollout.maxUnavailable",
        type: "integer ≥ 1",
        default: "1",
        description:
            "agents of each pool restarted at the same time (the pools side by side: a batch of each pool per wave); less than the agents of every pool that has more than one, so that no batch takes a whole pool down (a pool of one agent is down while it restarts whatever the value)",
    },
    {
        key: "rollout.maxUnavailablePerPool",
        type: "{ <pool>: integer ≥ 1 }",
        default: "unset",
        description:
            "per agent pool, its agents restarted at the same time instead of rollout.maxUnavailable (which still sets the pools it does not name); each pool an agent pool of the inventory, each value less than that pool's agents when it has more than one",
    },
    { key: "rollout.healthTimeoutSeconds", type: "integer", default: "300", description: "how long a gate waits for a component to be healthy before the node is rolled back" },
    { key: "rollout.loadBalancerSettleSeconds", type: "integer", default: "15", description: "how long the balancer needs to notice a drain or a readmission: probe interval × probes to mark a server down, plus one interval (AKS Engine: 5 s × 2 + 5)" },
    {
        key: "rollout.loadBalancerProbeSources",
        type: "IP list",
        default: '["168.63.129.16"]',
        description:
            "source of the load balancer's health probes (Azure: 168.63.129.16); a master refuses new connections from it before its apiserver restarts, so the balancer stops sending it traffic first; [] turns draining off; IPv4 only (iptables), and never a node's address or the jumpbox's host",
    },
    {
        key: "rollout.backupsKept",
        type: "integer ≥ 1",
        default: "5",
        description: "backups of replaced files each node keeps under /etc/kubernetes/rotate-certs/backup (the newest; older ones, and any holding the key of a CA no bundle trusts any more, are deleted after a successful step)",
    },
    {
        key: "rollout.driftCheck",
        type: "boolean",
        default: "true",
        description:
            "at every preview and up, read the certificates on every node over SSH (read-only, before anything is planned) and plan the step that puts back any that is not what the last run installed: another certificate, a missing file, a key that does not match; false skips the reads",
    },
    {
        key: "rollout.clusterNamespaces",
        type: "namespace list",
        default: '["kube-system"]',
        description:
            "after a CA stage that changes the Kubernetes CA bundle or the service-account signing key, the cluster stage rolls the Deployments, DaemonSets and StatefulSets of these namespaces (one at a time, each waited for until ready; refused at preview when a rollout would take more pods down than a PodDisruptionBudget allows) and, after a signing-key change, has their legacy token secrets re-signed; [] rolls nothing (kube-root-ca.crt is checked in every namespace either way)",
    },
    { key: "rollout.workloadTimeoutSeconds", type: "integer", default: "600", description: "how long the cluster stage waits for one workload's rollout to be ready before the run fails" },
    { key: SSH_PRIVATE_KEY, type: "PEM", default: "unset", secret: true, description: "the admin user's SSH private key (set with --secret); required when the rollout is enabled" },
];

/** A probe source: the drain refuses it with iptables, which filters IPv4 only. */
const checkProbeSource = checkIpv4("IPv6 probe sources are not supported: draining refuses them with iptables, which filters IPv4 only");

const checkNamespace = (s: string): string | undefined => (/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(s) ? undefined : "must be a namespace name (a DNS label)");

/** rollout.maxUnavailablePerPool: an integer ≥ 1 per pool named (whether each is a pool of the inventory is stack.ts's check). */
function perPoolLimits(pools: Section): Record<string, number> {
    return Object.fromEntries(pools.keys().map((pool) => [pool, pools.int(pool, 1, 1, 1000)]));
}

/** Validates the `rollout` object and the SSH key. Throws a ConfigError naming every bad key. */
export function parseRolloutConfig(raw: unknown, sshKey: SecretInput): RolloutSettings {
    const problems: string[] = [];
    const r = new Section("rollout", raw, problems);
    r.rejectUnknown(ROLLOUT_FIELDS);
    const enabled = r.bool("enabled", true);
    const settings: RolloutSettings = {
        enabled,
        maxUnavailable: r.int("maxUnavailable", 1, 1, 1000),
        ...(r.has("maxUnavailablePerPool") ? { maxUnavailablePerPool: perPoolLimits(r.section("maxUnavailablePerPool")) } : {}),
        healthTimeoutSeconds: r.int("healthTimeoutSeconds", 300, 5, 3600),
        loadBalancerSettleSeconds: r.int("loadBalancerSettleSeconds", 15, 0, 600),
        loadBalancerProbeSources: r.has("loadBalancerProbeSources") ? r.stringList("loadBalancerProbeSources", checkProbeSource) : [AZURE_PROBE_SOURCE],
        backupsKept: r.int("backupsKept", 5, 1, 100),
        driftCheck: r.bool("driftCheck", true),
        clusterNamespaces: r.has("clusterNamespaces") ? r.stringList("clusterNamespaces", checkNamespace) : ["kube-system"],
        workloadTimeoutSeconds: r.int("workloadTimeoutSeconds", 600, 30, 7200),
    };
    const notSecret = secretProblem(SSH_PRIVATE_KEY, sshKey, "~/.ssh/id_rsa");
    if (notSecret) {
        problems.push(notSecret);
    } else if (sshKey.value !== undefined && !/^-----BEGIN (OPENSSH|RSA|EC) PRIVATE KEY-----/.test(sshKey.value.trim())) {
        problems.push(`${CONFIG_NAMESPACE}:${SSH_PRIVATE_KEY}: not a PEM/OpenSSH private key`);
    } else if (enabled && sshKey.value === undefined) {
        problems.push(`${CONFIG_NAMESPACE}:${SSH_PRIVATE_KEY}: required to install certificates (pulumi config set --secret ${SSH_PRIVATE_KEY} < key), or set rollout.enabled: false to manage the PKI only`);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return { ...settings, ...(sshKey.value !== undefined ? { sshPrivateKey: pulumi.secret(sshKey.value) } : {}) };
}

export function readRolloutConfig(config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE)): RolloutSettings {
    let raw: unknown;
    try {
        raw = config.getObject<unknown>("rollout");
    } catch {
        throw new ConfigError([`${CONFIG_NAMESPACE}:rollout: not valid JSON/YAML`]);
    }
    // readSecret returns the key in plain text; parseRolloutConfig refuses it without --secret and wraps it with pulumi.secret.
    return parseRolloutConfig(raw, readSecret(config, SSH_PRIVATE_KEY));
}
