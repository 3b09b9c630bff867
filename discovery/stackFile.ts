// The stack discovery works on: its config read through the Pulumi CLI (secrets decrypted by the
// stack's own secrets provider), `nodes` written into Pulumi.<stack>.yaml with its comments and the
// rest of its content kept, adopted CA values set through the CLI (the private key as a secret, over stdin).
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { isDeepStrictEqual } from "util";
import { parseDocument } from "yaml";
import { CONFIG_NAMESPACE } from "../components/config/reader";
import type { StackNode } from "./reconcile";

export interface StackRef {
    name: string;
    /** The project directory (Pulumi.yaml and the stack files). */
    dir: string;
}

/** Runs the Pulumi CLI on the stack (in its project directory, non-interactive); its stdout. `input` goes to its stdin. */
export function runPulumi(stack: StackRef, args: string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = execFile("pulumi", [...args, "--stack", stack.name, "--non-interactive"], { cwd: stack.dir, encoding: "utf8", maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
            error ? reject(new Error(`pulumi ${args.slice(0, 2).join(" ")} (stack ${stack.name}): ${stderr.trim() || error.message}`)) : resolve(stdout),
        );
        child.stdin?.end(input ?? "");
    });
}

/** The stack's config values of this project, secrets in plain text (kept in memory only), objects parsed; "", [] and {} are unset (Pulumi.yaml's defaults of optional keys, as the program reads them). */
export async function readStackValues(stack: StackRef): Promise<Record<string, unknown>> {
    const json = JSON.parse(await runPulumi(stack, ["config", "--json", "--show-secrets"])) as Record<string, { value?: string; objectValue?: unknown }>;
    const values: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(json)) {
        if (!key.startsWith(`${CONFIG_NAMESPACE}:`)) continue;
        const value = entry.objectValue ?? entry.value;
        const empty = value === undefined || value === "" || (typeof value === "object" && value !== null && Object.keys(value).length === 0);
        if (!empty) values[key.slice(CONFIG_NAMESPACE.length + 1)] = value;
    }
    return values;
}

/** Sets one config value of the stack, read by the CLI from stdin (never on a command line); `secret` encrypts it. */
export async function setStackValue(stack: StackRef, key: string, value: string, secret: boolean): Promise<void> {
    await runPulumi(stack, ["config", "set", ...(secret ? ["--secret"] : []), `${CONFIG_NAMESPACE}:${key}`], value);
}

/**
 * Writes `nodes` into the stack file, everything else in it as it was (comments, order, encrypted
 * values); through a temporary file and a rename. False when the file holds these nodes already.
 */
export function writeStackNodes(stack: StackRef, nodes: StackNode[]): boolean {
    const file = path.join(stack.dir, `Pulumi.${stack.name}.yaml`);
    const text = fs.readFileSync(file, "utf8");
    const doc = parseDocument(text);
    const key = `${CONFIG_NAMESPACE}:nodes`;
    if (isDeepStrictEqual((doc.toJS() as { config?: Record<string, unknown> } | null)?.config?.[key], nodes)) return false;
    doc.setIn(["config", key], doc.createNode(nodes));
    const temp = `${file}.discover-${process.pid}`;
    fs.writeFileSync(temp, doc.toString({ lineWidth: 0 }), { mode: fs.statSync(file).mode & 0o777 });
    fs.renameSync(temp, file);
    return true;
}
