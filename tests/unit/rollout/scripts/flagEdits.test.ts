// A step that points a service's flag at a file (rotate.sh: stage_flag_edits, PARAM[flag_edits]),
// run by bash against a scratch tree (AZS_ROOT) with the restarts and the gate stood in for: the
// flag file — a static pod's manifest in either of AKS Engine's forms, or a unit's environment
// file — is installed like a certificate: its other arguments untouched, backed up, restarted for,
// restored when the gate fails, unchanged by a second run; a missing file or flag stops the step
// before anything changed. The signing certificate itself must match ca.key, and the apiserver's
// verifying public keys (sa.pub) must hold the signing key's (PARAM[cert_keys]).
import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InputFile, stepInput } from "../../../../components/rollout/remoteScript";
import { OpenSsl } from "../../support/openssl";
import { sourceStepScripts, standInStepParams } from "../../support/stepScripts";

const MANIFEST = "/etc/kubernetes/manifests/kube-controller-manager.yaml";
const ENV_FILE = "/etc/default/kube-controller-manager";
const SIGNING = "/etc/kubernetes/certs/ca-signing.crt";

const manifest = (quoted: boolean) => {
    const arg = (a: string) => `    - ${quoted ? `"${a}"` : a}`;
    return [
        "apiVersion: v1",
        "kind: Pod",
        "metadata:",
        "  name: kube-controller-manager",
        "spec:",
        "  containers:",
        "  - name: kube-controller-manager",
        "    command:",
        '    - "kube-controller-manager"',
        "    args:",
        arg("--root-ca-file=/etc/kubernetes/certs/ca.crt"),
        arg("--cluster-signing-cert-file=/etc/kubernetes/certs/ca.crt"),
        arg("--cluster-signing-key-file=/etc/kubernetes/certs/ca.key"),
        "",
    ].join("\n");
};

type StepRun = { ok: boolean; stdout: string; stderr: string };

/** The step's outcome line (rotate.sh prints it last on success): its secondsToHealthy. */
const secondsToHealthy = (run: StepRun) => (JSON.parse(run.stdout.trim().split("\n").pop()!) as { secondsToHealthy: number }).secondsToHealthy;

