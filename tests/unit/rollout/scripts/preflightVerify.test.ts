// The preflight checks every file of the node's CA stage together (verify.sh) and records the good
// ones; a step then swaps those without checking them again, and checks itself any file the
// preflight did not record. Run by bash against a scratch tree (AZS_ROOT) with the restarts and the
// gate stood in for, with certificates openssl makes here.
import { strict as assert } from "assert";
import { execFile } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InputFile, stepInput } from "../../../../components/rollout/remoteScript";
import { OpenSsl, Pem } from "../../support/openssl";
import { sourceStepScripts, standInStepParams } from "../../support/stepScripts";

const CERTS = "/etc/kubernetes/certs";
const RECORDS = "/etc/kubernetes/rotate-certs/verified";

describe("files checked by the preflight, swapped by the step (verify.sh) on a scratch tree", function () {
    this.timeout(60_000);
    let root: string;
    let ssl: OpenSsl;
    let ca: Pem;
    const at = (p: string) => path.join(root, p);
    const records = () => (fs.existsSync(at(RECORDS)) ? fs.readdirSync(at(RECORDS)) : []);
    /** Every line of every record: "<sha256 of the content>  <path without its leading />". */
    const recordedLines = () => records().flatMap((r) => fs.readFileSync(at(`${RECORDS}/${r}`), "utf8").split("\n").filter(Boolean));
    const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
    const file = (name: string, content: string, restarts: string[] = []): InputFile => ({ path: `${CERTS}/${name}`, mode: name.endsWith(".key") ? "0600" : "0644", restarts, content });
    const leaf = (issuer: Pem) => ssl.leaf(issuer, { subj: "/CN=apiserver", days: 30, ext: ["extendedKeyUsage = serverAuth", "subjectAltName = IP:10.0.0.5"] });
    const apiserverFiles = (pair: Pem) => [file("ca.crt", ca.cert), file("apiserver.crt", pair.cert, ["kube-apiserver"]), file("apiserver.key", pair.key, ["kube-apiserver"])];

    before(() => {
        ssl = new OpenSsl();
        ca = ssl.ca({ cn: "ca" });
    });
    after(() => ssl.remove());
    beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "azs-verify-"));
        fs.mkdirSync(at(CERTS), { recursive: true });
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    const run = (script: string): Promise<{ ok: boolean; stderr: string }> =>
        new Promise((resolve) => execFile("bash", ["-c", script], { env: { ...process.env, AZS_ROOT: root }, timeout: 30_000 }, (err, _stdout, stderr) => resolve({ ok: !err, stderr })));

    /** The preflight with every file of the node. */
    function preflight(files: InputFile[]) {
        fs.writeFileSync(at("input"), stepInput({ services: "", certs_dir: CERTS, lb_probe_sources: "", lb_settle: "0", flag_edits: "", ca_certs: `${CERTS}/ca.crt`, cert_keys: "" }, files));
        return run(`${sourceStepScripts("preflight")}
preflight_main m0 <"$AZS_ROOT/input"`);
    }

    /** An apiserver step with its files; openssl's invocations are counted (AZS_ROOT/openssl-calls). */
    function step(files: InputFile[]) {
        const params = standInStepParams({ services: "kube-apiserver=systemd", cert_keys: "", flag_edits: "" });
        fs.writeFileSync(at("input"), stepInput(params, files));
        return run(`${sourceStepScripts("rotate")}
openssl() { echo "$*" >>"$AZS_ROOT/openssl-calls"; command openssl "$@"; }
restart_service() { echo "$1" >>"$AZS_ROOT/restarts"; }
static_pods_replaced() { :; }
gate_stand_in() { :; }
rotate_main apiserver m0 digest <"$AZS_ROOT/input"`);
    }
    const verifyCalls = () => (fs.existsSync(at("openssl-calls")) ? fs.readFileSync(at("openssl-calls"), "utf8").split("\n").filter((l) => l.startsWith("verify ")).length : 0);

    it("the preflight records the node's files; the step swaps them without checking them again", async () => {
        const files = apiserverFiles(leaf(ca));
        const checked = await preflight(files);
        assert.ok(checked.ok, checked.stderr);
        assert.match(checked.stderr, /preflight ok .*3 file\(s\) verified/);
        assert.equal(records().length, 1, "one record per preflight");
        assert.deepEqual(recordedLines().sort(), files.map((f) => `${sha256(f.content)}  ${f.path.slice(1)}`).sort());
        const swapped = await step(files);
        assert.ok(swapped.ok, swapped.stderr);
        assert.match(swapped.stderr, /every file was verified by the preflight/);
        assert.equal(verifyCalls(), 0, "no chain check in the step");
        assert.equal(fs.readFileSync(at(`${CERTS}/apiserver.crt`), "utf8"), files[1]!.content);
    });

    it("a file that differs from the one the preflight checked (or no preflight): the step checks every file itself", async () => {
        assert.ok((await preflight(apiserverFiles(leaf(ca)))).ok);
        const other = apiserverFiles(leaf(ca));
        const swapped = await step(other);
        assert.ok(swapped.ok, swapped.stderr);
        assert.doesNotMatch(swapped.stderr, /verified by the preflight/);
        assert.equal(verifyCalls(), 1, "the step checked the leaf's chain");
    });

    it("a certificate of a foreign CA, or one that does not match its key: the preflight stops before anything changed, records nothing; the step still refuses it", async () => {
        const foreign = apiserverFiles(leaf(ssl.ca({ cn: "other" })));
        const refused = await preflight(foreign);
        assert.ok(!refused.ok);
        assert.match(refused.stderr, /\/etc\/kubernetes\/certs\/apiserver\.crt: not signed by any of the cluster's CAs; nothing was changed/);
        assert.deepEqual(records(), []);
        const [caFile, crt] = apiserverFiles(leaf(ca));
        const mismatched = await preflight([caFile!, crt!, file("apiserver.key", leaf(ca).key, ["kube-apiserver"])]);
        assert.ok(!mismatched.ok);
        assert.match(mismatched.stderr, /apiserver\.crt does not match the private key .*apiserver\.key; nothing was changed/);
        assert.deepEqual(fs.readdirSync(at(CERTS)), [], "nothing installed");
        const stepRefused = await step(foreign);
        assert.ok(!stepRefused.ok);
        assert.match(stepRefused.stderr, /not signed by any of the cluster's CAs; nothing was changed/);
    });

    it("the records of two preflights add up (a one-shot's CA stages): a step whose files they checked between them swaps without checking", async () => {
        const files = apiserverFiles(leaf(ca));
        assert.ok((await preflight(files.slice(0, 2))).ok);
        assert.ok((await preflight([files[0]!, files[2]!])).ok);
        assert.equal(records().length, 2);
        const swapped = await step(files);
        assert.ok(swapped.ok, swapped.stderr);
        assert.match(swapped.stderr, /every file was verified by the preflight/);
        assert.equal(verifyCalls(), 0);
    });

    it("a record older than a day does not count: the step checks the file again", async () => {
        const files = apiserverFiles(leaf(ca));
        assert.ok((await preflight(files)).ok);
        const old = new Date(Date.now() - 25 * 3600_000);
        for (const r of records()) fs.utimesSync(at(`${RECORDS}/${r}`), old, old);
        const swapped = await step(files);
        assert.ok(swapped.ok, swapped.stderr);
        assert.doesNotMatch(swapped.stderr, /verified by the preflight/);
        assert.equal(verifyCalls(), 1);
    });
});
