import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { CONFIG_KEYS, ConfigError, INVENTORY_KEYS, parsePkiConfig, readPkiConfig, ROLLOUT_KEYS } from "../../../components/config";
import { ZERO_GENERATIONS } from "../../../components/pki/settings";
import { caFixture, OpenSsl } from "../support/openssl";
import { configProblems } from "../support/config";
import { fakeKeyPem, promiseOf } from "../support/mocks";

const problems = (raw: unknown, adoption = {}): string[] => configProblems(() => parsePkiConfig(raw, adoption));

describe("config: the pki section", () => {
    it("defaults to AKS Engine's layout, RSA 2048, 1-year leaves renewed 30 days ahead and 10-year CAs renewed 1 year ahead", () => {
        const { value, warnings } = parsePkiConfig(undefined);
        assert.deepEqual(warnings, []);
        assert.deepEqual(value, {
            catalog: { etcdCa: "shared", serviceAccountKey: "apiserver" },
            key: { algorithm: "RSA", rsaBits: 2048 },
            sans: { clusterDomain: "cluster.local", serviceCidr: "10.0.0.0/16", apiServerExtraSans: [] },
            validity: { leaf: { days: 365, renewalDays: 30 }, ca: { days: 3650, renewalDays: 365 } },
            warnDays: 60,
            rotation: ZERO_GENERATIONS,
            caGenerations: { "kubernetes-ca": [{ generation: 0, state: "active" }], "front-proxy-ca": [{ generation: 0, state: "active" }], "service-account": [{ generation: 0, state: "active" }] },
            caRotation: "phased",
            serviceAccountRetireAfterHours: 24,
            adopted: {},
        });
    });

    it("reads every setting", () => {
        const { value } = parsePkiConfig({
            keyAlgorithm: "ECDSA",
            etcdCa: "separate",
            serviceAccountKey: "dedicated",
            kubeletServing: "issue",
            clusterDomain: "corp.example",
            serviceCidr: "172.16.0.0/16",
            apiServerExtraSans: ["api.corp.example", "192.0.2.1"],
            validity: { leafDays: 90, leafRenewalDays: 10, caDays: 1825, caRenewalDays: 180 },
            rotation: { kubernetesCa: 1, kubernetesLeaf: "2", etcdCa: 3, etcdLeaf: 4, frontProxy: 5, serviceAccount: 6, kubeletServer: 7 },
        });
        assert.deepEqual(value.key, { algorithm: "ECDSA", rsaBits: 2048 });
        assert.deepEqual(value.catalog, { etcdCa: "separate", serviceAccountKey: "dedicated", kubeletServing: "issue" });
        assert.deepEqual(value.sans, { clusterDomain: "corp.example", serviceCidr: "172.16.0.0/16", apiServerExtraSans: ["api.corp.example", "192.0.2.1"] });
        assert.deepEqual(value.validity, { leaf: { days: 90, renewalDays: 10 }, ca: { days: 1825, renewalDays: 180 } });
        assert.deepEqual(value.rotation, { kubernetesCa: 1, kubernetesLeaf: 2, etcdCa: 3, etcdLeaf: 4, frontProxy: 5, serviceAccount: 6, kubeletServer: 7 });
    });

    it("names every bad key at once", () => {
        assert.deepEqual(
            problems({ keyAlgorithm: "DSA", rsaBits: 1024, etcdCa: "own", clusterDomain: "bad domain", serviceCidr: "10.0.0.0", apiServerExtraSans: ["ok.example", "not valid!"] }),
            [
                'pki.keyAlgorithm: must be one of "RSA", "ECDSA", got "DSA"',
                "pki.rsaBits: must be one of 2048, 3072, 4096, got 1024",
                'pki.etcdCa: must be one of "shared", "separate", got "own"',
                'pki.clusterDomain: must be a DNS name, got "bad domain"',
                'pki.serviceCidr: must be an IPv4 or IPv6 CIDR such as 10.0.0.0/16, got "10.0.0.0"',
                'pki.apiServerExtraSans[1]: must be an IP address or a DNS name, got "not valid!"',
            ],
        );
    });

    it("rejects unknown keys, with a suggestion for typos", () => {
        const p = problems({ rotaton: {}, validity: { leafdays: 10 } });
        assert.match(p[0]!, /^pki\.rotaton: unknown key \(did you mean pki\.rotation\?\)/);
        assert.match(p[1]!, /^pki\.validity\.leafdays: unknown key \(did you mean pki\.validity\.leafDays\?\)/);
    });

    it("rejects a pki value that is not an object", () => {
        assert.deepEqual(problems("RSA"), ['pki: must be an object, got "RSA"']);
    });

    it("rejects rotation generations that are not non-negative integers", () => {
        assert.deepEqual(problems({ rotation: { kubernetesLeaf: -1, etcdLeaf: 1.5, frontProxy: "x" } }), [
            "pki.rotation.kubernetesLeaf: must be an integer from 0, got -1",
            "pki.rotation.etcdLeaf: must be an integer from 0, got 1.5",
            'pki.rotation.frontProxy: must be an integer from 0, got "x"',
        ]);
    });

    it("rejects an etcd CA rotation when there is no etcd CA", () => {
        assert.match(problems({ rotation: { etcdCa: 1 } })[0]!, /pki\.rotation\.etcdCa is 1 but pki\.etcdCa is "shared".*bump pki\.rotation\.kubernetesCa/);
        assert.doesNotThrow(() => parsePkiConfig({ etcdCa: "separate", rotation: { etcdCa: 1 } }));
    });

    it("rejects validity settings that would renew on every run or let a leaf outlive its CA", () => {
        assert.deepEqual(problems({ validity: { leafDays: 30, leafRenewalDays: 30 } }), ["pki.validity.leafRenewalDays (30) must be less than pki.validity.leafDays (30)"]);
        assert.deepEqual(problems({ validity: { caDays: 400, caRenewalDays: 400 } }), ["pki.validity.caRenewalDays (400) must be less than pki.validity.caDays (400)"]);
        assert.deepEqual(problems({ validity: { leafDays: 800, caDays: 730, caRenewalDays: 100 } }), [
            "pki.validity.leafDays (800) goes beyond pki.validity.caDays (730): a leaf's validity may not go beyond its CA's",
        ]);
        assert.match(problems({ validity: { leafDays: 400 } })[0]!, /caRenewalDays \(365\) must be at least pki\.validity\.leafDays \(400\)/);
        assert.match(problems({ validity: { leafDays: 0 } })[0]!, /pki\.validity\.leafDays: must be an integer from 1 to 3650, got 0/);
    });

    it("pki.warnDays: read, and refused unless a whole number of days more than the leaf renewal lead", () => {
        assert.equal(parsePkiConfig({ warnDays: 90 }).value.warnDays, 90);
        assert.equal(parsePkiConfig({ warnDays: 11, validity: { leafRenewalDays: 10 } }).value.warnDays, 11);
        assert.deepEqual(problems({ warnDays: 30 }), ["pki.warnDays (30) must be more than pki.validity.leafRenewalDays (30), so that a leaf is listed before its renewal is planned"]);
        assert.deepEqual(problems({ warnDays: 20, validity: { leafDays: 90, leafRenewalDays: 45 } }), [
            "pki.warnDays (20) must be more than pki.validity.leafRenewalDays (45), so that a leaf is listed before its renewal is planned",
        ]);
        assert.deepEqual(problems({ warnDays: "two months" }), ['pki.warnDays: must be an integer from 1, got "two months"']);
        assert.deepEqual(problems({ warnDays: 0 }), ["pki.warnDays: must be an integer from 1, got 0"]);
    });

    it("documents every key it reads, with its default", () => {
        const keys = CONFIG_KEYS.map((k) => k.key);
        for (const k of ["pki.keyAlgorithm", "pki.validity.leafRenewalDays", "pki.rotation.serviceAccount", "kubernetesCaCertificate", "kubernetesCaPrivateKey", "frontProxyCaPrivateKey"]) {
            assert.ok(keys.includes(k), k);
        }
        assert.equal(CONFIG_KEYS.find((k) => k.key === "pki.validity.leafDays")!.default, "365");
        assert.equal(CONFIG_KEYS.find((k) => k.key === "kubernetesCaPrivateKey")!.secret, true);
    });

    it("Pulumi.yaml parses and declares every top-level key the program reads", () => {
        // js-yaml comes with @pulumi/pulumi (pinned in package-lock.json)
        const yaml = require("js-yaml") as { load(text: string): unknown };
        const project = yaml.load(fs.readFileSync(path.join(__dirname, "../../../Pulumi.yaml"), "utf8")) as { config: Record<string, unknown> };
        const topLevel = [...new Set([...CONFIG_KEYS, ...ROLLOUT_KEYS].map((k) => k.key.split(".")[0]!)), ...INVENTORY_KEYS];
        for (const key of topLevel) assert.ok(key in project.config, `Pulumi.yaml declares ${key}`);
    });
});

