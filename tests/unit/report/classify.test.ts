// The report's judgement (report/classify.ts), pure: readings as the script's parser gives them,
// real certificates made with openssl, the clock moved around their notAfter.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { createHash, X509Certificate } from "crypto";
import { classify, classifyFile, ClassifyInput, FAILING, STATES, worst } from "../../../report/classify";
import type { FileReading, NodeReading } from "../../../report/collect";
import type { Target } from "../../../report/targets";
import { OpenSsl, Pem } from "../support/openssl";

const DAY = 86_400_000;
const CERT = "/etc/kubernetes/certs/apiserver.crt";
const KEY = "/etc/kubernetes/certs/apiserver.key";

describe("report: classification and exit codes", () => {
    const ssl = new OpenSsl();
    let ca: Pem, leaf: Pem, other: Pem;
    let notAfter: number;
    const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
    /** What the script sends for a key: the SHA-256 of its public half, as openssl gives it. */
    const keyHash = (pem: Pem) => createHash("sha256").update(execFileSync("openssl", ["pkey", "-pubout", "-outform", "DER"], { input: pem.key })).digest("hex");
    before(() => {
        ca = ssl.ca({ cn: "ca" });
        leaf = ssl.leaf(ca, { subj: "/CN=apiserver", days: 365, ext: ["keyUsage=critical,digitalSignature,keyEncipherment"] });
        other = ssl.leaf(ca, { subj: "/CN=apiserver", days: 365, ext: ["keyUsage=critical,digitalSignature,keyEncipherment"] });
        notAfter = new X509Certificate(leaf.cert).validToDate.getTime();
    });
    after(() => ssl.remove());

    const target = (t: Partial<Target> = {}): Target => ({ path: CERT, kind: "certificate", key: KEY, expected: true, source: "apiserver", ...t });
    const reading = (r: Partial<FileReading> = {}): FileReading => ({ path: CERT, status: "present", problems: [], mode: "644", certificates: [leaf.cert], key: { status: "hash", sha256: keyHash(leaf) }, ...r });
    const at = (daysBeforeNotAfter: number) => new Date(notAfter - daysBeforeNotAfter * DAY);

    /** One node holding the given files; the run's report. */
    function run(files: [Target, FileReading][], now: Date, extra: ClassifyInput["nodes"] = []) {
        const node: NodeReading = { node: "k8s-master-0", files: files.map(([, r]) => r) };
        return classify({ stack: "prod", warnDays: 60, now, nodes: [{ name: "k8s-master-0", role: "master", ip: "10.240.255.5", targets: files.map(([t]) => t), reading: node }, ...extra] });
    }

    it("a certificate with 100 days left, its key matching, as the state says: ok, exit 0, healthy", () => {
        const r = run([[target({ stateSha256: [fp(leaf.cert)] }), reading()]], at(100));
        const f = r.nodes[0]!.files[0]!;
        assert.deepEqual([f.state, f.states, f.key, f.matchesState, f.problems], ["ok", ["ok"], { path: KEY, status: "match" }, true, []]);
        assert.equal(f.certificates[0]!.daysLeft, 100);
        assert.deepEqual([r.summary.exitCode, r.summary.status, r.summary.stateCompared], [0, "healthy", true]);
    });

    it("due below warnDays: 60 days left is ok, 59.5 is due (whole days, floored), exit 1", () => {
        assert.equal(run([[target(), reading()]], at(60)).nodes[0]!.files[0]!.state, "ok");
        const r = run([[target(), reading()]], at(59.5));
        assert.deepEqual([r.nodes[0]!.files[0]!.state, r.nodes[0]!.files[0]!.certificates[0]!.daysLeft, r.summary.exitCode, r.summary.status], ["due", 59, 1, "due"]);
        assert.deepEqual(r.nodes[0]!.files[0]!.problems, [], "a due certificate is no problem of its file");
    });

    it("expired at its notAfter: exit 2, said with the date; daysLeft negative after it", () => {
        const r = run([[target(), reading()]], new Date(notAfter));
        const f = r.nodes[0]!.files[0]!;
        assert.deepEqual([f.state, r.summary.exitCode, r.summary.status], ["expired", 2, "failing"]);
        assert.deepEqual(f.problems, [`CN=apiserver expired ${new Date(notAfter).toISOString()}`]);
        assert.equal(run([[target(), reading()]], at(-1.5)).nodes[0]!.files[0]!.certificates[0]!.daysLeft, -2);
    });

    it("drifted: another certificate than the state's, or the same ones in another order, exit 2", () => {
        const drift = run([[target({ stateSha256: [fp(other.cert)] }), reading()]], at(100));
        assert.deepEqual([drift.nodes[0]!.files[0]!.state, drift.nodes[0]!.files[0]!.matchesState, drift.summary.exitCode], ["drifted", false, 2]);
        const order = run([[target({ stateSha256: [fp(other.cert), fp(leaf.cert)] }), reading({ certificates: [leaf.cert, other.cert] })]], at(100));
        assert.equal(order.nodes[0]!.files[0]!.state, "drifted");
        const same = run([[target({ stateSha256: [fp(leaf.cert), fp(other.cert)] }), reading({ certificates: [leaf.cert, other.cert] })]], at(100));
        assert.equal(same.nodes[0]!.files[0]!.state, "ok");
    });

    it("without the state's fingerprints nothing is compared: matchesState null, stateCompared false", () => {
        const r = run([[target(), reading()]], at(100));
        assert.deepEqual([r.nodes[0]!.files[0]!.matchesState, r.nodes[0]!.stateCompared, r.summary.stateCompared, r.summary.exitCode], [null, false, false, 0]);
    });

    it("missing: exit 2 when the state or the catalog puts the file there; absent (exit 0) for the kubelet's own files", () => {
        const gone = reading({ status: "missing", certificates: [], key: { status: "none" } });
        const r = run([[target(), gone]], at(100));
        assert.deepEqual([r.nodes[0]!.files[0]!.state, r.nodes[0]!.files[0]!.present, r.summary.exitCode, r.summary.filesByState.missing], ["missing", false, 2, 1]);
        const optional = run([[target({ expected: false, source: undefined }), gone]], at(100));
        assert.deepEqual([optional.nodes[0]!.files[0]!.state, optional.summary.exitCode, optional.summary.filesByState.absent], ["absent", 0, 1]);
    });

    it("key-mismatch: another key, a missing key file or one that is no key, exit 2", () => {
        for (const key of [{ status: "hash" as const, sha256: keyHash(other) }, { status: "missing" as const, path: KEY }, { status: "unreadable" as const, path: KEY }]) {
            const r = run([[target(), reading({ key })]], at(100));
            assert.deepEqual([r.nodes[0]!.files[0]!.state, r.summary.exitCode], ["key-mismatch", 2], key.status);
        }
        // a certificate file without a key on this node (ca.crt on an agent) is not a mismatch
        const none = run([[target({ key: undefined }), reading({ key: { status: "none" } })]], at(100));
        assert.deepEqual([none.nodes[0]!.files[0]!.state, none.nodes[0]!.files[0]!.key], ["ok", { path: null, status: "none" }]);
    });

    it("unreadable: no certificate in a present file, a certificate that does not parse, a problem the script reported; exit 2", () => {
        assert.equal(run([[target(), reading({ certificates: [] })]], at(100)).nodes[0]!.files[0]!.state, "unreadable");
        const garbage = run([[target(), reading({ certificates: ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] })]], at(100));
        assert.equal(garbage.nodes[0]!.files[0]!.state, "unreadable");
        assert.match(garbage.nodes[0]!.files[0]!.problems[0]!, /^certificate 1 does not parse/);
        assert.equal(garbage.summary.exitCode, 2);
        const named = run([[target({ kind: "kubeconfig" }), reading({ certificates: [], problems: ["the client certificate it names, /x.crt, is missing or unreadable"] })]], at(100));
        assert.deepEqual([named.nodes[0]!.files[0]!.state, named.nodes[0]!.files[0]!.problems], ["unreadable", ["the client certificate it names, /x.crt, is missing or unreadable"]]);
    });

    it("several problems: the file's state is the most severe, every one in states and problems", () => {
        const r = run([[target({ stateSha256: [fp(other.cert)] }), reading({ key: { status: "hash", sha256: keyHash(other) } })]], new Date(notAfter + DAY));
        const f = r.nodes[0]!.files[0]!;
        assert.deepEqual([f.state, f.states], ["expired", ["expired", "key-mismatch", "drifted"]]);
        assert.equal(f.problems.length, 3);
        assert.equal(worst(["due", "drifted", "ok"]), "drifted");
        assert.equal(worst([]), "ok");
        assert.deepEqual(STATES.filter((s) => !FAILING.includes(s)), ["due", "ok", "absent"]);
    });

    it("due and drifted together: exit 2 (the worse wins)", () => {
        const r = run([[target(), reading()], [target({ path: "/etc/kubernetes/certs/client.crt", stateSha256: [fp(other.cert)] }), reading({ path: "/etc/kubernetes/certs/client.crt" })]], at(30));
        assert.deepEqual(r.nodes[0]!.files.map((f) => f.state), ["due", "drifted"]);
        assert.equal(r.summary.exitCode, 2);
    });

    it("a node that cannot be read: exit 2, named in the summary, with the error, its files not judged", () => {
        const r = run([[target(), reading()]], at(100), [{ name: "k8s-agentpool1-2", role: "agent", ip: "10.240.255.42", targets: [target()], reading: { node: "k8s-agentpool1-2", error: "ssh 10.240.255.42: Connection timed out", files: [] } }]);
        assert.deepEqual([r.summary.exitCode, r.summary.unreachableNodes, r.nodes[1]!.reachable, r.nodes[1]!.error, r.nodes[1]!.files], [2, ["k8s-agentpool1-2"], false, "ssh 10.240.255.42: Connection timed out", []]);
        assert.equal(r.summary.status, "failing");
    });

    it("the soonest certificate over every node, and the counts", () => {
        const r = run([[target(), reading({ certificates: [other.cert, leaf.cert] })]], at(100));
        const soonest = [leaf, other].map((p) => new X509Certificate(p.cert).validToDate.getTime()).sort((a, b) => a - b)[0]!;
        assert.equal(r.summary.soonest!.notAfter, new Date(soonest).toISOString());
        assert.deepEqual([r.summary.nodes, r.summary.files, r.summary.certificates], [1, 1, 2]);
    });

    it("classifyFile keeps what the script saw: link, mode, where a kubeconfig's certificate is", () => {
        const f = classifyFile(target({ kind: "kubeconfig", key: undefined }), reading({ link: "kubelet-client-1.pem", mode: "600", from: "embedded" }), at(100), 60);
        assert.deepEqual([f.link, f.mode, f.certificateFrom, f.key], ["kubelet-client-1.pem", "600", "embedded", { path: null, status: "match" }]);
    });

    it("a public-key file (sa.pub): no expiry and no key; ok with the state's keys in order, drifted with others, unreadable with none, missing when gone; a file, not a certificate", () => {
        const SA = "/etc/kubernetes/certs/sa.pub";
        const [a, b] = [keyHash(leaf), keyHash(other)];
        const pk = (stateSha256: string[] | undefined, r: Partial<FileReading>): [Target, FileReading] => [
            { path: SA, kind: "publicKeys", expected: true, source: "service-account", ...(stateSha256 ? { stateSha256 } : {}) },
            { path: SA, status: "present", problems: [], mode: "644", certificates: [], publicKeys: [a, b], key: { status: "none" }, ...r },
        ];
        const one = (file: [Target, FileReading]) => run([file], at(10)).nodes[0]!.files[0]!;
        const ok = run([pk([a, b], {})], at(10));
        const f = ok.nodes[0]!.files[0]!;
        assert.deepEqual([f.kind, f.state, f.states, f.matchesState, f.publicKeys, f.certificates, f.key, f.problems], ["publicKeys", "ok", ["ok"], true, [a, b], [], { path: null, status: "none" }, []]);
        assert.deepEqual([ok.summary.exitCode, ok.summary.files, ok.summary.certificates, ok.summary.soonest], [0, 1, 0, null], "nothing falls due, whatever the clock");
        assert.deepEqual([one(pk([b, a], {})).state, one(pk([a], {})).state], ["drifted", "drifted"]);
        assert.deepEqual(one(pk([a], {})).problems, [`holds public keys ${a.slice(0, 16)}…, ${b.slice(0, 16)}…; the state says ${a.slice(0, 16)}… (service-account)`]);
        assert.deepEqual([one(pk(undefined, {})).state, one(pk(undefined, {})).matchesState], ["ok", null]);
        const none = one(pk(undefined, { publicKeys: [] }));
        assert.deepEqual([none.state, none.problems], ["unreadable", ["no public key in the file"]]);
        const foreign = one(pk([a], { publicKeys: [a], problems: ["block 2 is a CERTIFICATE, not a PUBLIC KEY"] }));
        assert.deepEqual([foreign.state, foreign.states, foreign.problems], ["unreadable", ["unreadable"], ["block 2 is a CERTIFICATE, not a PUBLIC KEY"]]);
        const gone = run([pk([a], { status: "missing", publicKeys: [] })], at(10));
        assert.deepEqual([gone.nodes[0]!.files[0]!.state, gone.nodes[0]!.files[0]!.problems, gone.summary.exitCode], ["missing", ["missing: the state puts service-account here"], 2]);
    });
});
