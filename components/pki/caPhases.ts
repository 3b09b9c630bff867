// Zero-downtime CA rotation as pure functions: which phases (trust, activate, retire) lead from
// the CA generations the cluster has now (the last successful run's stack output `caGenerations`)
// to the configured ones, whether that order is safe, and what each phase does in words.
import { CatalogOptions, certificateCatalog } from "./catalog";
import { CA_CONFIG_NAME, CaGeneration, CaGenerations, CaGenerationState, CaId, CaRotationMode } from "./settings";

/** The stack output `caGenerations`: per CA, generation → state, as the last successful run left the cluster. */
export type CaRecord = Partial<Record<CaId, Record<string, CaGenerationState>>>;

export const CA_LABELS: Record<CaId, string> = { "kubernetes-ca": "Kubernetes CA", "etcd-ca": "etcd CA", "front-proxy-ca": "front-proxy CA" };

const STATES: CaGenerationState[] = ["trusted", "active", "retired"];

export const activeOf = (gens: CaGeneration[]): number | undefined => gens.find((g) => g.state === "active")?.generation;

/** Generations in the trust bundle: the active one first, then the others, newest first. */
export function trustedOf(gens: CaGeneration[]): number[] {
    const active = activeOf(gens);
    const others = gens.filter((g) => g.state === "trusted").map((g) => g.generation).sort((a, b) => b - a);
    return active === undefined ? others : [active, ...others];
}

const stateOf = (gens: CaGeneration[], generation: number): CaGenerationState | undefined => gens.find((g) => g.generation === generation)?.state;
const sorted = (gens: CaGeneration[]): CaGeneration[] => [...gens].sort((a, b) => a.generation - b.generation);
const live = (gens: CaGeneration[]): CaGeneration[] => sorted(gens.filter((g) => g.state !== "retired"));
const sameGenerations = (a: CaGeneration[], b: CaGeneration[]): boolean => JSON.stringify(live(a)) === JSON.stringify(live(b));
const list = (ns: number[]): string => ns.join(", ");

/** The record of a set of generations (the stack output), keeping generations retired earlier so they cannot come back. */
export function caRecordOf(target: CaGenerations, deployed: CaRecord = {}): CaRecord {
    const out: CaRecord = {};
    for (const [id, gens] of Object.entries(target) as [CaId, CaGeneration[]][]) {
        const entry: Record<string, CaGenerationState> = {};
        for (const g of Object.keys(deployed[id] ?? {})) entry[g] = "retired";
        for (const g of gens) entry[String(g.generation)] = g.state;
        out[id] = entry;
    }
    return out;
}

/** Generations from a record; anything that is not a record of this shape counts as no record. */
export function generationsFromRecord(record: unknown, id: CaId): CaGeneration[] | undefined {
    const entry = (record as Record<string, unknown> | undefined)?.[id];
    if (!entry || typeof entry !== "object") return undefined;
    const gens = Object.entries(entry as Record<string, unknown>)
        .filter(([g, s]) => /^\d+$/.test(g) && STATES.includes(s as CaGenerationState))
        .map(([g, s]) => ({ generation: Number(g), state: s as CaGenerationState }));
    return gens.length > 0 ? sorted(gens) : undefined;
}

/**
 * Without a record (the stack's first run), the cluster is taken to trust only the lowest
 * generation the config does not retire, as its active CA: that is the adopted (or current) CA.
 */
export function assumedDeployed(target: CaGeneration[]): CaGeneration[] {
    const present = live(target);
    return present.length > 0 ? [{ generation: present[0]!.generation, state: "active" }] : [];
}

const configKey = (id: CaId): string => `pki.caGenerations.${CA_CONFIG_NAME[id]}`;
const configValue = (gens: CaGeneration[]): string => `{ ${gens.filter((g) => g.state !== "retired").map((g) => `"${g.generation}": ${g.state}`).join(", ")} }`;

