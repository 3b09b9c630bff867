// The report printed (report/render.ts): the JSON of schema version 1 field by field, and the
// table's rows, order and notes, for a run over three nodes made of real certificates.
import { strict as assert } from "assert";
import { X509Certificate } from "crypto";
import { classify, Report } from "../../../report/classify";
import type { FileReading } from "../../../report/collect";
import { renderJson, renderTable, tableRows } from "../../../report/render";
import { renderTimeline } from "../../../report/timeline";
import type { Target } from "../../../report/targets";
import { OpenSsl, Pem } from "../support/openssl";

const CERTS = "/etc/kubernetes/certs";

describe("report: rendering (JSON schema 1, table)", () => {
    const ssl = new OpenSsl();
    let report: Report;
    let ca: Pem, soon: Pem, later: Pem, latest: Pem;
    const now = new Date();
    before(() => {
        ca = ssl.ca({ cn: "ca", days: 3650 });
        const leaf = (cn: string, days: number) => ssl.leaf(ca, { subj: `/CN=${cn}`, days, ext: ["keyUsage=critical,digitalSignature,keyEncipherment"] });
        soon = leaf("etcdpeer0", 10);
        later = leaf("apiserver", 100);
        latest = leaf("client", 300);
        const present = (path: string, certificates: string[], stateOf?: string[]): [Target, FileReading] => [
            { path, kind: "certificate", expected: true, source: "x", ...(stateOf ? { stateSha256: stateOf.map((p) => new X509Certificate(p).fingerprint256) } : {}) },
            { path, status: "present", problems: [], mode: "644", certificates, key: { status: "none" } },
        ];
        const m0: [Target, FileReading][] = [
            present(`${CERTS}/client.crt`, [latest.cert], [latest.cert]),
            present(`${CERTS}/etcdpeer0.crt`, [soon.cert], [soon.cert]),
            present(`${CERTS}/ca.crt`, [ca.cert, later.cert], [ca.cert, later.cert]),
        ];
        const a0: [Target, FileReading][] = [
            present(`${CERTS}/apiserver.crt`, [later.cert], [latest.cert]), // drifted
            [{ path: `${CERTS}/client.crt`, kind: "certificate", expected: true, source: "client" }, { path: `${CERTS}/client.crt`, status: "missing", problems: [], certificates: [], key: { status: "none" } }],
            [{ path: `${CERTS}/kubeletserver.crt`, kind: "certificate", expected: false }, { path: `${CERTS}/kubeletserver.crt`, status: "missing", problems: [], certificates: [], key: { status: "none" } }],
        ];
        report = classify({
            stack: "prod",
            warnDays: 60,
            now,
            nodes: [
                { name: "k8s-master-0", role: "master", ip: "10.240.255.5", targets: m0.map(([t]) => t), reading: { node: "k8s-master-0", files: m0.map(([, r]) => r) } },
                { name: "k8s-agentpool1-0", role: "agent", ip: "10.240.255.40", targets: a0.map(([t]) => t), reading: { node: "k8s-agentpool1-0", files: a0.map(([, r]) => r) } },
                { name: "k8s-agentpool1-1", role: "agent", ip: "10.240.255.41", targets: [], reading: { node: "k8s-agentpool1-1", error: "ssh 10.240.255.41: Permission denied (publickey)", files: [] } },
            ],
        });
    });
    after(() => ssl.remove());

    it("JSON: schemaVersion 1 and exactly the documented fields, at every level", () => {
        const json = JSON.parse(renderJson(report));
        assert.deepEqual(Object.keys(json), ["schemaVersion", "generatedAt", "stack", "warnDays", "nodes", "summary"]);
        assert.deepEqual([json.schemaVersion, json.generatedAt, json.stack, json.warnDays], [1, now.toISOString(), "prod", 60]);
        assert.deepEqual(Object.keys(json.nodes[0]), ["name", "role", "ip", "reachable", "error", "stateCompared", "files"]);
        assert.deepEqual(Object.keys(json.nodes[0].files[0]), ["path", "kind", "expected", "source", "present", "link", "mode", "certificateFrom", "key", "stateSha256", "matchesState", "certificates", "publicKeys", "state", "states", "problems"]);
        assert.deepEqual(Object.keys(json.nodes[0].files[0].key), ["path", "status"]);
        assert.deepEqual(Object.keys(json.nodes[0].files[0].certificates[0]), ["index", "subject", "issuer", "dnsNames", "ipAddresses", "serialNumber", "notBefore", "notAfter", "daysLeft", "sha256", "publicKeySha256", "state"]);
        assert.deepEqual(Object.keys(json.summary), ["exitCode", "status", "nodes", "unreachableNodes", "files", "certificates", "filesByState", "stateCompared", "soonest"]);
        assert.deepEqual(Object.keys(json.summary.filesByState), ["missing", "unreadable", "expired", "key-mismatch", "drifted", "due", "ok", "absent"]);
        assert.deepEqual(json, JSON.parse(JSON.stringify(report)), "the report as it is, nothing added or dropped");
    });

    it("JSON: the values of a run with a due, a drifted, a missing and an unreachable node", () => {
        const json = JSON.parse(renderJson(report));
        assert.deepEqual(json.summary.filesByState, { missing: 1, unreadable: 0, expired: 0, "key-mismatch": 0, drifted: 1, due: 1, ok: 2, absent: 1 });
        assert.deepEqual([json.summary.exitCode, json.summary.status, json.summary.unreachableNodes, json.summary.certificates], [2, "failing", ["k8s-agentpool1-1"], 5]);
        assert.deepEqual([json.summary.soonest.node, json.summary.soonest.path, json.summary.soonest.subject], ["k8s-master-0", `${CERTS}/etcdpeer0.crt`, "CN=etcdpeer0"]);
        assert.deepEqual(json.nodes[2], { name: "k8s-agentpool1-1", role: "agent", ip: "10.240.255.41", reachable: false, error: "ssh 10.240.255.41: Permission denied (publickey)", stateCompared: false, files: [] });
        const etcd = json.nodes[0].files[1];
        assert.deepEqual([etcd.state, etcd.certificates[0].state, etcd.certificates[0].sha256], ["due", "due", new X509Certificate(soon.cert).fingerprint256]);
        assert.match(etcd.certificates[0].sha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
        assert.match(etcd.certificates[0].publicKeySha256, /^[0-9a-f]{64}$/);
    });

    it("table rows: no date first (the unreachable node, the missing file), then soonest expiry; absent files left out; a bundle's certificates numbered", () => {
        const rows = tableRows(report).map((r) => `${r.node} ${r.file} ${r.state}`);
        assert.deepEqual(rows, [
            "k8s-agentpool1-0 /etc/kubernetes/certs/client.crt missing",
            "k8s-agentpool1-1 (not read) unreachable",
            "k8s-master-0 /etc/kubernetes/certs/etcdpeer0.crt due",
            "k8s-agentpool1-0 /etc/kubernetes/certs/apiserver.crt drifted",
            "k8s-master-0 /etc/kubernetes/certs/ca.crt [2/2] ok",
            "k8s-master-0 /etc/kubernetes/certs/client.crt ok",
            "k8s-master-0 /etc/kubernetes/certs/ca.crt [1/2] ok",
        ]);
        const days = tableRows(report).map((r) => r.daysLeft);
        assert.deepEqual(days.slice(0, 2), [null, null]);
        assert.ok(days.slice(2).every((d, i, a) => i === 0 || d! >= a[i - 1]!), `days ascending: ${days.join(" ")}`);
    });

    it("table text: the columns, one line per row, the problems, the absent files, the summary and the exit code", () => {
        const text = renderTable(report);
        const lines = text.trimEnd().split("\n");
        assert.match(lines[0]!, /^Certificates of stack prod on its nodes, .* \(due: less than 60 days left\)$/);
        assert.match(lines[2]!, /^NODE +FILE +SUBJECT +NOT AFTER +DAYS LEFT +STATE$/);
        assert.match(lines[3]!, /^k8s-agentpool1-0 +\/etc\/kubernetes\/certs\/client\.crt +- +- +- +missing$/);
        assert.match(lines[5]!, /^k8s-master-0 +\/etc\/kubernetes\/certs\/etcdpeer0\.crt +CN=etcdpeer0 +\d{4}-\d\d-\d\dT\d\d:\d\dZ +(9|10) +due$/);
        assert.match(text, /\n {2}k8s-agentpool1-1: not read: ssh 10\.240\.255\.41: Permission denied \(publickey\)\n/);
        assert.match(text, /\n {2}k8s-agentpool1-0 \/etc\/kubernetes\/certs\/apiserver\.crt: holds [0-9A-F:]{23}…; the state says [0-9A-F:]{23}… \(x\)\n/);
        assert.match(text, /\n {2}k8s-agentpool1-0 \/etc\/kubernetes\/certs\/client\.crt: missing: the state puts client here\n/);
        assert.ok(!text.includes("Not compared"), "every node read has the state's fingerprints");
        assert.match(text, /Not on the nodes \(the program does not write them; not a problem\): \/etc\/kubernetes\/certs\/kubeletserver\.crt \(1\)/);
        assert.match(text, /\n3 nodes \(1 not read: k8s-agentpool1-1\), 5 files, 5 certificates; files: 1 missing, 1 drifted, 1 due, 2 ok\n/);
        assert.equal(lines[lines.length - 1], "failing (exit 2)");
    });

    it("a healthy run says so, with exit 0 and no problems section", () => {
        const healthy: Report = { ...report, nodes: [report.nodes[0]!].map((n) => ({ ...n, files: [n.files[0]!] })), summary: { ...report.summary, exitCode: 0, status: "healthy", unreachableNodes: [], nodes: 1, files: 1, certificates: 1, filesByState: { ...report.summary.filesByState, missing: 0, drifted: 0, due: 0, ok: 1, absent: 0 } } };
        const text = renderTable(healthy);
        assert.ok(!text.includes("Problems:"));
        assert.ok(!text.includes("Not compared"));
        assert.match(text, /healthy \(exit 0\)\n$/);
        const uncompared = renderTable({ ...healthy, nodes: healthy.nodes.map((n) => ({ ...n, stateCompared: false })) });
        assert.match(uncompared, /\nNot compared with the state \(the stack has no nodeFiles output for them: run pulumi up once with this version\): k8s-master-0\n/);
    });

    it("a public-key file (sa.pub): one row saying how many keys it holds and whether they are the state's, no date, after every dated row; missing like any file", () => {
        const SA = `${CERTS}/sa.pub`;
        const [a, b] = ["a".repeat(64), "b".repeat(64)];
        const sa = (stateSha256: string[], r: Partial<FileReading> = {}): [Target, FileReading] => [
            { path: SA, kind: "publicKeys", expected: true, source: "service-account", stateSha256 },
            { path: SA, status: "present", problems: [], mode: "644", certificates: [], publicKeys: [a, b], key: { status: "none" }, ...r },
        ];
        const nodes = ([["k8s-master-0", sa([a, b])], ["k8s-master-1", sa([a])], ["k8s-master-2", sa([a], { status: "missing", publicKeys: [] })]] as const).map(([name, file]) => ({
            name, role: "master" as const, ip: "10.240.255.5", targets: [file[0], present(`${CERTS}/client.crt`, [latest.cert], [latest.cert])[0]],
            reading: { node: name, files: [file[1], present(`${CERTS}/client.crt`, [latest.cert], [latest.cert])[1]] },
        }));
        function present(path: string, certificates: string[], stateOf: string[]): [Target, FileReading] {
            return [
                { path, kind: "certificate", expected: true, source: "x", stateSha256: stateOf.map((p) => new X509Certificate(p).fingerprint256) },
                { path, status: "present", problems: [], mode: "644", certificates, key: { status: "none" } },
            ];
        }
        const r = classify({ stack: "prod", warnDays: 60, now, nodes });
        assert.deepEqual(tableRows(r).map((row) => [row.node, row.file, row.subject, row.notAfter, row.state, row.publicKeys]), [
            ["k8s-master-2", SA, "", "", "missing", null],
            ["k8s-master-0", `${CERTS}/client.crt`, "CN=client", tableRows(r)[1]!.notAfter, "ok", null],
            ["k8s-master-1", `${CERTS}/client.crt`, "CN=client", tableRows(r)[1]!.notAfter, "ok", null],
            ["k8s-master-2", `${CERTS}/client.crt`, "CN=client", tableRows(r)[1]!.notAfter, "ok", null],
            ["k8s-master-0", SA, "2 public keys, as the state says", "", "ok", 2],
            ["k8s-master-1", SA, "2 public keys, not the state's", "", "drifted", 2],
        ]);
        const text = renderTable(r);
        assert.match(text, /\nk8s-master-0 +\/etc\/kubernetes\/certs\/sa\.pub +2 public keys, as the state says +- +- +ok\n/);
        assert.match(text, /\n {2}k8s-master-1 \/etc\/kubernetes\/certs\/sa\.pub: holds public keys a{16}…, b{16}…; the state says a{16}… \(service-account\)\n/);
        assert.match(text, /\n3 nodes, 6 files, 3 certificates; files: 1 missing, 1 drifted, 4 ok\n/);
        assert.equal(JSON.parse(renderJson(r)).nodes[0].files[0].publicKeys.length, 2);
        assert.match(renderTimeline(r).svg, /public keys, no expiry: ok/);
    });
});
