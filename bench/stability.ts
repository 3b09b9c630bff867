// Benchmark: is zero failed requests stable? On one 3+3 testbed with a separate etcd CA and
// AKS Engine's load-balancer timing (a TCP probe every 5 s, down after 2), it runs RUNS times in a
// row: the etcd CA through trust, activate, retire; the Kubernetes CA through the same; then a
// rotation of the Kubernetes and etcd leaves, each phase one `pulumi up` with the prober calling the API through the
// load balancer. With --leaf-only a run is the leaf rotation alone (the CAs stay at generation 0).
// Prints failed requests per phase per run (goal: 0 everywhere), and every failure with the
// backend that served it and the step running then.
//   bench/stability.ts [--runs N] [--leaf-only] (default 5 runs; STABILITY_RUNS too)
import { whileProbing } from "../testbed/harness/prober";
import { setObjectConfig } from "../testbed/harness/workspace";
import { failureLines, intOption, onTestbed, runBench } from "./testbedRun";

const LEAF_ONLY = process.argv.includes("--leaf-only");

type Generations = Record<string, "trusted" | "active" | "retired">;

/**
 * The phases of run `r` (1-based): both CAs move from generation r-1 to r, then the Kubernetes and
 * etcd leaves are re-issued (generation r; frontProxy would replace its CA at once). Leaf only: the
 * leaves' generation r, the CAs untouched.
 */
function phasesOf(r: number, leafOnly: boolean): [string, Record<string, unknown>][] {
    const leaves = { kubernetesLeaf: r, etcdLeaf: r };
    if (leafOnly) return [["leaf rotation", { rotation: leaves }]];
    const ca = (from: string, to: string): Generations => ({ [r - 1]: from, [r]: to }) as Generations;
    const steps: [string, Generations][] = [["trust", ca("active", "trusted")], ["activate", ca("trusted", "active")], ["retire", ca("retired", "active")]];
    const done = ca("retired", "active");
    const prev: Generations = { [r - 1]: "active" };
    return [
        ...steps.map(([p, g]): [string, Record<string, unknown>] => [`etcd CA ${p}`, { caGenerations: { etcdCa: g, kubernetesCa: prev } }]),
        ...steps.map(([p, g]): [string, Record<string, unknown>] => [`Kubernetes CA ${p}`, { caGenerations: { etcdCa: done, kubernetesCa: g } }]),
        ["leaf rotation", { caGenerations: { etcdCa: done, kubernetesCa: done }, rotation: leaves }],
    ];
}

async function main(): Promise<void> {
    const RUNS = intOption("runs", Number(process.env.STABILITY_RUNS ?? "5"), 1, 20);
    const table: { run: number; phase: string; failed: number; requests: number; wall: number }[] = [];
    await onTestbed("stability", ["--separate-etcd-ca", "--lb-probe-interval", "5"], async (stack) => {
        const t0 = Date.now();
        await stack.up();
        console.log(`takeover (leaves re-issued by the adopted CAs): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        for (let run = 1; run <= RUNS; run++) {
            for (const [phase, pki] of phasesOf(run, LEAF_ONLY)) {
                await setObjectConfig(stack, "azs-cert-rotation:pki", { etcdCa: "separate", ...pki });
                const { result, probe, seconds } = await whileProbing(() => stack.up());
                if (result.summary.result !== "succeeded") throw new Error(`run ${run}, ${phase}: pulumi up ${result.summary.result}`);
                table.push({ run, phase, failed: probe.fail, requests: probe.ok + probe.fail, wall: seconds });
                console.log(`run ${run} ${phase}, ${seconds.toFixed(0)} s: ${failureLines(probe).join("\n    ")}`);
            }
        }
    });
    const phases = [...new Set(table.map((t) => t.phase))];
    console.log(`\nfailed requests per phase and run (3 masters + 3 agents, separate etcd CA${LEAF_ONLY ? ", leaf rotations only" : ""}, TCP probe every 5 s, prober at 20 req/s through the LB)`);
    console.log(`  ${"phase".padEnd(22)}${Array.from({ length: RUNS }, (_, i) => `run ${i + 1}`.padStart(14)).join("")}`);
    for (const phase of phases) {
        const cells = table.filter((t) => t.phase === phase).map((t) => `${t.failed}/${t.requests}`.padStart(14));
        console.log(`  ${phase.padEnd(22)}${cells.join("")}`);
    }
    const failed = table.reduce((s, t) => s + t.failed, 0);
    const requests = table.reduce((s, t) => s + t.requests, 0);
    console.log(`  phases with a failure: ${table.filter((t) => t.failed > 0).length} of ${table.length}; failed ${failed} of ${requests} requests`);
    console.log(JSON.stringify({ bench: "stability", runs: RUNS, leafOnly: LEAF_ONLY, table }));
}

runBench(main);
