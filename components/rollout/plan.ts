// The rollout plan: which files each node receives in which step, which services a step may have
// to restart, and the order of the steps. A pure function of the catalog's instances, the
// inventory and (for summaries and tests) the set of certificate instances that change.
//
// Order: etcd members one at a time → apiservers one at a time → controller-manager
// and scheduler per master → kubelets (masters one at a time, then agents: each pool in batches
// of its own limit, maxUnavailablePerPool's or maxUnavailable, the pools side by side, so a wave
// holds the next batch of every pool that has agents left; every agent after every master).
// A file is installed by the first step on its node whose services read it, so a shared file
// (client.crt on a master) is in place before every later reader restarts.
// Restarts follow the catalog's reload column: a service restarts only when a file it reads at
// start changed; files reloaded on the fly (etcd's serving/peer certs, the apiserver's serving
// cert, client CA, front-proxy files) are checked by the step's gate instead.
import { flagFileOf, isNodeService, NodeRole, NodeService, restartedByNodeStep, ServiceManagers, servicesOn } from "../nodeModel";
import { Reader, Service } from "../pki/catalog";
import { CertInstance } from "../pki/instances";
import { STEP_KINDS, STEP_REGISTRY, StepKind } from "./registry";

export interface PlanNode {
    name: string;
    role: NodeRole;
    /** Masters: etcd member index. */
    index?: number;
    pool: string;
    /** How each service runs on the node (the inventory's node model). */
    services: ServiceManagers;
}

/** A file that is not a certificate instance's: the admin kubeconfig (embeds the kubectl client cert). */
export interface ExtraFile {
    id: string;
    path: string;
    nodes: "masters" | "all";
    secret: boolean;
    /** Instances whose change changes the file. */
    from: string[];
    readers: { service: Service; reload: "dynamic" | "restart" }[];
}

export interface PlanInput {
    instances: CertInstance[];
    extraFiles: ExtraFile[];
    nodes: PlanNode[];
    /** Agents of one pool restarted at the same time (every pool maxUnavailablePerPool does not name). */
    maxUnavailable: number;
    /** Per agent pool: its agents restarted at the same time, instead of maxUnavailable. */
    maxUnavailablePerPool?: Readonly<Record<string, number>>;
    /** Instances (or extra-file ids) whose content changes; undefined = all. */
    changed?: ReadonlySet<string>;
}

export interface PlannedFile {
    path: string;
    /** The certificate instance (or extra file id) the content comes from. */
    source: string;
    secret: boolean;
    /** Services on this node to restart when this file's content changes. */
    restarts: Service[];
}

/** A flag a step points at a file, in the service's flag file on the node (nodeModel flagFileOf). */
export interface FlagEdit {
    service: NodeService;
    /** The flag, e.g. "--cluster-signing-cert-file": its value in `file` becomes `value`. */
    flag: string;
    value: string;
    file: string;
}

export interface RolloutStep {
    /** "<kind>/<node>", unique. */
    id: string;
    kind: StepKind;
    node: string;
    /** Steps in the same wave run together; a wave starts when the previous one succeeded. */
    wave: number;
    /** Ids of the previous wave's steps. */
    after: string[];
    installs: PlannedFile[];
    /** Flags the step points at files (a change restarts the flag's service). */
    flagEdits: FlagEdit[];
    /** Paths of every file the step's services read on this node (installed here or earlier): a change re-runs the step. */
    watches: string[];
    /** The step's services that restart when the `changed` set changes. */
    restarts: Service[];
    /** Per service of the step: the files on this node whose change restarts it. */
    restartTriggers: Partial<Record<Service, string[]>>;
    /** Whether the step has anything to do for the `changed` set. */
    runs: boolean;
}

const byIndex = (a: PlanNode, b: PlanNode) => (a.index ?? 0) - (b.index ?? 0);

/** The steps a node takes part in, in order. */
function stepKindsOf(node: PlanNode): StepKind[] {
    const running = servicesOn(node.role, node.services);
    return STEP_KINDS.filter((k) => STEP_REGISTRY[k].services.some((s) => running.has(s)));
}

/** The services of a node that a node step restarts (systemd units and static pods), of those given. */
export function restartedOn(managers: ServiceManagers, services: readonly Service[]): NodeService[] {
    return services.filter((s): s is NodeService => isNodeService(s) && restartedByNodeStep(managers[s]));
}

