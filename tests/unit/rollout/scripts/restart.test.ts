// How the step scripts restart a static pod (rotate.sh: restart_service), run by bash against a
// stand-in crictl that records what it was asked: the container is stopped gracefully (containerd
// SIGKILLs at once without --timeout), its exited containers are removed so the kubelet starts a new
// one without its crash-loop back-off, and a static pod with no running container (crash-looping)
// is not a failed restart: its exited containers go, the kubelet starts it again and the gate judges it,
// first by whether a new container runs (static_pods_replaced).
import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const SCRIPTS = path.resolve(__dirname, "../../../../components/rollout/scripts");

describe("static pod restart (rotate.sh) with a stand-in crictl", function () {
    this.timeout(20_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azs-restart-"));
    const calls = path.join(dir, "crictl-calls");

    /** A crictl that logs its arguments and lists `running` as the running container, `exited` as the exited ones, of every name asked for. */
    function standInCrictl(running: string, exited: string): void {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { recursive: true });
        const script = `#!/bin/bash
echo "$*" >> ${calls}
[[ $1 == ps ]] || exit 0
if [[ " $* " == *" --state exited "* ]]; then echo "${exited}"; else echo "${running}"; fi | sed '/^$/d'
`;
        fs.writeFileSync(path.join(bin, "crictl"), script, { mode: 0o755 });
        fs.rmSync(calls, { force: true });
    }

    /** Runs restart_service for kube-apiserver declared a static pod: "OK" or "FAILED: <RESTART_FAILURE>", and crictl's calls. */
    function restart(): Promise<{ result: string; calls: string[] }> {
        // rotate.sh ends by running its step: sourced here without that last line, for its functions alone
        const script = `source ${SCRIPTS}/lib.sh; source ${SCRIPTS}/gates.sh; source <(sed '$d' ${SCRIPTS}/rotate.sh)
log() { :; }
PARAM[services]="kube-apiserver=staticPod"
if restart_service kube-apiserver; then echo OK; else echo "FAILED: $RESTART_FAILURE"; fi`;
        return new Promise((resolve, reject) =>
            execFile("bash", ["-c", script], { env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, AZS_ROOT: dir }, timeout: 15_000 }, (err, stdout, stderr) =>
                err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ result: stdout.trim(), calls: fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [] }),
            ),
        );
    }

    /** Runs static_pods_replaced for kube-apiserver (a static pod whose restart stopped container c0ffee) and etcd (a unit): "OK" or "FAILED: <GATE_FAILURE>". */
    function replaced(): Promise<string> {
        const script = `source ${SCRIPTS}/lib.sh; source ${SCRIPTS}/gates.sh; source <(sed '$d' ${SCRIPTS}/rotate.sh)
log() { :; }
PARAM[services]="kube-apiserver=staticPod etcd=systemd"
PARAM[health_timeout]=1
INSTANCE_BEFORE[kube-apiserver]=c0ffee
if static_pods_replaced kube-apiserver etcd; then echo OK; else echo "FAILED: $GATE_FAILURE"; fi`;
        return new Promise((resolve, reject) =>
            execFile("bash", ["-c", script], { env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, AZS_ROOT: dir }, timeout: 15_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim()))),
        );
    }

    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("stops the running container with a grace period, so the apiserver shuts down gracefully, then removes the exited ones", async () => {
        standInCrictl("c0ffee", "c0ffee\nold1");
        const { result, calls: asked } = await restart();
        assert.equal(result, "OK");
        const stop = asked.indexOf("stop --timeout 30 c0ffee");
        const rm = asked.indexOf("rm c0ffee old1");
        assert.ok(stop >= 0 && rm > stop, asked.join("; "));
    });

    it("a static pod with no running container (crash-looping) is not a failed restart: nothing is stopped, its exited containers are removed", async () => {
        standInCrictl("", "dead1");
        const { result, calls: asked } = await restart();
        assert.equal(result, "OK");
        assert.ok(!asked.some((c) => c.startsWith("stop")), asked.join("; "));
        assert.ok(asked.includes("rm dead1"), asked.join("; "));
    });

    it("a stop that fails is a failed restart, and nothing is removed", async () => {
        standInCrictl("c0ffee", "old1");
        fs.writeFileSync(path.join(dir, "bin", "crictl"), fs.readFileSync(path.join(dir, "bin", "crictl"), "utf8").replace("[[ $1 == ps ]] || exit 0", "[[ $1 != stop ]] || exit 1\n[[ $1 == ps ]] || exit 0"));
        const { result, calls: asked } = await restart();
        assert.match(result, /^FAILED: restarting kube-apiserver \(staticPod\) failed \(exit status 1\)$/);
        assert.ok(!asked.some((c) => c.startsWith("rm")), asked.join("; "));
    });

    it("before the health checks, a restarted static pod must run a new container: the old one, or none (a crash loop), fails the gate saying so", async () => {
        standInCrictl("c0ffee", "");
        assert.equal(await replaced(), "FAILED: kube-apiserver (static pod): no new container running since its restart (crash-looping?) (not within 1 s)");
        standInCrictl("", "dead1");
        assert.match(await replaced(), /^FAILED: kube-apiserver \(static pod\): no new container/);
        standInCrictl("beef", "");
        assert.equal(await replaced(), "OK");
    });
});
