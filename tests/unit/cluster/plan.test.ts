// The cluster stage's decisions (cluster/trust.ts, cluster/objects.ts): in which CA stages it acts
// and why, how many pods a workload's rollout takes down (Kubernetes' defaults and rounding), which
// PodDisruptionBudgets select a workload, and the refusal when a rollout would break one.
import { strict as assert } from "assert";
import { budgetProblems, describeObjects, parseClusterListing, selects } from "../../../components/cluster/objects";
import { clusterStagesOf, trustWords } from "../../../components/cluster/trust";
import { caRecordOf, planCaStages } from "../../../components/pki/caPhases";
import { CaGenerations } from "../../../components/pki/settings";

const gens = (ca: Record<number, "trusted" | "active" | "retired">, key: Record<number, "trusted" | "active" | "retired"> = { 0: "active" }): CaGenerations => ({
    "kubernetes-ca": Object.entries(ca).map(([g, state]) => ({ generation: Number(g), state })),
    "etcd-ca": [{ generation: 0, state: "active" }],
    "service-account": Object.entries(key).map(([g, state]) => ({ generation: Number(g), state })),
});

/** A list answer as list-cluster.sh prints it. */
const LISTING = {
    deployments: [
        { metadata: { namespace: "kube-system", name: "coredns" }, spec: { replicas: 2, strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, template: { metadata: { labels: { "k8s-app": "kube-dns" } } } }, status: {} },
        { metadata: { namespace: "kube-system", name: "metrics-server" }, spec: { replicas: 4, template: { metadata: { labels: { "k8s-app": "metrics-server", tier: "x" } } } }, status: {} },
        { metadata: { namespace: "kube-system", name: "surge" }, spec: { replicas: 3, strategy: { rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } }, template: { metadata: { labels: { app: "surge" } } } }, status: {} },
        { metadata: { namespace: "kube-system", name: "recreate" }, spec: { replicas: 3, strategy: { type: "Recreate" }, template: { metadata: { labels: { app: "recreate" } } } }, status: {} },
    ],
    daemonsets: [
        { metadata: { namespace: "kube-system", name: "kube-proxy" }, spec: { updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "10%" } }, template: { metadata: { labels: { "k8s-app": "kube-proxy" } } } }, status: { desiredNumberScheduled: 15 } },
        { metadata: { namespace: "kube-system", name: "ondelete" }, spec: { updateStrategy: { type: "OnDelete" }, template: { metadata: { labels: { app: "od" } } } }, status: { desiredNumberScheduled: 3 } },
    ],
    statefulsets: [
        { metadata: { namespace: "kube-system", name: "store" }, spec: { replicas: 2, updateStrategy: { type: "RollingUpdate" }, template: { metadata: { labels: { app: "store" } } } }, status: {} },
        { metadata: { namespace: "kube-system", name: "partitioned" }, spec: { replicas: 3, updateStrategy: { rollingUpdate: { partition: 2 } }, template: { metadata: { labels: { app: "p" } } } }, status: {} },
    ],
    pdbs: [
        { metadata: { namespace: "kube-system", name: "coredns-pdb" }, spec: { selector: { matchLabels: { "k8s-app": "kube-dns" } } }, status: { disruptionsAllowed: 1 } },
        { metadata: { namespace: "kube-system", name: "ms-pdb" }, spec: { selector: { matchExpressions: [{ key: "k8s-app", operator: "In", values: ["metrics-server"] }, { key: "tier", operator: "Exists" }] } }, status: { disruptionsAllowed: 1 } },
        { metadata: { namespace: "other", name: "elsewhere" }, spec: { selector: {} }, status: { disruptionsAllowed: 0 } },
    ],
    secrets: [{ metadata: { namespace: "kube-system", name: "coredns-token", annotations: { "kubernetes.io/service-account.name": "coredns" } } }],
};

