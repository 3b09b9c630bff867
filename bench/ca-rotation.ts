// Benchmark: zero-downtime rotation of the Kubernetes CA and the etcd CA together on a fresh 3+3
// testbed (separate etcd CA), one `pulumi up` per phase (trust, activate, retire), with the prober
// calling the API through the load balancer. Prints per phase: failed requests (goal 0), wall
// time, steps and restarts.
import { whileProbing } from "../testbed/harness/prober";
import { setObjectConfig } from "../testbed/harness/workspace";
import { onTestbed, runBench, stepActivities } from "./testbedRun";

const PHASES: [string, Record<string, string>][] = [
    ["trust", { "0": "active", "1": "trusted" }],
    ["activate", { "0": "trusted", "1": "active" }],
    ["retire", { "0": "retired", "1": "active" }],
];

async function main(): Promise<void> {
    const rows: string[] = [];
    await onTestbed("ca", ["--separate-etcd-ca", "--lb-probe-interval", "5"], async (stack) => {
        const t0 = Date.now();
        await stack.up();
        console.log(`takeover (leaves re-issued by the adopted CAs): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        for (const [phase, generations] of PHASES) {
            await setObjectConfig(stack, "azs-cert-rotation:pki", { etcdCa: "separate", caGenerations: { kubernetesCa: generations, etcdCa: generations } });
            const started = Date.now();
            const { result, probe, seconds } = await whileProbing(() => stack.up());
            // steps that did not run keep their last outcome in the output: count this phase's only
            const steps = stepActivities(result.outputs, started);
            const restarts = steps.flatMap((s) => s.restarted ?? []).length;
            rows.push(`  ${phase.padEnd(9)} ${String(probe.fail).padStart(6)} / ${String(probe.ok + probe.fail).padEnd(6)} ${seconds.toFixed(1).padStart(8)} s ${String(steps.length).padStart(6)} ${String(restarts).padStart(9)}`);
            console.log(JSON.stringify({ bench: "ca-rotation", phase, wall: seconds, failed: probe.fail, requests: probe.ok + probe.fail, steps: steps.length, restarts, probe }));
        }
        console.log("\nKubernetes CA + etcd CA, phased, 3 masters + 3 agents, prober through the load balancer at 20 req/s");
        console.log("  phase     failed / requests      wall  steps  restarts");
        for (const row of rows) console.log(row);
    });
}

runBench(main);
