// Benchmark: a full rotation of every leaf on a fresh 3+3 testbed while the prober calls the API
// through the load balancer. Prints failed requests (goal 0), the rotation's wall time, and its
// ratio to the sum of each step's measured swap-to-healthy time (goal ≤ 1.5).
import { whileProbing } from "../testbed/harness/prober";
import { onTestbed, runBench } from "./testbedRun";

interface StepActivity {
    step: string;
    status: string;
    initiated: string;
    finished: string;
    restarted: string[];
    secondsToHealthy: number;
}

async function main(): Promise<void> {
    await onTestbed("rollout", ["--lb-probe-interval", "5"], async (stack) => {
        const { result, probe, seconds: wall } = await whileProbing(() => stack.up());
        const activity = result.outputs.activity!.value as Record<string, StepActivity[]>;
        const steps = Object.values(activity).flat();
        const healthySum = steps.reduce((s, a) => s + a.secondsToHealthy, 0);
        const first = Math.min(...steps.map((s) => Date.parse(s.initiated)));
        const last = Math.max(...steps.map((s) => Date.parse(s.finished)));
        const span = (last - first) / 1000;

        console.log("\nrotation of every leaf on a 3+3 testbed, prober through the load balancer");
        console.log(`  prober: ${JSON.stringify(probe)}`);
        console.log(`  steps: ${steps.length}, restarts: ${steps.flatMap((s) => s.restarted).length}`);
        for (const s of steps.sort((a, b) => Date.parse(a.initiated) - Date.parse(b.initiated))) {
            console.log(`    ${s.initiated.slice(11, 23)} ${s.step.padEnd(42)} ${s.status.padEnd(8)} restarted: ${(s.restarted.join(",") || "-").padEnd(42)} swap→healthy ${s.secondsToHealthy.toFixed(1)} s`);
        }
        const onNodes = steps.reduce((sum, a) => sum + (Date.parse(a.finished) - Date.parse(a.initiated)) / 1000, 0);
        console.log(`  pulumi up wall time: ${wall.toFixed(1)} s (key generation, preflight and SSH included)`);
        console.log(`  time inside the steps on the nodes: ${onNodes.toFixed(1)} s (staging, checks, backup: ${(onNodes - healthySum).toFixed(1)} s); between steps (engine, SSH): ${(span - onNodes).toFixed(1)} s`);
        console.log(`  rollout span (first step initiated → last step finished): ${span.toFixed(1)} s`);
        console.log(`  sum of swap→healthy times: ${healthySum.toFixed(1)} s`);
        console.log(`  ratio wall / sum: ${(wall / healthySum).toFixed(2)} (goal ≤ 1.5); span / sum: ${(span / healthySum).toFixed(2)}`);
        console.log(JSON.stringify({ bench: "rollout", wall, span, onNodes, healthySum, ratio: wall / healthySum, probe }));
    }, process.argv.includes("--reuse-testbed"));
}

runBench(main);
