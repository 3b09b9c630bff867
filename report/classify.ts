// The expiry report's judgement, pure: what was read on each node (collect.ts) against what the
// stack's state says (targets.ts) and the clock, into the report the renderers print, with one
// state per file and certificate and the exit code.
import { X509Certificate } from "crypto";
import { certificateFacts } from "../components/pki/x509";
import type { FileReading, NodeReading } from "./collect";
import type { Target } from "./targets";

const DAY_MS = 86_400_000;

/**
 * ok: present, valid for warnDays or more, as the state says, its key matching.
 * due: less than warnDays left. expired: past its notAfter.
 * drifted: another certificate than the state's (fingerprints differ, in content or order); of a
 * public-key file (sa.pub), other public keys than the state's.
 * missing: a file the state or the catalog puts on the node is not there.
 * key-mismatch: the private key beside it is another key's, or missing, or not a key.
 * unreadable: there, but no certificate could be read from it (a dangling link, no PEM, a
 * kubeconfig whose certificate file is gone); a public-key file: no public key, or a block that is
 * not one.
 * A public-key file has no expiry and no key beside it: ok, drifted, missing or unreadable.
 * absent: a file the program does not write (the kubelet's own) is not there: not a problem.
 */
export const STATES = ["missing", "unreadable", "expired", "key-mismatch", "drifted", "due", "ok", "absent"] as const;
export type State = (typeof STATES)[number];

/** States that make the run exit 2; "due" makes it exit 1. */
export const FAILING: readonly State[] = ["missing", "unreadable", "expired", "key-mismatch", "drifted"];

/** The states a certificate has by its dates alone; the others belong to its file. */
export const DATE_STATES: readonly State[] = ["expired", "due", "ok"];

/** The most severe of some states, in STATES order. */
export const worst = (states: State[]): State => STATES.find((s) => states.includes(s)) ?? "ok";

export interface CertificateEntry {
    /** Position in the file (0: the first; a bundle or chain has more). */
    index: number;
    subject: string;
    issuer: string;
    dnsNames: string[];
    ipAddresses: string[];
    serialNumber: string;
    notBefore: string;
    notAfter: string;
    /** Whole days from the report's time to notAfter (negative once expired). */
    daysLeft: number;
    /** SHA-256 of the DER, AB:CD:… (openssl x509 -fingerprint -sha256). */
    sha256: string;
    /** SHA-256 of the DER SubjectPublicKeyInfo, hex: the same as the key's hash when they match. */
    publicKeySha256: string;
    /** By its dates alone. */
    state: "ok" | "due" | "expired";
}

export interface KeyEntry {
    /** The key file; null for a kubeconfig's key (embedded or a file it names) and where the node holds no key for it. */
    path: string | null;
    /** match / mismatch: the key's public half against the first certificate's; none: no key on this node for it. */
    status: "match" | "mismatch" | "missing" | "unreadable" | "none";
}

export interface FileEntry {
    path: string;
    kind: "certificate" | "kubeconfig" | "publicKeys";
    /** The state (or, without a nodeFiles output, the catalog) puts it on this node. */
    expected: boolean;
    /** The certificate instance the program writes it from; null for files it does not write. */
    source: string | null;
    present: boolean;
    /** Where a symbolic link points. */
    link: string | null;
    mode: string | null;
    /** A kubeconfig: "embedded", or the file its client certificate is in. */
    certificateFrom: string | null;
    key: KeyEntry;
    /** What the state says the file holds (fingerprints, in order); null: the state says nothing about it. */
    stateSha256: string[] | null;
    /** Whether it holds exactly those; null when there is nothing to compare. */
    matchesState: boolean | null;
    certificates: CertificateEntry[];
    /** A public-key file (sa.pub): the SHA-256 (hex, of the DER SubjectPublicKeyInfo) of each key in it, in order; [] for the others. */
    publicKeys: string[];
    /** The most severe of `states`. */
    state: State;
    /** Every state that applies: its own (missing, unreadable, key-mismatch, drifted, absent) and its certificates' (due, expired); ok when none. */
    states: State[];
    /** Why, in words: one line per problem. */
    problems: string[];
}

