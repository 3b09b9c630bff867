import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { CertificateAuthority } from "../../../components/pki/certificateAuthority";
import { LeafCertificate } from "../../../components/pki/leafCertificate";
import { caBundle, nodeFiles } from "../../../components/pki/nodeFiles";
import { certificatesReport, stackOutputs } from "../../../components/pki/stackOutputs";
import { inventory3x3, promiseOf, Registration, runMocked } from "../support/mocks";
import { caFixture, Pem } from "../support/openssl";
import { runPki, settingsOf } from "../support/pki";

const TLS = {
    key: "tls:index/privateKey:PrivateKey",
    selfSigned: "tls:index/selfSignedCert:SelfSignedCert",
    csr: "tls:index/certRequest:CertRequest",
    signed: "tls:index/locallySignedCert:LocallySignedCert",
};

const MASTER0 = "k8s-master-31415926-0";
const AGENT0 = "k8s-agentpool1-31415926-0";

describe("components: ClusterPki under mocks (3 masters + 3 agents)", function () {
    let regs: Registration[];
    let pki: Awaited<ReturnType<typeof runPki>>["pki"];
    const named = (name: string) => regs.find((r) => r.name === name)!;

    before(async () => {
        ({ pki, registrations: regs } = await runPki(settingsOf({})));
    });

    it("registers the components with their type tokens, children under their parent", () => {
        const components = regs.filter((r) => !r.custom).map((r) => `${r.type}::${r.name}`);
        assert.deepEqual(components, [
            "azs-cert-rotation:pki:ClusterPki::pki",
            "azs-cert-rotation:pki:CertificateAuthority::kubernetes-ca",
            "azs-cert-rotation:pki:CertificateAuthority::front-proxy-ca",
            "azs-cert-rotation:pki:ServiceAccountKey::service-account",
            "azs-cert-rotation:pki:LeafCertificate::apiserver",
            "azs-cert-rotation:pki:LeafCertificate::client",
            "azs-cert-rotation:pki:LeafCertificate::kubectl-client",
            "azs-cert-rotation:pki:LeafCertificate::etcd-server",
            "azs-cert-rotation:pki:LeafCertificate::etcd-client",
            "azs-cert-rotation:pki:LeafCertificate::etcd-peer-0",
            "azs-cert-rotation:pki:LeafCertificate::etcd-peer-1",
            "azs-cert-rotation:pki:LeafCertificate::etcd-peer-2",
            "azs-cert-rotation:pki:LeafCertificate::front-proxy-client",
        ]);
        assert.match(named("client-key").parent, /azs-cert-rotation:pki:ClusterPki\$azs-cert-rotation:pki:LeafCertificate::client$/);
        assert.match(named("kubernetes-ca-cert").parent, /CertificateAuthority::kubernetes-ca$/);
        assert.match(named("renewal-clock-key").parent, /ClusterPki::pki$/);
    });

    it("registers 40 tls resources: 2 per generated CA, 4 per leaf with its own key, 2 for the apiserver, 1 SA key, 1 clock key", () => {
        const custom = regs.filter((r) => r.custom);
        assert.equal(custom.length, 40);
        const count = (type: string) => custom.filter((r) => r.type === type).length;
        assert.equal(count(TLS.key), 1 + 2 + 1 + 8); // clock key, 2 CA keys, SA key, 8 leaf keys
        assert.equal(count(TLS.selfSigned), 2 + 8); // 2 CA certs, 8 renewal clocks
        assert.equal(count(TLS.csr), 9);
        assert.equal(count(TLS.signed), 9);
    });

    it("generates RSA 2048 keys by default, ECDSA P-256 (never P-224) when asked", async () => {
        for (const r of regs.filter((x) => x.type === TLS.key && x.name !== "renewal-clock-key")) {
            assert.deepEqual([r.inputs.algorithm, r.inputs.rsaBits], ["RSA", 2048], r.name);
        }
        const ec = await runPki(settingsOf({ keyAlgorithm: "ECDSA" }));
        for (const r of ec.registrations.filter((x) => x.type === TLS.key)) {
            assert.deepEqual([r.inputs.algorithm, r.inputs.ecdsaCurve], ["ECDSA", "P256"], r.name);
        }
        const apiserver = ec.registrations.find((r) => r.name === "apiserver-cert")!;
        assert.deepEqual(apiserver.inputs.allowedUses, ["digital_signature", "server_auth"], "no key_encipherment for ECDSA");
    });

    it("marks every private key output secret", () => {
        for (const r of regs.filter((x) => x.type === TLS.key)) {
            assert.deepEqual([...new Set(r.additionalSecretOutputs)].sort(), ["privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"], r.name);
        }
    });

    it("issues CAs with cert/CRL signing, 10 years, renewed 1 year ahead", () => {
        const ca = named("kubernetes-ca-cert");
        assert.equal(ca.inputs.isCaCertificate, true);
        assert.equal(ca.inputs.setSubjectKeyId, true);
        assert.deepEqual(ca.inputs.allowedUses, ["cert_signing", "crl_signing", "digital_signature"]);
        assert.deepEqual([ca.inputs.validityPeriodHours, ca.inputs.earlyRenewalHours], [3650 * 24, 365 * 24]);
        assert.deepEqual(ca.inputs.subject, { commonName: "ca" });
        assert.deepEqual(named("front-proxy-ca-cert").inputs.subject, { commonName: "proxyClientCA" });
    });

    it("issues leaves for 1 year, renewed 30 days ahead, signed by their CA (no ignoreChanges: replacements need the new CA certificate)", () => {
        for (const id of ["apiserver", "client", "etcd-peer-2"]) {
            const cert = named(`${id}-cert`);
            assert.deepEqual([cert.inputs.validityPeriodHours, cert.inputs.earlyRenewalHours], [365 * 24, 30 * 24], id);
            assert.deepEqual(cert.ignoreChanges, [], id);
            assert.match(String(cert.inputs.caCertPem), /mock kubernetes-ca-cert /, id);
            assert.match(String(cert.inputs.caPrivateKeyPem), /mock kubernetes-ca-key /, id);
        }
        assert.match(String(named("front-proxy-client-cert").inputs.caPrivateKeyPem), /mock front-proxy-ca-key/);
        assert.deepEqual(named("client-csr").inputs.subject, { commonName: "client", organization: "system:masters" });
        assert.deepEqual(named("etcd-peer-1-csr").inputs.ipAddresses, ["10.240.255.6", "127.0.0.1"]);
        assert.deepEqual(named("apiserver-csr").inputs.ipAddresses, ["10.240.255.5", "10.240.255.6", "10.240.255.7", "10.240.255.15", "10.0.0.1", "127.0.0.1"]);
    });

    it("signs the apiserver certificate over the service-account key (AKS Engine)", () => {
        assert.match(String(named("apiserver-csr").inputs.privateKeyPem), /mock service-account-key /);
        assert.equal(regs.some((r) => r.name === "apiserver-key" || r.name === "apiserver-clock"), false);
    });

    it("gives each own-key leaf a renewal clock with the leaf's validity, whose id triggers the key", () => {
        const clock = named("client-clock");
        assert.deepEqual([clock.inputs.validityPeriodHours, clock.inputs.earlyRenewalHours], [365 * 24, 30 * 24]);
        assert.equal(clock.trigger, "Kubernetes-Leaf#0 issuer=kubernetes-ca#0");
        assert.match(String(named("client-key").trigger), /^client-clock-/);
        assert.equal(named("apiserver-csr").trigger, "Kubernetes-Leaf#0 issuer=kubernetes-ca#0");
        assert.equal(named("etcd-peer-0-clock").trigger, "ETCD-Leaf#0 issuer=kubernetes-ca#0");
        assert.equal(named("kubernetes-ca-key").trigger, "kubernetes-ca#0");
        assert.equal(named("service-account-key").trigger, "ServiceAccount#0");
    });

    it("gives each node its files with the right contents, keys as secrets", async () => {
        const agentFiles = nodeFiles(pki, AGENT0);
        assert.deepEqual(agentFiles.map((f) => `${f.path}:${f.secret}`), [
            "/etc/kubernetes/certs/ca.crt:false",
            "/etc/kubernetes/certs/apiserver.crt:false",
            "/etc/kubernetes/certs/client.crt:false",
            "/etc/kubernetes/certs/client.key:true",
        ]);
        const clientKey = agentFiles[3]!;
        assert.equal(await pulumi.isSecret(clientKey.content), true);
        assert.match(await promiseOf(clientKey.content), /mock client-key /);
        const masterFiles = nodeFiles(pki, MASTER0);
        const apiKey = masterFiles.find((f) => f.path.endsWith("/apiserver.key"))!;
        assert.match(await promiseOf(apiKey.content), /mock service-account-key /, "apiserver.key is the SA key");
        assert.match(await promiseOf(masterFiles.find((f) => f.path.endsWith("/proxy-ca.crt"))!.content), /mock front-proxy-ca-cert /);
    });

    it("outputs the four kubeconfigs as a secret, with the CA and each user's embedded certificate", async () => {
        assert.equal(await pulumi.isSecret(pki.kubeconfigs), true);
        const kc = await promiseOf(pki.kubeconfigs);
        assert.deepEqual(Object.keys(kc).sort(), ["admin", "controllerManager", "kubelet", "scheduler"]);
        const admin = JSON.parse(kc.admin);
        const decode = (b64: string) => Buffer.from(b64, "base64").toString();
        assert.equal(admin.clusters[0].cluster.server, "https://azstb.local.cloudapp.azurestack.external:443");
        assert.match(decode(admin.clusters[0].cluster["certificate-authority-data"]), /mock kubernetes-ca-cert /);
        assert.match(decode(admin.users[0].user["client-certificate-data"]), /mock kubectl-client-cert /);
        assert.match(decode(admin.users[0].user["client-key-data"]), /mock kubectl-client-key /);
        for (const id of ["kubelet", "controllerManager", "scheduler"] as const) {
            assert.match(decode(JSON.parse(kc[id]).users[0].user["client-certificate-data"]), /mock client-cert /, id);
        }
    });

    it("stack outputs: certificate facts in plain text; kubeconfigs and the apimodel certificate profile secret", async () => {
        const out = stackOutputs(pki, new Date());
        assert.equal(await pulumi.isSecret(out.certificates), false);
        const certs = await promiseOf(out.certificates);
        assert.deepEqual(Object.keys(certs), ["kubernetes-ca", "front-proxy-ca", "service-account", "apiserver", "client", "kubectl-client", "etcd-server", "etcd-client", "etcd-peer-0", "etcd-peer-1", "etcd-peer-2", "front-proxy-client"]);
        const client = certs["client"]!;
        assert.equal(client.kind, "certificate");
        if (client.kind === "certificate") {
            assert.deepEqual(Object.keys(client).sort(), ["daysLeft", "dnsNames", "ipAddresses", "issuer", "kind", "notAfter", "notBefore", "publicKey", "renewal", "renewalDate", "serialNumber", "subject"]);
            assert.equal(Date.parse(client.notAfter) - Date.parse(client.renewalDate), 30 * 86_400_000, "leaves renew 30 days ahead");
        }
        const ca = certs["kubernetes-ca"]!;
        if (ca.kind === "certificate") assert.equal(Date.parse(ca.notAfter) - Date.parse(ca.renewalDate), 365 * 86_400_000, "CAs renew 1 year ahead");
        assert.equal(certs["service-account"]!.kind, "keyPair");
        assert.ok(!JSON.stringify(certs).includes("PRIVATE KEY"));
        assert.equal(await pulumi.isSecret(out.kubeconfigs), true);
        assert.equal(await pulumi.isSecret(out.certificateProfile), true);
        const profile = await promiseOf(out.certificateProfile);
        assert.match(String(profile.caPrivateKey), /mock kubernetes-ca-key /);
        assert.match(String(profile.apiServerPrivateKey), /mock service-account-key /);
        assert.deepEqual((profile.etcdPeerCertificates as string[]).map((p) => p.split("\n").at(-2)!.split(" ")[1]), ["etcd-peer-0-cert", "etcd-peer-1-cert", "etcd-peer-2-cert"]);
        const bundles = await promiseOf(out.trustBundles);
        assert.deepEqual(Object.keys(bundles), ["kubernetes-ca", "front-proxy-ca"]);
    });

    it("registers sa.key/sa.pub and an apiserver key of its own with serviceAccountKey: dedicated", async () => {
        const { registrations, pki: p } = await runPki(settingsOf({ serviceAccountKey: "dedicated" }));
        assert.equal(registrations.filter((r) => r.custom).length, 42);
        assert.ok(registrations.some((r) => r.name === "apiserver-key"));
        const files = nodeFiles(p, MASTER0).filter((f) => /sa\.(key|pub)$/.test(f.path));
        assert.deepEqual(files.map((f) => `${f.path}:${f.secret}`), ["/etc/kubernetes/certs/sa.key:true", "/etc/kubernetes/certs/sa.pub:false"]);
    });
});

