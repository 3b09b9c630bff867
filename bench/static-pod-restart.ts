// Benchmark: ways to restart a static pod under a real kubelet (testbed/up --control-plane
// static-pods), each on its own master's kube-apiserver (the kubelet's crash-loop back-off is per
// pod: one method's restarts must not slow the next):
//   stop:      `crictl stop` its container; the kubelet starts a new one;
//   stop+rm:   the same, then `crictl rm` its exited containers;
//   product:   the product's own restart (rotate.sh restart_service, run from the repository's
//              scripts): stop, remove the exited containers, stop the pod's sandbox;
//   manifest:  move its manifest out of /etc/kubernetes/manifests until the kubelet has stopped the
//              pod, then back (kubeadm's documented way).
// Two scenarios: --runs restarts in a row of a healthy pod (every method), and two restarts of a
// pod that is crash-looping (its container stopped three times in a row, so the kubelet holds it
// in back-off with no container running; stop+rm and product, as a rollback meets it).
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

const SCRIPTS = path.join(REPO_ROOT, "components", "rollout", "scripts");
/** rotate.sh's restart_service for kube-apiserver, from this repository's scripts (rotate.sh without its last line, which runs a step). */
function productRestart(master: string): void {
    const rotate = fs.readFileSync(path.join(SCRIPTS, "rotate.sh"), "utf8").trimEnd().split("\n").slice(0, -1).join("\n");
    const script = [fs.readFileSync(path.join(SCRIPTS, "lib.sh"), "utf8"), fs.readFileSync(path.join(SCRIPTS, "gates.sh"), "utf8"), rotate, 'log() { :; }\nPARAM[services]="kube-apiserver=staticPod"\nrestart_service kube-apiserver || { echo "$RESTART_FAILURE" >&2; exit 1; }\n'].join("\n");
    const pid = fs.readFileSync(path.join(TESTBED_STATE, "vms", master, "init.pid"), "utf8").trim();
    execFileSync("nsenter", ["-t", pid, "-m", "-u", "-n", "--", "bash", "-s"], { input: script, encoding: "utf8", timeout: 90_000 });
}
const STOP_RUNNING = "ids=$(crictl ps -q --name '^kube-apiserver$'); if [ -n \"$ids\" ]; then crictl stop --timeout 30 $ids >/dev/null; fi";

const METHODS: Record<string, (master: string) => Promise<void>> = {
    stop: async (master) => {
        inMaster(master, STOP_RUNNING);
    },
    "stop+rm": async (master) => {
        inMaster(master, `${STOP_RUNNING} && ids=$(crictl ps -a -q --state exited --name '^kube-apiserver$') && if [ -n "$ids" ]; then crictl rm $ids >/dev/null; fi`);
    },
    product: async (master) => productRestart(master),
    manifest: async (master) => {
        inMaster(master, `mv ${MANIFEST} ${PARKED}`);
        await until(Date.now(), () => runningContainer(master) === "");
        inMaster(master, `mv ${PARKED} ${MANIFEST}`);
    },
};
const CRASH_LOOP_METHODS = ["stop+rm", "product"];

/** The kubelet's "back-off … restarting failed container=kube-apiserver" lines so far (its log, as the testbed's supervisor keeps it). */
function backOffLines(master: string): number {
    const log = fs.readFileSync(path.join(TESTBED_STATE, "vms", master, "logs", "kubelet.log"), "utf8");
    return log.split("\n").filter((line) => line.includes("CrashLoopBackOff") && line.includes("container=kube-apiserver ")).length;
}

/**
 * Puts the master's apiserver into the kubelet's back-off with no container running: three stops
 * in a row, each after the kubelet started the next container, and then until the kubelet has
 * logged that it holds the pod back (a removal before it noticed the exit would not find it in
 * back-off).
 */
async function crashLoop(master: string): Promise<void> {
    for (let stop = 0; stop < 3; stop++) {
        const old = runningContainer(master);
        if (stop > 0 && old === "") throw new Error(`${master}: no kube-apiserver container to stop`);
        const backOffs = backOffLines(master);
        inMaster(master, STOP_RUNNING);
        if (stop < 2 && (await until(Date.now(), () => ![old, ""].includes(runningContainer(master)))) === undefined) throw new Error(`${master}: the kubelet started no new container after stop ${stop + 1}`);
        if (stop === 2 && (await until(Date.now(), () => backOffLines(master) > backOffs)) === undefined) throw new Error(`${master}: the kubelet logged no back-off after the third stop`);
    }
}

