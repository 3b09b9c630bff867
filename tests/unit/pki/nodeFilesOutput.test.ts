// The nodeFiles stack output (components/pki/stackOutputs.ts expectedNodeFiles) under mocks: per
// node and path the fingerprints of the certificates the last CA stage installs there, the key
// file that goes with each, the admin kubeconfig's client certificate on the masters, the public
// keys of sa.pub; no private key. Every mocked certificate resource gets a certificate of its own
// and every service-account key generation a key pair of its own, made with openssl, and the
// fingerprints expected are openssl's (of a public key: openssl pkey -pubin -outform DER | sha256sum,
// as read-certs.sh computes it on a node).
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import { ClusterPki } from "../../../components/pki/clusterPki";
import { expectedNodeFiles, NodeFilesOutput, parseNodeFilesOutput } from "../../../components/pki/stackOutputs";
import { CaGenerations, PkiSettings } from "../../../components/pki/settings";
import { inventory3x3, promiseOf, runMocked } from "../support/mocks";
import { OpenSsl } from "../support/openssl";
import { everything, settingsOf } from "../support/pki";

const C = "/etc/kubernetes/certs";
const MASTER0 = "k8s-master-31415926-0";
const MASTER2 = "k8s-master-31415926-2";
const AGENT0 = "k8s-agentpool1-31415926-0";
const CERT_TYPES = ["tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"];
const KEY_TYPE = "tls:index/privateKey:PrivateKey";