describe("components: adopting the cluster's CA", function () {
    const f = caFixture();
    let ca: Pem;
    let other: Pem;
    before(() => ({ ca, other } = f));

    it("uses the adopted CA as is (no CA resource) to sign every Kubernetes leaf", async () => {
        const settings = settingsOf({}, { "kubernetes-ca": { certificate: ca.cert, privateKey: ca.key } });
        const { registrations, pki } = await runPki(settings);
        assert.equal(registrations.some((r) => r.name.startsWith("kubernetes-ca-")), false);
        assert.equal(registrations.filter((r) => r.custom).length, 38);
        for (const id of ["apiserver", "client", "kubectl-client", "etcd-server", "etcd-client", "etcd-peer-0"]) {
            const cert = registrations.find((r) => r.name === `${id}-cert`)!;
            assert.equal(cert.inputs.caPrivateKeyPem, ca.key, id);
            assert.equal(cert.inputs.caCertPem, ca.cert, id);
        }
        assert.equal(await promiseOf(caBundle(pki, "kubernetes-ca")), ca.cert);
        assert.equal(await pulumi.isSecret(pki.authorities["kubernetes-ca"]!.keyPem), true);
        const report = await promiseOf(certificatesReport(pki, new Date()));
        const caReport = report["kubernetes-ca"]!;
        assert.equal(caReport.kind, "certificate");
        if (caReport.kind === "certificate") {
            assert.equal(caReport.subject, "CN=ca");
            assert.equal(caReport.renewal, "manual", "an adopted CA is not renewed by the program");
        }
        assert.equal((report["client"] as { renewal: string }).renewal, "automatic");
        const identity = await promiseOf(pki.authorities["kubernetes-ca"]!.identity);
        assert.match(identity, /^kubernetes-ca#0:adopted:[0-9a-f]{16}$/);
        assert.equal(registrations.find((r) => r.name === "client-clock")!.trigger, `Kubernetes-Leaf#0 issuer=${identity}`);
    });

    it("keeps an adopted service-account key: no key resource, the apiserver certificate is issued over it, apiserver.key is it", async () => {
        const { registrations, pki } = await runPki(settingsOf({}, { serviceAccountPrivateKey: other.key }));
        assert.equal(registrations.some((r) => r.name === "service-account-key"), false);
        assert.equal(registrations.find((r) => r.name === "apiserver-csr")!.inputs.privateKeyPem, other.key);
        const apiserverKey = nodeFiles(pki, MASTER0).find((f) => f.path.endsWith("/apiserver.key"))!;
        assert.equal(apiserverKey.secret, true);
        assert.equal(await promiseOf(apiserverKey.content), other.key);
        assert.equal(await pulumi.isSecret(apiserverKey.content), true);
    });

    it("a bad CA given as Outputs fails the program with a clear message, before any leaf resource", async () => {
        // The language host fails the program on an unhandled rejection; catch them here instead of mocha.
        const mochaHandlers = process.listeners("unhandledRejection");
        process.removeAllListeners("unhandledRejection");
        const failures: unknown[] = [];
        process.on("unhandledRejection", (e) => failures.push(e));
        try {
            const { registrations, result } = await runMocked(
                () => {
                    const bad = new CertificateAuthority("kubernetes-ca", {
                        commonName: "ca",
                        generation: 0,
                        adopt: {
                            certPem: pulumi.output(ca.cert),
                            keyPem: pulumi.secret(other.key),
                            policy: { now: new Date(), leafDays: 365, caRenewalDays: 365 },
                            label: "apimodel.json caCertificate / caPrivateKey",
                        },
                    });
                    const leaf = new LeafCertificate("client", {
                        issuer: bad,
                        commonName: "client",
                        usages: ["digitalSignature", "clientAuth"],
                        rotation: { type: "kubernetesLeaf", generation: 0 },
                    });
                    return { bad, leaf };
                },
                async ({ bad }) => {
                    await assert.rejects(promiseOf(bad.identity), /^Error: apimodel\.json caCertificate \/ caPrivateKey: private key does not match the certificate$/);
                    for (let i = 0; i < 100 && failures.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
                },
            );
            assert.ok(failures.length > 0, "the program fails");
            assert.match(String(failures[0]), /apimodel\.json caCertificate \/ caPrivateKey: private key does not match the certificate/);
            await assert.rejects(promiseOf(result.bad.certPem), /private key does not match/);
            // Every resource of the leaf waits for the issuer: none reached the engine.
            assert.deepEqual(registrations.filter((r) => r.custom).map((r) => r.name), []);
        } finally {
            process.removeAllListeners("unhandledRejection");
            for (const h of mochaHandlers) process.on("unhandledRejection", h);
        }
    });

    it("an expired CA given as Outputs fails with the expiry in the message", async () => {
        const later = new Date(Date.now() + 3651 * 86_400_000);
        await runMocked(
            () =>
                new CertificateAuthority("kubernetes-ca", {
                    commonName: "ca",
                    generation: 0,
                    adopt: { certPem: pulumi.output(ca.cert), keyPem: pulumi.secret(ca.key), policy: { now: later, leafDays: 365, caRenewalDays: 365 } },
                }),
            (bad) => assert.rejects(promiseOf(bad.certPem), /kubernetes-ca: CA expired on /),
        );
    });

    it("the config path stops the program before any resource: parse fails synchronously", () => {
        assert.throws(() => settingsOf({}, { "kubernetes-ca": { certificate: ca.cert, privateKey: other.key } }), /private key does not match the certificate/);
    });

    it("checks the inventory the PKI needs", async () => {
        const inv = inventory3x3();
        inv.nodes[1] = { ...inv.nodes[1]!, ip: "10.240.255.999" };
        inv.fqdn = "";
        await assert.rejects(
            runPki(settingsOf({}), inv),
            (e: Error) => /master k8s-master-31415926-1: ip "10\.240\.255\.999" is not an IP address/.test(e.message) && /fqdn "" is not a DNS name/.test(e.message),
        );
    });
});

describe("components: kubelet serving certificates under mocks (pki.kubeletServing: issue)", function () {
    const SERVER = (node: string) => `kubelet-server-${node}`;
    let regs: Registration[];
    let pki: Awaited<ReturnType<typeof runPki>>["pki"];
    const named = (name: string) => regs.find((r) => r.name === name)!;

    before(async () => {
        ({ pki, registrations: regs } = await runPki(settingsOf({ kubeletServing: "issue" })));
    });

    it("one leaf per node, masters and agents, 4 tls resources each", () => {
        const leaves = regs.filter((r) => r.type === "azs-cert-rotation:pki:LeafCertificate" && r.name.startsWith("kubelet-server-")).map((r) => r.name);
        assert.deepEqual(leaves, inventory3x3().nodes.map((n) => SERVER(n.name)));
        assert.equal(regs.filter((r) => r.custom).length, 40 + 6 * 4);
    });

    it("CN system:node:<node>, O system:nodes, the node's name and address, serverAuth, signed by the cluster CA", () => {
        const csr = named(`${SERVER(AGENT0)}-csr`);
        assert.deepEqual(csr.inputs.subject, { commonName: `system:node:${AGENT0}`, organization: "system:nodes" });
        assert.deepEqual([csr.inputs.dnsNames, csr.inputs.ipAddresses], [[AGENT0], ["10.240.255.40"]]);
        const cert = named(`${SERVER(AGENT0)}-cert`);
        assert.deepEqual(cert.inputs.allowedUses, ["digital_signature", "key_encipherment", "server_auth"]);
        assert.match(String(cert.inputs.caCertPem), /mock kubernetes-ca-cert /);
        assert.deepEqual(named(`${SERVER(MASTER0)}-csr`).inputs.ipAddresses, ["10.240.255.5"]);
    });

    it("renewed like every leaf (1 year, 30 days ahead); its forced rotation is the Kubelet-Server generation", async () => {
        const clock = named(`${SERVER(AGENT0)}-clock`);
        assert.deepEqual([clock.inputs.validityPeriodHours, clock.inputs.earlyRenewalHours], [365 * 24, 30 * 24]);
        assert.equal(clock.trigger, "Kubelet-Server#0 issuer=kubernetes-ca#0");
        const forced = await runPki(settingsOf({ kubeletServing: "issue", rotation: { kubeletServer: 3 } }));
        assert.equal(forced.registrations.find((r) => r.name === `${SERVER(AGENT0)}-clock`)!.trigger, "Kubelet-Server#3 issuer=kubernetes-ca#0");
    });

    it("each node receives its own pair only, the key as a secret", async () => {
        const files = nodeFiles(pki, AGENT0).filter((f) => f.path.includes("kubeletserver"));
        assert.deepEqual(files.map((f) => `${f.path}:${f.instance}:${f.secret}`), [
            `/etc/kubernetes/certs/kubeletserver.crt:${SERVER(AGENT0)}:false`,
            `/etc/kubernetes/certs/kubeletserver.key:${SERVER(AGENT0)}:true`,
        ]);
        assert.match(await promiseOf(files[0]!.content), new RegExp(`mock ${SERVER(AGENT0)}-cert `));
        assert.equal(await pulumi.isSecret(files[1]!.content), true);
        assert.match(await promiseOf(files[1]!.content), new RegExp(`mock ${SERVER(AGENT0)}-key `));
        assert.deepEqual(nodeFiles(pki, MASTER0).filter((f) => f.path.includes("kubeletserver")).map((f) => f.instance), [SERVER(MASTER0), SERVER(MASTER0)]);
    });
});