describe("config: adopting the cluster's current CA", function () {
    const f = caFixture();

    it("accepts a valid CA, keeps its key secret and records its facts", async () => {
        const { value, warnings } = parsePkiConfig({}, { "kubernetes-ca": { certificate: f.ca.cert, privateKey: f.ca.key } });
        assert.deepEqual(warnings, []);
        const adopted = value.adopted["kubernetes-ca"]!;
        assert.equal(adopted.certPem, f.ca.cert);
        assert.equal(adopted.facts.publicKey, "RSA 2048");
        assert.ok(pulumi.Output.isInstance(adopted.keyPem));
        assert.equal(await pulumi.isSecret(adopted.keyPem as pulumi.Output<string>), true);
        assert.equal(await promiseOf(adopted.keyPem as pulumi.Output<string>), f.ca.key);
    });

    it("rejects a key that does not match the certificate", () => {
        assert.deepEqual(problems({}, { "kubernetes-ca": { certificate: f.ca.cert, privateKey: f.other.key } }), [
            "azs-cert-rotation:kubernetesCaCertificate / kubernetesCaPrivateKey: private key does not match the certificate",
        ]);
    });

    it("needs both the certificate and the key", () => {
        assert.deepEqual(problems({}, { "front-proxy-ca": { certificate: f.ca.cert } }), [
            "azs-cert-rotation:frontProxyCaCertificate / frontProxyCaPrivateKey: set both or neither (only frontProxyCaCertificate is set)",
        ]);
    });

    it("rejects adopting an etcd CA in the shared layout", () => {
        assert.match(problems({}, { "etcd-ca": { certificate: f.ca.cert, privateKey: f.ca.key } })[0]!, /an etcd CA is adopted but pki\.etcdCa is "shared"/);
        const { value } = parsePkiConfig({ etcdCa: "separate" }, { "etcd-ca": { certificate: f.ca.cert, privateKey: f.ca.key } });
        assert.ok(value.adopted["etcd-ca"]);
    });

    it("does not use (nor check) an adopted CA once its generation is bumped, and says so", () => {
        const { value, warnings } = parsePkiConfig({ rotation: { kubernetesCa: 1 } }, { "kubernetes-ca": { certificate: f.ca.cert, privateKey: f.other.key } });
        assert.deepEqual(value.adopted, {});
        assert.deepEqual(warnings, ["azs-cert-rotation:kubernetesCaCertificate / kubernetesCaPrivateKey: not used: the adopted CA is generation 0, which pki.caGenerations.kubernetesCa retires (or pki.rotation moved past)"]);
    });

    it("reports problems of the pki section and of the adopted CA together, never quoting the PEM", () => {
        const p = problems({ keyAlgorithm: "X" }, { "kubernetes-ca": { certificate: f.ca.cert, privateKey: fakeKeyPem("AAAA") } });
        assert.equal(p.length, 2);
        assert.match(p[0]!, /^pki\.keyAlgorithm/);
        assert.match(p[1]!, /kubernetesCaPrivateKey: private key: malformed PEM: the private key does not parse/);
        assert.ok(!p.join("\n").includes("AAAA"));
    });
});