/** Problems with moving one CA from `from` to `to` in one phase; [] when it is safe. */
export function checkCaTransition(id: CaId, from: CaGeneration[], to: CaGeneration[]): string[] {
    const key = configKey(id);
    const problems: string[] = [];
    const actives = to.filter((g) => g.state === "active").map((g) => g.generation);
    if (actives.length === 0) return [`${key}: no active generation: retiring the only CA is refused; exactly one generation must be active`];
    if (actives.length > 1) return [`${key}: generations ${list(actives)} are all active; exactly one may sign the leaves`];
    const [active] = actives as [number];
    const wasActive = activeOf(from);
    const newest = Math.max(-1, ...from.map((g) => g.generation));
    for (const g of to) {
        const before = stateOf(from, g.generation);
        if (g.state !== "retired" && (before === "retired" || (before === undefined && g.generation <= newest))) {
            problems.push(`${key}: generation ${g.generation} was retired (or never deployed) and a CA generation cannot come back; add a new one above ${newest}`);
        }
    }
    if (wasActive !== undefined && active !== wasActive) {
        if (stateOf(from, active) !== "trusted") {
            problems.push(
                `${key}: activating generation ${active} before it is trusted everywhere is refused (clients would reject certificates it signs): ` +
                    `first run up with ${configValue([{ generation: wasActive, state: "active" }, { generation: active, state: "trusted" }])} (trust phase), or set pki.caRotation: oneShot`,
            );
        }
        const keeps = stateOf(to, wasActive);
        if (keeps === undefined || keeps === "retired") {
            problems.push(
                `${key}: generation ${wasActive} signs the installed certificates and cannot be retired in the up that activates ${active}: ` +
                    `keep it trusted (${configValue([{ generation: wasActive, state: "trusted" }, { generation: active, state: "active" }])}) and retire it in the next up`,
            );
        }
    }
    return problems;
}

/** What one phase-move of a CA changes: generations added to and removed from its bundle, and whether the signer changes. */
function caMove(from: CaGeneration[], to: CaGeneration[]) {
    const before = trustedOf(from);
    const after = trustedOf(to);
    const wasActive = activeOf(from);
    const active = activeOf(to)!;
    return {
        before,
        after,
        active,
        added: after.filter((g) => !before.includes(g)),
        removed: before.filter((g) => !after.includes(g)),
        activates: wasActive !== undefined && active !== wasActive,
    };
}

/** The phase names of a one-phase move, for the plan text. */
export function phasesOf(from: CaGeneration[], to: CaGeneration[]): ("trust" | "activate" | "retire")[] {
    const move = caMove(from, to);
    return [...(move.added.length > 0 ? ["trust" as const] : []), ...(move.activates ? ["activate" as const] : []), ...(move.removed.length > 0 ? ["retire" as const] : [])];
}

/** What moving one CA from `from` to `to` does, in words; `bundle` says where its trust bundle lives. */
export function describeCaTransition(id: CaId, from: CaGeneration[], to: CaGeneration[], bundle: string): string[] {
    const label = CA_LABELS[id];
    const { before, after, active, added, removed, activates } = caMove(from, to);
    const lines: string[] = [];
    if (added.length > 0) {
        lines.push(
            `${label}: TRUST generation ${list(added)}: added to the trust bundle next to generation ${list(before) || "(none)"} (${bundle}); ` +
                `it signs nothing yet; services that read the bundle only at start restart in rollout order`,
        );
    }
    if (activates) {
        lines.push(
            `${label}: ACTIVATE generation ${active}: every certificate it issues is re-issued by it and installed node by node in dependency order; ` +
                `serving certificates carry generation ${active} cross-signed by generation ${list(after.filter((g) => g < active))}, so clients that trust only the old CA keep working until it is retired`,
        );
    }
    if (removed.length > 0) {
        lines.push(
            `${label}: RETIRE generation ${list(removed)}: removed from the trust bundle (${bundle}) and its key deleted; ` +
                `certificates it signed and clients that trust only it stop working`,
        );
    }
    if (lines.length === 0) lines.push(`${label}: no change (generation ${active} active${after.length > 1 ? `, ${list(after.slice(1))} trusted` : ""})`);
    return lines;
}

/** What to do next, once this run succeeds. */
export function nextCaStep(id: CaId, now: CaGeneration[]): string | undefined {
    const active = activeOf(now)!;
    const older = now.filter((g) => g.state === "trusted" && g.generation < active).map((g) => g.generation);
    const newer = now.filter((g) => g.state === "trusted" && g.generation > active).map((g) => g.generation);
    const key = configKey(id);
    if (newer.length > 0) {
        const next = Math.max(...newer);
        return `${CA_LABELS[id]}: next, activate generation ${next}: ${key} = ${configValue(now.map((g) => (g.generation === next ? { ...g, state: "active" } : g.generation === active ? { ...g, state: "trusted" } : g)))}`;
    }
    if (older.length > 0) {
        return `${CA_LABELS[id]}: next, once every client outside the cluster has the new CA bundle, retire generation ${list(older)}: ${key} = ${configValue(now.filter((g) => g.generation === active || g.state !== "trusted"))}`;
    }
    return undefined;
}

