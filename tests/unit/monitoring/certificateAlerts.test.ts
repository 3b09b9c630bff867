// The certificate alert rules (monitoring/certificate-alerts.rules.yaml) through Prometheus's own
// promtool: the file is valid, the cases of certificate-alerts.test.yaml pass (each threshold with a
// series an hour on either side), every alert has a case, and promtool does fail a case whose
// expectation is wrong. promtool comes from Debian's prometheus package (testbed/install-deps.sh);
// without it these tests fail, they are not skipped.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CERTIFICATE_ALERT_RULES_FILE, readRuleGroups } from "../../../components/monitoring/certificateAlertRules";

const yaml = require("js-yaml") as { load(text: string): unknown };

const MONITORING_DIR = path.dirname(CERTIFICATE_ALERT_RULES_FILE);
const TEST_FILE = path.join(MONITORING_DIR, "certificate-alerts.test.yaml");

/** Runs promtool; fails the test, saying where promtool comes from, when it is not installed. */
function promtool(args: string[], cwd = MONITORING_DIR): { status: number | null; output: string } {
    const run = spawnSync("promtool", args, { cwd, encoding: "utf8", timeout: 60_000 });
    assert.ok(run.error === undefined, `promtool could not run (${run.error?.message}): it comes with Debian's prometheus package, which testbed/install-deps.sh installs`);
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

interface AlertRule {
    alert?: string;
    record?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
}

interface RuleTestFile {
    tests: { alert_rule_test?: { alertname: string }[] }[];
}

/**
 * certificate-alerts.test.yaml with one series' values replaced, and its rules file named by
 * absolute path, so that the copy runs from another directory.
 */
function withSeriesValues(testFileText: string, series: string, from: string, to: string): string {
    const entry = (values: string) => `- series: '${series}'\n        values: '${values}'`;
    const rulesFile = "\n  - certificate-alerts.rules.yaml\n";
    assert.equal(testFileText.split(entry(from)).length, 2, `certificate-alerts.test.yaml has the series ${series} at ${from}, once`);
    assert.ok(testFileText.includes(rulesFile), "certificate-alerts.test.yaml names its rules file");
    return testFileText.replace(entry(from), entry(to)).replace(rulesFile, `\n  - ${CERTIFICATE_ALERT_RULES_FILE}\n`);
}

describe("monitoring: the certificate alert rules under promtool", function () {
    this.timeout(60_000);
    let tmp: string;
    before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "azs-alerts-"))));
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    const rules = readRuleGroups().flatMap((g) => g.rules as AlertRule[]);
    const alertNames = [...new Set(rules.map((r) => r.alert))];

    it("promtool check rules: the file is valid, every rule of it counted", () => {
        const { status, output } = promtool(["check", "rules", CERTIFICATE_ALERT_RULES_FILE]);
        assert.equal(status, 0, output);
        assert.match(output, new RegExp(`SUCCESS: ${rules.length} rules found`));
    });

    it("every rule is an alert with a severity (warning or critical), a summary and a description", () => {
        for (const rule of rules) {
            const name = rule.alert ?? rule.record;
            assert.ok(rule.alert, `${name}: a recording rule`);
            assert.ok(["warning", "critical"].includes(rule.labels?.severity ?? ""), `${name}: severity ${rule.labels?.severity}`);
            assert.ok(rule.annotations?.summary && rule.annotations.description, `${name}: summary and description`);
        }
    });

    it("promtool test rules: every case of certificate-alerts.test.yaml passes", () => {
        const { status, output } = promtool(["test", "rules", path.basename(TEST_FILE)]);
        assert.equal(status, 0, output);
        assert.match(output, /SUCCESS/);
    });

    it("certificate-alerts.test.yaml has a case for every alert", () => {
        const tested = new Set((yaml.load(fs.readFileSync(TEST_FILE, "utf8")) as RuleTestFile).tests.flatMap((t) => (t.alert_rule_test ?? []).map((a) => a.alertname)));
        assert.deepEqual(
            alertNames.filter((name) => !tested.has(name!)),
            [],
            "alerts without a case",
        );
    });

    it("promtool fails the test file with a series moved an hour across a threshold (28 days, 14 days, expiry)", () => {
        const text = fs.readFileSync(TEST_FILE, "utf8");
        const apiserver = 'x509_cert_not_after{filepath="/etc/kubernetes/certs/apiserver.crt", subject_CN="apiserver", issuer_CN="ca", instance="10.240.255.5:9793"}';
        const client = 'x509_cert_not_after{filepath="/etc/kubernetes/certs/client.crt", subject_CN="client", issuer_CN="ca", instance="10.240.255.40:9793"}';
        const etcdServer = 'x509_cert_not_after{filepath="/etc/kubernetes/certs/etcdserver.crt", subject_CN="etcdserver", issuer_CN="ca", instance="10.240.255.5:9793"}';
        const proxy = 'x509_cert_not_after{filepath="/etc/kubernetes/certs/proxy.crt", subject_CN="aggregator", issuer_CN="proxyClientCA", instance="10.240.255.5:9793"}';
        for (const [name, series, from, to, alertname] of [
            ["28 days + 1 h to - 1 h: a warning the file does not expect", apiserver, "2430000+0x120", "2422800+0x120", "NodeCertificateExpiring"],
            ["28 days - 1 h to + 1 h: no longer the warning the file expects", client, "2422800+0x120", "2430000+0x120", "NodeCertificateExpiring"],
            ["14 days + 1 h to - 1 h: critical where the file expects a warning", etcdServer, "1220400+0x120", "1213200+0x120", "NodeCertificateExpiring"],
            ["expired 1 h ago to 1 h left: not the expired alert the file expects", proxy, "3600+0x120", "10800+0x120", "NodeCertificateExpired"],
        ] as const) {
            const file = path.join(tmp, "moved.test.yaml");
            fs.writeFileSync(file, withSeriesValues(text, series, from, to));
            const { status, output } = promtool(["test", "rules", file], tmp);
            assert.notEqual(status, 0, `${name}: promtool passed it:\n${output}`);
            assert.match(output, new RegExp(`FAILED[\\s\\S]*alertname: ${alertname}, time: 2h`), `${name}:\n${output}`);
        }
    });
});
