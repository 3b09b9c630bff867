// The cluster objects the cluster stage acts on, as scripts/list-cluster.sh reads them from the
// apiserver (read-only, on a master, before anything is planned): the workloads of the configured
// namespaces, their PodDisruptionBudgets and the legacy service-account token secrets. A rolling
// restart does not go through the Eviction API, so PDBs are respected here: a workload is rolled
// only when its own update strategy takes no more pods down at once than each PDB that selects
// its pods allows now, else the run is refused before anything changes.

export type WorkloadKind = "Deployment" | "DaemonSet" | "StatefulSet";

export interface Workload {
    kind: WorkloadKind;
    namespace: string;
    name: string;
    podLabels: Record<string, string>;
    /** Pods its rolling update takes down at once (0: it surges instead); undefined: a template change replaces no pod (OnDelete, a partition). */
    unavailableAtOnce: number | undefined;
    /** Why a template change replaces no pod. */
    notRolled?: string;
}

export interface LabelRequirement {
    key: string;
    operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    values: string[];
}

export interface DisruptionBudget {
    namespace: string;
    name: string;
    matchLabels: Record<string, string>;
    matchExpressions: LabelRequirement[];
    disruptionsAllowed: number;
}

export interface TokenSecret {
    namespace: string;
    name: string;
}

export interface ClusterObjects {
    workloads: Workload[];
    budgets: DisruptionBudget[];
    tokenSecrets: TokenSecret[];
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const labels = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries(obj(v)).filter(([, x]) => typeof x === "string")) as Record<string, string>;

/** An int-or-percent against a total, rounded as the controllers round it. */
function scaled(value: unknown, total: number, roundUp: boolean, fallback: number | string): number {
    const v = value === undefined || value === null ? fallback : value;
    if (typeof v === "number") return v;
    const percent = /^(\d+)%$/.exec(String(v));
    if (!percent) throw new Error(`not an int or a percentage: ${JSON.stringify(v)}`);
    const exact = (Number(percent[1]) * total) / 100;
    return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** How many pods a workload's update takes down at once, from its spec (Kubernetes' defaults where unset). */
function unavailability(kind: WorkloadKind, item: Json): Pick<Workload, "unavailableAtOnce" | "notRolled"> {
    const spec = obj(item.spec);
    const status = obj(item.status);
    if (kind === "Deployment") {
        const replicas = typeof spec.replicas === "number" ? spec.replicas : 1;
        const strategy = obj(spec.strategy);
        if (strategy.type === "Recreate") return { unavailableAtOnce: replicas };
        const rolling = obj(strategy.rollingUpdate);
        const surge = scaled(rolling.maxSurge, replicas, true, "25%");
        const down = scaled(rolling.maxUnavailable, replicas, false, "25%");
        return { unavailableAtOnce: Math.min(replicas, surge === 0 && down === 0 ? 1 : down) };
    }
    const strategy = obj(spec.updateStrategy);
    if (strategy.type === "OnDelete") return { unavailableAtOnce: undefined, notRolled: "its updateStrategy is OnDelete" };
    const rolling = obj(strategy.rollingUpdate);
    if (kind === "DaemonSet") {
        const desired = typeof status.desiredNumberScheduled === "number" ? status.desiredNumberScheduled : 0;
        const surge = scaled(rolling.maxSurge, desired, true, 0);
        const down = scaled(rolling.maxUnavailable, desired, true, 1);
        return { unavailableAtOnce: Math.min(desired, surge > 0 ? down : Math.max(1, down)) };
    }
    const replicas = typeof spec.replicas === "number" ? spec.replicas : 1;
    if (typeof rolling.partition === "number" && rolling.partition > 0) return { unavailableAtOnce: undefined, notRolled: `its rollingUpdate.partition is ${rolling.partition}` };
    return { unavailableAtOnce: Math.min(replicas, Math.max(1, scaled(rolling.maxUnavailable, replicas, false, 1))) };
}

