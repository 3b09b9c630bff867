// The step's input as the node reads it (lib.sh: read_input): the parameters and files the program
// writes with stepInput, staged under a scratch directory with their modes and restarts, and every
// malformed input refused before anything is staged outside that directory.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InputFile, stepInput } from "../../../../components/rollout/remoteScript";

const LIB = path.resolve(__dirname, "../../../../components/rollout/scripts/lib.sh");

interface Staged {
    status: number;
    stderr: string;
    /** "<mode> <path under the stage>" of every staged file, sorted. */
    modes: string[];
    contents: Record<string, string>;
    /** The shell's view after reading: PARAM and STAGED_RESTARTS as "name=value" lines, STAGED_FILES in order. */
    params: string[];
    restarts: string[];
    files: string[];
}

describe("read_input (lib.sh): the step's parameters and files, staged", function () {
    this.timeout(30_000);
    let scratch: string;
    beforeEach(() => (scratch = fs.mkdtempSync(path.join(os.tmpdir(), "azs-input-"))));
    afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

    function read(input: string): Staged {
        const stage = path.join(scratch, "stage");
        const script = `source ${LIB}
read_input ${stage}
for k in "\${!PARAM[@]}"; do printf 'param %s=%s\\n' "$k" "\${PARAM[$k]}"; done
for k in "\${!STAGED_RESTARTS[@]}"; do printf 'restarts %s=%s\\n' "$k" "\${STAGED_RESTARTS[$k]}"; done
for f in "\${STAGED_FILES[@]}"; do printf 'file %s\\n' "$f"; done`;
        const r = spawnSync("bash", ["-c", script], { input, encoding: "utf8", env: { ...process.env, AZS_ROOT: path.join(scratch, "root") }, timeout: 20_000 });
        const lines = (prefix: string) => r.stdout.split("\n").filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
        const modes: string[] = [];
        const contents: Record<string, string> = {};
        const walk = (dir: string) => {
            for (const e of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
                const p = path.join(dir, e.name);
                if (e.isDirectory()) walk(p);
                else {
                    const rel = p.slice(stage.length);
                    modes.push(`${(fs.statSync(p).mode & 0o777).toString(8).padStart(4, "0")} ${rel}`);
                    contents[rel] = fs.readFileSync(p, "utf8");
                }
            }
        };
        walk(stage);
        return { status: r.status ?? -1, stderr: r.stderr, modes: modes.sort(), contents, params: lines("param ").sort(), restarts: lines("restarts ").sort(), files: lines("file ") };
    }

    const files: InputFile[] = [
        { path: "/etc/kubernetes/certs/apiserver.crt", mode: "0644", restarts: ["kube-apiserver"], content: "-----BEGIN CERTIFICATE-----\n" + "A".repeat(300) + "\n-----END CERTIFICATE-----\n" },
        { path: "/etc/kubernetes/certs/apiserver.key", mode: "0600", restarts: ["kube-apiserver", "kubelet"], content: "key\n" },
        { path: "/etc/kubernetes/manifests/kube-apiserver.yaml", mode: "0640", restarts: [], content: "spec: {}\n" },
        { path: "/etc/kubernetes/certs/empty", mode: "0644", restarts: [], content: "" },
    ];

    it("stages every file at its path with its mode and content, and records its restarts and the parameters", () => {
        const s = read(stepInput({ node_ip: "10.0.0.5", services: "etcd=systemd kubelet=systemd" }, files));
        assert.equal(s.status, 0, s.stderr);
        assert.deepEqual(s.modes, [
            "0600 /etc/kubernetes/certs/apiserver.key",
            "0640 /etc/kubernetes/manifests/kube-apiserver.yaml",
            "0644 /etc/kubernetes/certs/apiserver.crt",
            "0644 /etc/kubernetes/certs/empty",
        ]);
        for (const f of files) assert.equal(s.contents[f.path], f.content, f.path);
        assert.deepEqual(s.params, ["node_ip=10.0.0.5", "services=etcd=systemd kubelet=systemd"]);
        const root = path.join(scratch, "root");
        assert.deepEqual(s.files, files.map((f) => root + f.path), "STAGED_FILES: destinations under AZS_ROOT, in input order");
        assert.deepEqual(s.restarts, [
            `${root}/etc/kubernetes/certs/apiserver.crt=kube-apiserver`,
            `${root}/etc/kubernetes/certs/apiserver.key=kube-apiserver kubelet`,
            `${root}/etc/kubernetes/certs/empty=`,
            `${root}/etc/kubernetes/manifests/kube-apiserver.yaml=`,
        ]);
    });

    it("refuses a cut-off input, a bad file header, content that is not base64 and an unknown line, naming each", () => {
        const good = stepInput({ node_ip: "10.0.0.5" }, files);
        const cases: [string, RegExp][] = [
            [good.slice(0, good.lastIndexOf("done")), /the input was cut off \(no 'done' line\): nothing was changed/],
            [good.replace("file 0644 /etc/kubernetes/certs/apiserver.crt", "file 0644 /etc/../apiserver.crt"), /bad file header in the input: file 0644 \/etc\/\.\.\/apiserver\.crt/],
            [good.replace("file 0600 /etc/kubernetes/certs/apiserver.key", "file 644 /etc/kubernetes/certs/apiserver.key"), /bad file header in the input: file 644 /],
            [good.replace(/^a2V5Cg==$/m, "not*base64"), /file \/etc\/kubernetes\/certs\/apiserver\.key: content is not valid base64/],
            [good.replace("done\n", "rm -rf /\ndone\n"), /unexpected input line: rm/],
        ];
        for (const [input, message] of cases) {
            assert.notEqual(input, good, `the case changes the input (${message})`);
            const s = read(input);
            assert.notEqual(s.status, 0, `refused: ${message}`);
            assert.match(s.stderr, message);
            assert.ok(!fs.existsSync(path.join(scratch, "root/etc")), "nothing staged outside the stage (only the refusal logged)");
            assert.match(fs.readFileSync(path.join(scratch, "root/var/log/azure/rotate-certs.log"), "utf8"), message, "the refusal is in the node's log");
        }
    });
});
