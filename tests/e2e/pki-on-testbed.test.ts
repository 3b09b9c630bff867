// The product's program, run by the real Pulumi CLI (the operator's path) against the local
// testbed's inventory: it adopts the running cluster's CA from the aks-engine apimodel and issues
// every leaf from it. openssl checks each leaf against the CA the cluster's VMs trust right now.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { openTestbedStack, REPO_ROOT, TESTBED_STATE as state } from "../../testbed/harness/workspace";
import { ageLeavesInState, assertEngineWithPlugin, changesOf, createTestBackend, filesWithPemPrivateKeys, TestBackend } from "./support/engine";

const STACK = "e2e";

function opensslText(pem: string): string {
    return execFileSync("openssl", ["x509", "-noout", "-text"], { input: pem, encoding: "utf8" });
}

describe("pki on the testbed: the real engine adopts the cluster CA and issues every leaf", function () {
    let backend: TestBackend;
    let workspace: string;
    let stack: Stack;
    let clusterCa: string;
    let profile: Record<string, string | string[]>;

    before(async function () {
        assertEngineWithPlugin("@pulumi/tls");
        execFileSync(path.join(REPO_ROOT, "testbed/up"), { stdio: "inherit", timeout: 600_000 });
        // The CA file the VMs trust now, read on master 0 (not the testbed's copy of what it generated).
        clusterCa = execFileSync("ssh", ["-F", path.join(state, "ssh/config"), "-o", "BatchMode=yes", "k8s-master-31415926-0", "cat /etc/kubernetes/certs/ca.crt"], { encoding: "utf8" });
        backend = createTestBackend("azs-pki-e2e");
        workspace = fs.mkdtempSync(path.join(os.tmpdir(), "azs-pki-project-"));
        stack = await openTestbedStack(workspace, STACK, state, backend.envVars, { enabled: false });
    });

    after(async function () {
        if (stack) await stack.destroy();
        backend?.remove();
        if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
    });

    it("up creates the PKI without replacing the adopted CA", async () => {
        const result = await stack.up();
        assert.equal(result.summary.result, "succeeded");
        assert.ok((result.summary.resourceChanges?.create ?? 0) > 40, JSON.stringify(result.summary.resourceChanges));
        profile = result.outputs.certificateProfile.value;
        assert.equal(result.outputs.certificateProfile.secret, true);
        assert.equal((profile.caCertificate as string).trim(), clusterCa.trim(), "the adopted CA is used as is");
    });

    it("every leaf verifies against the CA the running cluster trusts", () => {
        const caFile = path.join(workspace, "cluster-ca.crt");
        fs.writeFileSync(caFile, clusterCa);
        const leaves = ["apiServerCertificate", "clientCertificate", "kubeConfigCertificate", "etcdServerCertificate", "etcdClientCertificate"]
            .map((k) => profile[k] as string)
            .concat(profile.etcdPeerCertificates as string[]);
        assert.equal(leaves.length, 8);
        for (const pem of leaves) {
            assert.match(execFileSync("openssl", ["verify", "-CAfile", caFile], { input: pem, encoding: "utf8" }), /stdin: OK/);
        }
    });

    it("the apiserver and client certificates have the SANs, subjects and usages AKS Engine gives them", () => {
        const text = opensslText(profile.apiServerCertificate as string);
        for (const san of ["IP Address:10.240.255.15", "IP Address:10.240.255.5", "IP Address:10.240.255.6", "IP Address:10.240.255.7", "IP Address:10.0.0.1", "IP Address:127.0.0.1", "DNS:kubernetes.default.svc.cluster.local", "DNS:azstb.local.cloudapp.azurestack.external"]) {
            assert.ok(text.includes(san), `apiserver SANs lack ${san}:\n${text}`);
        }
        assert.match(text, /TLS Web Server Authentication/);
        const client = opensslText(profile.clientCertificate as string);
        assert.match(client, /Subject: .*O\s?=\s?system:masters.*CN\s?=\s?client/);
        assert.match(client, /TLS Web Client Authentication/);
    });

    it("keeps private keys out of the plain state", () => {
        assert.deepEqual(filesWithPemPrivateKeys(backend.dir), []);
    });

    it("a second preview plans no change", async () => {
        const preview = await stack.preview();
        assert.deepEqual(changesOf(preview.changeSummary), {});
    });

    // What a bump of each type plans on 3 masters + 3 agents, with the adopted cluster CA (a leaf
    // with its own key is 4 resources: renewal clock, key, CSR, certificate; the apiserver's key is
    // the service-account key, so it is 2). A CA bump is a new CA generation (its own key and
    // certificate) that replaces the old one in one rollout, so it needs pki.caRotation: immediate
    // (phased mode refuses it, below): the new generation's component, key and certificate are
    // created and every leaf it signs replaced; the old generation's component is deleted (an
    // adopted CA, as the cluster CA and the front-proxy CA are here, has no other resource).
    // The service-account key is adopted too (apimodel apiServerPrivateKey) and has generations like
    // a CA: a bump in immediate mode creates generation 1 (component and generated key), deletes
    // the adopted generation's component and re-issues the apiserver certificate over the new key.
    const expectedPlans: [string, { create?: number; delete?: number; replace: number }, string][] = [
        ["kubernetesLeaf", { replace: 10 }, "phased"],
        ["etcdLeaf", { replace: 20 }, "phased"],
        ["frontProxy", { create: 3, delete: 1, replace: 4 }, "immediate"],
        ["serviceAccount", { create: 2, delete: 1, replace: 2 }, "immediate"],
        ["kubernetesCa", { create: 3, delete: 1, replace: 30 }, "immediate"],
    ];
    for (const [type, expected, mode] of expectedPlans) {
        it(`bumping pki.rotation.${type} (${mode}) plans exactly ${JSON.stringify(expected)} and nothing else`, async () => {
            await stack.setConfig(`azs-cert-rotation:pki.rotation.${type}`, { value: "1" }, true);
            await stack.setConfig("azs-cert-rotation:pki.caRotation", { value: mode }, true);
            try {
                const summary = (await stack.preview()).changeSummary;
                assert.ok((summary.same ?? 0) > 0);
                assert.deepEqual(changesOf(summary), expected);
            } finally {
                await stack.setConfig(`azs-cert-rotation:pki.rotation.${type}`, { value: "0" }, true);
                await stack.removeConfig("azs-cert-rotation:pki.caRotation", true);
            }
        });
    }

    it("bumping pki.rotation.kubernetesCa in phased mode (the default) is refused at preview, naming the trust phase to run first", async () => {
        await stack.setConfig("azs-cert-rotation:pki.rotation.kubernetesCa", { value: "1" }, true);
        try {
            await assert.rejects(stack.preview(), /CA and key rotation refused, nothing was changed:[\s\S]*activating generation 1 before it is trusted everywhere is refused[\s\S]*\{ "0": active, "1": trusted \}/);
        } finally {
            await stack.setConfig("azs-cert-rotation:pki.rotation.kubernetesCa", { value: "0" }, true);
        }
    });

    it("bumping pki.rotation.serviceAccount in phased mode is refused at preview, naming the trust phase to run first", async () => {
        await stack.setConfig("azs-cert-rotation:pki.rotation.serviceAccount", { value: "1" }, true);
        try {
            await assert.rejects(stack.preview(), /rotation refused, nothing was changed:[\s\S]*pki\.serviceAccountKeyGenerations: activating generation 1 before it is trusted everywhere is refused \(the apiservers would reject the tokens it signs\)/);
        } finally {
            await stack.setConfig("azs-cert-rotation:pki.rotation.serviceAccount", { value: "0" }, true);
        }
    });

    it("bumping pki.rotation.etcdCa in AKS Engine's single-CA layout is refused at preview", async () => {
        await stack.setConfig("azs-cert-rotation:pki.rotation.etcdCa", { value: "1" }, true);
        try {
            await assert.rejects(stack.preview(), /pki\.rotation\.etcdCa is 1 but pki\.etcdCa is "shared"/);
        } finally {
            await stack.setConfig("azs-cert-rotation:pki.rotation.etcdCa", { value: "0" }, true);
        }
    });

    it("a plain preview plans the renewal of certificates inside their renewal window, and --refresh too", async () => {
        assert.equal(await ageLeavesInState(stack, 10), 17, "9 leaf certificates and 8 renewal clocks");

        for (const refresh of [false, true]) {
            const replaced: string[] = [];
            const preview = await stack.preview({
                refresh,
                onEvent: (e) => {
                    const step = e.resourcePreEvent?.metadata;
                    if (step?.op === "replace") replaced.push(step.urn.split("::").pop()!);
                },
            });
            assert.equal(preview.changeSummary.replace, 33, `refresh=${refresh}: ${JSON.stringify(preview.changeSummary)}`);
            assert.ok(replaced.includes("apiserver-cert") || replaced.some((n) => n.startsWith("apiserver")), replaced.join(", "));
            assert.ok(!replaced.some((n) => /-ca(-|$)/.test(n)), `no CA is replaced: ${replaced.join(", ")}`);
        }

        const up = await stack.up();
        assert.equal(up.summary.resourceChanges?.replace, 33);
        const after = await stack.preview();
        assert.deepEqual(changesOf(after.changeSummary), {});
    });
});
