// The step registry against the shell scripts it dispatches to: every registered function exists,
// every shell gate is registered, and every parameter a step's functions read is sent to it.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { PLATFORM_SPECS } from "../../../components/nodeModel";
import { CLUSTER_CHECK_PARAMS, COMMON_PARAMS, LOCK_PARAMS, paramsOf, PREFLIGHT_PARAMS, STEP_KINDS, STEP_PARAMS, STEP_REGISTRY, StepKind, stepWorstCaseSeconds } from "../../../components/rollout/registry";

const SCRIPTS = path.join(__dirname, "../../../components/rollout/scripts");

interface ShellFunction {
    body: string;
    /** Literal PARAM[name] reads. */
    params: Set<string>;
}

/** The functions of a script text: `name() {` … a line `}` (one-line functions end on their own line); comments dropped. */
function shellFunctions(text: string): Map<string, ShellFunction> {
    const out = new Map<string, ShellFunction>();
    const lines = text.split("\n").map((l) => l.replace(/(^|\s)#.*$/, ""));
    for (let i = 0; i < lines.length; i++) {
        const head = /^([A-Za-z_][A-Za-z0-9_]*)\(\) \{(.*)$/.exec(lines[i]!);
        if (!head) continue;
        let body = head[2]!;
        if (!/\}\s*$/.test(body)) {
            for (i++; i < lines.length && lines[i] !== "}"; i++) body += `\n${lines[i]}`;
        }
        out.set(head[1]!, { body, params: new Set([...body.matchAll(/PARAM\[([a-z_]+)\]/g)].map((m) => m[1]!)) });
    }
    return out;
}

/** The parameters read by `roots` and every function they call, directly or not. */
function paramsReadFrom(functions: Map<string, ShellFunction>, roots: string[]): Set<string> {
    const seen = new Set<string>();
    const queue = [...roots];
    while (queue.length > 0) {
        const name = queue.pop()!;
        if (seen.has(name)) continue;
        seen.add(name);
        const fn = functions.get(name);
        if (!fn) continue;
        for (const other of functions.keys()) if (new RegExp(`(^|[^A-Za-z0-9_])${other}([^A-Za-z0-9_]|$)`).test(fn.body)) queue.push(other);
    }
    return new Set([...seen].flatMap((n) => [...(functions.get(n)?.params ?? [])]));
}

const scriptOf = (step: "rotate" | "preflight" | "lock" | "clusterCheck") => PLATFORM_SPECS.linux.scripts[step].map((f) => fs.readFileSync(path.join(SCRIPTS, f), "utf8")).join("\n");

describe("step registry ↔ remote scripts", () => {
    const rotate = shellFunctions(scriptOf("rotate"));
    const preflight = shellFunctions(scriptOf("preflight"));
    const lock = shellFunctions(scriptOf("lock"));
    const clusterCheck = shellFunctions(scriptOf("clusterCheck"));

    it("finds the scripts' functions (the parser works)", () => {
        for (const fn of ["rotate_main", "read_input", "restart_service", "apiserver_readmit", "gate_etcd"]) assert.ok(rotate.has(fn), fn);
        assert.ok(preflight.has("preflight_main") && preflight.has("check_manager"));
        assert.ok(rotate.get("gate_kubelet")!.params.has("kubelet_kubeconfig"));
        assert.ok(paramsReadFrom(rotate, ["gate_apiserver"]).has("api_client_key"), "reads through api_auth");
    });

    it("every function the registry names exists in the scripts", () => {
        for (const kind of STEP_KINDS) {
            const spec = STEP_REGISTRY[kind];
            for (const fn of [spec.gate, spec.precheck, spec.beforeRestart].filter((f): f is string => f !== undefined)) {
                assert.ok(rotate.has(fn), `step ${kind}: ${fn} is not a function of the remote scripts`);
            }
            assert.equal(spec.precheckText !== undefined, spec.precheck !== undefined, `step ${kind}: a precheck and its words for the preview come together`);
            assert.equal(spec.beforeRestartText !== undefined, spec.beforeRestart !== undefined, `step ${kind}: a before-restart function and its words for the preview come together`);
        }
    });

    it("every gate and precheck in the scripts is registered", () => {
        const registered = new Set(STEP_KINDS.flatMap((k) => [STEP_REGISTRY[k].gate, STEP_REGISTRY[k].precheck]));
        for (const fn of rotate.keys()) {
            if (/^(gate|precheck)_/.test(fn)) assert.ok(registered.has(fn), `${fn} in the scripts is not in the step registry`);
        }
    });

    it("every parameter a step's functions read is sent to that step", () => {
        const stepKinds: StepKind[] = [...STEP_KINDS];
        for (const kind of stepKinds) {
            const spec = STEP_REGISTRY[kind];
            const read = paramsReadFrom(rotate, ["rotate_main", spec.gate, ...[spec.precheck, spec.beforeRestart].filter((f): f is string => f !== undefined)]);
            const sent = new Set<string>(paramsOf(kind));
            const missing = [...read].filter((p) => !sent.has(p));
            assert.deepEqual(missing, [], `step ${kind} reads parameters it is not sent: ${missing.join(", ")}`);
        }
        for (const [name, functions, main, sent] of [["the preflight", preflight, "preflight_main", PREFLIGHT_PARAMS], ["the lock", lock, "lock_main", LOCK_PARAMS], ["the cluster check", clusterCheck, "cluster_check_main", CLUSTER_CHECK_PARAMS]] as const) {
            const missing = [...paramsReadFrom(functions, [main])].filter((p) => !sent.includes(p as never));
            assert.deepEqual(missing, [], `${name} reads parameters it is not sent: ${missing.join(", ")}`);
        }
    });

    it("every registered parameter is read by some script, and every kind's own ones by its functions", () => {
        const all = new Set([...rotate.values(), ...preflight.values(), ...lock.values(), ...clusterCheck.values()].flatMap((f) => [...f.params]));
        for (const p of Object.keys(STEP_PARAMS)) assert.ok(all.has(p), `${p} is registered but no script reads it`);
        for (const kind of STEP_KINDS) {
            const spec = STEP_REGISTRY[kind];
            const read = paramsReadFrom(rotate, [spec.gate, ...[spec.precheck, spec.beforeRestart].filter((f): f is string => f !== undefined)]);
            const unread = spec.params.filter((p) => !read.has(p) && !COMMON_PARAMS.includes(p));
            assert.deepEqual(unread, [], `step ${kind} is sent parameters its functions do not read: ${unread.join(", ")}`);
        }
    });

    it("no certificate file name is written out in the scripts: paths come as parameters", () => {
        for (const f of fs.readdirSync(SCRIPTS)) {
            const code = fs.readFileSync(path.join(SCRIPTS, f), "utf8").split("\n").filter((l) => !/^\s*#/.test(l)).join("\n");
            // names in the Kubernetes API, not files: the kube-root-ca.crt ConfigMap, the ca.crt key of its data and of token secrets
            const files = code.replace(/kube-root-ca\.crt|\["ca\.crt"\]/g, "");
            assert.doesNotMatch(files, /[A-Za-z0-9_-]+\.(crt|key|pub)\b|kubelet\/kubeconfig/, f);
        }
    });

    it("bounds each step by its own waits, twice (the gate after the change and after the rollback)", () => {
        const t = { healthTimeoutSeconds: 300, loadBalancerSettleSeconds: 15, members: 3 };
        // lock 60 + precheck 3×5 + drain 15 + 2 × (restart 120 + (3+3)×300 + 2×15) + 60
        assert.equal(stepWorstCaseSeconds("etcd", t), 4050);
        // lock 60 + drain 15 + 2 × (120 + 3×300 + 2×15) + 60
        assert.equal(stepWorstCaseSeconds("apiserver", t), 2235);
        // lock 60 + 2 × (3 services × 120 + 3×300) + 60
        assert.equal(stepWorstCaseSeconds("controlPlane", t), 2640);
        // lock 60 + 2 × (2 services (the kubelet, kube-proxy's pod) × 120 + 2×300) + 60
        assert.equal(stepWorstCaseSeconds("kubelet", t), 1800);
        // every health-timeout wait in a gate's own body is counted in its bound (loops over members count once per member)
        for (const kind of STEP_KINDS) {
            const waits = (rotate.get(STEP_REGISTRY[kind].gate)!.body.match(/\bwait_for\b/g) ?? []).length;
            assert.ok(STEP_REGISTRY[kind].gateBound(1).timeouts >= waits, `${kind}: ${waits} waits in its gate`);
        }
        assert.ok(stepWorstCaseSeconds("etcd", { ...t, members: 5 }) > stepWorstCaseSeconds("etcd", t));
    });
});