/** Where each CA's trust bundle lives and who reads it, from the catalog, for the plan text. */
export function trustBundleFiles(catalog: CatalogOptions): Partial<Record<CaId, string>> {
    const out: Partial<Record<CaId, string>> = {};
    for (const row of certificateCatalog(catalog).filter((r) => r.kind === "ca")) {
        const file = row.files.find((f) => f.content === "cert")!;
        const readers = [...new Set(file.readers.map((r) => r.service))];
        out[row.id as CaId] = `${file.name} on ${file.nodes === "all" ? "every node" : "every master"}${row.id === "kubernetes-ca" ? " and in the kubeconfigs" : ""}; read by ${readers.join(", ")}`;
    }
    return out;
}

export interface CaPlan {
    /** The states the cluster goes through in this run, in order (one per phase; phased mode: one). */
    stages: CaGenerations[];
    /** Per stage, the phases it performs ("trust", "activate-retire", … or "steady"). */
    stageNames: string[];
    /** The plan in words, per stage. */
    text: string[];
    /** What this run leaves behind, for the stack output. */
    record: CaRecord;
}

/**
 * The stages of this run from the deployed record to the target. Phased: one stage, refused
 * (Error listing every problem) when a CA would skip a phase. One-shot: trust, activate, retire
 * as needed, chained, each stage checked as a phase of its own.
 */
export function planCaStages(record: unknown, target: CaGenerations, mode: CaRotationMode, bundles: Partial<Record<CaId, string>> = {}): CaPlan {
    const ids = Object.keys(target) as CaId[];
    const deployed = Object.fromEntries(ids.map((id) => [id, generationsFromRecord(record, id) ?? assumedDeployed(target[id]!)])) as CaGenerations;
    const perCa = Object.fromEntries(ids.map((id) => [id, mode === "oneShot" ? oneShotStates(deployed[id]!, target[id]!) : [target[id]!]])) as Record<CaId, CaGeneration[][]>;
    const count = Math.max(1, ...ids.map((id) => perCa[id].length));
    const stages = Array.from({ length: count }, (_, k) => Object.fromEntries(ids.map((id) => [id, perCa[id][Math.min(k, perCa[id].length - 1)]!])) as CaGenerations);

    const problems: string[] = [];
    const text: string[] = [];
    const stageNames: string[] = [];
    let previous = deployed;
    stages.forEach((stage, k) => {
        if (count > 1) text.push(`one-shot stage ${k + 1} of ${count}:`);
        const phases = new Set<string>();
        for (const id of ids) {
            // immediate mode takes the outage on purpose (an expired or compromised CA)
            if (mode !== "immediate") problems.push(...checkCaTransition(id, previous[id]!, stage[id]!).map((p) => (count > 1 ? `one-shot stage ${k + 1}: ${p}` : p)));
            text.push(...describeCaTransition(id, previous[id]!, stage[id]!, bundles[id] ?? "its trust files"));
            for (const phase of phasesOf(previous[id]!, stage[id]!)) phases.add(phase);
        }
        stageNames.push(phases.size > 0 ? [...phases].join("-") : "steady");
        previous = stage;
    });
    if (mode === "immediate" && stageNames[0] !== "steady") {
        text.push("IMMEDIATE mode: the CA changes in one rollout; components and clients that trust only the old CA fail from the first node on, until they have the new bundle");
    }
    if (problems.length > 0) throw new Error(`CA rotation refused, nothing was changed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    for (const id of ids) {
        const next = nextCaStep(id, target[id]!);
        if (next) text.push(next);
    }
    return { stages, stageNames, text, record: caRecordOf(target, record as CaRecord) };
}

/** One CA's states in a one-shot run: trust the new generation, activate it, then the target (retire). */
function oneShotStates(from: CaGeneration[], to: CaGeneration[]): CaGeneration[][] {
    const wasActive = activeOf(from);
    const active = activeOf(to);
    if (wasActive === undefined || active === undefined || wasActive === active) return [to];
    const bundle = [...new Set([...trustedOf(from), ...trustedOf(to)])];
    const trust = bundle.map((g): CaGeneration => ({ generation: g, state: g === wasActive ? "active" : "trusted" }));
    const activate = bundle.map((g): CaGeneration => ({ generation: g, state: g === active ? "active" : "trusted" }));
    const states: CaGeneration[][] = [];
    for (const s of [trust, activate, to]) {
        const last = states[states.length - 1] ?? from;
        if (!sameGenerations(last, s)) states.push(sorted(s));
    }
    return states.length > 0 ? states : [to];
}