export interface NodeEntry {
    name: string;
    role: "master" | "agent";
    ip: string;
    reachable: boolean;
    /** Why it could not be read. */
    error: string | null;
    /** Whether the state said what this node's files hold (the nodeFiles output has the node); false: its drift was not checked. */
    stateCompared: boolean;
    files: FileEntry[];
}

export interface Summary {
    exitCode: 0 | 1 | 2;
    status: "healthy" | "due" | "failing";
    nodes: number;
    unreachableNodes: string[];
    files: number;
    certificates: number;
    /** Files per state. */
    filesByState: Record<State, number>;
    /** Whether the state said what every node's files hold (the stack's nodeFiles output); false: drift was not checked everywhere. */
    stateCompared: boolean;
    /** The certificate that expires first, over every node. */
    soonest: { node: string; path: string; subject: string; notAfter: string; daysLeft: number } | null;
}

export interface Report {
    schemaVersion: 1;
    generatedAt: string;
    stack: string;
    warnDays: number;
    nodes: NodeEntry[];
    summary: Summary;
}

/**
 * When a certificate falls due: warnDays before its notAfter. Past it, fewer than warnDays whole
 * days are left (warnDays is a whole number), which is what "due" means.
 */
export function dueDate(notAfter: Date, warnDays: number): Date {
    return new Date(notAfter.getTime() - warnDays * DAY_MS);
}

/** The facts of one certificate read from a node, and its state by date. */
export function describeCertificate(pem: string, index: number, now: Date, warnDays: number): CertificateEntry {
    const f = certificateFacts(pem);
    const daysLeft = Math.floor((f.notAfter.getTime() - now.getTime()) / DAY_MS);
    return {
        index,
        subject: f.subject,
        issuer: f.issuer,
        dnsNames: f.dnsNames,
        ipAddresses: f.ipAddresses,
        serialNumber: f.serialNumber,
        notBefore: f.notBefore.toISOString(),
        notAfter: f.notAfter.toISOString(),
        daysLeft,
        sha256: new X509Certificate(pem).fingerprint256,
        publicKeySha256: f.publicKeyFingerprint,
        state: f.notAfter.getTime() <= now.getTime() ? "expired" : now.getTime() > dueDate(f.notAfter, warnDays).getTime() ? "due" : "ok",
    };
}

const short = (fingerprint: string) => `${fingerprint.slice(0, 23)}…`;
/** A public key's hex SHA-256 cut to the same 8 bytes. */
const shortKey = (sha256: string) => `${sha256.slice(0, 16)}…`;

