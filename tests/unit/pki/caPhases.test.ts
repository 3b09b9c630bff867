import { strict as assert } from "assert";
import { ConfigError, parsePkiConfig } from "../../../components/config";
import { assumedDeployed, caRecordOf, checkCaTransition, planCaStages, trustBundleFiles, trustedOf } from "../../../components/pki/caPhases";
import { nodeFiles } from "../../../components/pki/nodeFiles";
import { CaGeneration, CaGenerations } from "../../../components/pki/settings";
import { resolvePki } from "../../../components/pki/resolve";
import { planReplacements } from "../../../components/pki/rotation";
import { inventory3x3, promiseOf } from "../support/mocks";
import { runPki, settingsOf } from "../support/pki";

type States = Record<number, CaGeneration["state"]>;
const gens = (s: States): CaGeneration[] => Object.entries(s).map(([g, state]) => ({ generation: Number(g), state }));
const k8s = (s: States): CaGenerations => ({ "kubernetes-ca": gens(s) });
const record = (s: States) => caRecordOf(k8s(s));

describe("CA phases: the order of trust, activate, retire", () => {
    it("a trust bundle holds the active generation first, then the trusted ones, newest first; never a retired one", () => {
        assert.deepEqual(trustedOf(gens({ 0: "trusted", 1: "retired", 2: "active", 3: "trusted" })), [2, 3, 0]);
    });

    it("allows each phase in order: trust, activate, retire", () => {
        assert.deepEqual(checkCaTransition("kubernetes-ca", gens({ 0: "active" }), gens({ 0: "active", 1: "trusted" })), []);
        assert.deepEqual(checkCaTransition("kubernetes-ca", gens({ 0: "active", 1: "trusted" }), gens({ 0: "trusted", 1: "active" })), []);
        assert.deepEqual(checkCaTransition("kubernetes-ca", gens({ 0: "trusted", 1: "active" }), gens({ 0: "retired", 1: "active" })), []);
        assert.deepEqual(checkCaTransition("kubernetes-ca", gens({ 0: "trusted", 1: "active" }), gens({ 1: "active" })), [], "a generation left out is retired");
    });

    it("refuses activating a generation that is not yet trusted everywhere", () => {
        const [p] = checkCaTransition("etcd-ca", gens({ 0: "active" }), gens({ 0: "trusted", 1: "active" }));
        assert.match(p!, /^pki\.caGenerations\.etcdCa: activating generation 1 before it is trusted everywhere is refused/);
        assert.match(p!, /first run up with \{ "0": active, "1": trusted \} \(trust phase\), or set pki\.caRotation: oneShot/);
    });

    it("refuses retiring the active generation in the up that activates the next one", () => {
        const problems = checkCaTransition("kubernetes-ca", gens({ 0: "active", 1: "trusted" }), gens({ 0: "retired", 1: "active" }));
        assert.equal(problems.length, 1);
        assert.match(problems[0]!, /generation 0 signs the installed certificates and cannot be retired in the up that activates 1/);
    });

    it("refuses bringing back a retired generation", () => {
        const [p] = checkCaTransition("kubernetes-ca", gens({ 0: "retired", 1: "active" }), gens({ 0: "trusted", 1: "active" }));
        assert.match(p!, /generation 0 was retired .* add a new one above 1/);
    });

    it("config refuses retiring the only CA and two active generations, naming the key", () => {
        const problems = (raw: unknown): string[] => {
            try {
                parsePkiConfig(raw);
                return [];
            } catch (e) {
                return (e as ConfigError).problems;
            }
        };
        assert.deepEqual(problems({ caGenerations: { kubernetesCa: { "0": "retired" } } }), [
            "pki.caGenerations.kubernetesCa: no active generation: retiring the only CA is refused; exactly one generation must be active",
        ]);
        assert.match(problems({ caGenerations: { frontProxyCa: { "0": "active", "1": "active" } } })[0]!, /generations 0, 1 are all active/);
        assert.match(problems({ caGenerations: { etcdCa: { "0": "active" } } })[0]!, /pki\.caGenerations\.etcdCa: unknown key/, "no etcd CA in the shared layout");
        assert.match(problems({ caGenerations: { kubernetesCa: { x: "active" } } })[0]!, /"x" is not a generation number/);
        assert.match(problems({ caGenerations: { kubernetesCa: { "0": "on" } } })[0]!, /pki\.caGenerations\.kubernetesCa\.0: must be one of "trusted", "active", "retired"/);
        assert.match(problems({ rotation: { kubernetesCa: 1 }, caGenerations: { kubernetesCa: { "1": "active" } } })[0]!, /set it or pki\.rotation\.kubernetesCa, not both/);
        const { value } = parsePkiConfig({ caRotation: "oneShot", caGenerations: { kubernetesCa: { "1": "active", "0": "trusted" } } });
        assert.deepEqual(value.caGenerations["kubernetes-ca"], gens({ 0: "trusted", 1: "active" }));
        assert.equal(value.caRotation, "oneShot");
    });

    it("without a record (first run) the cluster is taken to trust only the lowest live generation", () => {
        assert.deepEqual(assumedDeployed(gens({ 0: "active", 1: "trusted" })), gens({ 0: "active" }));
        assert.deepEqual(planCaStages(undefined, k8s({ 0: "active", 1: "trusted" }), "phased").stageNames, ["trust"]);
        assert.throws(() => planCaStages(undefined, k8s({ 0: "trusted", 1: "active" }), "phased"), /activating generation 1 before it is trusted everywhere/);
    });

    it("phased: one stage per run, refused with every problem listed and 'nothing was changed'", () => {
        assert.deepEqual(planCaStages(record({ 0: "active", 1: "trusted" }), k8s({ 0: "trusted", 1: "active" }), "phased").stageNames, ["activate"]);
        assert.deepEqual(planCaStages(record({ 0: "trusted", 1: "active" }), k8s({ 0: "retired", 1: "active" }), "phased").stageNames, ["retire"]);
        assert.deepEqual(planCaStages(record({ 1: "active" }), k8s({ 1: "active" }), "phased").stageNames, ["steady"]);
        assert.throws(
            () => planCaStages(caRecordOf({ ...k8s({ 0: "active" }), "front-proxy-ca": gens({ 0: "active" }) }), { ...k8s({ 1: "active" }), "front-proxy-ca": gens({ 0: "active", 2: "trusted" }) }, "phased"),
            // kubernetes-ca: not trusted yet + its active one retired; front-proxy-ca's trust of generation 2 is fine
            (e: Error) => /^CA and key rotation refused, nothing was changed:\n/.test(e.message) && (e.message.match(/\n {2}- /g) ?? []).length === 2,
        );
    });

    it("one-shot: trust, activate, retire chained; a CA that only needs a later phase starts there", () => {
        const plan = planCaStages(
            caRecordOf({ "kubernetes-ca": gens({ 0: "active" }), "front-proxy-ca": gens({ 0: "active", 1: "trusted" }) }),
            { "kubernetes-ca": gens({ 1: "active" }), "front-proxy-ca": gens({ 1: "active" }) },
            "oneShot",
        );
        assert.deepEqual(plan.stageNames, ["trust-activate", "activate-retire", "retire"]);
        assert.deepEqual(plan.stages.map((s) => s["kubernetes-ca"]), [gens({ 0: "active", 1: "trusted" }), gens({ 0: "trusted", 1: "active" }), gens({ 1: "active" })]);
        assert.deepEqual(plan.stages.map((s) => s["front-proxy-ca"]), [gens({ 0: "trusted", 1: "active" }), gens({ 1: "active" }), gens({ 1: "active" })]);
        assert.deepEqual(plan.record, { "kubernetes-ca": { 0: "retired", 1: "active" }, "front-proxy-ca": { 0: "retired", 1: "active" } });
        assert.match(plan.text.join("\n"), /one-shot stage 1 of 3:\nKubernetes CA: TRUST generation 1: added to the trust bundle next to generation 0/);
    });

    it("immediate: one stage, no order check, and it says clients break", () => {
        const plan = planCaStages(record({ 0: "active" }), k8s({ 1: "active" }), "immediate");
        assert.deepEqual(plan.stageNames, ["trust-activate-retire"]);
        assert.match(plan.text.join("\n"), /IMMEDIATE mode: .* fail from the first node on/);
    });

    it("says in words what each phase does, where the bundle lives, and what to do next", () => {
        const where = trustBundleFiles({ etcdCa: "shared", serviceAccountKey: "apiserver" });
        assert.equal(where["kubernetes-ca"], "ca.crt on every node and in the kubeconfigs; read by kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl, etcd");
        const trust = planCaStages(record({ 0: "active" }), k8s({ 0: "active", 1: "trusted" }), "phased", where).text;
        assert.deepEqual(trust, [
            `Kubernetes CA: TRUST generation 1: added to the trust bundle next to generation 0 (${where["kubernetes-ca"]}); it signs nothing yet; services that read the bundle only at start restart in rollout order`,
            'Kubernetes CA: next, activate generation 1: pki.caGenerations.kubernetesCa = { "0": trusted, "1": active }',
        ]);
        const activate = planCaStages(record({ 0: "active", 1: "trusted" }), k8s({ 0: "trusted", 1: "active" }), "phased", where).text;
        assert.match(activate[0]!, /^Kubernetes CA: ACTIVATE generation 1: .* cross-signed by generation 0, so clients that trust only the old CA keep working until it is retired$/);
        assert.match(activate[1]!, /next, once every client outside the cluster has the new CA bundle, retire generation 0: pki\.caGenerations\.kubernetesCa = \{ "1": active \}/);
        const retire = planCaStages(record({ 0: "trusted", 1: "active" }), k8s({ 0: "retired", 1: "active" }), "phased", where).text;
        assert.match(retire[0]!, /^Kubernetes CA: RETIRE generation 0: removed from the trust bundle .* and its key deleted/);
    });
});

