// Benchmark: is zero failed requests stable? On one 3+3 testbed with a separate etcd CA and
// AKS Engine's load-balancer timing (a TCP probe every 5 s, down after 2), it runs RUNS times in a
// row: the etcd CA through trust, activate, retire; the Kubernetes CA through the same; then a
// rotation of the Kubernetes and etcd leaves, each phase one `pulumi up` with the prober calling the API through the
// load balancer. Prints failed requests per phase per run (goal: 0 everywhere), and every failure
// with the backend that served it and the step running then.
//   bench/stability.ts [--runs N] (default 5; STABILITY_RUNS too)
import { whileProbing } from "../testbed/harness/prober";
import { setObjectConfig } from "../testbed/harness/workspace";
import { onTestbed, runBench } from "./testbedRun";

const argRuns = process.argv.indexOf("--runs");
const RUNS = Number(argRuns > 0 ? process.argv[argRuns + 1] : (process.env.STABILITY_RUNS ?? "5"));

type Generations = Record<string, "trusted" | "active" | "retired">;

/** The phases of run `r` (1-based): both CAs move from generation r-1 to r, then the Kubernetes and etcd leaves are re-issued (generation r; frontProxy would replace its CA at once). */
function phasesOf(r: number): [string, Record<string, unknown>][] {
    const ca = (from: string, to: string): Generations => ({ [r - 1]: from, [r]: to }) as Generations;
    const steps: [string, Generations][] = [["trust", ca("active", "trusted")], ["activate", ca("trusted", "active")], ["retire", ca("retired", "active")]];
    const done = ca("retired", "active");
    const prev: Generations = { [r - 1]: "active" };
    return [
        ...steps.map(([p, g]): [string, Record<string, unknown>] => [`etcd CA ${p}`, { caGenerations: { etcdCa: g, kubernetesCa: prev } }]),
        ...steps.map(([p, g]): [string, Record<string, unknown>] => [`Kubernetes CA ${p}`, { caGenerations: { etcdCa: done, kubernetesCa: g } }]),
        ["leaf rotation", { caGenerations: { etcdCa: done, kubernetesCa: done }, rotation: { kubernetesLeaf: r, etcdLeaf: r } }],
    ];
}

async function main(): Promise<void> {
    if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 20) throw new Error("--runs must be 1..20");
    const table: { run: number; phase: string; failed: number; requests: number; wall: number }[] = [];
    await onTestbed("stability", ["--separate-etcd-ca", "--lb-probe-interval", "5"], async (stack) => {
        const t0 = Date.now();
        await stack.up();
        console.log(`takeover (leaves re-issued by the adopted CAs): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        for (let run = 1; run <= RUNS; run++) {
            for (const [phase, pki] of phasesOf(run)) {
                await setObjectConfig(stack, "azs-cert-rotation:pki", { etcdCa: "separate", ...pki });
                const { result, probe, seconds } = await whileProbing(() => stack.up());
                if (result.summary.result !== "succeeded") throw new Error(`run ${run}, ${phase}: pulumi up ${result.summary.result}`);
                table.push({ run, phase, failed: probe.fail, requests: probe.ok + probe.fail, wall: seconds });
                console.log(`run ${run} ${phase}: ${probe.fail} failed of ${probe.ok + probe.fail}, ${seconds.toFixed(0)} s`);
                for (const line of probe.explained ?? []) console.log(`    ${line}`);
            }
        }
    });
    const phases = [...new Set(table.map((t) => t.phase))];
    console.log(`\nfailed requests per phase and run (3 masters + 3 agents, separate etcd CA, TCP probe every 5 s, prober at 20 req/s through the LB)`);
    console.log(`  ${"phase".padEnd(22)}${Array.from({ length: RUNS }, (_, i) => `run ${i + 1}`.padStart(14)).join("")}`);
    for (const phase of phases) {
        const cells = table.filter((t) => t.phase === phase).map((t) => `${t.failed}/${t.requests}`.padStart(14));
        console.log(`  ${phase.padEnd(22)}${cells.join("")}`);
    }
    const failed = table.reduce((s, t) => s + t.failed, 0);
    const requests = table.reduce((s, t) => s + t.requests, 0);
    console.log(`  phases with a failure: ${table.filter((t) => t.failed > 0).length} of ${table.length}; failed ${failed} of ${requests} requests`);
    console.log(JSON.stringify({ bench: "stability", runs: RUNS, table }));
}

runBench(main);