interface NodeFile {
    path: string;
    source: string;
    secret: boolean;
    readers: (Pick<Reader, "service" | "reload"> & Partial<Pick<Reader, "via" | "setsFlag">>)[];
}

function filesOf(node: PlanNode, input: PlanInput): NodeFile[] {
    // A key taken from a key pair (AKS Engine's apiserver.key is the service-account key) changes with that pair, not with the certificate.
    const fromInstances = input.instances.flatMap((inst) =>
        inst.files
            .filter((f) => f.nodeNames.includes(node.name))
            .map((f): NodeFile => ({ path: f.path, source: f.content === "key" && inst.row.keyFrom ? inst.row.keyFrom : inst.id, secret: f.content === "key", readers: f.readers })),
    );
    const extras = input.extraFiles
        .filter((x) => x.nodes === "all" || node.role === "master")
        .map((x): NodeFile => ({ path: x.path, source: x.id, secret: x.secret, readers: x.readers }));
    return [...fromInstances, ...extras];
}

/** The ordered rollout for an inventory. Throws on an impossible input (a programming error). */
export function planRollout(input: PlanInput): RolloutStep[] {
    if (!Number.isInteger(input.maxUnavailable) || input.maxUnavailable < 1) throw new Error(`maxUnavailable must be a positive integer, got ${input.maxUnavailable}`);
    for (const [pool, limit] of Object.entries(input.maxUnavailablePerPool ?? {})) {
        if (!Number.isInteger(limit) || limit < 1) throw new Error(`maxUnavailablePerPool.${pool} must be a positive integer, got ${limit}`);
    }
    const changedSource = (source: string) => !input.changed || input.changed.has(source) || input.extraFiles.some((x) => x.id === source && x.from.some((f) => input.changed!.has(f)));

    // Per node: its steps with their files.
    const stepsOf = new Map<string, Map<StepKind, Omit<RolloutStep, "wave" | "after">>>();
    for (const node of input.nodes) {
        const running = servicesOn(node.role, node.services);
        const kinds = stepKindsOf(node);
        const steps = new Map(
            kinds.map((k) => [k, { id: `${k}/${node.name}`, kind: k, node: node.name, installs: [] as PlannedFile[], flagEdits: [] as FlagEdit[], watches: [] as string[], restarts: [] as Service[], restartTriggers: {} as Partial<Record<Service, string[]>>, runs: false }]),
        );
        const files = filesOf(node, input);
        const readerKindsOf = (file: NodeFile) => kinds.filter((k) => file.readers.some((r) => running.has(r.service) && STEP_REGISTRY[k].services.includes(r.service)));
        for (const file of files) {
            const readersHere = file.readers.filter((r) => running.has(r.service));
            const restarts: Service[] = restartedOn(node.services, [...new Set(readersHere.filter((r) => r.reload === "restart").map((r) => r.service))]);
            const readerKinds = readerKindsOf(file);
            // A file no service here reads (a CA key kept for signing, apiserver.crt on agents)
            // travels with the rest of its certificate, else with the node's last step.
            const sibling = files.find((f) => f.source === file.source && readerKindsOf(f).length > 0);
            const home = readerKinds[0] ?? (sibling ? readerKindsOf(sibling)[0]! : kinds[kinds.length - 1]!);
            steps.get(home)!.installs.push({ path: file.path, source: file.source, secret: file.secret, restarts });
            for (const k of readerKinds.length > 0 ? readerKinds : [home]) steps.get(k)!.watches.push(file.path);
            // a flag pointed at the file is edited by the step of the flag's service
            for (const { service, via: flag, setsFlag } of readersHere) {
                if (!setsFlag || !isNodeService(service)) continue;
                const flagFile = flagFileOf(service, node.services[service]);
                if (!flag || !flagFile) throw new Error(`${node.name}: ${service} runs as ${node.services[service]}, which has no flag file where ${flag} could be pointed at ${file.path}`);
                steps.get(kinds.find((k) => STEP_REGISTRY[k].services.includes(service))!)!.flagEdits.push({ service, flag, value: file.path, file: flagFile });
            }
            for (const k of kinds) {
                const triggers = steps.get(k)!.restartTriggers;
                for (const svc of restarts.filter((x) => STEP_REGISTRY[k].services.includes(x))) (triggers[svc] ??= []).push(file.path);
            }
        }
        const changedPath = (path: string) => changedSource(files.find((f) => f.path === path)!.source);
        for (const step of steps.values()) {
            // A service restarts when a file that triggers it changed; every such file is also
            // watched by the step (its service reads it), so a step with a restart always runs.
            step.restarts = (Object.entries(step.restartTriggers) as [Service, string[]][]).filter(([, paths]) => paths.some(changedPath)).map(([svc]) => svc);
            step.runs = step.watches.some(changedPath);
        }
        stepsOf.set(node.name, steps);
    }

    // Waves: masters one at a time per kind, then kubelets of masters, then agents: wave k of the
    // agents holds batch k of every pool (pools in name order), each pool's batches its own size.
    const masters = input.nodes.filter((n) => n.role === "master").sort(byIndex);
    const agents = input.nodes.filter((n) => n.role === "agent").sort((a, b) => a.pool.localeCompare(b.pool) || a.name.localeCompare(b.name));
    const waves: string[][] = [];
    const stepId = (kind: StepKind, node: PlanNode) => (stepsOf.get(node.name)!.has(kind) ? `${kind}/${node.name}` : undefined);
    const present = (ids: (string | undefined)[]) => ids.filter((x): x is string => x !== undefined);
    for (const kind of ["etcd", "apiserver", "controlPlane"] as const) {
        for (const m of masters) waves.push(present([stepId(kind, m)]));
    }
    for (const m of masters) waves.push(present([stepId("kubelet", m)]));
    const limits = new Map(Object.entries(input.maxUnavailablePerPool ?? {}));
    const pools = new Map<string, PlanNode[]>();
    for (const a of agents) {
        const members = pools.get(a.pool) ?? [];
        members.push(a);
        pools.set(a.pool, members);
    }
    const batchesOf = [...pools].map(([pool, members]) => {
        const limit = limits.get(pool) ?? input.maxUnavailable;
        return Array.from({ length: Math.ceil(members.length / limit) }, (_, b) => members.slice(b * limit, (b + 1) * limit));
    });
    for (let b = 0; b < Math.max(0, ...batchesOf.map((batches) => batches.length)); b++) {
        waves.push(present(batchesOf.flatMap((batches) => batches[b] ?? []).map((a) => stepId("kubelet", a))));
    }

    const all = new Map<string, Omit<RolloutStep, "wave" | "after">>();
    for (const steps of stepsOf.values()) for (const s of steps.values()) all.set(s.id, s);
    const out: RolloutStep[] = [];
    let previous: string[] = [];
    for (const wave of waves.filter((w) => w.length > 0)) {
        const number = out.length === 0 ? 0 : out[out.length - 1]!.wave + 1;
        for (const id of wave) out.push({ ...all.get(id)!, wave: number, after: previous });
        previous = wave;
    }
    return out;
}

