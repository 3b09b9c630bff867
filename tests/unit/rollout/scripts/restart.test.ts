// How the step scripts restart a static pod (rotate.sh: restart_service), run by bash against a
// stand-in crictl that records what it was asked: the container is stopped gracefully (containerd
// SIGKILLs at once without --timeout), its exited containers are removed so the kubelet starts a new
// one without its crash-loop back-off, and the pod's sandbox is stopped when no new container shows
// within 5 s, so the kubelet syncs the pod at once rather than when a back-off ends. A static pod with no
// running container (crash-looping) is not a failed restart: the kubelet starts it again and the
// gate judges it, first by whether a new container runs (static_pods_replaced).
import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { sourceStepScripts } from "../../support/stepScripts";


describe("static pod restart (rotate.sh) with a stand-in crictl", function () {
    this.timeout(20_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azs-restart-"));
    const calls = path.join(dir, "crictl-calls");

    /**
     * A crictl that logs its arguments and keeps the containers of kube-apiserver's pod sandbox
     * "sb1" in files: `running` and `exited` at first; stop moves a container from running to
     * exited, rm drops an exited one, and ps lists them (as ids, or as JSON with their sandbox).
     */
    function standInCrictl(running: string, exited: string): void {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { recursive: true });
        fs.writeFileSync(path.join(dir, "running"), running ? `${running}\n` : "");
        fs.writeFileSync(path.join(dir, "exited"), exited ? `${exited}\n` : "");
        const script = `#!/bin/bash
echo "$*" >> ${calls}
cd ${dir}
case $1 in
  stop) shift 3; for id in "$@"; do grep -vx "$id" running > r || true; mv r running; echo "$id" >> exited; done ;;
  rm) shift; for id in "$@"; do grep -vx "$id" exited > e || true; mv e exited; done
    # a kubelet that starts the new container before the caller looks again
    if [[ -e kubelet-quick ]]; then echo fresh >> running; fi ;;
  ps)
    if [[ " $* " == *" --state created "* ]]; then all=""; elif [[ " $* " == *" --state exited "* ]]; then all=$(cat exited); elif [[ " $* " == *" -a "* ]]; then all=$(cat running exited); else all=$(cat running); fi
    if [[ " $* " == *" -o json "* ]]; then
      printf '%s\n' $all | sed '/^$/d' | jq -R '{id: ., podSandboxId: "sb1"}' | jq -s '{containers: .}'
    else printf '%s\n' $all | sed '/^$/d'; fi ;;
esac
exit 0
`;
        fs.writeFileSync(path.join(bin, "crictl"), script, { mode: 0o755 });
        fs.rmSync(calls, { force: true });
        fs.rmSync(path.join(dir, "kubelet-quick"), { force: true });
    }

    /** Runs restart_service for kube-apiserver declared a static pod: "OK" or "FAILED: <RESTART_FAILURE>", and crictl's calls. */
    function restart(): Promise<{ result: string; calls: string[] }> {
        // rotate.sh ends by running its step: sourced here without that last line, for its functions alone
        const script = `${sourceStepScripts("rotate")}
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
        const script = `${sourceStepScripts("rotate")}
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

    it("stops the running container with a grace period, so the apiserver shuts down gracefully, then removes the exited ones, then, when the kubelet has started no new container within 5 s, stops the pod's sandbox so the kubelet syncs it at once", async () => {
        standInCrictl("c0ffee", "old1");
        const { result, calls: asked } = await restart();
        assert.equal(result, "OK");
        const stop = asked.indexOf("stop --timeout 30 c0ffee");
        const rm = asked.indexOf("rm old1 c0ffee");
        const stopp = asked.indexOf("stopp sb1");
        assert.ok(stop >= 0 && rm > stop && stopp > rm, asked.join("; "));
    });

    it("a static pod with no running container (crash-looping) is not a failed restart: nothing is stopped, its exited containers are removed and its sandbox stopped (the kubelet would wait out its back-off otherwise)", async () => {
        standInCrictl("", "dead1");
        const { result, calls: asked } = await restart();
        assert.equal(result, "OK");
        assert.ok(!asked.some((c) => c.startsWith("stop ")), asked.join("; "));
        assert.ok(asked.indexOf("stopp sb1") > asked.indexOf("rm dead1") && asked.includes("rm dead1"), asked.join("; "));
    });

    it("a new container the kubelet already started is left alone: the sandbox is not stopped", async () => {
        standInCrictl("c0ffee", "");
        fs.writeFileSync(path.join(dir, "kubelet-quick"), "");
        const { result, calls: asked } = await restart();
        assert.equal(result, "OK");
        assert.ok(asked.includes("rm c0ffee"), asked.join("; "));
        assert.ok(!asked.some((c) => c.startsWith("stopp")), asked.join("; "));
    });

    it("a static pod without any container yet: nothing to stop, remove or reset", async () => {
        standInCrictl("", "");
        const { result, calls: asked } = await restart();
        assert.equal(result, "OK");
        assert.ok(!asked.some((c) => /^(stop|rm|stopp) /.test(c)), asked.join("; "));
    });

    it("a stop that fails is a failed restart, and nothing is removed or reset", async () => {
        standInCrictl("c0ffee", "old1");
        fs.writeFileSync(path.join(dir, "bin", "crictl"), fs.readFileSync(path.join(dir, "bin", "crictl"), "utf8").replace("case $1 in", "[[ $1 != stop ]] || exit 1\ncase $1 in"));
        const { result, calls: asked } = await restart();
        assert.match(result, /^FAILED: restarting kube-apiserver \(staticPod\) failed \(exit status 1\)$/);
        assert.ok(!asked.some((c) => c.startsWith("rm") || c.startsWith("stopp")), asked.join("; "));
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