describe("service-account key phases: the same order, and a retire that waits for the tokens", () => {
    const sa = (s: States): CaGenerations => ({ "service-account": gens(s) });
    const now = new Date("2026-12-01T12:00:00Z");
    const hoursBefore = (h: number) => new Date(now.getTime() - h * 3_600_000);
    const timing = { now, afterHours: 24 };

    it("allows trust, activate and retire in order, in words of a key", () => {
        assert.deepEqual(checkCaTransition("service-account", gens({ 0: "active" }), gens({ 0: "active", 1: "trusted" }), timing), []);
        assert.deepEqual(checkCaTransition("service-account", gens({ 0: "active", 1: "trusted" }), gens({ 0: "trusted", 1: "active" }), timing), []);
        const [early] = checkCaTransition("service-account", gens({ 0: "active" }), gens({ 0: "trusted", 1: "active" }), timing);
        assert.match(early!, /^pki\.serviceAccountKeyGenerations: activating generation 1 before it is trusted everywhere is refused \(the apiservers would reject the tokens it signs\)/);
        const [together] = checkCaTransition("service-account", gens({ 0: "active", 1: "trusted" }), gens({ 0: "retired", 1: "active" }), timing);
        assert.match(together!, /generation 0 signs the tokens in use and cannot be retired in the up that activates 1/);
    });

    it("refuses a retire sooner than pki.serviceAccountRetireAfterHours after the activation, saying until when; 0 or an unknown activation time allow it", () => {
        const retire = (activatedAt: Date | undefined, afterHours = 24) => checkCaTransition("service-account", gens({ 0: "trusted", 1: "active" }), gens({ 1: "active" }), { now, afterHours }, activatedAt);
        const [p] = retire(hoursBefore(23));
        assert.match(p!, /^pki\.serviceAccountKeyGenerations: retiring generation 0 is refused until 2026-12-01T13:00:00\.000Z, 24 h after generation 1 was activated \(2026-11-30T13:00:00\.000Z\)/);
        assert.match(p!, /set pki\.serviceAccountRetireAfterHours: 0 to retire now/);
        assert.deepEqual(retire(hoursBefore(24)), []);
        assert.deepEqual(retire(hoursBefore(1), 0), []);
        assert.deepEqual(retire(undefined), [], "activated by hand or before the record kept the time");
        // a CA's retire does not wait
        assert.deepEqual(checkCaTransition("kubernetes-ca", gens({ 0: "trusted", 1: "active" }), gens({ 1: "active" }), timing, hoursBefore(1)), []);
    });

    it("records when the active generation was activated and keeps it; the retire reads it back", () => {
        const trust = planCaStages(caRecordOf(sa({ 0: "active" })), sa({ 0: "active", 1: "trusted" }), "phased", {}, timing);
        assert.deepEqual(trust.record["service-account"], { "0": "active", "1": "trusted" });
        const activate = planCaStages(trust.record, sa({ 0: "trusted", 1: "active" }), "phased", {}, { now: hoursBefore(30), afterHours: 24 });
        assert.deepEqual(activate.record["service-account"], { "0": "trusted", "1": "active", activatedAt: "2026-11-30T06:00:00.000Z" });
        assert.match(activate.text.join("\n"), /service-account signing key: next, 24 h after this activation, once every token it signed has been re-issued, retire generation 0/);
        const tooSoon = caRecordOf(sa({ 0: "trusted", 1: "active" }), caRecordOf(sa({ 0: "active", 1: "trusted" })), hoursBefore(2));
        assert.throws(() => planCaStages(tooSoon, sa({ 1: "active" }), "phased", {}, timing), /rotation refused, nothing was changed:\n {2}- pki\.serviceAccountKeyGenerations: retiring generation 0 is refused until/);
        const retire = planCaStages(activate.record, sa({ 1: "active" }), "phased", {}, timing);
        assert.deepEqual(retire.record["service-account"], { "0": "retired", "1": "active", activatedAt: "2026-11-30T06:00:00.000Z" });
        assert.match(retire.text.join("\n"), /service-account signing key: RETIRE generation 0: its public key is removed \(its trust files\) and every token it signed is refused/);
    });

    it("one-shot: trust and activate chained; the retire in the same up only when the delay is 0", () => {
        assert.throws(() => planCaStages(caRecordOf(sa({ 0: "active" })), sa({ 1: "active" }), "oneShot", {}, timing), /one-shot stage 3: pki\.serviceAccountKeyGenerations: retiring generation 0 is refused until/);
        const halfway = planCaStages(caRecordOf(sa({ 0: "active" })), sa({ 0: "trusted", 1: "active" }), "oneShot", {}, timing);
        assert.deepEqual(halfway.stageNames, ["trust", "activate"]);
        const all = planCaStages(caRecordOf(sa({ 0: "active" })), sa({ 1: "active" }), "oneShot", {}, { now, afterHours: 0 });
        assert.deepEqual(all.stageNames, ["trust", "activate", "retire"]);
        assert.match(all.text.join("\n"), /TRUST generation 1: its public key verifies tokens next to generation 0/);
        assert.match(all.text.join("\n"), /ACTIVATE generation 1: the apiservers sign new tokens with it/);
    });

    it("trust files name sa.pub and its reader", () => {
        assert.equal(trustBundleFiles({ etcdCa: "shared", serviceAccountKey: "apiserver" })["service-account"], "sa.pub on every master; read by kube-apiserver");
    });
});

