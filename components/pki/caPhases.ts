// Zero-downtime CA and service-account key rotation as pure functions: which phases (trust,
// activate, retire) lead from the generations the cluster has now (the last successful run's stack
// output `caGenerations`) to the configured ones, whether that order is safe, and what each phase
// does in words.
import { CatalogOptions, certificateCatalog } from "./catalog";
import { CA_CONFIG_NAME, CaGeneration, CaGenerations, CaGenerationState, CaRotationMode, PhasedId, SERVICE_ACCOUNT_ID } from "./settings";

/**
 * The stack output `caGenerations`: per CA and for the service-account key, generation → state,
 * as the last successful run left the cluster; the key's entry also holds `activatedAt` (ISO
 * time its active generation was activated), which its retire waits on.
 */
export type CaRecord = Partial<Record<PhasedId, Record<string, string>>>;

const ACTIVATED_AT = "activatedAt";

export const CA_LABELS: Record<PhasedId, string> = {
    "kubernetes-ca": "Kubernetes CA",
    "etcd-ca": "etcd CA",
    "front-proxy-ca": "front-proxy CA",
    [SERVICE_ACCOUNT_ID]: "service-account signing key",
};

/** When a service-account key generation may be retired: `afterHours` after its successor was activated. */
export interface RetireTiming {
    now: Date;
    afterHours: number;
}

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

/**
 * The record of a set of generations (the stack output), keeping generations retired earlier so
 * they cannot come back; the service-account key's entry keeps the time its active generation
 * was activated (`now` when this run activates it).
 */
export function caRecordOf(target: CaGenerations, deployed: CaRecord = {}, now?: Date): CaRecord {
    const out: CaRecord = {};
    for (const [id, gens] of Object.entries(target) as [PhasedId, CaGeneration[]][]) {
        const entry: Record<string, string> = {};
        for (const g of Object.keys(deployed[id] ?? {})) if (/^\d+$/.test(g)) entry[g] = "retired";
        for (const g of gens) entry[String(g.generation)] = g.state;
        if (id === SERVICE_ACCOUNT_ID) {
            const before = generationsFromRecord(deployed, id);
            const activated = before !== undefined && activeOf(before) !== activeOf(gens) ? now?.toISOString() : deployed[id]?.[ACTIVATED_AT];
            if (activated) entry[ACTIVATED_AT] = activated;
        }
        out[id] = entry;
    }
    return out;
}