interface Timing {
    toNew?: number;
    toReady?: number;
}

/** Restarts the master's apiserver by `method` and times it: seconds to a new running container and to /readyz 200 (undefined when not within 120 s). */
async function timeRestart(master: string, ip: string, method: string): Promise<Timing> {
    const old = runningContainer(master);
    const start = Date.now();
    await METHODS[method]!(master);
    const fresh = await until(start, () => ![old, ""].includes(runningContainer(master)));
    const ready = fresh === undefined ? undefined : await until(start, () => readyz(master, ip));
    return { toNew: fresh === undefined ? undefined : fresh / 1000, toReady: ready === undefined ? undefined : ready / 1000 };
}

function printRow(method: string, master: string, timings: Timing[]): void {
    const done = timings.filter((t) => t.toNew !== undefined && t.toReady !== undefined);
    const both = (v: number[]) => (v.length === 0 ? "-" : `${median(v).toFixed(1)}, ${Math.max(...v).toFixed(1)}`);
    console.log(`  ${method.padEnd(9)} ${master.padEnd(22)} ${both(done.map((t) => t.toNew!)).padEnd(30)} ${both(done.map((t) => t.toReady!)).padEnd(28)} ${timings.length - done.length}/${timings.length}`);
}

const header = () => console.log(`  ${"method".padEnd(9)} ${"master".padEnd(22)} ${"new container: median, max s".padEnd(30)} ${"/readyz 200: median, max s".padEnd(28)} timed out`);

async function main(): Promise<void> {
    const runs = intOption("runs", 5, 1, 20);
    const needed = Object.keys(METHODS).length + CRASH_LOOP_METHODS.length;
    const testbed = (cmd: string, args: string[] = []) => execFileSync(path.join(REPO_ROOT, "testbed", cmd), args, { stdio: "inherit" });
    if (!process.argv.includes("--reuse-testbed")) testbed("down");
    testbed("up", ["--control-plane", "static-pods", "--masters", String(needed)]);
    const onMasters = masters();
    if (onMasters.length < needed) throw new Error(`one master per method and scenario: ${needed} needed`);
    const ready = async (master: string, ip: string, what: string) => {
        if (!runningContainer(master) || (await until(Date.now(), () => readyz(master, ip))) === undefined) throw new Error(`${master}: kube-apiserver not running and ready ${what}`);
    };
    const parked: string[] = [];
    try {
        console.log(`\nrestarting a master's kube-apiserver static pod, ${runs} runs in a row per method, one master per method`);
        header();
        for (const [i, method] of Object.keys(METHODS).entries()) {
            const { name: master, ip } = onMasters[i]!;
            parked.push(master);
            const timings: Timing[] = [];
            for (let run = 0; run < runs; run++) {
                await ready(master, ip, `before run ${run + 1}`);
                timings.push(await timeRestart(master, ip, method));
            }
            printRow(method, master, timings);
        }
        // the back-off doubles with every crash loop made within 10 minutes: a third run would wait 5 minutes to start
        const crashRuns = Math.min(runs, 2);
        console.log(`\nrestarting a crash-looping kube-apiserver (the kubelet holds it in back-off, no container running), ${crashRuns} runs per method, one master per method`);
        header();
        for (const [i, method] of CRASH_LOOP_METHODS.entries()) {
            const { name: master, ip } = onMasters[Object.keys(METHODS).length + i]!;
            const timings: Timing[] = [];
            for (let run = 0; run < crashRuns; run++) {
                await ready(master, ip, `before run ${run + 1}`);
                await crashLoop(master);
                timings.push(await timeRestart(master, ip, method));
            }
            printRow(method, master, timings);
        }
    } finally {
        for (const master of parked) if (inMaster(master, `test -e ${PARKED} && echo parked || true`).trim() === "parked") inMaster(master, `mv ${PARKED} ${MANIFEST}`);
    }
}

main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
});
