// How the step scripts restart a static pod (rotate.sh: restart_service), run by bash against a
// stand-in crictl that records what it was asked: the container is stopped gracefully (containerd
// SIGKILLs at once without --timeout), and a static pod with no running container (crash-looping)
// is not a failed restart: the kubelet starts it again and the gate judges it.
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

    /** A crictl that logs its arguments and lists `running` as the container of every name asked for. */
    function standInCrictl(running: string): void {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { recursive: true });
        fs.writeFileSync(path.join(bin, "crictl"), `#!/bin/bash\necho "$*" >> ${calls}\nif [[ $1 == ps && -n "${running}" ]]; then echo ${running}; fi\n`, { mode: 0o755 });
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

    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("stops the running container with a grace period, so the apiserver shuts down gracefully", async () => {
        standInCrictl("c0ffee");
        const { result, calls: asked } = await restart();
        assert.equal(result, "OK");
        assert.ok(asked.includes("stop --timeout 30 c0ffee"), asked.join("; "));
    });

    it("a static pod with no running container (crash-looping) is not a failed restart, and nothing is stopped", async () => {
        standInCrictl("");
        const { result, calls: asked } = await restart();
        assert.equal(result, "OK");
        assert.ok(!asked.some((c) => c.startsWith("stop")), asked.join("; "));
    });
});