/** The script's output (JSON lists of the API's items); throws on anything else. */
export function parseClusterListing(text: string): ClusterObjects {
    let raw: Json;
    try {
        raw = obj(JSON.parse(text));
    } catch (e) {
        throw new Error(`list-cluster.sh: not JSON (${(e as Error).message})`);
    }
    for (const key of ["deployments", "daemonsets", "statefulsets", "pdbs", "secrets"]) {
        if (!Array.isArray(raw[key])) throw new Error(`list-cluster.sh: no list "${key}" in its output`);
    }
    const meta = (item: Json) => ({ namespace: str(obj(item.metadata).namespace), name: str(obj(item.metadata).name) });
    const kinds: [WorkloadKind, string][] = [["Deployment", "deployments"], ["DaemonSet", "daemonsets"], ["StatefulSet", "statefulsets"]];
    const workloads = kinds.flatMap(([kind, key]) =>
        arr(raw[key]).map((v): Workload => {
            const item = obj(v);
            return { kind, ...meta(item), podLabels: labels(obj(obj(obj(item.spec).template).metadata).labels), ...unavailability(kind, item) };
        }),
    );
    const budgets = arr(raw.pdbs).map((v): DisruptionBudget => {
        const item = obj(v);
        const selector = obj(obj(item.spec).selector);
        return {
            ...meta(item),
            matchLabels: labels(selector.matchLabels),
            matchExpressions: arr(selector.matchExpressions).map((e) => ({ key: str(obj(e).key), operator: str(obj(e).operator) as LabelRequirement["operator"], values: arr(obj(e).values).map(str) })),
            disruptionsAllowed: Number(obj(item.status).disruptionsAllowed ?? 0),
        };
    });
    const tokenSecrets = arr(raw.secrets).map((v): TokenSecret => meta(obj(v)));
    return { workloads, budgets, tokenSecrets };
}

/** Whether a PDB selects pods with these labels (an empty selector selects every pod of its namespace). */
export function selects(budget: DisruptionBudget, podLabels: Record<string, string>): boolean {
    const labelsMatch = Object.entries(budget.matchLabels).every(([k, v]) => podLabels[k] === v);
    return (
        labelsMatch &&
        budget.matchExpressions.every((e) => {
            const has = Object.prototype.hasOwnProperty.call(podLabels, e.key);
            switch (e.operator) {
                case "In": return has && e.values.includes(podLabels[e.key]!);
                case "NotIn": return !has || !e.values.includes(podLabels[e.key]!);
                case "Exists": return has;
                case "DoesNotExist": return !has;
                default: return false;
            }
        })
    );
}

const label = (w: Workload) => `${w.namespace}/${w.name} (${w.kind})`;

/** Why the workloads cannot be rolled now without breaking a PodDisruptionBudget, one line each; [] when they can. */
export function budgetProblems(objects: ClusterObjects): string[] {
    return objects.workloads.flatMap((w) =>
        objects.budgets
            .filter((b) => b.namespace === w.namespace && selects(b, w.podLabels) && (w.unavailableAtOnce ?? 0) > b.disruptionsAllowed)
            .map((b) => `${label(w)}: its rolling update takes ${w.unavailableAtOnce} pod(s) down at once, but PodDisruptionBudget ${b.namespace}/${b.name} allows ${b.disruptionsAllowed} disruption(s) now`),
    );
}

/** What the cluster stage does with these objects, in words (for the preview). */
export function describeObjects(objects: ClusterObjects, roll: boolean, refreshTokens: boolean): string[] {
    const lines: string[] = [];
    if (refreshTokens) lines.push(`have the tokens of ${objects.tokenSecrets.length} legacy token secret(s) re-signed: ${objects.tokenSecrets.map((s) => `${s.namespace}/${s.name}`).join(", ") || "none"}`);
    if (roll) {
        for (const w of objects.workloads) {
            const budgets = objects.budgets.filter((b) => b.namespace === w.namespace && selects(b, w.podLabels));
            const pdb = budgets.map((b) => `; PodDisruptionBudget ${b.name} allows ${b.disruptionsAllowed}`).join("");
            lines.push(w.unavailableAtOnce === undefined ? `NOT rolled: ${label(w)}, ${w.notRolled}: restart its pods by hand` : `roll ${label(w)}, ${w.unavailableAtOnce} pod(s) down at once${pdb}; wait until it is ready`);
        }
    }
    return lines;
}
