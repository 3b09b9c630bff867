// The expiry report printed, pure: a table (default) or the JSON of schema version 1 (--json).
import { DATE_STATES, FileEntry, Report, State, STATES, worst } from "./classify";

/** One line of the table: a certificate in a file, a public-key file, or a file or node without either. */
export interface TableRow {
    node: string;
    file: string;
    /** A certificate's subject; a public-key file's "N public keys" and whether they are the state's. */
    subject: string;
    /** ISO-8601; "" when there is no certificate. */
    notBefore: string;
    /** ISO-8601; "" when there is no certificate. */
    notAfter: string;
    daysLeft: number | null;
    state: State | "unreachable";
    /** A public-key file (sa.pub) that holds some: how many (they do not expire); null for every other row. */
    publicKeys: number | null;
}

/** A certificate's row state: its own by date, with its file's problems (a drift, a key) over it. */
function rowState(file: FileEntry, certState: State): State {
    return worst([...file.states.filter((s) => !DATE_STATES.includes(s)), certState]);
}

/** A public-key file's subject cell: how many keys, and whether they are the state's. */
function publicKeysSubject(f: FileEntry): string {
    const n = f.publicKeys.length;
    const state = f.matchesState === true ? ", as the state says" : f.matchesState === false ? ", not the state's" : "";
    return `${n} public key${n === 1 ? "" : "s"}${state}`;
}

/** Where a row sorts: no date (a node not read, a missing or unreadable file) first, then dated ones, then public-key files (no expiry). */
const rowRank = (r: TableRow) => (r.publicKeys !== null ? 2 : r.notAfter === "" ? 0 : 1);

/**
 * The table's rows, soonest expiry first: rows without a date (unreachable nodes, missing or
 * unreadable files) before every dated one, then by notAfter, node and file; public-key files that
 * hold keys (sa.pub: one row each, no expiry) last. Absent files (the kubelet's own ones, not on
 * this node) are left out.
 */
export function tableRows(report: Report): TableRow[] {
    const rows: TableRow[] = [];
    const undated = { notBefore: "", notAfter: "", daysLeft: null, publicKeys: null };
    for (const n of report.nodes) {
        if (!n.reachable) rows.push({ node: n.name, file: "(not read)", subject: "", ...undated, state: "unreachable" });
        for (const f of n.files) {
            if (f.state === "absent") continue;
            if (f.kind === "publicKeys" && f.publicKeys.length > 0) rows.push({ node: n.name, file: f.path, subject: publicKeysSubject(f), ...undated, state: f.state, publicKeys: f.publicKeys.length });
            else if (f.certificates.length === 0) rows.push({ node: n.name, file: f.path, subject: "", ...undated, state: f.state });
            for (const c of f.certificates) {
                const file = f.certificates.length > 1 ? `${f.path} [${c.index + 1}/${f.certificates.length}]` : f.path;
                rows.push({ node: n.name, file, subject: c.subject, notBefore: c.notBefore, notAfter: c.notAfter, daysLeft: c.daysLeft, state: rowState(f, c.state), publicKeys: null });
            }
        }
    }
    return rows.sort((a, b) => rowRank(a) - rowRank(b) || a.notAfter.localeCompare(b.notAfter) || a.node.localeCompare(b.node) || a.file.localeCompare(b.file));
}

/** The report's title line: the stack, the report's time and the warning window. */
export function reportTitle(report: Report): string {
    return `Certificates of stack ${report.stack} on its nodes, ${report.generatedAt} (due: less than ${report.warnDays} days left)`;
}

/** The problems in words, one line each: a node not read, every problem of a file. */
export function problemLines(report: Report): string[] {
    return report.nodes.flatMap((n) => [
        ...(n.error ? [`${n.name}: not read: ${n.error}`] : []),
        ...n.files.filter((f) => f.problems.length > 0).flatMap((f) => f.problems.map((p) => `${n.name} ${f.path}: ${p}`)),
    ]);
}

/** The notes: nodes not compared with the state, and the files not there that the program does not write. */
export function noteLines(report: Report): string[] {
    const notes: string[] = [];
    const notCompared = report.nodes.filter((n) => n.reachable && !n.stateCompared).map((n) => n.name);
    if (notCompared.length > 0) {
        notes.push(`Not compared with the state (the stack has no nodeFiles output for them: run pulumi up once with this version): ${notCompared.join(", ")}`);
    }
    const absent = new Map<string, number>();
    for (const f of report.nodes.flatMap((n) => n.files)) if (f.state === "absent") absent.set(f.path, (absent.get(f.path) ?? 0) + 1);
    if (absent.size > 0) notes.push(`Not on the nodes (the program does not write them; not a problem): ${[...absent].map(([p, k]) => `${p} (${k})`).join(", ")}`);
    return notes;
}

/** The summary: what was read and in which states, the soonest expiry, the status and exit code. */
export function summaryLines(report: Report): string[] {
    const s = report.summary;
    const counts = STATES.filter((st) => st !== "absent" && s.filesByState[st] > 0).map((st) => `${s.filesByState[st]} ${st}`);
    return [
        `${s.nodes} nodes${s.unreachableNodes.length > 0 ? ` (${s.unreachableNodes.length} not read: ${s.unreachableNodes.join(", ")})` : ""}, ` +
            `${s.files - s.filesByState.absent} files, ${s.certificates} certificates; files: ${counts.join(", ") || "none"}`,
        ...(s.soonest ? [`soonest: ${s.soonest.path} on ${s.soonest.node} (${s.soonest.subject}), ${s.soonest.notAfter}, ${s.soonest.daysLeft} days left`] : []),
        `${s.status} (exit ${s.exitCode})`,
    ];
}

/** A table row's NOT AFTER and DAYS LEFT cells: to the minute, "-" without a certificate. */
export const notAfterCell = (row: TableRow): string => (row.notAfter ? `${row.notAfter.slice(0, 16)}Z` : "-");
export const daysLeftCell = (row: TableRow): string => (row.daysLeft === null ? "-" : String(row.daysLeft));

const HEADERS = ["NODE", "FILE", "SUBJECT", "NOT AFTER", "DAYS LEFT", "STATE"];

/** The report as a table with the problems and a summary under it. */
export function renderTable(report: Report): string {
    const cells = tableRows(report).map((r) => [r.node, r.file, r.subject || "-", notAfterCell(r), daysLeftCell(r), r.state]);
    const widths = HEADERS.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
    const line = (c: string[]) => c.map((x, i) => (i === 4 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join("  ").trimEnd();
    const out = [reportTitle(report), "", line(HEADERS), ...cells.map(line)];
    const problems = problemLines(report);
    if (problems.length > 0) out.push("", "Problems:", ...problems.map((p) => `  ${p}`));
    for (const note of noteLines(report)) out.push("", note);
    out.push("", ...summaryLines(report));
    return `${out.join("\n")}\n`;
}

/** The report as JSON, schema version 1 (README, "Expiry report"). */
export function renderJson(report: Report): string {
    return `${JSON.stringify(report, null, 2)}\n`;
}