const baseName = (p: string) => p.split("/").pop()!;

/** The plan in words, one line per step that runs, in order (for `pulumi preview`). */
export function describeRollout(steps: RolloutStep[]): string[] {
    return steps
        .filter((s) => s.runs)
        .map((s) => {
            const files = s.installs.map((f) => baseName(f.path)).join(", ");
            const edits = s.flagEdits.map((e) => `set ${e.service} ${e.flag}=${e.value} in ${e.file} (restarts it if that changed); `).join("");
            const conditional = Object.entries(s.restartTriggers)
                .filter(([svc]) => s.restarts.includes(svc as Service))
                .map(([svc, paths]) => `${svc} if ${paths!.map(baseName).join(", ")} changed`);
            const restart = conditional.length > 0 ? `restart ${conditional.join("; ")}` : "no restart (reloads on its own)";
            const spec = STEP_REGISTRY[s.kind];
            const precheck = spec.precheckText ? `first: ${spec.precheckText}; ` : "";
            const beforeRestart = spec.beforeRestartText && conditional.length > 0 ? `before the restart: ${spec.beforeRestartText}; ` : "";
            return `${s.wave + 1}. ${s.node} ${s.kind}: ${precheck}${files ? `install ${files}; ` : ""}${edits}${restart}; ${beforeRestart}gate: ${spec.gateText}`;
        });
}
