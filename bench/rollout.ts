// Benchmark: a full rotation of every leaf on a fresh testbed (3+3 by default) while the prober
// calls the API through the load balancer. Prints failed requests (goal 0), the rotation's wall
// time, its ratio to the sum of each step's measured swap-to-healthy time (goal ≤ 1.3), per step
// kind the steps and the medians of swap→healthy and of the whole step, and whether the kubelet
// steps of one batch overlapped in time (at most maxUnavailable at once).
//   bench/rollout.ts [--masters N] [--agents M] [--max-unavailable K] [--static-pods] [--reuse-testbed]
//   (defaults 3, 3, 1; testbed/up takes up to 9 masters and 29 agents; --static-pods: masters as
//   AKS Engine builds them, a real kubelet running the control plane as static pods)
import { STEP_KINDS } from "../components/rollout/registry";
import { whileProbing } from "../testbed/harness/prober";
import { failureLines, intOption, median, onTestbed, runBench, setRollout, StepActivity, stepActivities } from "./testbedRun";

const seconds = (s: StepActivity) => (Date.parse(s.finished) - Date.parse(s.initiated)) / 1000;

/** The most steps running at one moment (a step runs from initiated to finished; one ending as another starts does not overlap it). */
function maxConcurrency(steps: StepActivity[]): number {
    const edges = steps.flatMap((s) => [[Date.parse(s.initiated), 1], [Date.parse(s.finished), -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let running = 0;
    let most = 0;
    for (const [, delta] of edges) most = Math.max(most, (running += delta));
    return most;
}

/** Per step kind: steps, median swap→healthy, median and sum of the whole step's time. */
function kindRows(steps: StepActivity[]) {
    return STEP_KINDS.map((kind) => {
        const of = steps.filter((s) => s.step.startsWith(`${kind}/`));
        return { kind, steps: of.length, medianHealthy: median(of.map((s) => s.secondsToHealthy)), medianStep: median(of.map(seconds)), sumStep: of.reduce((sum, s) => sum + seconds(s), 0) };
    }).filter((r) => r.steps > 0);
}

async function main(): Promise<void> {
    const masters = intOption("masters", 3, 1, 9);
    const agents = intOption("agents", 3, 0, 29);
    const maxUnavailable = intOption("max-unavailable", 1, 1, 29);
    // the program refuses a batch that could hold a whole pool (the testbed's agents are one pool)
    if (agents > 1 && maxUnavailable >= agents) throw new Error(`--max-unavailable must be less than --agents (${agents}): a batch of ${maxUnavailable} could restart the whole pool`);
    const size = `${masters}+${agents}`;
    const controlPlane = process.argv.includes("--static-pods") ? "static-pods" : "processes";
    await onTestbed("rollout", ["--masters", String(masters), "--agents", String(agents), "--lb-probe-interval", "5", "--control-plane", controlPlane], async (stack) => {
        await setRollout(stack, { maxUnavailable });
        const { result, probe, seconds: wall } = await whileProbing(() => stack.up());
        const steps = stepActivities(result.outputs);
        const healthySum = steps.reduce((s, a) => s + a.secondsToHealthy, 0);
        const first = Math.min(...steps.map((s) => Date.parse(s.initiated)));
        const last = Math.max(...steps.map((s) => Date.parse(s.finished)));
        const span = (last - first) / 1000;

        console.log(`\nrotation of every leaf on a ${size} testbed (control plane: ${controlPlane}), maxUnavailable ${maxUnavailable}, prober through the load balancer`);
        console.log(`  prober: ${JSON.stringify(probe)}`);
        for (const line of failureLines(probe)) console.log(`  ${line}`);
        console.log(`  steps: ${steps.length}, restarts: ${steps.flatMap((s) => s.restarted).length}`);
        for (const s of steps.sort((a, b) => Date.parse(a.initiated) - Date.parse(b.initiated))) {
            console.log(`    ${s.initiated.slice(11, 23)} ${s.step.padEnd(42)} ${s.status.padEnd(8)} restarted: ${(s.restarted.join(",") || "-").padEnd(42)} swap→healthy ${s.secondsToHealthy.toFixed(1)} s`);
        }
        const onNodes = steps.reduce((sum, a) => sum + seconds(a), 0);
        console.log(`  pulumi up wall time: ${wall.toFixed(1)} s (key generation, preflight and SSH included)`);
        console.log(`  time inside the steps on the nodes: ${onNodes.toFixed(1)} s (staging, checks, backup: ${(onNodes - healthySum).toFixed(1)} s); between steps (engine, SSH): ${(span - onNodes).toFixed(1)} s`);
        console.log(`  rollout span (first step initiated → last step finished): ${span.toFixed(1)} s`);
        console.log(`  sum of swap→healthy times: ${healthySum.toFixed(1)} s`);
        console.log(`  ratio wall / sum: ${(wall / healthySum).toFixed(2)} (goal ≤ 1.3); span / sum: ${(span / healthySum).toFixed(2)}`);

        const kinds = kindRows(steps);
        console.log("\n  per step kind     steps  median swap→healthy  median step   Σ step   median step / swap→healthy");
        for (const k of kinds) {
            console.log(`    ${k.kind.padEnd(14)} ${String(k.steps).padStart(6)} ${k.medianHealthy.toFixed(1).padStart(18)} s ${k.medianStep.toFixed(1).padStart(10)} s ${k.sumStep.toFixed(1).padStart(7)} s ${(k.medianStep / k.medianHealthy).toFixed(2).padStart(12)}`);
        }

        // agents restart in batches of maxUnavailable: do a batch's steps really run at the same time?
        const kubelets = steps.filter((s) => s.step.startsWith("kubelet/"));
        const concurrency = maxConcurrency(kubelets);
        const expected = Math.min(maxUnavailable, Math.max(agents, 1));
        const kubeletSpan = kubelets.length ? (Math.max(...kubelets.map((s) => Date.parse(s.finished))) - Math.min(...kubelets.map((s) => Date.parse(s.initiated)))) / 1000 : 0;
        const kubeletSum = kubelets.reduce((sum, s) => sum + seconds(s), 0);
        console.log(`\n  kubelet steps: ${kubelets.length}; at most ${concurrency} running at once (maxUnavailable ${maxUnavailable}: up to ${expected} expected)`);
        console.log(`    ${concurrency >= expected ? "batches overlapped as planned" : `batches did not overlap: parallel only in name (${concurrency} < ${expected})`}`);
        console.log(`    kubelet phase span ${kubeletSpan.toFixed(1)} s for Σ step ${kubeletSum.toFixed(1)} s: ×${(kubeletSum / (kubeletSpan || 1)).toFixed(2)} parallelism`);
        console.log(
            JSON.stringify({
                bench: "rollout",
                controlPlane,
                masters,
                agents,
                maxUnavailable,
                wall,
                span,
                onNodes,
                healthySum,
                ratio: wall / healthySum,
                kinds,
                kubeletMaxConcurrency: concurrency,
                kubeletParallelism: kubeletSum / (kubeletSpan || 1),
                failed: probe.fail,
                requests: probe.ok + probe.fail,
                probe,
            }),
        );
    }, process.argv.includes("--reuse-testbed"));
}

runBench(main);