describe("components: the nodeFiles output (what each node should hold, for npm run report)", function () {
    this.timeout(60_000);
    const ssl = new OpenSsl();
    after(() => ssl.remove());
    /** One real certificate per certificate resource name, made on first use. */
    const certs = new Map<string, string>();
    const certOf = (name: string) => {
        if (!certs.has(name)) certs.set(name, ssl.selfSigned({ cn: name, days: 30, ext: [] }).cert);
        return certs.get(name)!;
    };
    const fp = (name: string) => ssl.run(["x509", "-noout", "-fingerprint", "-sha256"], certOf(name)).trim().replace(/^sha256 Fingerprint=/i, "");
    /** One real key pair per service-account key resource name (service-account-key, service-account-g1-key), made on first use. */
    const keyPairs = new Map<string, { privateKeyPem: string; publicKeyPem: string }>();
    const keyPairOf = (name: string) => {
        if (!keyPairs.has(name)) {
            const privateKeyPem = ssl.run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
            keyPairs.set(name, { privateKeyPem, publicKeyPem: ssl.run(["pkey", "-pubout"], privateKeyPem) });
        }
        return keyPairs.get(name)!;
    };
    /** A public key's fingerprint as the node computes it: sha256sum of openssl's DER SubjectPublicKeyInfo. */
    const pkfp = (name: string) => execFileSync("bash", ["-c", "set -o pipefail; openssl pkey -pubin -outform DER | sha256sum"], { input: keyPairOf(name).publicKeyPem, encoding: "utf8" }).split(" ")[0]!;

    async function run(settings: PkiSettings, caStages?: CaGenerations[]): Promise<{ output: NodeFilesOutput; secret: boolean }> {
        const { result } = await runMocked(
            () => {
                const pki = new ClusterPki("pki", { settings, inventory: inventory3x3(), clusterName: "azstb", caStages });
                return { pki, output: expectedNodeFiles(pki, "azureuser") };
            },
            ({ pki, output }) => promiseOf(pulumi.all([everything(pki), output])),
            {
                stateOf: (args) => {
                    if (CERT_TYPES.includes(args.type) && args.name.endsWith("-cert")) return { ...args.inputs, certPem: certOf(args.name), readyForRenewal: false };
                    if (args.type === KEY_TYPE && args.name.startsWith("service-account")) return { ...args.inputs, ...keyPairOf(args.name), publicKeyFingerprintSha256: args.name };
                    return undefined;
                },
            },
        );
        return { output: await promiseOf(result.output), secret: await pulumi.isSecret(result.output) };
    }

    it("a master: every certificate file with the fingerprints of its certificates and the key beside it; sa.pub's public key; the admin kubeconfig's client certificate", async () => {
        const { output } = await run(settingsOf({}));
        assert.deepEqual(Object.keys(output), [0, 1, 2].map((i) => `k8s-master-31415926-${i}`).concat([0, 1, 2].map((i) => `k8s-agentpool1-31415926-${i}`)));
        assert.deepEqual(output[MASTER2], {
            [`${C}/ca.crt`]: { kind: "certificate", source: "kubernetes-ca", sha256: [fp("kubernetes-ca-cert")], key: `${C}/ca.key` },
            [`${C}/ca-signing.crt`]: { kind: "certificate", source: "kubernetes-ca", sha256: [fp("kubernetes-ca-cert")], key: `${C}/ca.key` },
            [`${C}/proxy-ca.crt`]: { kind: "certificate", source: "front-proxy-ca", sha256: [fp("front-proxy-ca-cert")], key: `${C}/proxy-ca.key` },
            [`${C}/apiserver.crt`]: { kind: "certificate", source: "apiserver", sha256: [fp("apiserver-cert")], key: `${C}/apiserver.key` },
            [`${C}/client.crt`]: { kind: "certificate", source: "client", sha256: [fp("client-cert")], key: `${C}/client.key` },
            [`${C}/kubectlClient.crt`]: { kind: "certificate", source: "kubectl-client", sha256: [fp("kubectl-client-cert")], key: `${C}/kubectlClient.key` },
            [`${C}/etcdserver.crt`]: { kind: "certificate", source: "etcd-server", sha256: [fp("etcd-server-cert")], key: `${C}/etcdserver.key` },
            [`${C}/etcdclient.crt`]: { kind: "certificate", source: "etcd-client", sha256: [fp("etcd-client-cert")], key: `${C}/etcdclient.key` },
            [`${C}/etcdpeer2.crt`]: { kind: "certificate", source: "etcd-peer-2", sha256: [fp("etcd-peer-2-cert")], key: `${C}/etcdpeer2.key` },
            [`${C}/proxy.crt`]: { kind: "certificate", source: "front-proxy-client", sha256: [fp("front-proxy-client-cert")], key: `${C}/proxy.key` },
            [`${C}/sa.pub`]: { kind: "publicKeys", source: "service-account", sha256: [pkfp("service-account-key")] },
            "/home/azureuser/.kube/config": { kind: "kubeconfig", source: "kubectl-client", sha256: [fp("kubectl-client-cert")] },
        });
        assert.notEqual(fp("apiserver-cert"), fp("client-cert"), "each resource has a certificate of its own");
    });

    it("an agent: the CA and apiserver certificates without keys, its client certificate with its key, no admin kubeconfig", async () => {
        const { output } = await run(settingsOf({}));
        assert.deepEqual(output[AGENT0], {
            [`${C}/ca.crt`]: { kind: "certificate", source: "kubernetes-ca", sha256: [fp("kubernetes-ca-cert")] },
            [`${C}/apiserver.crt`]: { kind: "certificate", source: "apiserver", sha256: [fp("apiserver-cert")] },
            [`${C}/client.crt`]: { kind: "certificate", source: "client", sha256: [fp("client-cert")], key: `${C}/client.key` },
        });
    });

    it("no private key and no PEM: the dedicated service-account key pair's sa.pub by its public key's fingerprint alone (no key file beside it), and the output is not secret", async () => {
        const { output, secret } = await run(settingsOf({ serviceAccountKey: "dedicated" }));
        assert.equal(secret, false);
        const text = JSON.stringify(output);
        assert.ok(!text.includes(["PRIVATE", "KEY"].join(" ")) && !text.includes("BEGIN"), "no PEM in the output");
        assert.ok(!Object.keys(output[MASTER0]!).some((p) => p.endsWith(".key")));
        assert.deepEqual(output[MASTER0]![`${C}/sa.pub`], { kind: "publicKeys", source: "service-account", sha256: [pkfp("service-account-key")] });
        assert.ok(!Object.keys(output[AGENT0]!).some((p) => p.endsWith("sa.pub")), "sa.pub is on the masters only");
    });

    it("sa.pub in a service-account key rotation: every generation's public key that verifies tokens, the active one first, as openssl fingerprints them", async () => {
        const trust = (await run(settingsOf({ serviceAccountKeyGenerations: { "0": "active", "1": "trusted" } }))).output;
        assert.deepEqual(trust[MASTER2]![`${C}/sa.pub`], { kind: "publicKeys", source: "service-account", sha256: [pkfp("service-account-key"), pkfp("service-account-g1-key")] });
        const activate = (await run(settingsOf({ serviceAccountKeyGenerations: { "0": "trusted", "1": "active" } }))).output;
        assert.deepEqual(activate[MASTER0]![`${C}/sa.pub`]!.sha256, [pkfp("service-account-g1-key"), pkfp("service-account-key")]);
        assert.notEqual(pkfp("service-account-key"), pkfp("service-account-g1-key"), "each generation has a key of its own");
        for (const f of [trust, activate].flatMap((o) => Object.values(o[MASTER0]!)).filter((f) => f.kind === "publicKeys")) for (const h of f.sha256) assert.match(h, /^[0-9a-f]{64}$/);
    });

    it("the output's parser accepts public-key files and refuses an unknown kind", () => {
        const files = { [MASTER0]: { [`${C}/sa.pub`]: { kind: "publicKeys", source: "service-account", sha256: ["ab".repeat(32)] } } };
        assert.deepEqual(parseNodeFilesOutput(files), files);
        assert.throws(() => parseNodeFilesOutput({ [MASTER0]: { [`${C}/sa.pub`]: { kind: "publicKey", source: "service-account", sha256: [] } } }), /not what this version writes/);
    });

    it("a CA rotation's trust phase: ca.crt holds both generations, the active one first; the key beside it is the active one's", async () => {
        const settings = settingsOf({ caGenerations: { kubernetesCa: { "0": "active", "1": "trusted" } } });
        const { output } = await run(settings);
        assert.deepEqual(output[AGENT0]![`${C}/ca.crt`]!.sha256, [fp("kubernetes-ca-cert"), fp("kubernetes-ca-g1-cert")]);
        assert.equal(output[MASTER0]![`${C}/ca.crt`]!.key, `${C}/ca.key`);
    });

    it("the controller-manager's signing certificate: the active generation alone, in the trust phase and in the activate phase", async () => {
        const signing = async (generations: Record<string, "active" | "trusted">) =>
            (await run(settingsOf({ caGenerations: { kubernetesCa: generations } }))).output[MASTER0]![`${C}/ca-signing.crt`]!.sha256;
        assert.deepEqual(await signing({ "0": "active", "1": "trusted" }), [fp("kubernetes-ca-cert")]);
        assert.deepEqual(await signing({ "0": "trusted", "1": "active" }), [fp("kubernetes-ca-g1-cert")]);
    });
});
