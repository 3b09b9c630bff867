// Explains each failed prober request from the testbed's own records: the backend the load
// balancer chose for its connection (haproxy logs every connection with its client address and
// server) and what the rollout was doing on each node at that moment (the nodes' rotation logs).
import * as fs from "fs";
import * as path from "path";

/** One failed request, as the prober's summary lists it (testbed/go/prober). */
export interface ProbeFailure {
    started: string;
    second: number;
    local?: string;
    latency_ms: number;
    error: string;
}

interface LbConnection {
    client: string;
    accepted: number;
    server: string;
    timers: string;
    termination: string;
}

interface StepLogLine {
    at: number;
    step: string;
    node: string;
    message: string;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** haproxy's tcplog lines: `ip:port [dd/Mon/yyyy:HH:MM:SS.mmm] frontend backend/server Tw/Tc/Tt bytes state …`. */
export function parseLbLog(text: string): LbConnection[] {
    const line = /^(\S+:\d+) \[(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d)\.(\d{3})\] \S+ (\S+) (\S+) \d+ (\S+)/;
    const out: LbConnection[] = [];
    for (const l of text.split("\n")) {
        const m = line.exec(l);
        if (!m) continue;
        // haproxy writes its local time, which is this machine's: the testbed runs here
        const accepted = new Date(Number(m[4]), MONTHS.indexOf(m[3]!), Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7]), Number(m[8])).getTime();
        out.push({ client: m[1]!, accepted, server: m[9]!, timers: m[10]!, termination: m[11]! });
    }
    return out;
}

/** The product's node log lines: `<ISO time> <step id> <node>: <message>` (components/rollout/scripts/lib.sh). */
export function parseStepLog(text: string): StepLogLine[] {
    const line = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (\S+): (.*)$/;
    const out: StepLogLine[] = [];
    for (const l of text.split("\n")) {
        const m = line.exec(l);
        if (m) out.push({ at: Date.parse(m[1]!), step: m[2]!, node: m[3]!, message: m[4]! });
    }
    return out;
}

/** A step is over once its node logged its outcome; a preflight once it passed or stopped (preflight.sh, lib.sh's die). */
const finished = (l: StepLogLine) => /^(Success|Failed|preflight ok|ERROR)\b/.test(l.message);

/** Between steps: the step that ended last before `t` and how long before (a restarted component may still be settling). */
function lastEnded(steps: StepLogLine[], t: number): string {
    const last = steps.filter((l) => l.at <= t && finished(l)).sort((a, b) => a.at - b.at).pop();
    return last ? ` (the last to end: ${last.step}, ${((t - last.at) / 1000).toFixed(1)} s before: ${last.message.slice(0, 80)})` : " (none had ended)";
}

/** One sentence per failure: when, what failed, through which backend, and the steps running then. */
export function explainFailures(failures: ProbeFailure[], lb: LbConnection[], steps: StepLogLine[]): string[] {
    const byNode = new Map<string, StepLogLine[]>();
    for (const l of [...steps].sort((a, b) => a.at - b.at)) byNode.set(l.node, [...(byNode.get(l.node) ?? []), l]);
    return failures.map((f) => {
        const t = Date.parse(f.started);
        const conn = f.local ? lb.filter((c) => c.client === f.local && Math.abs(c.accepted - t) < 5000).sort((a, b) => Math.abs(a.accepted - t) - Math.abs(b.accepted - t))[0] : undefined;
        const via = conn ? `via ${conn.server} (haproxy Tw/Tc/Tt ${conn.timers}, ${conn.termination})` : f.local ? `via an unlogged connection from ${f.local}` : "before a connection was made";
        const running: string[] = [];
        for (const lines of byNode.values()) {
            const last = lines.filter((l) => l.at <= t).pop();
            if (last && !finished(last)) running.push(`${last.step} (last logged ${new Date(last.at).toISOString().slice(11, 23)}: ${last.message.slice(0, 120)})`);
        }
        return `${f.started} ${f.error} after ${Math.round(f.latency_ms)} ms ${via}; running: ${running.join("; ") || `no step${lastEnded(steps, t)}`}`;
    });
}

/** Reads the testbed's balancer log and every node's rotation log from its state directory. */
export function explainTestbedFailures(failures: ProbeFailure[], state: string): string[] {
    if (failures.length === 0) return [];
    const vms = path.join(state, "vms");
    const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "");
    const names = fs.existsSync(vms) ? fs.readdirSync(vms) : [];
    const lb = names.flatMap((n) => parseLbLog(read(path.join(vms, n, "logs", "haproxy.log"))));
    const steps = names.flatMap((n) => parseStepLog(read(path.join(vms, n, "root", "var-log-azure", "rotate-certs.log"))));
    return explainFailures(failures, lb, steps);
}