describe("config: keeping the cluster's service-account signing key", function () {
    const f = caFixture();

    it("adopts it as a secret with its public key", async () => {
        const { value, warnings } = parsePkiConfig({}, { serviceAccountPrivateKey: f.ca.key });
        assert.deepEqual(warnings, []);
        const adopted = value.adoptedServiceAccountKey!;
        assert.match(adopted.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
        assert.equal(await pulumi.isSecret(adopted.keyPem as pulumi.Output<string>), true);
        assert.equal(await promiseOf(adopted.keyPem as pulumi.Output<string>), f.ca.key);
    });

    it("refuses what is not a usable key, never quoting it", () => {
        const notKey = problems({}, { serviceAccountPrivateKey: fakeKeyPem("AAAA") });
        assert.deepEqual(notKey, ["azs-cert-rotation:serviceAccountPrivateKey: not a PEM private key (unencrypted PKCS#1, PKCS#8 or SEC1)"]);
        const weak = execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"], { encoding: "utf8" });
        assert.match(problems({}, { serviceAccountPrivateKey: weak })[0]!, /a rsa key of 1024: service-account tokens need RSA ≥ 2048/);
    });

    it("is not used once pki.rotation.serviceAccount is bumped or generation 0 retired, and says so", () => {
        const warning = "azs-cert-rotation:serviceAccountPrivateKey: not used: the adopted key is generation 0, which pki.serviceAccountKeyGenerations retires (or pki.rotation.serviceAccount moved past)";
        for (const raw of [{ rotation: { serviceAccount: 1 } }, { serviceAccountKeyGenerations: { "0": "retired", "1": "active" } }]) {
            const { value, warnings } = parsePkiConfig(raw, { serviceAccountPrivateKey: f.ca.key });
            assert.equal(value.adoptedServiceAccountKey, undefined);
            assert.deepEqual(warnings, [warning]);
        }
        // still generation 0 while it verifies tokens next to its successor
        assert.ok(parsePkiConfig({ serviceAccountKeyGenerations: { "0": "trusted", "1": "active" } }, { serviceAccountPrivateKey: f.ca.key }).value.adoptedServiceAccountKey);
    });

    it("reads the key's generations and the retire delay, and names bad ones", () => {
        const { value } = parsePkiConfig({ serviceAccountKeyGenerations: { "1": "trusted", "0": "active" }, serviceAccountRetireAfterHours: 0 });
        assert.deepEqual(value.caGenerations["service-account"], [{ generation: 0, state: "active" }, { generation: 1, state: "trusted" }]);
        assert.equal(value.serviceAccountRetireAfterHours, 0);
        assert.deepEqual(parsePkiConfig({ rotation: { serviceAccount: 2 } }).value.caGenerations["service-account"], [{ generation: 2, state: "active" }]);
        assert.deepEqual(problems({ serviceAccountKeyGenerations: { "0": "trusted", x: "active" }, serviceAccountRetireAfterHours: -1, rotation: { serviceAccount: 1 } }), [
            "pki.serviceAccountKeyGenerations: set it or pki.rotation.serviceAccount, not both",
            'pki.serviceAccountKeyGenerations: "x" is not a generation number (0, 1, 2 …)',
            "pki.serviceAccountKeyGenerations: no active generation: retiring the only service-account key is refused; exactly one generation must be active",
            "pki.serviceAccountRetireAfterHours: must be an integer from 0, got -1",
        ]);
    });

    it("must be set with --secret", () => {
        pulumi.runtime.setAllConfig({ "azs-cert-rotation:serviceAccountPrivateKey": f.ca.key }, []);
        try {
            assert.throws(() => readPkiConfig(), /serviceAccountPrivateKey: a private key must be stored as a secret/);
            pulumi.runtime.setAllConfig({ "azs-cert-rotation:serviceAccountPrivateKey": f.ca.key }, ["azs-cert-rotation:serviceAccountPrivateKey"]);
            assert.ok(readPkiConfig().adoptedServiceAccountKey);
        } finally {
            pulumi.runtime.setAllConfig({});
        }
    });
});

describe("config: read through pulumi.Config", () => {
    const ssl = new OpenSsl();
    after(() => {
        ssl.remove();
        pulumi.runtime.setAllConfig({});
    });

    it("reads the structured pki object and the secret CA keys of the stack", () => {
        const ca = ssl.ca();
        pulumi.runtime.setAllConfig(
            {
                "azs-cert-rotation:pki": JSON.stringify({ keyAlgorithm: "ECDSA", rotation: { kubernetesLeaf: 3 } }),
                "azs-cert-rotation:kubernetesCaCertificate": ca.cert,
                "azs-cert-rotation:kubernetesCaPrivateKey": ca.key,
            },
            ["azs-cert-rotation:kubernetesCaPrivateKey"],
        );
        const pki = readPkiConfig();
        assert.equal(pki.key.algorithm, "ECDSA");
        assert.equal(pki.rotation.kubernetesLeaf, 3);
        assert.equal(pki.adopted["kubernetes-ca"]!.facts.publicKey, "EC P-256");
    });

    it("refuses an adopted CA key that was not set with --secret", () => {
        const ca = ssl.ca();
        pulumi.runtime.setAllConfig({ "azs-cert-rotation:kubernetesCaCertificate": ca.cert, "azs-cert-rotation:kubernetesCaPrivateKey": ca.key }, []);
        assert.throws(
            () => readPkiConfig(),
            (e: Error) => e instanceof ConfigError && /kubernetesCaPrivateKey: a private key must be stored as a secret/.test(e.message) && !e.message.includes(ca.key.split("\n")[1]!),
        );
    });

    it("takes the empty defaults Pulumi.yaml declares for the adoption keys as unset", () => {
        pulumi.runtime.setAllConfig({ "azs-cert-rotation:kubernetesCaCertificate": "", "azs-cert-rotation:kubernetesCaPrivateKey": "" }, []);
        assert.deepEqual(readPkiConfig().adopted, {});
    });

    it("throws a ConfigError naming the stack key when the config is bad", () => {
        pulumi.runtime.setAllConfig({ "azs-cert-rotation:pki": JSON.stringify({ rsaBits: 512 }) });
        assert.throws(() => readPkiConfig(), (e: Error) => e instanceof ConfigError && /invalid stack configuration:\n {2}- pki\.rsaBits: must be one of/.test(e.message));
    });
});

describe("config: kubelet serving certificates (pki.kubeletServing)", () => {
    it("keep by default: the catalog options stay AKS Engine's, with no kubelet serving row", () => {
        assert.deepEqual(parsePkiConfig({}).value.catalog, { etcdCa: "shared", serviceAccountKey: "apiserver" });
        assert.deepEqual(parsePkiConfig({ kubeletServing: "keep" }).value.catalog, { etcdCa: "shared", serviceAccountKey: "apiserver" });
    });

    it("issue: in the catalog options; pki.rotation.kubeletServer forces the rotation", () => {
        const { value } = parsePkiConfig({ kubeletServing: "issue", rotation: { kubeletServer: 2 } });
        assert.equal(value.catalog.kubeletServing, "issue");
        assert.equal(value.rotation.kubeletServer, 2);
    });

    it("refuses a forced Kubelet-Server rotation while the program issues no kubelet serving certificates, and a value it does not know", () => {
        const message =
            'pki.rotation.kubeletServer is 1 but pki.kubeletServing is "keep": the program issues no kubelet serving certificates, the nodes keep their own; ' +
            "set pki.kubeletServing: issue, or leave pki.rotation.kubeletServer at 0";
        assert.deepEqual(problems({ rotation: { kubeletServer: 1 } }), [message]);
        assert.deepEqual(problems({ kubeletServing: "keep", rotation: { kubeletServer: 1 } }), [message]);
        assert.deepEqual(problems({ kubeletServing: "rotate" }), ['pki.kubeletServing: must be one of "keep", "issue", got "rotate"']);
    });

    it("documents both keys", () => {
        assert.equal(CONFIG_KEYS.find((k) => k.key === "pki.kubeletServing")!.default, "keep");
        assert.equal(CONFIG_KEYS.find((k) => k.key === "pki.rotation.kubeletServer")!.default, "0");
    });
});
