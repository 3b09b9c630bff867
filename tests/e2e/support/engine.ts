// What every e2e test needs from the real Pulumi engine: a private local backend and the
// assurance that the engine and the plugins a test uses are really there (a missing engine is a
// failure, never a silent skip).
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";

export interface TestBackend {
    dir: string;
    envVars: Record<string, string>;
    remove(): void;
}

export function createTestBackend(prefix: string): TestBackend {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
    return {
        dir,
        envVars: {
            PULUMI_BACKEND_URL: `file://${dir}`,
            PULUMI_CONFIG_PASSPHRASE: "e2e-test-passphrase",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        },
        remove: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
}

export function pulumiVersion(): string {
    return execFileSync("pulumi", ["version"], { encoding: "utf8" }).trim();
}

export function installedPlugins(): { name: string; kind: string; version: string }[] {
    return JSON.parse(execFileSync("pulumi", ["plugin", "ls", "--json"], { encoding: "utf8" }));
}

/** Throws unless `pulumi` runs and the named resource plugin is installed at the version its npm package asks for. */
export function assertEngineWithPlugin(npmPackage: string): void {
    const wanted = require(`${npmPackage}/package.json`).pulumi as { name: string; version: string };
    const found = installedPlugins().find((p) => p.kind === "resource" && p.name === wanted.name && p.version === wanted.version);
    if (!found) {
        throw new Error(`resource plugin ${wanted.name} ${wanted.version} (asked for by ${npmPackage}) is not installed: run npm run setup`);
    }
}

/**
 * `pulumi <args>` from a project directory as its own process group, so that a test can SIGKILL
 * the CLI with every plugin it started (as power loss or `kill -9` of the operator's shell would).
 */
export function spawnPulumi(cwd: string, envVars: Record<string, string>, args: string[]): ChildProcess {
    return spawn("pulumi", args, { cwd, env: { ...process.env, ...envVars }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
}

/** Every file under dir whose text holds a PEM private key. */
export function filesWithPemPrivateKeys(dir: string): string[] {
    const hits: string[] = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
        if (!entry.isFile()) continue;
        const file = path.join(entry.parentPath, entry.name);
        if (/-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/.test(fs.readFileSync(file, "utf8"))) hits.push(file);
    }
    return hits;
}

/**
 * Ages every leaf certificate (and renewal clock) in the stack's state: notAfter `days` from now,
 * as the state will look that close to expiry. The tls provider's plan reads notAfter from the
 * state, so a plain preview then plans the renewal. `only` picks leaves by resource name (all
 * when unset). Returns how many resources were aged.
 */
export async function ageLeavesInState(stack: Stack, days: number, only: (name: string) => boolean = () => true): Promise<number> {
    const state = await stack.exportStack();
    const notAfter = new Date(Date.now() + days * 86_400_000).toISOString();
    let aged = 0;
    for (const r of state.deployment.resources ?? []) {
        if (/^tls:index\/(locallySignedCert|selfSignedCert):/.test(r.type) && r.outputs?.isCaCertificate !== true && only(r.urn.split("::").pop()!)) {
            r.outputs.validityEndTime = notAfter;
            aged++;
        }
    }
    await stack.importStack(state);
    return aged;
}

/**
 * The operations of a preview or update summary that change something: without "same", and
 * without "read" — the program reads its own stack's last outputs (a StackReference) every run.
 */
export function changesOf(summary: Record<string, number> | undefined): Record<string, number> {
    const { same: _same, read: _read, ...changes } = summary ?? {};
    return changes;
}
