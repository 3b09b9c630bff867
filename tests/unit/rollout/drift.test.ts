import { strict as assert } from "assert";
import { describeDrift, describeExpiring, DriftedFile, fingerprintsIn, planRepairs, recordedRepairMarks } from "../../../components/rollout/drift";
import { certificateFingerprint } from "../../../components/pki/x509";
import { adminKubeconfigFile, planRollout, RolloutStep } from "../../../components/rollout";
import { AKS_ENGINE_SERVICES } from "../../../components/nodeModel";
import { certificateCatalog } from "../../../components/pki/catalog";
import { expandInstances } from "../../../components/pki/instances";
import { CERT_PEM, inventory3x3 } from "../support/mocks";

const CERTS = "/etc/kubernetes/certs";
const M = [0, 1, 2].map((i) => `k8s-master-31415926-${i}`);
const A0 = "k8s-agentpool1-31415926-0";
const inventory = inventory3x3();
const steps: RolloutStep[] = planRollout({
    instances: expandInstances(certificateCatalog(), inventory),
    extraFiles: [adminKubeconfigFile("azureuser")],
    nodes: inventory.nodes.map((n) => ({ ...n, pool: n.role === "master" ? "master" : "agentpool1", services: AKS_ENGINE_SERVICES[n.role] })),
    maxUnavailable: 1,
});
const drifted = (node: string, ...paths: string[]): DriftedFile => ({ node, paths, problems: [`${paths[0]} drifted`], observed: ["AB:CD"], certificatesOnly: false });
const steps_ = (plan: { repairs: { step: string }[] }) => plan.repairs.map((r) => r.step).sort();

describe("drift: which steps repair drifted files", () => {
    it("the step that installs the file on its node, and no other", () => {
        const plan = planRepairs(steps, [drifted(M[1]!, `${CERTS}/etcdpeer1.crt`), drifted(A0, `${CERTS}/client.crt`)], {});
        assert.deepEqual(steps_(plan), [`etcd/${M[1]}`, `kubelet/${A0}`]);
        assert.deepEqual(plan.orphans, []);
    });

    it("a key that does not match its certificate: the step that installs the key repairs it", () => {
        const plan = planRepairs(steps, [drifted(M[2]!, `${CERTS}/apiserver.crt`, `${CERTS}/apiserver.key`)], {});
        assert.deepEqual(steps_(plan), [`apiserver/${M[2]}`]);
    });

    it("keeps the recorded marks of steps that still exist, drops those of steps that are gone", () => {
        const plan = planRepairs(steps, [drifted(M[0]!, `${CERTS}/etcdserver.crt`)], { [`etcd/${M[0]}`]: 2, [`kubelet/${A0}`]: 1, "kubelet/gone": 4 });
        assert.deepEqual(plan.kept, { [`etcd/${M[0]}`]: 2, [`kubelet/${A0}`]: 1 });
        assert.deepEqual(steps_(plan), [`etcd/${M[0]}`]);
    });

    it("a drifted file no step installs is reported, not repaired", () => {
        const plan = planRepairs(steps, [drifted(A0, "/etc/kubernetes/certs/not-ours.crt")], {});
        assert.deepEqual([steps_(plan), plan.orphans.length], [[], 1]);
        assert.match(describeDrift({ drifted: [], expiring: [], unread: [{ node: M[2]!, error: "ssh m2: timeout" }] }, plan, { marks: {}, repairs: [] }).join("\n"), /^k8s-agentpool1-31415926-0: \/etc\/kubernetes\/certs\/not-ours\.crt drifted, but this run installs it nowhere: .*\nk8s-master-31415926-2: drift not checked, the node could not be read: ssh m2: timeout$/);
    });

    it("the certificates of a file's content: a PEM's blocks, a kubeconfig's embedded client certificate", () => {
        const pem = CERT_PEM.trim();
        assert.deepEqual(fingerprintsIn(`${pem}\n${pem}\n`), [certificateFingerprint(pem), certificateFingerprint(pem)]);
        const b64 = Buffer.from(pem).toString("base64");
        assert.deepEqual(fingerprintsIn(`users:\n- user:\n    client-certificate-data: ${b64}\n`), [certificateFingerprint(pem)]);
        assert.deepEqual(fingerprintsIn(JSON.stringify({ users: [{ user: { "client-certificate-data": b64 } }] })), [certificateFingerprint(pem)]);
        assert.deepEqual(fingerprintsIn("no certificate"), []);
    });

    it("reads the recorded marks leniently: only positive integers count", () => {
        assert.deepEqual(recordedRepairMarks(undefined), {});
        assert.deepEqual(recordedRepairMarks([1]), {});
        assert.deepEqual(recordedRepairMarks({ [`etcd/${M[0]}`]: 2, [`kubelet/${A0}`]: 0, "x/y": "3", "z/w": 1.5 }), { [`etcd/${M[0]}`]: 2 });
    });

    it("says which certificates on the nodes expire within warnDays, soonest first, and nothing when none do", () => {
        const expiring = [
            { node: M[0]!, path: `${CERTS}/etcdpeer0.crt`, subject: "CN=etcdpeer0", notAfter: "2026-12-01T00:00:00.000Z", daysLeft: -1 },
            { node: A0, path: `${CERTS}/client.crt`, subject: "CN=client", notAfter: "2026-12-20T00:00:00.000Z", daysLeft: 19 },
        ];
        assert.deepEqual(describeExpiring({ drifted: [], expiring, unread: [] }, 60), [
            "on the nodes now, certificates expiring within pki.warnDays (60 days), soonest first (a step of this run that installs the file replaces it):",
            `  - ${M[0]} ${CERTS}/etcdpeer0.crt (CN=etcdpeer0): notAfter 2026-12-01T00:00:00.000Z, daysLeft -1 (expired)`,
            `  - ${A0} ${CERTS}/client.crt (CN=client): notAfter 2026-12-20T00:00:00.000Z, daysLeft 19`,
        ]);
        assert.deepEqual(describeExpiring({ drifted: [], expiring: [], unread: [] }, 60), []);
    });
});
