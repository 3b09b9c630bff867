// What the nodes hold, read before the rollout is planned (with the expiry report's read-only
// script, report/), for two things the state alone cannot say:
// - drift: certificate and public-key files (sa.pub) that are not what the last successful run
//   installed (another certificate or public key, a missing file, a key that does not match it),
//   e.g. a master rebuilt from an old certificateProfile or a file changed by hand. The remote
//   steps' inputs do not change for that, so on its own Pulumi would plan nothing. Each step that
//   installs a drifted file gets a repair mark one above the last run's; the mark is part of the
//   step's digest, so the preview plans exactly that step, and the marks are a stack output
//   (recorded once every step succeeded) that the next run starts from: once the files are back,
//   nothing is planned again and no remote command runs.
// - expiry on the nodes: certificates there that expire within pki.warnDays, also before the
//   first up (a cluster taken over), when the state holds none of them yet.
import * as pulumi from "@pulumi/pulumi";
import { SshAccess, SshEndpoint } from "../../discovery/sshAccess";
import { classifyFile, State } from "../../report/classify";
import { collect, FileReading } from "../../report/collect";
import { stateTargets, Target } from "../../report/targets";
import type { NodeFilesOutput } from "../pki/stackOutputs";
import { certificateBlocks, certificateFingerprint, publicKeyBlocks, publicKeyPemFingerprint } from "../pki/x509";
import type { RolloutStep } from "./plan";

/** The states of a file the state puts on a node that a step repairs by installing it again. */
const REPAIRED_STATES: readonly State[] = ["drifted", "missing", "key-mismatch", "unreadable"];

export interface DriftedFile {
    node: string;
    /** The file, and the key file that belongs to it when the key is what is wrong. */
    paths: string[];
    /** What is wrong, in words. */
    problems: string[];
    /** The fingerprints of the certificates the node holds in it (a public-key file: of its public keys, as fingerprintsIn gives them). */
    observed: string[];
    /** Only its content differs from the record: its certificates or public keys (present, readable, the key matching). */
    contentOnly: boolean;
}

export interface ExpiringFile {
    node: string;
    path: string;
    subject: string;
    notAfter: string;
    daysLeft: number;
}

export interface DriftReading {
    /** Files that are not what the last run installed; none without a record. */
    drifted: DriftedFile[];
    /** Certificates on the nodes less than warnDays from their notAfter (expired ones too), soonest first. */
    expiring: ExpiringFile[];
    /** Nodes that could not be read: their drift is unknown. */
    unread: { node: string; error: string }[];
}

export interface DriftCheckInput {
    nodes: { name: string; ip: string; hostKey: string }[];
    /** The last run's nodeFiles output (what each node holds since); unset before the first up. */
    recorded?: NodeFilesOutput;
    /** A node's files when the record does not list it: the catalog's (report/targets.ts). */
    catalogTargets: (node: string) => Target[];
    warnDays: number;
    user: string;
    sshPrivateKey: string;
    jumpbox?: SshEndpoint;
    now: Date;
}

/**
 * One node's files read against its targets (pure): the files a step repairs (drifted, missing,
 * unreadable, a key that does not match: certificate and public-key files alike) and its
 * certificates less than warnDays from their notAfter.
 */
export function nodeDrift(node: string, targets: Target[], files: FileReading[], now: Date, warnDays: number): Pick<DriftReading, "drifted" | "expiring"> {
    const out: Pick<DriftReading, "drifted" | "expiring"> = { drifted: [], expiring: [] };
    targets.forEach((target, j) => {
        const file = classifyFile(target, files[j]!, now, warnDays);
        for (const c of file.certificates.filter((c) => c.state !== "ok")) out.expiring.push({ node, path: file.path, subject: c.subject, notAfter: c.notAfter, daysLeft: c.daysLeft });
        if (!file.states.some((s) => REPAIRED_STATES.includes(s))) return;
        const paths = [file.path, ...(file.states.includes("key-mismatch") && target.key && target.key !== file.path ? [target.key] : [])];
        const contentOnly = file.states.every((s) => !REPAIRED_STATES.includes(s) || s === "drifted");
        const observed = file.kind === "publicKeys" ? file.publicKeys : file.certificates.map((c) => c.sha256);
        out.drifted.push({ node, paths, problems: file.problems, observed, contentOnly });
    });
    return out;
}

/** Reads every node (in parallel, read-only): the files that drifted and the certificates that expire soon. */
export async function readDrift(input: DriftCheckInput): Promise<DriftReading> {
    const nodes = input.nodes.map((n) => ({ ...n, targets: input.recorded?.[n.name] ? stateTargets(input.recorded[n.name]!) : input.catalogTargets(n.name) }));
    const ssh = new SshAccess({ user: input.user, privateKey: input.sshPrivateKey, ...(input.jumpbox ? { jumpbox: input.jumpbox } : {}) });
    try {
        const readings = await collect(ssh, nodes, 16);
        const reading: DriftReading = { drifted: [], expiring: [], unread: [] };
        readings.forEach((read, i) => {
            const node = nodes[i]!;
            if (read.error !== undefined) {
                reading.unread.push({ node: node.name, error: read.error });
                return;
            }
            const found = nodeDrift(node.name, node.targets, read.files, input.now, input.warnDays);
            reading.drifted.push(...found.drifted);
            reading.expiring.push(...found.expiring);
        });
        reading.expiring.sort((a, b) => a.notAfter.localeCompare(b.notAfter));
        return reading;
    } finally {
        ssh.close();
    }
}

/** Per step id ("<kind>/<node>"), how many repairs of it were planned; a step without drift ever has none. */
export type RepairMarks = Record<string, number>;

