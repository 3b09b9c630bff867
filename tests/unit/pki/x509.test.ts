import { strict as assert } from "assert";
import { certificateReport, keyPairReport, renderKubeconfig } from "../../../components/pki/report";
import { AdoptionPolicy, certificateFacts, validateAdoptedCa } from "../../../components/pki/x509";
import { caFixture, OpenSsl, Pem } from "../support/openssl";

const DAY = 86_400_000;
const LABEL = "azs-cert-rotation:kubernetesCaCertificate / kubernetesCaPrivateKey";

describe("x509: checks of an adopted CA (every bad input)", function () {
    const f = caFixture();
    const ssl = f.ssl;
    let now: Date;
    let policy: AdoptionPolicy;
    let ca: Pem;
    let other: Pem;
    before(() => {
        ({ ca, other } = f);
        now = new Date();
        policy = { now, leafDays: 365, caRenewalDays: 365 };
    });

    /** The error lines of validating cert + key, without the label. */
    function errors(cert: string, key: string, p: AdoptionPolicy = policy): string[] {
        try {
            validateAdoptedCa(cert, key, LABEL, p);
        } catch (e) {
            const lines = (e as Error).message.split("\n");
            for (const l of lines) assert.ok(l.startsWith(`${LABEL}: `), l);
            return lines.map((l) => l.slice(LABEL.length + 2));
        }
        assert.fail("the CA was accepted");
    }

    it("accepts a good CA and returns its facts", () => {
        const { facts, warnings } = validateAdoptedCa(ca.cert, ca.key, LABEL, policy);
        assert.deepEqual(warnings, []);
        assert.equal(facts.subject, "CN=ca");
        assert.equal(facts.isCa, true);
        assert.deepEqual(facts.keyUsages, ["digitalSignature", "certSign", "crlSign"]);
        assert.equal(facts.publicKey, "RSA 2048");
        assert.equal(facts.selfSigned, true);
        assert.match(facts.publicKeyFingerprint, /^[0-9a-f]{64}$/);
    });

    it("key does not match the certificate", () => {
        assert.deepEqual(errors(ca.cert, other.key), ["private key does not match the certificate"]);
        assert.deepEqual(errors(other.cert, ca.key), ["private key does not match the certificate"]);
    });

    it("certificate is not a CA: basicConstraints CA:FALSE, or no keyCertSign", () => {
        const leafLike = ssl.selfSigned({ cn: "not-a-ca", days: 3650, ext: ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature"] });
        assert.deepEqual(errors(leafLike.cert, leafLike.key), [
            "certificate is not a CA (basicConstraints CA:TRUE is missing)",
            "certificate is not a CA (keyUsage lacks keyCertSign)",
        ]);
        const noBasic = ssl.selfSigned({ cn: "no-bc", days: 3650, ext: ["keyUsage=critical,keyCertSign"] });
        assert.deepEqual(errors(noBasic.cert, noBasic.key), ["certificate is not a CA (basicConstraints CA:TRUE is missing)"]);
        const noCertSign = ssl.selfSigned({ cn: "no-certsign", days: 3650, ext: ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,digitalSignature,cRLSign"] });
        assert.deepEqual(errors(noCertSign.cert, noCertSign.key), ["certificate is not a CA (keyUsage lacks keyCertSign)"]);
    });

    it("CA expired", () => {
        const later = new Date(now.getTime() + 3651 * DAY);
        const e = errors(ca.cert, ca.key, { ...policy, now: later });
        assert.equal(e.length, 1);
        assert.match(e[0]!, /^CA expired on \d{4}-\d\d-\d\dT.*: rotate it \(bump the CA's rotation generation\) instead of adopting it$/);
    });

    it("CA expiring before the leaves it would sign", () => {
        const short = ssl.ca({ days: 200 });
        const e = errors(short.cert, short.key);
        assert.equal(e.length, 1);
        assert.match(e[0]!, /^CA expires on .*, before leaves issued now would \(valid 365 days, until .*\): a leaf's validity may not go beyond its CA's/);
        // the same CA is fine for 90-day leaves, with a warning that it is inside its renewal lead
        const { warnings } = validateAdoptedCa(short.cert, short.key, LABEL, { now, leafDays: 90, caRenewalDays: 365 });
        assert.equal(warnings.length, 1);
        assert.match(warnings[0]!, /CA expires on .*, inside the CA renewal lead of 365 days: plan a CA rotation/);
    });

    it("CA not valid yet", () => {
        assert.doesNotThrow(() => validateAdoptedCa(ca.cert, ca.key, LABEL, { ...policy, now: new Date(now.getTime() - 4 * 60_000) }), "5 minutes of clock skew");
        const earlier = new Date(now.getTime() - 2 * DAY);
        assert.match(errors(ca.cert, ca.key, { ...policy, now: earlier })[0]!, /^CA is not valid yet \(notBefore /);
    });

    it("malformed PEM: garbage, a truncated certificate, a certificate where the key should be", () => {
        assert.deepEqual(errors("not a pem", ca.key), ["certificate: malformed PEM: no -----BEGIN CERTIFICATE----- block"]);
        const lines = ca.cert.trim().split("\n");
        const truncated = [...lines.slice(0, 5), lines[lines.length - 1]].join("\n");
        assert.match(errors(truncated, ca.key)[0]!, /^certificate: malformed PEM: the certificate does not parse/);
        assert.deepEqual(errors(ca.cert, ca.cert), ["private key: malformed PEM: no -----BEGIN … PRIVATE KEY----- block"]);
        const badKey = ca.key.replace(/\n[A-Za-z0-9+/]{20}/, "\n!!!!");
        assert.match(errors(ca.cert, badKey)[0]!, /^private key: malformed PEM: the private key does not parse/);
    });

    it("never quotes the PEM in an error", () => {
        const body = ca.key.split("\n")[3]!;
        const message = (() => {
            try {
                validateAdoptedCa("junk", ca.key.replace(body, body.slice(0, 10)), LABEL, policy);
            } catch (e) {
                return (e as Error).message;
            }
            return "";
        })();
        assert.ok(message.length > 0);
        assert.ok(!message.includes(body.slice(0, 10)));
    });

    it("a bundle of two certificates, an encrypted key", () => {
        assert.deepEqual(errors(ca.cert + other.cert, ca.key), ["certificate: expected one certificate, found 2 (give the CA certificate alone)"]);
        assert.deepEqual(errors(ca.cert, ssl.encrypt(ca.key)), ["private key: the private key is encrypted; give it unencrypted (stored as a Pulumi secret)"]);
    });

    it("weak CA keys: RSA 1024, EC P-224", () => {
        const rsa1024 = ssl.ca({ key: "rsa1024" });
        assert.deepEqual(errors(rsa1024.cert, rsa1024.key), ["CA key RSA 1024 is not accepted (RSA 2048/3072/4096 or EC P-256/P-384)"]);
        const p224 = ssl.ca({ key: "p224" });
        assert.deepEqual(errors(p224.cert, p224.key), ["CA key EC P-224 is not accepted (RSA 2048/3072/4096 or EC P-256/P-384)"]);
    });

    it("an intermediate CA is accepted with a warning about its chain", () => {
        const inter = ssl.leaf(ca, { subj: "/CN=intermediate", days: 1000, ext: ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"] });
        const { warnings } = validateAdoptedCa(inter.cert, inter.key, LABEL, policy);
        assert.deepEqual(warnings, [`${LABEL}: CA is not self-signed; trust bundles must also hold its issuer chain`]);
    });
});

describe("x509: certificate facts and stack-output reports", () => {
    const ssl = new OpenSsl();
    after(() => ssl.remove());

    it("reads subject, issuer, SANs, usages and validity of a leaf", () => {
        const ca = ssl.ca({ cn: "ca" });
        const leaf = ssl.leaf(ca, {
            subj: "/O=system:masters/CN=client",
            days: 365,
            ext: ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=serverAuth,clientAuth", "subjectAltName=DNS:kubernetes,DNS:kubernetes.default,IP:10.0.0.1,IP:127.0.0.1"],
        });
        const f = certificateFacts(leaf.cert);
        assert.equal(f.subject, "CN=client, O=system:masters");
        assert.equal(f.issuer, "CN=ca");
        assert.deepEqual(f.dnsNames, ["kubernetes", "kubernetes.default"]);
        assert.deepEqual(f.ipAddresses, ["10.0.0.1", "127.0.0.1"]);
        assert.deepEqual(f.keyUsages, ["digitalSignature", "keyEncipherment"]);
        assert.deepEqual(f.extKeyUsages, ["serverAuth", "clientAuth"]);
        assert.equal(f.isCa, false);
        assert.equal(f.selfSigned, false);
        const days = (f.notAfter.getTime() - f.notBefore.getTime()) / 86_400_000;
        assert.equal(days, 365);
    });

    it("reports days left and the renewal date, and nothing secret", () => {
        const ca = ssl.ca({ days: 100 });
        const facts = certificateFacts(ca.cert);
        const now = new Date(facts.notBefore.getTime() + 10 * DAY + 1000);
        const r = certificateReport(ca.cert, 30, now);
        assert.equal(r.daysLeft, 89);
        assert.equal(r.renewalDate, new Date(facts.notAfter.getTime() - 30 * DAY).toISOString());
        assert.equal(r.notAfter, facts.notAfter.toISOString());
        assert.equal(r.subject, "CN=test-ca");
        assert.equal(r.renewal, "automatic");
        assert.ok(!JSON.stringify(r).includes("PRIVATE"));
        const expired = certificateReport(ca.cert, 30, new Date(facts.notAfter.getTime() + 2 * DAY));
        assert.equal(expired.daysLeft, -2);
    });

    it("reports a key pair by algorithm and fingerprint", () => {
        const { generateKeyPairSync } = require("crypto") as typeof import("crypto");
        const pub = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }).toString();
        const r = keyPairReport(pub);
        assert.equal(r.publicKey, "RSA 2048");
        assert.match(r.publicKeyFingerprint, /^[0-9a-f]{64}$/);
    });

    it("renders kubeconfigs with embedded data or file references", () => {
        const embedded = JSON.parse(renderKubeconfig({ clusterName: "azstb", server: "https://lb:443", userName: "azstb-admin", ca: { pem: "CA" }, cert: { pem: "CERT" }, key: { pem: "KEY" } }));
        assert.equal(embedded.clusters[0].cluster["certificate-authority-data"], Buffer.from("CA").toString("base64"));
        assert.equal(embedded.users[0].user["client-key-data"], Buffer.from("KEY").toString("base64"));
        assert.equal(embedded["current-context"], "azstb");
        const files = JSON.parse(renderKubeconfig({ clusterName: "c", server: "https://10.240.255.5:443", userName: "u", ca: { file: "/etc/kubernetes/certs/ca.crt" }, cert: { file: "/etc/kubernetes/certs/client.crt" }, key: { file: "/etc/kubernetes/certs/client.key" } }));
        assert.deepEqual(files.users[0].user, { "client-certificate": "/etc/kubernetes/certs/client.crt", "client-key": "/etc/kubernetes/certs/client.key" });
        assert.equal(files.clusters[0].cluster["certificate-authority"], "/etc/kubernetes/certs/ca.crt");
    });
});