describe("flag edits (rotate.sh) on a scratch tree", function () {
    this.timeout(30_000);
    let root: string;
    const at = (p: string) => path.join(root, p);
    const restarts = () => (fs.existsSync(at("restarts")) ? fs.readFileSync(at("restarts"), "utf8").trim().split("\n") : []);
    const backups = () => (fs.existsSync(at("/etc/kubernetes/rotate-certs/backup")) ? fs.readdirSync(at("/etc/kubernetes/rotate-certs/backup")) : []);

    beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "azs-flags-"));
        fs.mkdirSync(at("/etc/kubernetes/manifests"), { recursive: true });
        fs.mkdirSync(at("/etc/default"), { recursive: true });
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    /**
     * One controlPlane step: its exit status and stderr. The gate fails while the file `fail-gate`
     * exists. With `drain`, the step drains (PARAM drain 1), and the stand-in drain copies the
     * manifest as it is at that moment to `manifest-at-drain` and takes a second (the balancer's settle time).
     */
    function step(manager: "staticPod" | "systemd", flagFile: string, flag = "--cluster-signing-cert-file", files: InputFile[] = [], drain = false): Promise<StepRun> {
        return runStep("controlPlane", {
            services: `kube-controller-manager=${manager}`,
            cert_keys: `${SIGNING}=/etc/kubernetes/certs/ca.key`,
            flag_edits: `kube-controller-manager,${flagFile},${flag},${SIGNING}`,
        }, files, drain);
    }

    /** One step of KIND with the given parameters over the defaults, on the scratch tree. */
    function runStep(kind: string, given: { services: string; cert_keys: string; flag_edits: string }, files: InputFile[], drain = false): Promise<StepRun> {
        const params = { ...standInStepParams(given), drain: drain ? "1" : "0" };
        fs.writeFileSync(at("input"), stepInput(params, files));
        // rotate.sh ends by running its step: sourced here without that last line, then run on the input
        const script = `${sourceStepScripts("rotate")}
lb_drain() { cp "$AZS_ROOT${MANIFEST}" "$AZS_ROOT/manifest-at-drain"; sleep 1; }
restart_service() { echo "$1" >>"$AZS_ROOT/restarts"; }
static_pods_replaced() { :; }
gate_stand_in() { [[ ! -e $AZS_ROOT/fail-gate ]] || { GATE_FAILURE="stand-in gate failed"; return 1; }; }
rotate_main ${kind} m0 digest <"$AZS_ROOT/input"`;
        return new Promise((resolve) =>
            execFile("bash", ["-c", script], { env: { ...process.env, AZS_ROOT: root }, timeout: 20_000 }, (err, stdout, stderr) => resolve({ ok: !err, stdout, stderr })),
        );
    }

    for (const quoted of [true, false]) {
        it(`a static pod's manifest (${quoted ? '- "--flag=value"' : "- --flag=value"}): the exact flag set, the rest untouched, the pod restarted, the original backed up; a second run changes nothing`, async () => {
            fs.writeFileSync(at(MANIFEST), manifest(quoted), { mode: 0o644 });
            const first = await step("staticPod", MANIFEST);
            assert.ok(first.ok, first.stderr);
            assert.equal(fs.readFileSync(at(MANIFEST), "utf8"), manifest(quoted).replace("--cluster-signing-cert-file=/etc/kubernetes/certs/ca.crt", `--cluster-signing-cert-file=${SIGNING}`));
            assert.equal(fs.statSync(at(MANIFEST)).mode & 0o777, 0o644);
            assert.deepEqual(restarts(), ["kube-controller-manager"]);
            assert.equal(backups().length, 1);
            assert.equal(fs.readFileSync(path.join(at("/etc/kubernetes/rotate-certs/backup"), backups()[0]!, MANIFEST), "utf8"), manifest(quoted));
            // no temporary file the kubelet would run as a second pod, no journal left
            assert.deepEqual(fs.readdirSync(at("/etc/kubernetes/manifests")), ["kube-controller-manager.yaml"]);
            assert.ok(!fs.existsSync(at("/etc/kubernetes/rotate-certs/journal")));

            const edited = fs.readFileSync(at(MANIFEST), "utf8");
            const second = await step("staticPod", MANIFEST);
            assert.ok(second.ok, second.stderr);
            assert.equal(fs.readFileSync(at(MANIFEST), "utf8"), edited);
            assert.deepEqual(restarts(), ["kube-controller-manager"], "no second restart");
            assert.equal(backups().length, 1, "no second backup");
        });
    }

    it("a drained master leaves the load balancer before its changed manifest is swapped in (the kubelet restarts the pod at once); an unchanged one is not drained", async () => {
        fs.writeFileSync(at(MANIFEST), manifest(false), { mode: 0o644 });
        const first = await step("staticPod", MANIFEST, undefined, [], true);
        assert.ok(first.ok, first.stderr);
        assert.equal(fs.readFileSync(at("manifest-at-drain"), "utf8"), manifest(false), "drained while the old manifest ran");
        assert.notEqual(fs.readFileSync(at(MANIFEST), "utf8"), manifest(false), "then the new one went in");
        // the master is out of service from the drain on: its swap→healthy counts the drain's second
        assert.ok(secondsToHealthy(first) >= 1, `secondsToHealthy ${secondsToHealthy(first)} counts from the drain`);
        fs.rmSync(at("manifest-at-drain"));
        const second = await step("staticPod", MANIFEST, undefined, [], true);
        assert.ok(second.ok, second.stderr);
        assert.ok(!fs.existsSync(at("manifest-at-drain")), "nothing changed: no drain");
    });

    /**
     * A controlPlane step whose manifest edit changes kube-controller-manager's manifest, with crictl
     * played as the kubelet would: a pod runs while its manifest is there (a new one, with a new
     * container id, once a manifest is back) and stops two looks after its manifest went. Each look
     * at the stopping pod's sandbox is recorded with what the node held then (`looks`).
     */
    async function stepWithKubelet(): Promise<StepRun> {
        const bin = at("bin");
        fs.mkdirSync(bin, { recursive: true });
        fs.writeFileSync(path.join(bin, "crictl"), `#!/bin/bash
m=$AZS_ROOT${MANIFEST} run=$AZS_ROOT/running
start() { local n; n=$(( $(cat "$AZS_ROOT/started" 2>/dev/null || echo 0) + 1 )); echo "$n" >"$AZS_ROOT/started"; echo "c$n" >"$run"; }
[[ -e $run || ! -e $m ]] || start
case "$1 $*" in
  "ps "*"-o json"*) if [[ -e $run ]]; then printf '{"containers":[{"id":"%s","podSandboxId":"sb-%s"}]}\n' "$(cat "$run")" "$(cat "$run")"; else echo '{"containers":[]}'; fi ;;
  "ps "*"-q"*) [[ ! -e $run ]] || cat "$run" ;;
  "pods "*)
    printf 'manifest %s, journal %s, backup %s\n' "$([[ -e $m ]] && echo present || echo absent)" "$([[ -e $AZS_ROOT/etc/kubernetes/rotate-certs/journal ]] && echo yes || echo no)" \
      "$(ls "$AZS_ROOT"/etc/kubernetes/rotate-certs/backup/*${MANIFEST} >/dev/null 2>&1 && echo yes || echo no)" >>"$AZS_ROOT/looks"
    [[ -e $run ]] || exit 0
    if [[ ! -e $m ]]; then echo x >>"$AZS_ROOT/gone"; if (( $(wc -l <"$AZS_ROOT/gone") >= 2 )); then rm -f "$run" "$AZS_ROOT/gone"; exit 0; fi; fi
    echo "$4" ;;
  *) echo "crictl $*" >>"$AZS_ROOT/unexpected" ;;
esac
`, { mode: 0o755 });
        const params = { ...standInStepParams({ services: "kube-controller-manager=staticPod", cert_keys: `${SIGNING}=/etc/kubernetes/certs/ca.key`, flag_edits: `kube-controller-manager,${MANIFEST},--cluster-signing-cert-file,${SIGNING}` }), health_timeout: "3" };
        fs.writeFileSync(at("input"), stepInput(params, []));
        const script = `${sourceStepScripts("rotate")}
gate_stand_in() { [[ ! -e $AZS_ROOT/fail-gate ]] || { GATE_FAILURE="stand-in gate failed"; return 1; }; }
rotate_main controlPlane m0 digest <"$AZS_ROOT/input"`;
        return new Promise<StepRun>((resolve) =>
            execFile("bash", ["-c", script], { env: { ...process.env, AZS_ROOT: root, PATH: `${bin}:${process.env.PATH}` }, timeout: 20_000 }, (err, stdout, stderr) => resolve({ ok: !err, stdout, stderr })),
        );
    }
    const looks = () => fs.readFileSync(at("looks"), "utf8").trim().split("\n");
    const unexpected = () => (fs.existsSync(at("unexpected")) ? fs.readFileSync(at("unexpected"), "utf8") : "");
    const nodeLog = () => fs.readFileSync(at("/var/log/azure/rotate-certs.log"), "utf8");

    it("a static pod whose manifest changes stops before the new manifest goes in (journaled, the old one backed up), and is not stopped again", async () => {
        fs.writeFileSync(at(MANIFEST), manifest(false), { mode: 0o644 });
        const run = await stepWithKubelet();
        assert.ok(run.ok, run.stderr);
        assert.deepEqual(looks(), ["manifest absent, journal yes, backup yes", "manifest absent, journal yes, backup yes"], "watched with no manifest in place until the pod stopped, the step journaled and the old manifest backed up");
        assert.notEqual(fs.readFileSync(at(MANIFEST), "utf8"), manifest(false), "then the new manifest went in");
        assert.equal(fs.readFileSync(at("running"), "utf8").trim(), "c2", "the new manifest's pod runs");
        assert.equal(unexpected(), "", "no crictl stop, rm or stopp");
        assert.match(nodeLog(), /kube-controller-manager \(staticPod\): its pod stops before its new manifest goes in/);
        assert.match(nodeLog(), /restarting kube-controller-manager \(staticPod\): its pod stopped for its manifest's swap; the kubelet starts it from the one in place/);
        assert.match(nodeLog(), /Success: changed 1 file\(s\); restarted: kube-controller-manager/);
    });

    it("its rollback stops the new manifest's pod before the previous manifest goes back", async () => {
        fs.writeFileSync(at(MANIFEST), manifest(false), { mode: 0o644 });
        fs.writeFileSync(at("fail-gate"), "");
        const run = await stepWithKubelet();
        assert.ok(!run.ok);
        assert.match(run.stderr, /health check failed: stand-in gate failed; rolled back 1 file\(s\) from .*; STILL UNHEALTHY after the rollback: stand-in gate failed/);
        assert.deepEqual(looks(), Array(4).fill("manifest absent, journal yes, backup yes"), "both pods stopped with no manifest in place, the step journaled");
        assert.equal(fs.readFileSync(at(MANIFEST), "utf8"), manifest(false), "the previous manifest is back");
        assert.equal(fs.readFileSync(at("running"), "utf8").trim(), "c3", "and its pod runs anew");
        assert.equal(unexpected(), "", "no crictl stop, rm or stopp");
        assert.match(nodeLog(), /kube-controller-manager \(staticPod\): its pod stops before its previous manifest goes back/);
        assert.ok(!fs.existsSync(at("/etc/kubernetes/rotate-certs/journal")));
    });

    it("a systemd unit's environment file: the flag among the others on one line", async () => {
        const env = 'KUBE_CONTROLLER_MANAGER_FLAGS="--root-ca-file=/etc/kubernetes/certs/ca.crt --cluster-signing-cert-file=/etc/kubernetes/certs/ca.crt --v=2"\n';
        fs.writeFileSync(at(ENV_FILE), env);
        const run = await step("systemd", ENV_FILE);
        assert.ok(run.ok, run.stderr);
        assert.equal(fs.readFileSync(at(ENV_FILE), "utf8"), env.replace("--cluster-signing-cert-file=/etc/kubernetes/certs/ca.crt", `--cluster-signing-cert-file=${SIGNING}`));
        assert.deepEqual(restarts(), ["kube-controller-manager"]);
    });

    it("a failed gate: the manifest is restored as it was, the pod restarted again, the step fails saying so", async () => {
        fs.writeFileSync(at(MANIFEST), manifest(true), { mode: 0o600 });
        fs.writeFileSync(at("fail-gate"), "");
        const run = await step("staticPod", MANIFEST);
        assert.ok(!run.ok);
        assert.match(run.stderr, /controlPlane\/m0: health check failed: stand-in gate failed; rolled back 1 file\(s\) from .*; STILL UNHEALTHY after the rollback: stand-in gate failed/);
        assert.equal(fs.readFileSync(at(MANIFEST), "utf8"), manifest(true));
        assert.equal(fs.statSync(at(MANIFEST)).mode & 0o777, 0o600);
        assert.deepEqual(restarts(), ["kube-controller-manager", "kube-controller-manager"]);
        assert.ok(!fs.existsSync(at("/etc/kubernetes/rotate-certs/journal")));
    });

    it("a flag file without the flag, or no flag file: the step stops before anything changed", async () => {
        fs.writeFileSync(at(MANIFEST), manifest(true));
        const noFlag = await step("staticPod", MANIFEST, "--cluster-signing-duration");
        assert.ok(!noFlag.ok);
        assert.match(noFlag.stderr, /kube-controller-manager: \/etc\/kubernetes\/manifests\/kube-controller-manager\.yaml has no --cluster-signing-duration= argument to set to \/etc\/kubernetes\/certs\/ca-signing\.crt; nothing was changed/);
        assert.equal(fs.readFileSync(at(MANIFEST), "utf8"), manifest(true));

        const noFile = await step("systemd", ENV_FILE);
        assert.ok(!noFile.ok);
        assert.match(noFile.stderr, /kube-controller-manager: \/etc\/default\/kube-controller-manager, where its flags are, is missing: cannot set --cluster-signing-cert-file=\/etc\/kubernetes\/certs\/ca-signing\.crt; nothing was changed/);
        assert.deepEqual([restarts(), backups()], [[], []]);
    });

    it("the signing certificate must match ca.key: another generation of the bundle stops the step before anything changed", async () => {
        const ssl = new OpenSsl();
        try {
            const [g0, g1] = [ssl.ca({ cn: "ca" }), ssl.ca({ cn: "ca-g1" })];
            fs.mkdirSync(at("/etc/kubernetes/certs"), { recursive: true });
            fs.writeFileSync(at("/etc/kubernetes/certs/ca.crt"), g0.cert + g1.cert);
            fs.writeFileSync(at("/etc/kubernetes/certs/ca.key"), g0.key, { mode: 0o600 });
            fs.writeFileSync(at(MANIFEST), manifest(true));
            const signing = (pem: string): InputFile[] => [{ path: SIGNING, mode: "0644", restarts: ["kube-controller-manager"], content: pem }];

            const wrong = await step("staticPod", MANIFEST, undefined, signing(g1.cert));
            assert.ok(!wrong.ok);
            assert.match(wrong.stderr, /\/etc\/kubernetes\/certs\/ca-signing\.crt does not match the private key \S*\/etc\/kubernetes\/certs\/ca\.key; nothing was changed/);
            assert.ok(!fs.existsSync(at(SIGNING)));
            assert.equal(fs.readFileSync(at(MANIFEST), "utf8"), manifest(true));

            const right = await step("staticPod", MANIFEST, undefined, signing(g0.cert));
            assert.ok(right.ok, right.stderr);
            assert.equal(fs.readFileSync(at(SIGNING), "utf8"), g0.cert);
            assert.match(fs.readFileSync(at(MANIFEST), "utf8"), /--cluster-signing-cert-file=\/etc\/kubernetes\/certs\/ca-signing\.crt"/);
            assert.deepEqual(restarts(), ["kube-controller-manager"], "one restart for both changes");
        } finally {
            ssl.remove();
        }
    });

    it("the apiserver's verifying keys (sa.pub) must hold the signing key's: otherwise, or not public keys, the step stops before anything changed", async () => {
        const ssl = new OpenSsl();
        try {
            const API_MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml";
            const SA_PUB = "/etc/kubernetes/certs/sa.pub";
            const SIGNER = "/etc/kubernetes/certs/apiserver.key";
            const [g0, g1] = [ssl.ca({ cn: "sa-g0" }), ssl.ca({ cn: "sa-g1" })];
            const pub = (key: string) => ssl.run(["pkey", "-pubout"], key);
            fs.mkdirSync(at("/etc/kubernetes/certs"), { recursive: true });
            fs.writeFileSync(at(SIGNER), g0.key, { mode: 0o600 });
            const apiManifest = manifest(true).replace(/kube-controller-manager/g, "kube-apiserver").replace("--root-ca-file=/etc/kubernetes/certs/ca.crt", `--service-account-key-file=${SIGNER}`);
            fs.writeFileSync(at(API_MANIFEST), apiManifest);
            const apiserver = (files: InputFile[]) =>
                runStep("apiserver", { services: "kube-apiserver=staticPod", cert_keys: `${SA_PUB}=${SIGNER}`, flag_edits: `kube-apiserver,${API_MANIFEST},--service-account-key-file,${SA_PUB}` }, files);
            const saPub = (content: string): InputFile => ({ path: SA_PUB, mode: "0644", restarts: ["kube-apiserver"], content });

            for (const [content, why] of [
                [pub(g1.key), /sa\.pub does not hold the public key of the signing key \S*\/etc\/kubernetes\/certs\/apiserver\.key; nothing was changed/],
                [g0.cert, /sa\.pub: not PEM public keys; nothing was changed/],
                [`${pub(g0.key)}-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n`, /sa\.pub: not PEM public keys/],
            ] as const) {
                const refused = await apiserver([saPub(content)]);
                assert.ok(!refused.ok);
                assert.match(refused.stderr, why);
                assert.ok(!fs.existsSync(at(SA_PUB)));
                assert.equal(fs.readFileSync(at(API_MANIFEST), "utf8"), apiManifest);
            }
            // trust: the new key's public key next to the installed signing key's
            const trust = await apiserver([saPub(pub(g0.key) + pub(g1.key))]);
            assert.ok(trust.ok, trust.stderr);
            assert.match(fs.readFileSync(at(API_MANIFEST), "utf8"), /"--service-account-key-file=\/etc\/kubernetes\/certs\/sa\.pub"/);
            // activate: the staged signing key is the one sa.pub must hold
            const wrong = await apiserver([{ path: SIGNER, mode: "0600", restarts: ["kube-apiserver"], content: ssl.ca({ cn: "other" }).key }, saPub(pub(g1.key) + pub(g0.key))]);
            assert.match(wrong.stderr, /does not hold the public key of the signing key/);
            const activate = await apiserver([{ path: SIGNER, mode: "0600", restarts: ["kube-apiserver"], content: g1.key }, saPub(pub(g1.key) + pub(g0.key))]);
            assert.ok(activate.ok, activate.stderr);
            assert.equal(fs.readFileSync(at(SIGNER), "utf8"), g1.key);
        } finally {
            ssl.remove();
        }
    });

    it("the preflight checks every flag file of the node before any node changes: the flag missing stops it, present passes", async () => {
        fs.mkdirSync(at("/etc/kubernetes/certs"), { recursive: true });
        const preflight = (): Promise<StepRun> => {
            const params = { services: "", certs_dir: "/etc/kubernetes/certs", lb_probe_sources: "", lb_settle: "0", flag_edits: `kube-controller-manager,${MANIFEST},--cluster-signing-cert-file,${SIGNING}`, ca_certs: "", cert_keys: "" };
            fs.writeFileSync(at("input"), stepInput(params, []));
            const script = `${sourceStepScripts("preflight")}
preflight_main m0 <"$AZS_ROOT/input"`;
            return new Promise((resolve) => execFile("bash", ["-c", script], { env: { ...process.env, AZS_ROOT: root }, timeout: 20_000 }, (err, stdout, stderr) => resolve({ ok: !err, stdout, stderr })));
        };
        fs.writeFileSync(at(MANIFEST), manifest(false).replace(/.*--cluster-signing-cert-file.*\n/, ""));
        const refused = await preflight();
        assert.ok(!refused.ok);
        assert.match(refused.stderr, /kube-controller-manager: \/etc\/kubernetes\/manifests\/kube-controller-manager\.yaml has no --cluster-signing-cert-file= argument/);
        fs.writeFileSync(at(MANIFEST), manifest(false));
        const passed = await preflight();
        assert.ok(passed.ok, passed.stderr);
    });
});
