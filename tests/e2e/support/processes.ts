// Waiting for a condition and cleaning up after a killed `pulumi` CLI (its plugins outlive it).
import { execFileSync } from "child_process";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until `check` holds; fails naming `what`. */
export async function until(what: string, timeoutMs: number, check: () => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
        if (Date.now() > deadline) throw new Error(`not within ${timeoutMs / 1000} s: ${what}`);
        await sleep(100);
    }
}

/** The processes whose parent is `pid` (ps exits 1 when there are none). */
export function childPids(pid: number): number[] {
    const out = execFileSync("sh", ["-c", `ps -o pid= --ppid ${pid} || true`], { encoding: "utf8" });
    return out.split("\n").filter((l) => l.trim()).map(Number);
}

/** SIGKILL to each process still there. */
export function killAll(pids: number[]): void {
    for (const pid of pids) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            // gone already
        }
    }
}
