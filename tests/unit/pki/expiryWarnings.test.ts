// The expiry messages: which certificates are listed (less than warnDays from notAfter), in which
// message (warning, or error once expired), in what order and with what to run; and, under mocks
// at preview, that a certificate the preview re-issues (unknown outputs) is left out of them.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { ClusterPki } from "../../../components/pki/clusterPki";
import { expiryMessages, KnownCertificate, logExpiringCertificates } from "../../../components/pki/expiryWarnings";
import { CertificateReport } from "../../../components/pki/report";
import { inventory3x3, promiseOf, runMocked } from "../support/mocks";
import { everything, settingsOf } from "../support/pki";

const DAY_MS = 86_400_000;
const NOW = new Date("2027-01-01T00:00:00.000Z");
const MASTERS = ["k8s-master-31415926-0", "k8s-master-31415926-1", "k8s-master-31415926-2"];
const EVERY_NODE = [...MASTERS, "k8s-agentpool1-31415926-0", "k8s-agentpool1-31415926-1", "k8s-agentpool1-31415926-2"];

/** A certificate `days` days from its notAfter at NOW, renewed 30 days before it (the fields the messages read). */
function known(id: string, days: number, nodeNames: string[], renewal: CertificateReport["renewal"] = "automatic"): KnownCertificate {
    const entry = (renewal === "manual" ? { kind: "ca", id } : { kind: "leaf", id }) as KnownCertificate["entry"];
    const notAfter = new Date(NOW.getTime() + days * DAY_MS);
    const report = { kind: "certificate", notAfter: notAfter.toISOString(), daysLeft: days, renewalDate: new Date(notAfter.getTime() - 30 * DAY_MS).toISOString(), renewal } as CertificateReport;
    return { id, nodeNames, entry, report };
}

describe("components: expiry warnings (pki.warnDays)", () => {
    it("lists a leaf 40 days from expiry with its nodes, notAfter, days left and renewal date; not one 70 days away", () => {
        const messages = expiryMessages([known("apiserver", 40, MASTERS), known("etcd-server", 70, MASTERS)], 60, EVERY_NODE.length);
        assert.deepEqual(messages, {
            warning:
                "certificates expiring within pki.warnDays (60 days), soonest first:\n" +
                `  - apiserver (on ${MASTERS.join(", ")}): notAfter 2027-02-10T00:00:00.000Z, daysLeft 40; the first pulumi up from 2027-01-11 (its renewal date) re-issues it and installs it on its nodes`,
        });
    });

    it("nothing due: no message", () => {
        assert.deepEqual(expiryMessages([known("apiserver", 60, MASTERS), known("kubernetes-ca", 3000, EVERY_NODE)], 60, EVERY_NODE.length), {});
    });

    it("an expired certificate is in the error-level message, saying what to run; the others stay in the warning, soonest first", () => {
        const messages = expiryMessages([known("client", 50, EVERY_NODE), known("etcd-peer-1", -2, [MASTERS[1]!]), known("apiserver", 10, MASTERS)], 60, EVERY_NODE.length);
        assert.equal(messages.error, "certificates expired:\n  - etcd-peer-1 (on k8s-master-31415926-1): notAfter 2026-12-30T00:00:00.000Z, daysLeft -2; the next pulumi up re-issues it and installs it on its nodes");
        assert.deepEqual(
            messages.warning?.split("\n").slice(1).map((l) => l.split(" (")[0]),
            ["  - apiserver", "  - client"],
        );
        assert.ok(messages.warning?.includes("  - client (on every node): "), messages.warning);
    });

    it("an adopted CA 50 days from expiry: warned with what to do, since the program never renews it", () => {
        const messages = expiryMessages([known("kubernetes-ca", 50, EVERY_NODE, "manual")], 60, EVERY_NODE.length);
        assert.equal(
            messages.warning,
            "certificates expiring within pki.warnDays (60 days), soonest first:\n" +
                '  - kubernetes-ca (on every node): notAfter 2027-02-20T00:00:00.000Z, daysLeft 50; adopted, so never renewed by this program: rotate it in phases, pki.caGenerations.kubernetesCa: { "0": active, "1": trusted } then activate and retire (README "Rotating a CA without downtime"; pki.caRotation: immediate if it already expired)',
        );
    });

    it("under mocks at preview: logs the known certificates once (error level when expired) and leaves out the one the preview re-issues", async () => {
        const logged: { severity: string; message: string }[] = [];
        const log = pulumi.log as { warn: (m: string) => void; error: (m: string) => void };
        const { warn, error } = log;
        log.warn = (message) => logged.push({ severity: "warn", message });
        log.error = (message) => logged.push({ severity: "error", message });
        try {
            // every mocked certificate is valid 365 days from now: 400 days on, all have expired
            const later = new Date(Date.now() + 400 * DAY_MS);
            const { result } = await runMocked(
                () => {
                    const pki = new ClusterPki("pki", { settings: settingsOf({}), inventory: inventory3x3(), clusterName: "azstb" });
                    return { pki, messages: logExpiringCertificates(pki, 60, later) };
                },
                ({ pki, messages }) => promiseOf(pulumi.all([everything(pki), messages])),
                {
                    preview: true,
                    stateOf: (args) => (args.name === "apiserver-cert" ? { ...args.inputs, certPem: pulumi.runtime.unknownValue } : undefined),
                },
            );
            const messages = await promiseOf(result.messages);
            assert.equal(messages.warning, undefined);
            const listed = messages.error!.split("\n").slice(1).map((l) => l.split(" (")[0]!.slice(4));
            assert.deepEqual(listed.sort(), ["client", "etcd-client", "etcd-peer-0", "etcd-peer-1", "etcd-peer-2", "etcd-server", "front-proxy-ca", "front-proxy-client", "kubectl-client", "kubernetes-ca"]);
            assert.deepEqual(logged, [{ severity: "error", message: messages.error }]);
        } finally {
            log.warn = warn;
            log.error = error;
        }
    });
});
