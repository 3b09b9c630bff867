import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { confirmRepairs, describeDrift, describeExpiring, DriftedFile, fingerprintsIn, nodeDrift, planRepairs, recordedRepairMarks } from "../../../components/rollout/drift";
import { certificateFingerprint, publicKeyPemFingerprint } from "../../../components/pki/x509";
import { parseReadCerts, READ_CERTS_SCRIPT } from "../../../report/collect";
import { scriptArgs, stateTargets } from "../../../report/targets";
import { OpenSsl } from "../support/openssl";
import { adminKubeconfigFile, planRollout, RolloutStep } from "../../../components/rollout";
import { AKS_ENGINE_SERVICES } from "../../../components/nodeModel";
import { certificateCatalog } from "../../../components/pki/catalog";
import { expandInstances } from "../../../components/pki/instances";
import { CERT_PEM, inventory3x3, promiseOf } from "../support/mocks";

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
const drifted = (node: string, ...paths: string[]): DriftedFile => ({ node, paths, problems: [`${paths[0]} drifted`], observed: ["AB:CD"], contentOnly: false });
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

describe("drift: sa.pub (public keys) read, compared with the record and repaired like a certificate file", function () {
    this.timeout(60_000);
    const ssl = new OpenSsl();
    const root = path.join(ssl.dir, "root");
    const SA = `${CERTS}/sa.pub`;
    let pub: string[];
    let fp: string[];
    before(() => {
        pub = [0, 1].map(() => ssl.run(["pkey", "-pubout"], ssl.run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])));
        fp = pub.map(publicKeyPemFingerprint);
    });
    after(() => ssl.remove());

    /** What readDrift finds on one master whose sa.pub is `content` (undefined: none), the record saying it holds the first key. */
    function driftOn(node: string, content: string | undefined) {
        fs.rmSync(root, { recursive: true, force: true });
        fs.mkdirSync(root + CERTS, { recursive: true });
        if (content !== undefined) fs.writeFileSync(root + SA, content);
        const targets = stateTargets({ [SA]: { kind: "publicKeys", source: "service-account", sha256: [fp[0]!] } });
        const run = spawnSync("bash", [READ_CERTS_SCRIPT, ...scriptArgs(targets)], { env: { ...process.env, AZS_ROOT: root }, encoding: "utf8" });
        assert.equal(run.status, 0, run.stderr);
        return nodeDrift(node, targets, parseReadCerts(run.stdout, targets), new Date(), 60);
    }

    it("another public key than the record's: drifted (content only), the key the node holds observed, repaired by that master's apiserver step", () => {
        const found = driftOn(M[1]!, pub[1]!);
        assert.deepEqual(found.expiring, []);
        assert.equal(found.drifted.length, 1);
        const file = found.drifted[0]!;
        assert.deepEqual([file.node, file.paths, file.observed, file.contentOnly], [M[1], [SA], [fp[1]], true]);
        assert.match(file.problems[0]!, /^holds public keys [0-9a-f]{16}…; the state says [0-9a-f]{16}… \(service-account\)$/);
        const plan = planRepairs(steps, found.drifted, {});
        assert.deepEqual([steps_(plan), plan.orphans], [[`apiserver/${M[1]}`], []]);
        assert.match(describeDrift({ drifted: found.drifted, expiring: [], unread: [] }, plan, { marks: { [`apiserver/${M[1]}`]: 1 }, repairs: plan.repairs }).join("\n"), new RegExp(`^apiserver/${M[1]} runs to put back ${SA}: holds public keys`));
    });

    it("deleted, or holding no public key: drifted (not content only), repaired by the apiserver step; the record's keys on the node: no drift", () => {
        for (const content of [undefined, CERT_PEM, ""]) {
            const found = driftOn(M[2]!, content);
            assert.deepEqual(found.drifted.map((f) => [f.paths, f.contentOnly]), [[[SA], false]], String(content));
            assert.deepEqual(steps_(planRepairs(steps, found.drifted, {})), [`apiserver/${M[2]}`]);
        }
        assert.deepEqual(driftOn(M[0]!, pub[0]!).drifted, []);
    });

    it("the public keys of a content (sa.pub), as the record and the read give them", () => {
        assert.deepEqual(fingerprintsIn(pub[0]! + pub[1]!), fp);
        assert.match(fp[0]!, /^[0-9a-f]{64}$/);
    });

    it("a sa.pub that differs from the record but holds what this run installs (a failed up) is no drift; other keys, or a missing one, are", async () => {
        const desired = (node: string, p: string) => (node === M[1] && p === SA ? pulumi.output(pub[1]! + pub[0]!) : undefined);
        const file = (observed: string[], contentOnly = true): DriftedFile => ({ node: M[1]!, paths: [SA], problems: ["sa.pub drifted"], observed, contentOnly });
        const confirmed = async (f: DriftedFile) => promiseOf(confirmRepairs(planRepairs(steps, [f], {}), desired));
        assert.deepEqual(await confirmed(file([fp[1]!, fp[0]!])), { marks: {}, repairs: [] });
        for (const f of [file([fp[1]!]), file([fp[0]!, fp[1]!]), file([], false)]) {
            const c = await confirmed(f);
            assert.deepEqual([c.marks, c.repairs.map((r) => r.step)], [{ [`apiserver/${M[1]}`]: 1 }, [`apiserver/${M[1]}`]], f.observed.join(","));
        }
    });
});