/** One file: its reading against its target. */
export function classifyFile(target: Target, reading: FileReading, now: Date, warnDays: number): FileEntry {
    const problems: string[] = [];
    const states: State[] = [];
    const certificates: CertificateEntry[] = [];
    reading.certificates.forEach((pem, i) => {
        try {
            certificates.push(describeCertificate(pem, i, now, warnDays));
        } catch (e) {
            problems.push(`certificate ${i + 1} does not parse: ${(e as Error).message}`);
            states.push("unreadable");
        }
    });
    const publicKeys = target.kind === "publicKeys" ? (reading.publicKeys ?? []) : [];
    const present = reading.status === "present";
    let key: KeyEntry = { path: null, status: "none" };
    let matchesState: boolean | null = null;

    if (reading.status === "missing") {
        states.push(target.expected ? "missing" : "absent");
        if (target.expected) problems.push(target.source ? `missing: the state puts ${target.source} here` : "missing");
    } else if (reading.status === "unreadable") {
        states.push("unreadable");
        problems.push(...reading.problems);
    } else {
        problems.push(...reading.problems);
        if (reading.problems.length > 0) states.push("unreadable");
        if (target.kind === "publicKeys") {
            if (publicKeys.length === 0 && reading.problems.length === 0) {
                states.push("unreadable");
                problems.push("no public key in the file");
            }
        } else if (certificates.length === 0 && reading.problems.length === 0) {
            states.push("unreadable");
            problems.push(target.kind === "kubeconfig" ? "no client certificate in the kubeconfig" : "no certificate in the file");
        }
        // the key: the kubeconfig's own, or the file beside the certificate
        const first = certificates[0];
        const k = reading.key;
        if (k.status === "hash") {
            key = { path: target.kind === "kubeconfig" ? null : (target.key ?? null), status: first && k.sha256 === first.publicKeySha256 ? "match" : "mismatch" };
            if (first && key.status === "mismatch") problems.push(`the private key ${key.path ?? "it embeds"} is not the key of its certificate (${first.subject})`);
        } else if (k.status === "missing" || k.status === "unreadable") {
            key = { path: k.path, status: k.status };
            problems.push(k.status === "missing" ? `its private key ${k.path} is missing` : `its private key ${k.path} is not a readable key`);
        }
        if (key.status === "mismatch" || key.status === "missing" || key.status === "unreadable") states.push("key-mismatch");
        // the state's fingerprints
        if (target.stateSha256) {
            const actual = target.kind === "publicKeys" ? publicKeys : certificates.map((c) => c.sha256);
            matchesState = actual.length === target.stateSha256.length && actual.every((f, i) => f === target.stateSha256![i]);
            if (!matchesState && target.kind === "publicKeys") {
                states.push("drifted");
                problems.push(`holds ${actual.length > 0 ? `public keys ${actual.map(shortKey).join(", ")}` : "no public key"}; the state says ${target.stateSha256.map(shortKey).join(", ")} (${target.source})`);
            } else if (!matchesState) {
                states.push("drifted");
                problems.push(`holds ${actual.map(short).join(", ") || "no certificate"}; the state says ${target.stateSha256.map(short).join(", ")} (${target.source})`);
            }
        }
    }
    for (const c of certificates) {
        if (c.state !== "ok") states.push(c.state);
        if (c.state === "expired") problems.push(`${c.subject} expired ${c.notAfter}`);
    }
    return {
        path: target.path,
        kind: target.kind,
        expected: target.expected,
        source: target.source ?? null,
        present,
        link: reading.link ?? null,
        mode: reading.mode ?? null,
        certificateFrom: reading.from ?? null,
        key,
        stateSha256: target.stateSha256 ?? null,
        matchesState,
        certificates,
        publicKeys,
        state: worst(states),
        states: STATES.filter((s) => states.includes(s) || (s === "ok" && states.length === 0)),
        problems,
    };
}

export interface ClassifyInput {
    stack: string;
    warnDays: number;
    now: Date;
    nodes: { name: string; role: "master" | "agent"; ip: string; targets: Target[]; reading: NodeReading }[];
}

/** The whole report: every node's files classified, the summary and the exit code. */
export function classify(input: ClassifyInput): Report {
    const nodes: NodeEntry[] = input.nodes.map((n) => ({
        name: n.name,
        role: n.role,
        ip: n.ip,
        reachable: n.reading.error === undefined,
        error: n.reading.error ?? null,
        stateCompared: n.targets.some((t) => t.stateSha256 !== undefined),
        files: n.reading.error === undefined ? n.targets.map((t, i) => classifyFile(t, n.reading.files[i]!, input.now, input.warnDays)) : [],
    }));
    const files = nodes.flatMap((n) => n.files);
    const byState = Object.fromEntries(STATES.map((s) => [s, files.filter((f) => f.state === s).length])) as Record<State, number>;
    const unreachable = nodes.filter((n) => !n.reachable).map((n) => n.name);
    const exitCode: Summary["exitCode"] = unreachable.length > 0 || FAILING.some((s) => byState[s] > 0) ? 2 : byState.due > 0 ? 1 : 0;
    const all = nodes.flatMap((n) => n.files.flatMap((f) => f.certificates.map((c) => ({ node: n.name, path: f.path, c }))));
    const first = all.sort((a, b) => a.c.notAfter.localeCompare(b.c.notAfter))[0];
    return {
        schemaVersion: 1,
        generatedAt: input.now.toISOString(),
        stack: input.stack,
        warnDays: input.warnDays,
        nodes,
        summary: {
            exitCode,
            status: exitCode === 2 ? "failing" : exitCode === 1 ? "due" : "healthy",
            nodes: nodes.length,
            unreachableNodes: unreachable,
            files: files.length,
            certificates: all.length,
            filesByState: byState,
            stateCompared: nodes.every((n) => n.stateCompared),
            soonest: first ? { node: first.node, path: first.path, subject: first.c.subject, notAfter: first.c.notAfter, daysLeft: first.c.daysLeft } : null,
        },
    };
}
