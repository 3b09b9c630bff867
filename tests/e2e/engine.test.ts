// The real Pulumi engine, offline: up creates a TLS CA, a second preview plans nothing, destroy removes it.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import * as tls from "@pulumi/tls";
import { assertEngineWithPlugin, createTestBackend, filesWithPemPrivateKeys, pulumiVersion, TestBackend } from "./support/engine";

function caProgram() {
    return async () => {
        const key = new tls.PrivateKey("ca-key", { algorithm: "RSA", rsaBits: 2048 });
        const cert = new tls.SelfSignedCert("ca-cert", {
            privateKeyPem: key.privateKeyPem,
            subject: { commonName: "e2e-ca" },
            isCaCertificate: true,
            validityPeriodHours: 24,
            allowedUses: ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"],
        });
        return { certPem: cert.certPem, privateKeyPem: pulumi.secret(key.privateKeyPem) };
    };
}

describe("engine: real Pulumi CLI and tls plugin on a local file backend", function () {
    let backend: TestBackend;
    let stack: Stack;

    before(async function () {
        assert.match(pulumiVersion(), /^v3\.\d+\.\d+/);
        assertEngineWithPlugin("@pulumi/tls");
        backend = createTestBackend("azs-engine-e2e");
        stack = await LocalWorkspace.createOrSelectStack(
            { stackName: "engine", projectName: "azs-engine-e2e", program: caProgram() },
            { envVars: backend.envVars },
        );
    });

    after(() => backend?.remove());

    it("up creates a CA certificate that openssl accepts as a CA", async () => {
        const result = await stack.up();
        assert.equal(result.summary.result, "succeeded");
        assert.equal(result.summary.resourceChanges?.create, 3); // stack + key + cert
        const pem = result.outputs.certPem.value as string;
        const text = execFileSync("openssl", ["x509", "-noout", "-text"], { input: pem, encoding: "utf8" });
        assert.match(text, /CA:TRUE/);
        assert.match(text, /Subject: CN\s?=\s?e2e-ca/);
        assert.match(text, /Public-Key: \(2048 bit\)/);
        assert.equal(result.outputs.privateKeyPem.secret, true);
    });

    it("keeps the private key out of the plain state", () => {
        assert.deepEqual(filesWithPemPrivateKeys(backend.dir), []);
    });

    it("a second preview plans no change", async () => {
        const preview = await stack.preview();
        assert.deepEqual(preview.changeSummary, { same: 3 });
    });

    it("destroy removes every resource", async () => {
        const result = await stack.destroy();
        assert.equal(result.summary.resourceChanges?.delete, 3);
        const state = await stack.exportStack();
        assert.equal((state.deployment.resources ?? []).length, 0);
    });
});
