// What the testbed benchmarks share: a fresh testbed, a stack on a private local backend, and
// the clean-up (backend deleted, the testbed taken down: it now runs the bench's certificates);
// the rollout config, the steps' outcomes from the stack outputs, command-line options, medians.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { OutputMap, Stack } from "@pulumi/pulumi/automation";
import { ProbeSummary } from "../testbed/harness/prober";
import { openTestbedStack, REPO_ROOT, setObjectConfig, TESTBED_STATE as STATE, testbedRollout } from "../testbed/harness/workspace";

/** Runs `work` against a stack on a testbed booted with `upArgs` (torn down first unless `reuse`). */
export async function onTestbed(name: string, upArgs: string[], work: (stack: Stack) => Promise<void>, reuse = false): Promise<void> {
    const testbed = (cmd: string, args: string[] = []) => execFileSync(path.join(REPO_ROOT, "testbed", cmd), args, { stdio: "inherit" });
    if (!reuse) testbed("down");
    testbed("up", upArgs);
    const backend = fs.mkdtempSync(path.join(os.tmpdir(), `azs-bench-${name}-backend-`));
    const workspace = fs.mkdtempSync(path.join(os.tmpdir(), `azs-bench-${name}-project-`));
    const stack = await openTestbedStack(workspace, "bench", STATE, { PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: "bench" });
    try {
        await work(stack);
    } finally {
        fs.rmSync(backend, { recursive: true, force: true });
        fs.rmSync(workspace, { recursive: true, force: true });
        testbed("down");
    }
}

/** The stack's `rollout` object: the testbed's settings (testbedRollout) with `overrides` (maxUnavailable, driftCheck, …). */
export function setRollout(stack: Stack, overrides: Record<string, unknown>): Promise<void> {
    return setObjectConfig(stack, "azs-cert-rotation:rollout", { ...testbedRollout(STATE), ...overrides });
}

/** A node step's outcome, as the `activity` stack output lists it (rotate.sh's activity record). */
export interface StepActivity {
    /** "<kind>/<node>" (kind: etcd, apiserver, controlPlane, kubelet). */
    step: string;
    status: string;
    initiated: string;
    finished: string;
    restarted: string[];
    secondsToHealthy: number;
}

/** Every node step in the `activity` output initiated at or after `since` (ms; steps that did not run keep their last outcome there). */
export function stepActivities(outputs: OutputMap, since = 0): StepActivity[] {
    return Object.values(outputs.activity!.value as Record<string, StepActivity[]>)
        .flat()
        .filter((s) => Date.parse(s.initiated) >= since);
}

/** The prober's failed requests: a count line, then each failure explained (backend, steps running then). */
export function failureLines(probe: ProbeSummary): string[] {
    return [`failed requests: ${probe.fail} of ${probe.ok + probe.fail}`, ...(probe.explained ?? []).map((line) => `  ${line}`)];
}

/** The integer after `--name` on the command line, else `fallback`; refused outside min..max. */
export function intOption(name: string, fallback: number, min: number, max: number): number {
    const i = process.argv.indexOf(`--${name}`);
    const value = i > 0 ? Number(process.argv[i + 1]) : fallback;
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max}`);
    return value;
}

export function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Entry point of a benchmark script: a failure prints its message and exits 1. */
export function runBench(main: () => Promise<void>): void {
    main().catch((e: Error) => {
        console.error(e.message);
        process.exit(1);
    });
}
