// Reading the nodes: scripts/read-certs.sh sent over SSH (through the jumpbox for a private
// cluster; discovery's SshAccess, host keys pinned from the stack) and run with sudo, read-only;
// its output parsed into one reading per file. A node that cannot be reached is a reading of its own.
import * as fs from "fs";
import * as path from "path";
import type { SshAccess } from "../discovery/sshAccess";
import { certificateBlocks } from "../components/pki/x509";
import { scriptArgs, Target } from "./targets";

export const READ_CERTS_SCRIPT = path.join(__dirname, "scripts", "read-certs.sh");

/** What the script found for one file. */
export interface FileReading {
    path: string;
    status: "present" | "missing" | "unreadable";
    /** Why it is unreadable, or what kept a certificate or key from being read. */
    problems: string[];
    /** Where a symbolic link points. */
    link?: string;
    mode?: string;
    /** A kubeconfig: where its client certificate is ("embedded", a path, or "none"). */
    from?: string;
    /** The PEM certificates in the file, in order (public). */
    certificates: string[];
    /** A public-key file (pubkeys): the SHA-256 (hex, of the DER SubjectPublicKeyInfo) of each of its public keys, in order. */
    publicKeys?: string[];
    /** The private key: the SHA-256 of its public half (computed on the node), or why there is none. */
    key: { status: "hash"; sha256: string } | { status: "missing" | "unreadable"; path: string } | { status: "none" };
}

export interface NodeReading {
    node: string;
    /** Undefined when the node answered; else why it could not be read (the report's exit code is 2). */
    error?: string;
    files: FileReading[];
}

/** Parses the script's output; throws when it was cut off (no @done) or names other files than asked. */
export function parseReadCerts(text: string, targets: Target[]): FileReading[] {
    const lines = text.split("\n");
    if (!lines.some((l) => l === "@done")) throw new Error("the output of read-certs.sh was cut off (no @done line)");
    const files: FileReading[] = [];
    let current: (FileReading & { pem: string[] }) | undefined;
    for (const line of lines) {
        if (!line.startsWith("@")) {
            if (current) current.pem.push(line);
            continue;
        }
        const [tag, ...rest] = line.split(" ");
        const value = rest.join(" ");
        if (tag === "@file") {
            current = { path: value, status: "missing", problems: [], certificates: [], publicKeys: [], key: { status: "none" }, pem: [] };
            continue;
        }
        if (tag === "@done") break;
        if (!current) throw new Error(`read-certs.sh: ${line} before any @file`);
        switch (tag) {
            case "@status":
                current.status = rest[0] as FileReading["status"];
                if (rest.length > 1) current.problems.push(rest.slice(1).join(" "));
                break;
            case "@link": current.link = value; break;
            case "@mode": current.mode = value; break;
            case "@from": current.from = value; break;
            case "@problem": current.problems.push(value); break;
            case "@pubkey": current.publicKeys!.push(value); break;
            case "@key":
                if (rest[0] === "missing" || rest[0] === "unreadable") current.key = { status: rest[0], path: rest.slice(1).join(" ") };
                else if (rest[0] === "none") current.key = { status: "none" };
                else current.key = { status: "hash", sha256: value };
                break;
            case "@end": {
                const { pem, ...reading } = current;
                files.push({ ...reading, certificates: certificateBlocks(pem.join("\n")) });
                current = undefined;
                break;
            }
            default:
                throw new Error(`read-certs.sh: unknown line ${line}`);
        }
    }
    const asked = targets.map((t) => t.path);
    const got = files.map((f) => f.path);
    if (asked.join("\n") !== got.join("\n")) throw new Error(`read-certs.sh answered for ${got.length} files, not the ${asked.length} asked (${asked.filter((p) => !got.includes(p)).join(", ") || "in another order"})`);
    return files;
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The remote command: the script comes on stdin, the files as arguments. */
export function remoteCommand(targets: Target[]): string {
    return ["sudo", "-n", "bash", "-s", "--", ...scriptArgs(targets).map(shellQuote)].join(" ");
}

/**
 * Reads every node, at most `parallel` at once; a node that fails (SSH, sudo, the script) is
 * reported with the error and no files. Nodes are addressed by IP, their host keys pinned.
 */
export async function collect(ssh: SshAccess, nodes: { name: string; ip: string; hostKey: string; targets: Target[] }[], parallel = 6): Promise<NodeReading[]> {
    const script = fs.readFileSync(READ_CERTS_SCRIPT, "utf8");
    for (const n of nodes) ssh.pin(n.ip, n.hostKey);
    const results: NodeReading[] = new Array(nodes.length);
    let next = 0;
    const worker = async () => {
        while (next < nodes.length) {
            const i = next++;
            const n = nodes[i]!;
            try {
                const out = await ssh.run(n.ip, remoteCommand(n.targets), script);
                results[i] = { node: n.name, files: parseReadCerts(out, n.targets) };
            } catch (e) {
                results[i] = { node: n.name, error: (e as Error).message, files: [] };
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, nodes.length) }, worker));
    return results;
}
