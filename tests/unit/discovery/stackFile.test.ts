import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { adminCredentials } from "../../../discovery/liveNodes";
import { writeStackNodes } from "../../../discovery/stackFile";

describe("discovery: the stack file and the admin kubeconfig", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azs-discover-file-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const stack = { name: "prod", dir };
    const file = path.join(dir, "Pulumi.prod.yaml");
    const original = [
        "encryptionsalt: v1:abc=",
        "# the production cluster on the Redmond stamp",
        "config:",
        "  azs-cert-rotation:apimodelPath: /srv/_output/azsprod/apimodel.json # as aks-engine deploy wrote it",
        "  azs-cert-rotation:sshPrivateKey:",
        "    secure: v1:AAAA",
        "  azs-cert-rotation:nodes:",
        "    - name: k8s-master-31415926-0",
        "      hostKey: ssh-ed25519 AAAAold",
        "      services:",
        "        kubelet: systemd",
        "  azs-cert-rotation:rollout:",
        "    maxUnavailable: 2 # agents per batch",
        "",
    ].join("\n");

    it("writes the nodes and keeps everything else: comments, encrypted values, other keys (byte for byte in a file laid out as YAML lays out)", () => {
        fs.writeFileSync(file, original, { mode: 0o640 });
        const nodes = [
            { name: "k8s-master-31415926-0", hostKey: "ssh-ed25519 AAAAnew", services: { kubelet: "systemd" }, ip: "10.240.255.5" },
            { name: "k8s-agentpool1-31415926-0", ip: "10.240.0.4", hostKey: "ssh-ed25519 AAAAagent" },
        ];
        assert.equal(writeStackNodes(stack, nodes), true);
        const text = fs.readFileSync(file, "utf8");
        const before = original.split("\n");
        const nodesStart = before.indexOf("  azs-cert-rotation:nodes:");
        const rolloutStart = before.indexOf("  azs-cert-rotation:rollout:");
        assert.ok(text.startsWith(`${before.slice(0, nodesStart + 1).join("\n")}\n`), "everything before nodes unchanged");
        assert.ok(text.endsWith(`${before.slice(rolloutStart).join("\n")}`), "everything after nodes unchanged");
        assert.match(text, /- name: k8s-agentpool1-31415926-0\n\s+ip: 10\.240\.0\.4\n\s+hostKey: ssh-ed25519 AAAAagent/);
        assert.equal(fs.statSync(file).mode & 0o777, 0o640);
        assert.deepEqual(fs.readdirSync(dir), ["Pulumi.prod.yaml"], "no temporary file left");
        // the same nodes again, in another key order: nothing written
        const mtime = fs.statSync(file).mtimeMs;
        assert.equal(writeStackNodes(stack, nodes.map((n) => Object.fromEntries(Object.entries(n).reverse()) as typeof n)), false);
        assert.equal(fs.statSync(file).mtimeMs, mtime);
    });

    it("reads the admin credentials of AKS Engine's JSON kubeconfig; a kubeconfig without embedded data is refused by name", () => {
        const b64 = (s: string) => Buffer.from(s).toString("base64");
        const kubeconfig = {
            apiVersion: "v1",
            kind: "Config",
            "current-context": "azsprod",
            clusters: [{ name: "other", cluster: { server: "https://other:443" } }, { name: "azsprod", cluster: { server: "https://azsprod.redmond.cloudapp.azurestack.contoso.com", "certificate-authority-data": b64("CA") } }],
            contexts: [{ name: "azsprod", context: { cluster: "azsprod", user: "azsprod-admin" } }],
            users: [{ name: "azsprod-admin", user: { "client-certificate-data": b64("CERT"), "client-key-data": b64("KEY") } }],
        };
        const credentials = adminCredentials(JSON.stringify(kubeconfig), "kubeconfig.redmond.json");
        assert.deepEqual([credentials.server.hostname, credentials.ca, credentials.cert, credentials.key], ["azsprod.redmond.cloudapp.azurestack.contoso.com", "CA", "CERT", "KEY"]);
        const withoutKey = { ...kubeconfig, users: [{ name: "azsprod-admin", user: { "client-certificate-data": b64("CERT") } }] };
        assert.throws(() => adminCredentials(JSON.stringify(withoutKey), "kubeconfig.redmond.json"), /^Error: kubeconfig\.redmond\.json: the current context has no client-key-data/);
    });
});