/** The repairMarks output of the last run; anything else (no output yet, another shape) is no marks. */
export function recordedRepairMarks(value: unknown): RepairMarks {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter((e): e is [string, number] => Number.isInteger(e[1]) && (e[1] as number) > 0));
}

export interface RepairPlan {
    /** The recorded marks of this run's steps (those of steps that are gone dropped). */
    kept: RepairMarks;
    /** The steps that repair drifted files if the drift is confirmed (confirmRepairs), with the files they put back. */
    repairs: { step: string; files: DriftedFile[] }[];
    /** Drifted files no step installs (the node no longer receives them): reported, not repaired. */
    orphans: DriftedFile[];
}

/** Which steps would repair the drifted files: on the file's node, the step that installs it. */
export function planRepairs(steps: RolloutStep[], drifted: DriftedFile[], recorded: RepairMarks): RepairPlan {
    const repairs = new Map<string, DriftedFile[]>();
    const orphans: DriftedFile[] = [];
    for (const file of drifted) {
        const installers = steps.filter((s) => s.node === file.node && s.installs.some((i) => file.paths.includes(i.path)));
        if (installers.length === 0) orphans.push(file);
        for (const step of installers) repairs.set(step.id, [...(repairs.get(step.id) ?? []), file]);
    }
    const kept = Object.fromEntries(steps.filter((s) => recorded[s.id]).map((s) => [s.id, recorded[s.id]!]));
    return { kept, repairs: [...repairs].map(([step, files]) => ({ step, files })), orphans };
}

/**
 * The certificates a file's content holds (a kubeconfig's: its client certificate), as fingerprints
 * (AB:CD:…); a content without a certificate, its public keys (sa.pub), as the hex SHA-256 of each
 * DER SubjectPublicKeyInfo: what the record and the read say of each kind of file.
 */
export function fingerprintsIn(content: string): string[] {
    const embedded = /client-certificate-data"?\s*:\s*"?([A-Za-z0-9+/=]+)/.exec(content)?.[1];
    const pem = certificateBlocks(content).length > 0 || !embedded ? content : Buffer.from(embedded, "base64").toString("utf8");
    const certificates = certificateBlocks(pem);
    return certificates.length > 0 ? certificates.map(certificateFingerprint) : publicKeyBlocks(pem).map(publicKeyPemFingerprint);
}

export interface ConfirmedRepairs {
    /** This run's marks: the kept ones, one higher for each step that repairs a drifted file. */
    marks: RepairMarks;
    /** The repairs that run. */
    repairs: RepairPlan["repairs"];
}

/**
 * The repairs that are drift: a file whose only difference from the record is its certificates (or
 * a public-key file's public keys), and whose certificates or public keys are those this run
 * installs there (`desired`, the file's content), is not: a run that failed after its step had
 * changed the node left it so, and that step's inputs are this run's already, so it does not run
 * again. Anything else wrong with a file (missing, unreadable, a key that does not match) is drift.
 */
export function confirmRepairs(plan: RepairPlan, desired: (node: string, path: string) => pulumi.Output<string> | undefined): pulumi.Output<ConfirmedRepairs> {
    const isDrift = (file: DriftedFile): pulumi.Output<boolean> => {
        const content = file.contentOnly ? desired(file.node, file.paths[0]!) : undefined;
        if (!content) return pulumi.output(true);
        return content.apply((text) => fingerprintsIn(text).join(",") !== file.observed.join(","));
    };
    const confirmed = plan.repairs.map((r) => pulumi.all(r.files.map(isDrift)).apply((drift) => ({ step: r.step, files: r.files.filter((_, i) => drift[i]) })));
    return pulumi.all(confirmed).apply((list) => {
        const repairs = list.filter((r) => r.files.length > 0);
        const marks: RepairMarks = { ...plan.kept };
        for (const r of repairs) marks[r.step] = (marks[r.step] ?? 0) + 1;
        return { marks, repairs };
    });
}

/** Drift and its repairs in words, for the preview. */
export function describeDrift(reading: DriftReading, plan: RepairPlan, confirmed: ConfirmedRepairs): string[] {
    const kept = plan.repairs.flatMap((r) => r.files).filter((f) => !confirmed.repairs.some((c) => c.files.includes(f)) && !plan.orphans.includes(f));
    return [
        ...confirmed.repairs.map((r) => `${r.step} runs to put back ${r.files.flatMap((f) => f.paths).join(", ")}: ${r.files.flatMap((f) => f.problems).join("; ")}`),
        ...kept.map((f) => `${f.node}: ${f.paths[0]} is not what the last successful run installed, but what this run installs there (a run that failed after changing it): no repair`),
        ...plan.orphans.map((f) => `${f.node}: ${f.paths.join(", ")} drifted, but this run installs it nowhere: ${f.problems.join("; ")}`),
        ...reading.unread.map((u) => `${u.node}: drift not checked, the node could not be read: ${u.error}`),
    ];
}

/** The certificates on the nodes that expire within warnDays, in words (none: no lines). */
export function describeExpiring(reading: DriftReading, warnDays: number): string[] {
    if (reading.expiring.length === 0) return [];
    return [
        `on the nodes now, certificates expiring within pki.warnDays (${warnDays} days), soonest first (a step of this run that installs the file replaces it):`,
        ...reading.expiring.map((e) => `  - ${e.node} ${e.path} (${e.subject}): notAfter ${e.notAfter}, daysLeft ${e.daysLeft}${e.daysLeft < 0 ? " (expired)" : ""}`),
    ];
}