describe("CA phases: what the PKI installs in each phase (components under mocks, 3+3)", function () {
    this.timeout(60_000);
    const master = "k8s-master-31415926-0";
    const agent = "k8s-agentpool1-31415926-0";
    /** The mock certificate names in a file, in order (each mocked certificate ends with "mock <resource> <hash>"). */
    const names = (pem: string) => [...pem.matchAll(/^mock (\S+) /gm)].map((m) => m[1]);
    async function files(raw: Record<string, unknown>, node: string, stages?: CaGenerations[]) {
        const { pki } = await runPki(settingsOf(raw), inventory3x3(), stages);
        return Promise.all(pki.stages.map(async (_, k) => Object.fromEntries(await Promise.all(nodeFiles(pki, node, k).map(async (f) => [f.path.split("/").pop()!, names(await promiseOf(f.content))] as const)))));
    }

    it("trust: ca.crt holds both generations, active first; leaves still from generation 0; no cross-signed certificate", async () => {
        const [trust] = await files({ caGenerations: { kubernetesCa: { "0": "active", "1": "trusted" } } }, agent);
        assert.deepEqual(trust!["ca.crt"], ["kubernetes-ca-cert", "kubernetes-ca-g1-cert"]);
        assert.deepEqual(trust!["apiserver.crt"], ["apiserver-cert"]);
    });

    it("activate: serving certificates carry generation 1 cross-signed by 0; client certificates do not; the bundle keeps both", async () => {
        const [activate] = await files({ caGenerations: { kubernetesCa: { "0": "trusted", "1": "active" } } }, master);
        assert.deepEqual(activate!["ca.crt"], ["kubernetes-ca-g1-cert", "kubernetes-ca-cert"]);
        assert.deepEqual(activate!["apiserver.crt"], ["apiserver-cert", "kubernetes-ca-g1-by-g0-cert"]);
        assert.deepEqual(activate!["etcdserver.crt"], ["etcd-server-cert", "kubernetes-ca-g1-by-g0-cert"]);
        assert.deepEqual(activate!["client.crt"], ["client-cert"]);
    });

    it("a one-shot run's trust stage installs the CA bundles alone (and the signing certificate, still the active generation); the later stages everything", async () => {
        const raw = { caRotation: "oneShot", caGenerations: { kubernetesCa: { "1": "active" } } };
        const plan = planCaStages(record({ 0: "active" }), settingsOf(raw).caGenerations, "oneShot");
        const [trust, activate, retire] = await files(raw, master, plan.stages);
        assert.deepEqual(Object.keys(trust!).sort(), ["ca-signing.crt", "ca.crt", "proxy-ca.crt", "sa.pub"]);
        assert.deepEqual(trust!["ca.crt"], ["kubernetes-ca-cert", "kubernetes-ca-g1-cert"]);
        // the controller-manager signs with one certificate, that of the ca.key the stage leaves installed
        assert.deepEqual([trust!["ca-signing.crt"], activate!["ca-signing.crt"], retire!["ca-signing.crt"]], [["kubernetes-ca-cert"], ["kubernetes-ca-g1-cert"], ["kubernetes-ca-g1-cert"]]);
        assert.deepEqual(activate!["apiserver.crt"], ["apiserver-cert", "kubernetes-ca-g1-by-g0-cert"]);
        assert.deepEqual(retire!["ca.crt"], ["kubernetes-ca-g1-cert"]);
        assert.deepEqual(retire!["apiserver.crt"], ["apiserver-cert"]);
        assert.ok("ca.key" in retire! && "client.key" in retire!);
    });

    it("the service-account key: sa.pub holds every verifying public key, active first; apiserver.key is the active private key alone", async () => {
        const at = async (s: States) => (await files({ serviceAccountKeyGenerations: Object.fromEntries(Object.entries(s)) }, master))[0]!;
        const trust = await at({ 0: "active", 1: "trusted" });
        assert.deepEqual([trust["sa.pub"], trust["apiserver.key"]], [["service-account-key", "service-account-g1-key"], ["service-account-key"]]);
        const activate = await at({ 0: "trusted", 1: "active" });
        assert.deepEqual([activate["sa.pub"], activate["apiserver.key"]], [["service-account-g1-key", "service-account-key"], ["service-account-g1-key"]]);
        const retire = await at({ 0: "retired", 1: "active" });
        assert.deepEqual(retire["sa.pub"], ["service-account-g1-key"]);
        assert.ok(!("sa.pub" in (await files({}, agent))[0]!), "masters only");
    });

    it("a one-shot key rotation's trust stage installs sa.pub alone, not the new private key", async () => {
        const raw = { caRotation: "oneShot", serviceAccountRetireAfterHours: 0, serviceAccountKeyGenerations: { "1": "active" } };
        const plan = planCaStages(caRecordOf({ "service-account": gens({ 0: "active" }) }), settingsOf(raw).caGenerations, "oneShot", {}, { now: new Date(), afterHours: 0 });
        const [trust, activate, retire] = await files(raw, master, plan.stages);
        assert.deepEqual(Object.keys(trust!).sort(), ["ca-signing.crt", "ca.crt", "proxy-ca.crt", "sa.pub"]);
        assert.deepEqual(trust!["sa.pub"], ["service-account-key", "service-account-g1-key"]);
        assert.deepEqual([activate!["apiserver.key"], activate!["sa.pub"]], [["service-account-g1-key"], ["service-account-g1-key", "service-account-key"]]);
        assert.deepEqual(retire!["sa.pub"], ["service-account-g1-key"]);
    });

    it("the resources of each phase: trust creates the new CA; activate re-issues the leaves and cross-signs; retire deletes the old CA", () => {
        const at = (s: States) => resolvePki(settingsOf({ caGenerations: { kubernetesCa: Object.fromEntries(Object.entries(s)) } }), inventory3x3());
        const trust = planReplacements(at({ 0: "active" }), at({ 0: "active", 1: "trusted" }));
        assert.deepEqual([trust.resourceCount, trust.created, trust.deleted], [0, ["kubernetes-ca-g1-key", "kubernetes-ca-g1-cert"], []]);
        const activate = planReplacements(at({ 0: "active", 1: "trusted" }), at({ 0: "trusted", 1: "active" }));
        assert.deepEqual([activate.resourceCount, activate.created, activate.deleted], [30, ["kubernetes-ca-g1-by-g0-csr", "kubernetes-ca-g1-by-g0-cert"], []]);
        const retire = planReplacements(at({ 0: "trusted", 1: "active" }), at({ 0: "retired", 1: "active" }));
        assert.deepEqual([retire.resourceCount, retire.created, retire.deleted], [0, [], ["kubernetes-ca-key", "kubernetes-ca-cert", "kubernetes-ca-g1-by-g0-csr", "kubernetes-ca-g1-by-g0-cert"]]);
    });
});
