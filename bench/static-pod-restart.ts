// Benchmark: ways to restart a static pod under a real kubelet (testbed/up --control-plane
// static-pods), each on its own master's kube-apiserver (the kubelet's crash-loop back-off is per
// pod: one method's restarts must not slow the next), --runs times in a row:
//   stop:      `crictl stop` its container; the kubelet starts a new one;
//   stop+rm:   the same, then `crictl rm` its exited containers (the product's way: rotate.sh);
//   manifest:  move its manifest out of /etc/kubernetes/manifests until the kubelet has stopped the
//              pod, then back (kubeadm's documented way).
// Prints per method the median and the slowest seconds from the action to a new running container
// and to /readyz answering 200 "ok", and how often the new container was not there within 120 s.
//   bench/static-pod-restart.ts [--runs N] [--reuse-testbed]
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT, TESTBED_STATE } from "../testbed/harness/workspace";
import { intOption, median } from "./testbedRun";

const MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml";
const PARKED = "/etc/kubernetes/kube-apiserver.yaml.parked";
const LIMIT_MS = 120_000;

function inMaster(master: string, command: string): string {
    const pid = fs.readFileSync(path.join(TESTBED_STATE, "vms", master, "init.pid"), "utf8").trim();
    return execFileSync("nsenter", ["-t", pid, "-m", "-u", "-n", "--", "bash", "-c", command], { encoding: "utf8", timeout: 60_000 });
}
const runningContainer = (master: string) => inMaster(master, "crictl ps -q --state running --name '^kube-apiserver$' 2>/dev/null | head -n1").trim();
const masters = () => (JSON.parse(fs.readFileSync(path.join(TESTBED_STATE, "inventory.json"), "utf8")) as { nodes: { name: string; role: string; ip: string }[] }).nodes.filter((n) => n.role === "master");
const readyz = (master: string, ip: string) => inMaster(master, `curl -s --max-time 2 -w ' %{http_code}' --cacert /etc/kubernetes/certs/ca.crt https://${ip}:443/readyz || true`).trim() === "ok 200";

/** Milliseconds from `start` until `check` holds (polled every 100 ms), or undefined after LIMIT_MS. */
async function until(start: number, check: () => boolean): Promise<number | undefined> {
    while (Date.now() - start < LIMIT_MS) {
        if (check()) return Date.now() - start;
        await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
}

const METHODS: Record<string, (master: string, old: string) => Promise<void>> = {
    stop: async (master, old) => {
        inMaster(master, `crictl stop --timeout 30 ${old} >/dev/null`);
    },
    "stop+rm": async (master, old) => {
        inMaster(master, `crictl stop --timeout 30 ${old} >/dev/null && ids=$(crictl ps -a -q --state exited --name '^kube-apiserver$') && crictl rm $ids >/dev/null`);
    },
    manifest: async (master) => {
        inMaster(master, `mv ${MANIFEST} ${PARKED}`);
        await until(Date.now(), () => runningContainer(master) === "");
        inMaster(master, `mv ${PARKED} ${MANIFEST}`);
    },
};

async function main(): Promise<void> {
    const runs = intOption("runs", 5, 1, 20);
    const testbed = (cmd: string, args: string[] = []) => execFileSync(path.join(REPO_ROOT, "testbed", cmd), args, { stdio: "inherit" });
    if (!process.argv.includes("--reuse-testbed")) testbed("down");
    testbed("up", ["--control-plane", "static-pods"]);
    const onMasters = masters();
    if (onMasters.length < Object.keys(METHODS).length) throw new Error(`one master per method: ${Object.keys(METHODS).length} needed`);
    console.log(`\nrestarting a master's kube-apiserver static pod, ${runs} runs in a row per method, one master per method`);
    console.log(`  ${"method".padEnd(9)} ${"master".padEnd(22)} ${"new container: median, max s".padEnd(30)} ${"/readyz 200: median, max s".padEnd(28)} timed out`);
    const parked: string[] = [];
    try {
        for (const [i, [method, restart]] of Object.entries(METHODS).entries()) {
            const { name: master, ip } = onMasters[i]!;
            parked.push(master);
            const toNew: number[] = [];
            const toReady: number[] = [];
            let timedOut = 0;
            for (let run = 0; run < runs; run++) {
                const old = runningContainer(master);
                if (!old || (await until(Date.now(), () => readyz(master, ip))) === undefined) throw new Error(`${master}: kube-apiserver not running and ready before run ${run + 1}`);
                const start = Date.now();
                await restart(master, old);
                const fresh = await until(start, () => {
                    const now = runningContainer(master);
                    return now !== "" && now !== old;
                });
                const ready = fresh === undefined ? undefined : await until(start, () => readyz(master, ip));
                if (fresh === undefined || ready === undefined) timedOut++;
                else {
                    toNew.push(fresh / 1000);
                    toReady.push(ready / 1000);
                }
            }
            const both = (v: number[]) => `${median(v).toFixed(1)}, ${Math.max(...v).toFixed(1)}`;
            console.log(`  ${method.padEnd(9)} ${master.padEnd(22)} ${both(toNew).padEnd(30)} ${both(toReady).padEnd(28)} ${timedOut}/${runs}`);
        }
    } finally {
        for (const master of parked) if (inMaster(master, `test -e ${PARKED} && echo parked || true`).trim() === "parked") inMaster(master, `mv ${PARKED} ${MANIFEST}`);
    }
}

main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
});
