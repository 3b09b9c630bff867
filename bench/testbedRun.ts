// What the testbed benchmarks share: a fresh testbed, a stack on a private local backend, and
// the clean-up (stack destroyed, the testbed taken down: it now runs the bench's certificates).
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { openTestbedStack, REPO_ROOT, TESTBED_STATE as STATE } from "../testbed/harness/workspace";

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
        await stack.destroy().catch(() => undefined);
        fs.rmSync(backend, { recursive: true, force: true });
        fs.rmSync(workspace, { recursive: true, force: true });
        testbed("down");
    }
}

/** Entry point of a benchmark script: a failure prints its message and exits 1. */
export function runBench(main: () => Promise<void>): void {
    main().catch((e: Error) => {
        console.error(e.message);
        process.exit(1);
    });
}
