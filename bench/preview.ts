// Benchmark: `pulumi preview` time against inventory size (goal: ≤ 20 s for 5 masters + 200
// agents, growth no worse than linear). Fresh stacks with generated inventories; nothing is
// contacted (a preview runs no remote command). Prints seconds per size and the ratios.
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { openGeneratedStack } from "../testbed/harness/workspace";

const RUNS = 3;
const GOAL_SECONDS = 20;

/** A well-formed ed25519 host key of the node's own (a preview never connects; the stack config refuses a key two nodes share). */
function hostKey(name: string): string {
    const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
    const type = Buffer.from("ssh-ed25519");
    return `ssh-ed25519 ${Buffer.concat([u32(type.length), type, u32(32), createHash("sha256").update(name).digest()]).toString("base64")}`;
}

function inventoryYaml(masters: number, agents: number): string {
    const node = (name: string, role: string, ip: string, extra: Record<string, unknown> = {}) => ({ name, role, ip, ...extra, hostKey: hostKey(name) });
    const nodes = [
        ...Array.from({ length: masters }, (_, i) => node(`k8s-master-1234-${i}`, "master", `10.100.0.${5 + i}`, { index: i })),
        ...Array.from({ length: agents }, (_, i) => node(`k8s-agentpool1-1234-${i}`, "agent", `10.100.${1 + Math.floor(i / 250)}.${(i % 250) + 4}`)),
    ];
    const config = {
        "azs-cert-rotation:clusterName": "bench",
        "azs-cert-rotation:fqdn": "bench.local.cloudapp.azurestack.external",
        "azs-cert-rotation:apiServerEndpoint": "https://10.100.0.15:443",
        "azs-cert-rotation:nodes": nodes,
        // these VMs do not exist: no node is read (a real cluster's preview reads every node, 16 at a time)
        "azs-cert-rotation:rollout": { driftCheck: false },
    };
    return JSON.stringify({ config }, null, 1); // YAML is a superset of JSON
}

async function previewSeconds(masters: number, agents: number, envVars: Record<string, string>, sshKey: string): Promise<{ seconds: number[]; creates: number }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `azs-bench-preview-${masters}x${agents}-`));
    try {
        const stack = await openGeneratedStack(dir, "bench", inventoryYaml(masters, agents), envVars);
        await stack.setConfig("azs-cert-rotation:sshPrivateKey", { value: sshKey, secret: true });
        const seconds: number[] = [];
        let creates = 0;
        for (let i = 0; i < RUNS; i++) {
            const t0 = process.hrtime.bigint();
            const result = await stack.preview();
            seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
            creates = result.changeSummary.create ?? 0;
        }
        return { seconds, creates };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

async function main(): Promise<void> {
    const backend = fs.mkdtempSync(path.join(os.tmpdir(), "azs-bench-backend-"));
    const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "azs-bench-key-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(keyDir, "id")]);
    const sshKey = fs.readFileSync(path.join(keyDir, "id"), "utf8");
    fs.rmSync(keyDir, { recursive: true, force: true });
    const envVars = { PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: "bench" };
    try {
        const sizes: [number, number][] = [[3, 3], [5, 50], [5, 200]];
        const rows: { size: string; nodes: number; creates: number; median: number; runs: number[] }[] = [];
        for (const [m, a] of sizes) {
            const { seconds, creates } = await previewSeconds(m, a, envVars, sshKey);
            const median = [...seconds].sort((x, y) => x - y)[Math.floor(seconds.length / 2)]!;
            rows.push({ size: `${m}+${a}`, nodes: m + a, creates, median, runs: seconds });
        }
        console.log("\npulumi preview time by inventory size (median of %d runs)", RUNS);
        for (const r of rows) console.log(`  ${r.size.padEnd(7)} ${String(r.nodes).padStart(4)} nodes  ${String(r.creates).padStart(4)} resources  ${r.median.toFixed(1).padStart(6)} s   runs: ${r.runs.map((s) => s.toFixed(1)).join(", ")}`);
        const small = rows[0]!;
        const big = rows[rows.length - 1]!;
        const timeRatio = big.median / small.median;
        const nodeRatio = big.nodes / small.nodes;
        console.log(`  5+200 vs 3+3: time ×${timeRatio.toFixed(2)} for ×${nodeRatio.toFixed(1)} nodes (linear would be ≤ ×${nodeRatio.toFixed(1)})`);
        console.log(`  per added node: ${((big.median - small.median) / (big.nodes - small.nodes)).toFixed(3)} s`);
        console.log(`  goal 5+200 ≤ ${GOAL_SECONDS} s: ${big.median <= GOAL_SECONDS ? "met" : "NOT met"} (${big.median.toFixed(1)} s)`);
        console.log(JSON.stringify({ bench: "preview", rows, timeRatio, nodeRatio }));
    } finally {
        fs.rmSync(backend, { recursive: true, force: true });
    }
}

main().catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
});
