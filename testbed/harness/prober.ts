// The testbed prober around a piece of work: API calls through the load balancer at a fixed rate
// (testbed/probe, bounded by its own duration) while `work` runs, stopped right after it. Used by
// the e2e tests and the benchmarks to count failed requests.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { explainTestbedFailures, ProbeFailure } from "./probeFailures";
import { REPO_ROOT, TESTBED_STATE } from "./workspace";

export interface ProbeSummary {
    ok: number;
    fail: number;
    failures?: ProbeFailure[];
    /** One line per failure (the first 200): the backend that served it and the steps running then. */
    explained?: string[];
    [key: string]: unknown;
}

export const PROBE_RATE = 20;

/**
 * Runs `work` with the prober running (3 s of baseline before, 3 s after); returns its result and
 * the prober's summary. A request fails on any error, and when it takes longer than
 * `timeoutSeconds` (default: testbed/probe's, 2 s).
 */
export async function whileProbing<T>(work: () => Promise<T>, opts: { rate?: number; maxSeconds?: number; timeoutSeconds?: number } = {}): Promise<{ result: T; probe: ProbeSummary; seconds: number }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azs-probe-"));
    const args = ["--rate", String(opts.rate ?? PROBE_RATE), "--duration", `${opts.maxSeconds ?? 1800}s`, ...(opts.timeoutSeconds ? ["--timeout", `${opts.timeoutSeconds}s`] : []), "--out", dir];
    const child = spawn(path.join(REPO_ROOT, "testbed/probe"), args, { stdio: ["ignore", "ignore", "inherit"] });
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    const pause = () => new Promise((r) => setTimeout(r, 3000));
    try {
        await pause();
        const t0 = Date.now();
        const result = await work();
        const seconds = (Date.now() - t0) / 1000;
        await pause();
        child.kill("SIGINT");
        await exited;
        const { failures, ...probe } = JSON.parse(fs.readFileSync(path.join(dir, "probe-summary.json"), "utf8")) as ProbeSummary;
        if (failures?.length) probe.explained = explainTestbedFailures(failures, TESTBED_STATE);
        return { result, probe, seconds };
    } finally {
        // also when `work` failed: the prober must not outlive it, nor write into a removed directory
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
        await exited;
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
