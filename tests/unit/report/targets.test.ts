// What the report reads on each node (report/targets.ts) and what it knows of the stack before
// (report/stack.ts: the program's parsers over the values the Pulumi CLI gives, the nodeFiles
// output), and its arguments (report/index.ts).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../../../components/config/reader";
import { DEFAULT_CATALOG_OPTIONS } from "../../../components/pki/catalog";
import { DEFAULT_SAN_SETTINGS } from "../../../components/pki/instances";
import { parseArgs } from "../../../report/index";
import { reportContext } from "../../../report/stack";
import { parseNodeFilesOutput } from "../../../components/pki/stackOutputs";
import { adminKubeconfigPath, catalogTargets, NODE_EXTRAS, scriptArgs, targetsFor } from "../../../report/targets";
import { apimodel, SUFFIX } from "../support/apimodel";
import { FAKE_SSH_KEY, inventory3x3 } from "../support/mocks";
import { OpenSsl } from "../support/openssl";

const C = "/etc/kubernetes/certs";
const MASTER1 = "k8s-master-31415926-1";
const AGENT0 = "k8s-agentpool1-31415926-0";
const HOST_KEY = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC2Oi8O6g1lN7D1TsT9sC7SHasyXqOkbdXb4xnP6J7${n}n`;

describe("report: the files it reads, and the stack it reads them for", () => {
    describe("targets", () => {
        const catalogOf = (node: string, catalog = DEFAULT_CATALOG_OPTIONS) => catalogTargets(catalog, inventory3x3(), DEFAULT_SAN_SETTINGS, node);

        it("a master: every certificate of the catalog there (the etcd and front-proxy ones too), each with its key on that node", () => {
            const t = catalogOf(MASTER1).map((x) => `${x.path} ${x.key ?? "-"} ${x.source}`);
            assert.deepEqual(t, [
                `${C}/ca.crt ${C}/ca.key kubernetes-ca`,
                `${C}/proxy-ca.crt ${C}/proxy-ca.key front-proxy-ca`,
                `${C}/apiserver.crt ${C}/apiserver.key apiserver`,
                `${C}/client.crt ${C}/client.key client`,
                `${C}/kubectlClient.crt ${C}/kubectlClient.key kubectl-client`,
                `${C}/etcdserver.crt ${C}/etcdserver.key etcd-server`,
                `${C}/etcdclient.crt ${C}/etcdclient.key etcd-client`,
                `${C}/etcdpeer1.crt ${C}/etcdpeer1.key etcd-peer-1`,
                `${C}/proxy.crt ${C}/proxy.key front-proxy-client`,
            ]);
        });

        it("an agent: ca.crt and apiserver.crt without their keys (masters only), client.crt with its key", () => {
            assert.deepEqual(catalogOf(AGENT0).map((x) => `${x.path} ${x.key ?? "-"}`), [`${C}/ca.crt -`, `${C}/apiserver.crt -`, `${C}/client.crt ${C}/client.key`]);
        });

        it("kubeadm's layout: a separate etcd CA on the masters", () => {
            assert.ok(catalogOf(MASTER1, { etcdCa: "separate", serviceAccountKey: "dedicated" }).some((x) => x.path === `${C}/etcd-ca.crt` && x.key === `${C}/etcd-ca.key`));
        });

        it("targetsFor: the state's files first with their fingerprints, the catalog's others, the admin kubeconfig on masters, the kubelet's files (not expected) last", () => {
            const state = { [`${C}/ca.crt`]: { kind: "certificate" as const, source: "kubernetes-ca", sha256: ["AA:BB"], key: `${C}/ca.key` }, "/home/azsadmin/.kube/config": { kind: "kubeconfig" as const, source: "kubectl-client", sha256: ["CC:DD"] } };
            const master = targetsFor({ node: MASTER1, role: "master", adminUser: "azsadmin", catalog: catalogOf(MASTER1), stateFiles: state });
            assert.deepEqual(master.slice(0, 2), [
                { path: `${C}/ca.crt`, kind: "certificate", key: `${C}/ca.key`, expected: true, source: "kubernetes-ca", stateSha256: ["AA:BB"] },
                { path: "/home/azsadmin/.kube/config", kind: "kubeconfig", expected: true, source: "kubectl-client", stateSha256: ["CC:DD"] },
            ]);
            assert.equal(master.filter((x) => x.path === `${C}/ca.crt`).length, 1, "a file once");
            assert.deepEqual(master.filter((x) => !x.expected).map((x) => x.path), NODE_EXTRAS.map((x) => x.path));
            assert.deepEqual(NODE_EXTRAS.map((x) => x.path), [
                `${C}/kubeletserver.crt`,
                "/var/lib/kubelet/pki/kubelet.crt",
                "/var/lib/kubelet/pki/kubelet-server-current.pem",
                "/var/lib/kubelet/pki/kubelet-client-current.pem",
                "/var/lib/kubelet/kubeconfig",
            ]);
            // without the output: the catalog's files, the admin kubeconfig by the admin user's name, nothing to compare
            const bare = targetsFor({ node: MASTER1, role: "master", adminUser: "azureuser", catalog: catalogOf(MASTER1) });
            assert.ok(bare.every((x) => x.stateSha256 === undefined));
            assert.deepEqual(bare.find((x) => x.kind === "kubeconfig" && x.expected), { path: adminKubeconfigPath("azureuser"), kind: "kubeconfig", expected: true, source: "kubectl-client" });
            assert.equal(adminKubeconfigPath("azureuser"), "/home/azureuser/.kube/config");
            const agent = targetsFor({ node: AGENT0, role: "agent", adminUser: "azureuser", catalog: catalogOf(AGENT0) });
            assert.ok(!agent.some((x) => x.path.startsWith("/home/")), "no admin kubeconfig on an agent");
        });

        it("with pki.kubeletServing: issue, the node's kubeletserver.crt is the catalog's: expected, with its key and source, read once", () => {
            const catalog = catalogOf(AGENT0, { ...DEFAULT_CATALOG_OPTIONS, kubeletServing: "issue" });
            assert.deepEqual(catalog.at(-1), { path: `${C}/kubeletserver.crt`, kind: "certificate", key: `${C}/kubeletserver.key`, expected: true, source: `kubelet-server-${AGENT0}` });
            const t = targetsFor({ node: AGENT0, role: "agent", adminUser: "azureuser", catalog });
            assert.deepEqual(t.filter((x) => x.path === `${C}/kubeletserver.crt`).map((x) => x.expected), [true]);
            assert.deepEqual(t.filter((x) => !x.expected).map((x) => x.path), NODE_EXTRAS.slice(1).map((x) => x.path));
        });

        it("scriptArgs: KIND PATH KEY per file, - for no key, a pem naming itself", () => {
            const t = targetsFor({ node: AGENT0, role: "agent", adminUser: "azureuser", catalog: catalogOf(AGENT0) });
            const args = scriptArgs(t);
            assert.equal(args.length, t.length * 3);
            assert.deepEqual(args.slice(0, 3), ["cert", `${C}/ca.crt`, "-"]);
            assert.deepEqual(args.slice(-6), ["cert", "/var/lib/kubelet/pki/kubelet-client-current.pem", "/var/lib/kubelet/pki/kubelet-client-current.pem", "kubeconfig", "/var/lib/kubelet/kubeconfig", "-"]);
        });
    });

    describe("the stack", () => {
        const ssl = new OpenSsl();
        after(() => ssl.remove());
        const stack = { name: "prod", dir: ssl.dir };
        // what readStackValues gives: objects parsed, strings as the CLI prints them, "" left out
        const NODES = [
            ...[0, 1, 2].map((i) => ({ name: `k8s-master-${SUFFIX}-${i}`, role: "master", ip: `10.240.255.${5 + i}`, hostKey: HOST_KEY(i) })),
            { name: `k8s-agentpool1-${SUFFIX}-0`, role: "agent", ip: "10.240.255.40", hostKey: HOST_KEY(3) },
        ];
        const values = { clusterName: "azstb", fqdn: "azstb.local.cloudapp.azurestack.external", nodes: NODES, privateNetwork: "false", sshPrivateKey: FAKE_SSH_KEY, pki: { warnDays: "45" } };

        it("the program's parsers over the CLI's values: the inventory, warnDays, the layout, the SSH key; no nodeFiles output yet", () => {
            const ctx = reportContext(stack, values, {});
            assert.deepEqual(ctx.inventory.nodes.map((n) => `${n.name} ${n.role} ${n.ip} ${n.index ?? "-"}`), [...NODES.slice(0, 3).map((n, i) => `${n.name} master ${n.ip} ${i}`), `${NODES[3]!.name} agent 10.240.255.40 -`]);
            assert.deepEqual([ctx.warnDays, ctx.catalog, ctx.sshPrivateKey, ctx.nodeFiles, ctx.inventory.adminUsername, ctx.inventory.privateNetwork], [45, DEFAULT_CATALOG_OPTIONS, FAKE_SSH_KEY, undefined, "azureuser", false]);
            assert.equal(reportContext(stack, { ...values, pki: undefined }, {}).warnDays, 60, "the default");
        });

        it("with apimodelPath (relative to the project directory): the apimodel's values merged as the program merges them", () => {
            const dir = path.join(ssl.dir, "_output", "azsprod");
            fs.mkdirSync(dir, { recursive: true });
            fs.writeFileSync(path.join(dir, "apimodel.json"), JSON.stringify(apimodel({ masters: 3, pools: [{ name: "agentpool1", count: 1 }], jumpbox: { name: "jb", username: "jbuser" } })));
            fs.writeFileSync(path.join(dir, "azuredeploy.json"), JSON.stringify({ parameters: { nameSuffix: { defaultValue: SUFFIX } } }));
            const typed = { apimodelPath: "_output/azsprod/apimodel.json", sshPrivateKey: FAKE_SSH_KEY, nodes: NODES.map(({ name, hostKey, ip, role }) => (role === "agent" ? { name, hostKey, ip } : { name, hostKey })), jumpbox: { host: "192.0.2.10", hostKey: HOST_KEY(9) } };
            const ctx = reportContext(stack, typed, {});
            assert.deepEqual([ctx.inventory.clusterName, ctx.inventory.adminUsername, ctx.inventory.privateNetwork, ctx.inventory.jumpbox], ["azsprod", "azsadmin", true, { host: "192.0.2.10", port: 22, user: "jbuser", hostKey: HOST_KEY(9) }]);
            assert.deepEqual(ctx.inventory.nodes.map((n) => n.ip), ["10.240.255.5", "10.240.255.6", "10.240.255.7", "10.240.255.40"]);
        });

        it("every problem of the config at once, as a ConfigError", () => {
            assert.throws(
                () => reportContext(stack, { ...values, sshPrivateKey: undefined, fqdn: "not a name", pki: { warnDays: 10 } }, {}),
                (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.startsWith("fqdn:")) && e.problems.some((p) => p.startsWith("pki.warnDays (10)")) && e.problems.some((p) => p.startsWith("sshPrivateKey: not set")),
            );
        });

        it("the nodeFiles output taken as it is, and refused when it is not this version's shape", () => {
            const output = { [NODES[0]!.name]: { [`${C}/ca.crt`]: { kind: "certificate", source: "kubernetes-ca", sha256: ["AA"], key: `${C}/ca.key` } } };
            assert.deepEqual(reportContext(stack, values, { nodeFiles: output }).nodeFiles, output);
            assert.equal(parseNodeFilesOutput(undefined), undefined);
            for (const bad of ["[secret]", { n: [] }, { n: { p: { kind: "certificate", source: "x", sha256: "AA" } } }, { n: { p: { kind: "pfx", source: "x", sha256: [] } } }]) {
                assert.throws(() => parseNodeFilesOutput(bad), /nodeFiles output is not what this version writes/, JSON.stringify(bad));
            }
        });
    });

    describe("arguments", () => {
        it("--stack is required; --json, --html, --cwd; anything else is refused with the usage", () => {
            assert.deepEqual(parseArgs(["--stack", "prod"], "/p"), { stack: { name: "prod", dir: "/p" }, json: false });
            assert.deepEqual(parseArgs(["--json", "--stack", "prod", "--cwd", "/q"], "/p"), { stack: { name: "prod", dir: "/q" }, json: true });
            assert.deepEqual(parseArgs(["--stack", "prod", "--html", "/tmp/r.html"], "/p"), { stack: { name: "prod", dir: "/p" }, json: false, html: "/tmp/r.html" });
            assert.equal(parseArgs(["--stack", "prod", "--html", "r.html"], "/p").html, path.resolve(process.env.INIT_CWD ?? process.cwd(), "r.html"), "relative to where npm was run");
            assert.throws(() => parseArgs([], "/p"), /--stack <name> is required\nusage: npm run report -- --stack <name> \[--json\] \[--html FILE\] \[--cwd <project dir>\]/);
            assert.throws(() => parseArgs(["--stack"], "/p"), /--stack needs a value/);
            assert.throws(() => parseArgs(["--stack", "prod", "--html"], "/p"), /--html needs a value/);
            assert.throws(() => parseArgs(["--stack", "prod", "--pdf", "x"], "/p"), /unknown argument --pdf/);
        });
    });
});