/** Generations from a record; anything that is not a record of this shape counts as no record. */
export function generationsFromRecord(record: unknown, id: PhasedId): CaGeneration[] | undefined {
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

const configKey = (id: PhasedId): string => (id === SERVICE_ACCOUNT_ID ? "pki.serviceAccountKeyGenerations" : `pki.caGenerations.${CA_CONFIG_NAME[id]}`);

/** The words that differ between a CA and the service-account key in the checks' messages. */
function wordsOf(id: PhasedId) {
    return id === SERVICE_ACCOUNT_ID
        ? { thing: "service-account key", signs: "sign tokens", rejected: "the apiservers would reject the tokens it signs", installed: "the tokens in use" }
        : { thing: "CA", signs: "sign the leaves", rejected: "clients would reject certificates it signs", installed: "the installed certificates" };
}
const configValue = (gens: CaGeneration[]): string => `{ ${gens.filter((g) => g.state !== "retired").map((g) => `"${g.generation}": ${g.state}`).join(", ")} }`;

/**
 * Problems with moving one CA (or the service-account key) from `from` to `to` in one phase; []
 * when it is safe. `activatedAt`: when the key's active generation in `from` was activated
 * (undefined: long ago); `timing`: when its retire is allowed.
 */
export function checkCaTransition(id: PhasedId, from: CaGeneration[], to: CaGeneration[], timing?: RetireTiming, activatedAt?: Date): string[] {
    const key = configKey(id);
    const words = wordsOf(id);
    const problems: string[] = [];
    const actives = to.filter((g) => g.state === "active").map((g) => g.generation);
    if (actives.length === 0) return [`${key}: no active generation: retiring the only ${words.thing} is refused; exactly one generation must be active`];
    if (actives.length > 1) return [`${key}: generations ${list(actives)} are all active; exactly one may ${words.signs}`];
    const [active] = actives as [number];
    const wasActive = activeOf(from);
    const newest = Math.max(-1, ...from.map((g) => g.generation));
    for (const g of to) {
        const before = stateOf(from, g.generation);
        if (g.state !== "retired" && (before === "retired" || (before === undefined && g.generation <= newest))) {
            problems.push(`${key}: generation ${g.generation} was retired (or never deployed) and a ${words.thing} generation cannot come back; add a new one above ${newest}`);
        }
    }
    if (wasActive !== undefined && active !== wasActive) {
        if (stateOf(from, active) !== "trusted") {
            problems.push(
                `${key}: activating generation ${active} before it is trusted everywhere is refused (${words.rejected}): ` +
                    `first run up with ${configValue([{ generation: wasActive, state: "active" }, { generation: active, state: "trusted" }])} (trust phase), or set pki.caRotation: oneShot`,
            );
        }
        const keeps = stateOf(to, wasActive);
        if (keeps === undefined || keeps === "retired") {
            problems.push(
                `${key}: generation ${wasActive} signs ${words.installed} and cannot be retired in the up that activates ${active}: ` +
                    `keep it trusted (${configValue([{ generation: wasActive, state: "trusted" }, { generation: active, state: "active" }])}) and retire it in the next up`,
            );
        }
    }
    const retired = caMove(from, to).removed;
    if (id === SERVICE_ACCOUNT_ID && timing && activatedAt && retired.length > 0 && wasActive === active) {
        const allowed = new Date(activatedAt.getTime() + timing.afterHours * 3_600_000);
        if (timing.now < allowed) {
            problems.push(
                `${key}: retiring generation ${list(retired)} is refused until ${allowed.toISOString()}, ${timing.afterHours} h after generation ${active} was activated ` +
                    `(${activatedAt.toISOString()}): tokens it signed may not have been re-issued yet (kubelets renew projected tokens within 24 h); ` +
                    `set pki.serviceAccountRetireAfterHours: 0 to retire now, refusing every token not re-issued`,
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

/** What moving one CA (or the service-account key) from `from` to `to` does, in words; `bundle` says where its trust bundle lives. */
export function describeCaTransition(id: PhasedId, from: CaGeneration[], to: CaGeneration[], bundle: string): string[] {
    if (id === SERVICE_ACCOUNT_ID) return describeKeyTransition(from, to, bundle);
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

/** The service-account key's phases in words. */
function describeKeyTransition(from: CaGeneration[], to: CaGeneration[], bundle: string): string[] {
    const label = CA_LABELS[SERVICE_ACCOUNT_ID];
    const { before, after, active, added, removed, activates } = caMove(from, to);
    const lines: string[] = [];
    if (added.length > 0) {
        lines.push(`${label}: TRUST generation ${list(added)}: its public key verifies tokens next to generation ${list(before) || "(none)"} (${bundle}); it signs nothing yet; the apiservers restart in rollout order`);
    }
    if (activates) {
        lines.push(
            `${label}: ACTIVATE generation ${active}: the apiservers sign new tokens with it and the controller-manager legacy token secrets; ` +
                `tokens signed by generation ${list(after.filter((g) => g !== active))} keep verifying until it is retired`,
        );
    }
    if (removed.length > 0) lines.push(`${label}: RETIRE generation ${list(removed)}: its public key is removed (${bundle}) and every token it signed is refused`);
    if (lines.length === 0) lines.push(`${label}: no change (generation ${active} active${after.length > 1 ? `, ${list(after.slice(1))} verifying` : ""})`);
    return lines;
}

/** What to do next, once this run succeeds. */
export function nextCaStep(id: PhasedId, now: CaGeneration[], timing?: RetireTiming): string | undefined {
    const active = activeOf(now)!;
    const older = now.filter((g) => g.state === "trusted" && g.generation < active).map((g) => g.generation);
    const newer = now.filter((g) => g.state === "trusted" && g.generation > active).map((g) => g.generation);
    const key = configKey(id);
    if (newer.length > 0) {
        const next = Math.max(...newer);
        return `${CA_LABELS[id]}: next, activate generation ${next}: ${key} = ${configValue(now.map((g) => (g.generation === next ? { ...g, state: "active" } : g.generation === active ? { ...g, state: "trusted" } : g)))}`;
    }
    if (older.length > 0) {
        const when =
            id === SERVICE_ACCOUNT_ID
                ? `${timing?.afterHours ?? 24} h after this activation, once every token it signed has been re-issued`
                : "once every client outside the cluster has the new CA bundle";
        return `${CA_LABELS[id]}: next, ${when}, retire generation ${list(older)}: ${key} = ${configValue(now.filter((g) => g.generation === active || g.state !== "trusted"))}`;
    }
    return undefined;
}

/** Where each CA's trust bundle (and the service-account key's public keys) live and who reads them, from the catalog, for the plan text. */
export function trustBundleFiles(catalog: CatalogOptions): Partial<Record<PhasedId, string>> {
    const out: Partial<Record<PhasedId, string>> = {};
    for (const row of certificateCatalog(catalog).filter((r) => r.kind === "ca" || r.kind === "keyPair")) {
        const file = row.files.find((f) => f.content === "cert" || f.content === "publicKey")!;
        const readers = [...new Set(file.readers.map((r) => r.service))];
        out[row.id as PhasedId] = `${file.name} on ${file.nodes === "all" ? "every node" : "every master"}${row.id === "kubernetes-ca" ? " and in the kubeconfigs" : ""}; read by ${readers.join(", ")}`;
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

/** When the record says the service-account key's active generation was activated. */
function activationOf(record: unknown): Date | undefined {
    const text = (record as CaRecord | undefined)?.[SERVICE_ACCOUNT_ID]?.[ACTIVATED_AT];
    const time = typeof text === "string" ? new Date(text) : undefined;
    return time && !Number.isNaN(time.getTime()) ? time : undefined;
}

/**
 * The stages of this run from the deployed record to the target. Phased: one stage, refused
 * (Error listing every problem) when a CA or the key would skip a phase, or the key's retire
 * comes before `timing` allows. One-shot: trust, activate, retire as needed, chained, each stage
 * checked as a phase of its own.
 */
export function planCaStages(record: unknown, target: CaGenerations, mode: CaRotationMode, bundles: Partial<Record<PhasedId, string>> = {}, timing?: RetireTiming): CaPlan {
    const ids = Object.keys(target) as PhasedId[];
    const deployed = Object.fromEntries(ids.map((id) => [id, generationsFromRecord(record, id) ?? assumedDeployed(target[id]!)])) as CaGenerations;
    const perCa = Object.fromEntries(ids.map((id) => [id, mode === "oneShot" ? oneShotStates(deployed[id]!, target[id]!) : [target[id]!]])) as Record<PhasedId, CaGeneration[][]>;
    const count = Math.max(1, ...ids.map((id) => perCa[id].length));
    const stages = Array.from({ length: count }, (_, k) => Object.fromEntries(ids.map((id) => [id, perCa[id][Math.min(k, perCa[id].length - 1)]!])) as CaGenerations);

    const problems: string[] = [];
    const text: string[] = [];
    const stageNames: string[] = [];
    let previous = deployed;
    let keyActivatedAt = activationOf(record);
    stages.forEach((stage, k) => {
        if (count > 1) text.push(`one-shot stage ${k + 1} of ${count}:`);
        const phases = new Set<string>();
        for (const id of ids) {
            // immediate mode takes the outage on purpose (an expired or compromised CA)
            if (mode !== "immediate") {
                const found = checkCaTransition(id, previous[id]!, stage[id]!, timing, id === SERVICE_ACCOUNT_ID ? keyActivatedAt : undefined);
                problems.push(...found.map((p) => (count > 1 ? `one-shot stage ${k + 1}: ${p}` : p)));
            }
            text.push(...describeCaTransition(id, previous[id]!, stage[id]!, bundles[id] ?? "its trust files"));
            const moved = phasesOf(previous[id]!, stage[id]!);
            if (id === SERVICE_ACCOUNT_ID && moved.includes("activate") && timing) keyActivatedAt = timing.now;
            for (const phase of moved) phases.add(phase);
        }
        stageNames.push(phases.size > 0 ? [...phases].join("-") : "steady");
        previous = stage;
    });
    if (mode === "immediate" && stageNames[0] !== "steady") {
        text.push("IMMEDIATE mode: the CA changes in one rollout; components and clients that trust only the old CA fail from the first node on, until they have the new bundle");
    }
    if (problems.length > 0) throw new Error(`CA and key rotation refused, nothing was changed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    for (const id of ids) {
        const next = nextCaStep(id, target[id]!, timing);
        if (next) text.push(next);
    }
    return { stages, stageNames, text, record: caRecordOf(target, record as CaRecord, timing?.now) };
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
