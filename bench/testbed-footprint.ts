// Benchmark: what a testbed costs to boot and to keep running, per shape (3+3, 5+4) and control
// plane layout (processes, static pods): the wall time of `testbed/up` from the build cache until
// healthy, and, after --settle seconds, the memory of every process in the testbed's network
// namespaces (PSS, so the binaries shared between VMs count once; RSS beside it), in total and by
// command name.
//   bench/testbed-footprint.ts [--settle S]
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../testbed/harness/workspace";
import { intOption } from "./testbedRun";

const SHAPES = [
    { masters: 3, agents: 3 },
    { masters: 5, agents: 4 },
];
const LAYOUTS = ["processes", "static-pods"];

interface Footprint {
    pssMiB: number;
    rssMiB: number;
    byCommand: Map<string, { count: number; pssMiB: number }>;
}

/** PSS and RSS (kB → MiB) of every process whose network namespace is one of the testbed's (ip netns azstb-*). */
function footprint(): Footprint {
    const namespaces = execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
        .split("\n")
        .map((line) => line.split(" ")[0]!)
        .filter((ns) => ns.startsWith("azstb-"));
    const result: Footprint = { pssMiB: 0, rssMiB: 0, byCommand: new Map() };
    for (const ns of namespaces) {
        for (const pid of execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).split("\n").filter(Boolean)) {
            let rollup: string, command: string;
            try {
                rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
                command = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
            } catch {
                continue; // exited meanwhile
            }
            const kB = (field: string) => Number(rollup.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1] ?? 0);
            const pss = kB("Pss") / 1024;
            result.pssMiB += pss;
            result.rssMiB += kB("Rss") / 1024;
            const entry = result.byCommand.get(command) ?? { count: 0, pssMiB: 0 };
            result.byCommand.set(command, { count: entry.count + 1, pssMiB: entry.pssMiB + pss });
        }
    }
    return result;
}

async function main(): Promise<void> {
    const settle = intOption("settle", 60, 0, 600);
    const testbed = (cmd: string, args: string[] = []) => execFileSync(path.join(REPO_ROOT, "testbed", cmd), args, { stdio: ["ignore", "ignore", "inherit"] });
    const rows: string[] = [];
    try {
        for (const { masters, agents } of SHAPES) {
            for (const layout of LAYOUTS) {
                testbed("down");
                const start = Date.now();
                testbed("up", ["--masters", String(masters), "--agents", String(agents), "--control-plane", layout]);
                const upSeconds = (Date.now() - start) / 1000;
                await new Promise((r) => setTimeout(r, settle * 1000));
                const f = footprint();
                const top = [...f.byCommand.entries()]
                    .sort((a, b) => b[1].pssMiB - a[1].pssMiB)
                    .slice(0, 7)
                    .map(([command, { count, pssMiB }]) => `${command} ×${count} ${pssMiB.toFixed(0)}`)
                    .join(", ");
                const row = `  ${`${masters}+${agents}`.padEnd(6)} ${layout.padEnd(12)} ${upSeconds.toFixed(0).padStart(6)} ${(f.pssMiB / 1024).toFixed(2).padStart(9)} ${(f.rssMiB / 1024).toFixed(2).padStart(9)}   ${top}`;
                console.log(row);
                rows.push(row);
            }
        }
    } finally {
        testbed("down");
    }
    console.log(`\ntestbed footprint (memory ${settle} s after up; MiB by command is PSS)`);
    console.log(`  ${"shape".padEnd(6)} ${"layout".padEnd(12)} ${"up s".padStart(6)} ${"PSS GiB".padStart(9)} ${"RSS GiB".padStart(9)}   largest by command (MiB)`);
    for (const row of rows) console.log(row);
}

main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
});
