// Benchmark: `pulumi up` with nothing due (the steady state) on a fresh 3+3 testbed. After a first
// up (the takeover: every leaf re-issued and installed, not timed as steady), RUNS ups in a row:
// the wall time of each and the remote commands that ran (goal ≤ 15 s and 0 commands); then one
// more with rollout.driftCheck false, to show what the read of every node's certificates before
// planning costs. The 5+200 inventory of bench/preview.ts is not measured (its VMs do not exist).
//   bench/steady.ts [--runs N] (default 3)
import { Stack } from "@pulumi/pulumi/automation";
import { intOption, median, onTestbed, runBench, setRollout } from "./testbedRun";

const GOAL_SECONDS = 15;

/** One `pulumi up`: its wall time and the remote commands that ran (any op but "same": created, updated, replaced, deleted). */
async function timedUp(stack: Stack): Promise<{ seconds: number; commands: string[] }> {
    const commands: string[] = [];
    const t0 = Date.now();
    const result = await stack.up({
        onEvent: (e) => {
            const m = e.resOutputsEvent?.metadata;
            if (m?.type === "command:remote:Command" && m.op !== "same") commands.push(`${m.op} ${m.urn.split("::").pop()}`);
        },
    });
    const seconds = (Date.now() - t0) / 1000;
    if (result.summary.result !== "succeeded") throw new Error(`pulumi up ${result.summary.result}`);
    return { seconds, commands };
}

async function main(): Promise<void> {
    const runs = intOption("runs", 3, 1, 20);
    await onTestbed("steady", ["--masters", "3", "--agents", "3", "--lb-probe-interval", "5"], async (stack) => {
        const takeover = await timedUp(stack);
        const steady: { seconds: number; commands: string[] }[] = [];
        for (let i = 0; i < runs; i++) steady.push(await timedUp(stack));
        await setRollout(stack, { driftCheck: false });
        const noRead = await timedUp(stack);

        const wall = median(steady.map((r) => r.seconds));
        const commands = steady.reduce((sum, r) => sum + r.commands.length, 0);
        console.log(`\nsteady-state pulumi up with nothing due, 3 masters + 3 agents (after the takeover up: ${takeover.seconds.toFixed(1)} s, ${takeover.commands.length} remote commands)`);
        console.log("  run          wall   remote commands");
        steady.forEach((r, i) => console.log(`  ${String(i + 1).padEnd(8)} ${r.seconds.toFixed(1).padStart(6)} s   ${String(r.commands.length).padStart(6)}${r.commands.length ? `: ${r.commands.join(", ")}` : ""}`));
        console.log(`  median ${wall.toFixed(1)} s (goal ≤ ${GOAL_SECONDS} s: ${wall <= GOAL_SECONDS ? "met" : "NOT met"}); remote commands ${commands} (goal 0: ${commands === 0 ? "met" : "NOT met"})`);
        console.log(`  without the pre-plan read of the nodes (rollout.driftCheck false): ${noRead.seconds.toFixed(1)} s, ${noRead.commands.length} remote commands; the read: about ${(wall - noRead.seconds).toFixed(1)} s of the ${wall.toFixed(1)} s`);
        console.log(
            "  5 masters + 200 agents: not measured: bench/preview.ts's inventory is generated and its VMs do not exist, so neither the takeover up " +
                "a steady state needs nor the pre-plan read over SSH can run (the testbed's largest is 9+29); bench/preview.ts times its preview without the read",
        );
        console.log(JSON.stringify({ bench: "steady", masters: 3, agents: 3, takeover: takeover.seconds, runs: steady, median: wall, commands, withoutDriftCheck: noRead }));
    });
}

runBench(main);