describe("cluster stage: when it acts", () => {
    it("a leaf-only rotation (the generations unchanged): nothing in any stage", () => {
        const record = caRecordOf(gens({ 0: "active" }));
        const [only] = clusterStagesOf(record, [gens({ 0: "active" })]);
        assert.deepEqual(only!.actions, { roll: false, refreshTokens: false, reasons: [] });
    });

    it("a stack's first run (no record, a takeover): the adopted generations are what the pods have, nothing rolls", () => {
        assert.equal(clusterStagesOf(undefined, [gens({ 0: "active" })])[0]!.actions.roll, false);
    });

    it("a one-shot of the Kubernetes CA and the signing key: roll after trust (bundle 0 → 0+1), roll and re-sign legacy tokens after activate (key 0 → 1), roll after retire (bundle → 1)", () => {
        const record = caRecordOf(gens({ 0: "active" }));
        const plan = planCaStages(record, gens({ 1: "active" }, { 1: "active" }), "oneShot", {}, { now: new Date(), afterHours: 0 });
        const stages = clusterStagesOf(record, plan.stages);
        assert.deepEqual(stages.map((s) => trustWords(s.trust)), ["kubernetes-ca 0+1; service-account 0", "kubernetes-ca 0+1; service-account 1", "kubernetes-ca 1; service-account 1"]);
        assert.deepEqual(stages.map((s) => [s.actions.roll, s.actions.refreshTokens]), [[true, false], [true, true], [true, false]]);
        assert.deepEqual(stages[1]!.actions.reasons, ["tokens are signed by service-account key generation 1 instead of 0"]);
        assert.deepEqual(stages[2]!.actions.reasons, ["the Kubernetes CA bundle goes from generation(s) 0, 1 to 1"]);
    });

    it("phased: the CA's activate changes nothing the pods see (they trust both since the trust phase)", () => {
        const record = caRecordOf(gens({ 0: "active", 1: "trusted" }));
        assert.equal(clusterStagesOf(record, [gens({ 0: "trusted", 1: "active" })])[0]!.actions.roll, false);
    });
});

describe("cluster stage: the objects and PodDisruptionBudgets", () => {
    const objects = parseClusterListing(JSON.stringify(LISTING));
    const down = Object.fromEntries(objects.workloads.map((w) => [w.name, w.unavailableAtOnce ?? w.notRolled]));

    it("pods down at once, as the controllers compute it (defaults 25% rounded down for Deployments, DaemonSet percentages rounded up, surge → 0)", () => {
        assert.deepEqual(down, {
            coredns: 1,
            "metrics-server": 1,
            surge: 0,
            recreate: 3,
            "kube-proxy": 2,
            ondelete: "its updateStrategy is OnDelete",
            store: 1,
            partitioned: "its rollingUpdate.partition is 2",
        });
    });

    it("label selectors: matchLabels and matchExpressions, within the namespace only", () => {
        const [coredns, ms, other] = objects.budgets;
        assert.ok(selects(coredns!, { "k8s-app": "kube-dns", extra: "1" }));
        assert.ok(!selects(coredns!, { "k8s-app": "metrics-server" }));
        assert.ok(selects(ms!, { "k8s-app": "metrics-server", tier: "x" }));
        assert.ok(!selects(ms!, { "k8s-app": "metrics-server" }), "Exists needs the label");
        assert.ok(selects(other!, {}), "an empty selector selects every pod");
        assert.deepEqual(budgetProblems(objects), [], "the empty selector of namespace other does not reach kube-system");
    });

    it("refuses a rollout that takes more pods down than a PDB allows now, naming both", () => {
        const tight = parseClusterListing(JSON.stringify({ ...LISTING, pdbs: [{ ...LISTING.pdbs[0], status: { disruptionsAllowed: 0 } }] }));
        assert.deepEqual(budgetProblems(tight), ["kube-system/coredns (Deployment): its rolling update takes 1 pod(s) down at once, but PodDisruptionBudget kube-system/coredns-pdb allows 0 disruption(s) now"]);
    });

    it("states the plan: tokens, each workload with its budget, and those it cannot roll", () => {
        const lines = describeObjects(objects, true, true);
        assert.equal(lines[0], "have the tokens of 1 legacy token secret(s) re-signed: kube-system/coredns-token");
        assert.ok(lines.includes("roll kube-system/coredns (Deployment), 1 pod(s) down at once; PodDisruptionBudget coredns-pdb allows 1; wait until it is ready"), lines.join("\n"));
        assert.ok(lines.includes("NOT rolled: kube-system/ondelete (DaemonSet), its updateStrategy is OnDelete: restart its pods by hand"), lines.join("\n"));
    });

    it("refuses output that is not the script's", () => {
        assert.throws(() => parseClusterListing("{}"), /no list "deployments"/);
        assert.throws(() => parseClusterListing("curl: (7) failed"), /not JSON/);
    });
});
