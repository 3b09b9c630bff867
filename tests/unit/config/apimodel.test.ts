// The cluster read from AKS Engine's apimodel.json (components/config/apimodel.ts) and merged with
// the stack file (apimodelMerge.ts, through readStackConfig). The apimodels are written here in
// AKS Engine's vlabs shape; their CA and keys are made at test time, never committed.
import { strict as assert } from "assert";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { readApiModelFile, readStackConfig } from "../../../components/config";
import { apimodel, SUFFIX } from "../support/apimodel";
import { configProblems } from "../support/config";
import { FAKE_SSH_KEY } from "../support/mocks";
import { OpenSsl, Pem } from "../support/openssl";

const NS = "azs-cert-rotation";
const HOST_KEY = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC2Oi8O6g1lN7D1TsT9sC7SHasyXqOkbdXb4xnP6J7${n}n`;

describe("config: the cluster from AKS Engine's apimodel.json", () => {
    const ssl = new OpenSsl();
    let n = 0;
    /** Writes _output/<dir>/apimodel.json and azuredeploy.json (the name suffix); returns the apimodel's path. */
    function writeOutput(model: unknown, template: unknown = { parameters: { nameSuffix: { type: "string", defaultValue: SUFFIX } } }): string {
        const dir = path.join(ssl.dir, `_output${++n}`);
        fs.mkdirSync(dir);
        const file = path.join(dir, "apimodel.json");
        fs.writeFileSync(file, typeof model === "string" ? model : JSON.stringify(model, null, 2));
        if (template !== undefined) fs.writeFileSync(path.join(dir, "azuredeploy.json"), JSON.stringify(template));
        return file;
    }
    let ca: Pem;
    let proxyCa: Pem;
    let saKey: string;
    before(() => {
        ca = ssl.ca({ cn: "ca", key: "rsa2048" });
        proxyCa = ssl.ca({ cn: "proxyClientCA", key: "rsa2048" });
        saKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
    });
    after(() => {
        ssl.remove();
        pulumi.runtime.setAllConfig({});
    });

    describe("reading the file", () => {
        for (const [masters, lbIps] of [
            [1, []],
            [3, ["10.240.255.15"]],
            [5, ["10.240.255.15"]],
        ] as const) {
            it(`${masters} master${masters > 1 ? "s" : ""}: names from the name suffix, consecutive addresses from firstConsecutiveStaticIP, ${lbIps.length ? "the internal load balancer at +10" : "no internal load balancer"}`, () => {
                const cluster = readApiModelFile(writeOutput(apimodel({ masters })));
                const nodes = cluster.nodes.filter((vm) => vm.facts.role?.value === "master");
                assert.deepEqual(
                    nodes.map((vm) => [vm.name, vm.facts.index?.value, vm.facts.ip?.value]),
                    Array.from({ length: masters }, (_, i) => [`k8s-master-${SUFFIX}-${i}`, i, `10.240.255.${5 + i}`]),
                );
                assert.deepEqual(cluster.inventory.loadBalancerIps?.value, lbIps);
                assert.equal(cluster.inventory.clusterName?.value, "azsprod");
                assert.equal(cluster.inventory.fqdn?.value, "azsprod.redmond.cloudapp.azurestack.contoso.com");
                assert.equal(cluster.inventory.adminUsername?.value, "azsadmin");
                assert.equal(cluster.privateCluster, false);
            });
        }

        it("two Linux pools: each agent named k8s-<pool>-<suffix>-<i>, with its pool; no address (the apimodel holds none)", () => {
            const cluster = readApiModelFile(writeOutput(apimodel({ masters: 3, pools: [{ name: "linuxpool", count: 2 }, { name: "bigpool", count: 3 }] })));
            const agents = cluster.nodes.filter((vm) => vm.facts.role?.value === "agent");
            assert.deepEqual(
                agents.map((vm) => [vm.name, vm.facts.pool?.value, vm.facts.ip]),
                [
                    [`k8s-linuxpool-${SUFFIX}-0`, "linuxpool", undefined],
                    [`k8s-linuxpool-${SUFFIX}-1`, "linuxpool", undefined],
                    [`k8s-bigpool-${SUFFIX}-0`, "bigpool", undefined],
                    [`k8s-bigpool-${SUFFIX}-1`, "bigpool", undefined],
                    [`k8s-bigpool-${SUFFIX}-2`, "bigpool", undefined],
                ],
            );
            assert.deepEqual(cluster.pools.map((p) => [p.name, p.count, p.osType]), [["linuxpool", 2, "linux"], ["bigpool", 3, "linux"]]);
        });

        it("a private cluster: privateNetwork and the jumpbox's name and user (AKS Engine's azureuser when unset)", () => {
            const cluster = readApiModelFile(writeOutput(apimodel({ masters: 3, jumpbox: { name: "azsprod-jb", username: "jumper" } })));
            assert.equal(cluster.privateCluster, true);
            assert.deepEqual([cluster.jumpbox?.name?.value, cluster.jumpbox?.user?.value], ["azsprod-jb", "jumper"]);
            const defaultUser = readApiModelFile(writeOutput(apimodel({ masters: 1, jumpbox: { name: "azsprod-jb" } })));
            assert.equal(defaultUser.jumpbox?.user?.value, "azureuser");
        });

        it("refuses a Windows pool, saying Windows nodes are not supported yet; apimodelExcludePools leaves it out, recorded as windows", () => {
            const file = writeOutput(apimodel({ masters: 3, pools: [{ name: "linuxpool", count: 2 }, { name: "winpool", count: 2, osType: "Windows" }] }));
            assert.deepEqual(
                configProblems(() => readApiModelFile(file)),
                [
                    `apimodelPath ${file}: properties.agentPoolProfiles[1] (pool winpool): osType Windows: Windows nodes are not supported yet (the node model runs Linux nodes only); ` +
                        `to rotate the other nodes and leave this pool's on their current certificates (a CA rotation would cut them off), list it in azs-cert-rotation:apimodelExcludePools`,
                ],
            );
            const cluster = readApiModelFile(file, ["winpool"]);
            assert.deepEqual(cluster.pools.map((p) => [p.name, p.osType, p.excluded]), [["linuxpool", "linux", false], ["winpool", "windows", true]]);
            assert.deepEqual(cluster.nodes.map((vm) => vm.name).filter((name) => !name.includes("master")), [`k8s-linuxpool-${SUFFIX}-0`, `k8s-linuxpool-${SUFFIX}-1`]);
        });

        it("refuses to leave out a Linux pool or a pool the apimodel does not have", () => {
            const file = writeOutput(apimodel({ masters: 1 }));
            assert.deepEqual(configProblems(() => readApiModelFile(file, ["agentpool1", "nopool"])), [
                `apimodelPath ${file}: apimodelExcludePools: pool agentpool1 is a Linux availability-set pool the rotation handles; only Windows and scale-set pools may be left out`,
                `apimodelPath ${file}: apimodelExcludePools: the apimodel has no pool nopool (pools: agentpool1)`,
            ]);
        });

        it("a missing or broken file, or no name suffix beside it: a problem naming the key and the path", () => {
            const missing = path.join(ssl.dir, "nowhere", "apimodel.json");
            assert.deepEqual(configProblems(() => readApiModelFile(missing)), [`apimodelPath: cannot read the apimodel ${missing}: ENOENT`]);
            const broken = writeOutput("{ not json");
            assert.match(configProblems(() => readApiModelFile(broken))[0]!, new RegExp(`^apimodelPath: the apimodel ${broken} is not valid JSON: `));
            const noTemplate = writeOutput(apimodel({ masters: 1 }), null);
            assert.match(configProblems(() => readApiModelFile(noTemplate))[0]!, /^apimodelPath: .*azuredeploy\.json: parameters\.nameSuffix\.defaultValue must hold the VM names' suffix/);
        });

        it("names every field that is not what AKS Engine writes, never quoting a key", () => {
            const notPem = saKey.replace(/-----[A-Z ]+-----/g, "");
            const model = apimodel(
                { masters: 2, pools: [{ name: "vmsspool", count: 2, availabilityProfile: "VirtualMachineScaleSets" }] },
                { caPrivateKey: "/subscriptions/x/resourceGroups/y/providers/Microsoft.KeyVault/vaults/kv/secrets/ca", apiServerPrivateKey: notPem },
            );
            delete (model as { properties: { masterProfile: Record<string, unknown> } }).properties.masterProfile.dnsPrefix;
            const file = writeOutput(model);
            const problems = configProblems(() => readApiModelFile(file));
            assert.deepEqual(problems, [
                `apimodelPath ${file}: properties.masterProfile.count: must be one of 1, 3, 5, got 2`,
                `apimodelPath ${file}: properties.masterProfile.dnsPrefix: required`,
                `apimodelPath ${file}: properties.certificateProfile.caPrivateKey: is a Key Vault reference; put the PEM value into the apimodel (AKS Engine's own commands read it there too)`,
                `apimodelPath ${file}: properties.certificateProfile.apiServerPrivateKey: must be a PEM value (not quoted here: it may hold a private key)`,
                `apimodelPath ${file}: properties.agentPoolProfiles[0] (pool vmsspool): a scale set: its instances' names are not derivable from the apimodel, and scale-set pools are not supported yet; ` +
                    `to rotate the other nodes and leave this pool's on their current certificates (a CA rotation would cut them off), list it in azs-cert-rotation:apimodelExcludePools`,
            ]);
            const high = apimodel({ masters: 3 });
            (high as { properties: { masterProfile: Record<string, unknown> } }).properties.masterProfile.firstConsecutiveStaticIP = "10.240.255.245";
            const highFile = writeOutput(high);
            assert.deepEqual(configProblems(() => readApiModelFile(highFile)), [
                `apimodelPath ${highFile}: properties.masterProfile.firstConsecutiveStaticIP: 10.240.255.245: the masters and the internal load balancer (+10) do not fit before .255`,
            ]);
        });
    });

    describe("with the stack file (readStackConfig)", () => {
        /**
         * The stack: apimodelPath, the nodes' host keys (and agents' addresses), the front-proxy CA
         * as discovery adopts it, and `extra` (an undefined value unsets a key); `secrets` set with --secret.
         */
        function setStack(file: string, extra: Record<string, unknown> = {}, secrets: string[] = []): void {
            const nodes = [0, 1, 2].map((i) => ({ name: `k8s-master-${SUFFIX}-${i}`, hostKey: HOST_KEY(i) })).concat([0, 1, 2].map((i) => ({ name: `k8s-agentpool1-${SUFFIX}-${i}`, ip: `10.240.0.${4 + i}`, hostKey: HOST_KEY(10 + i) })));
            const stack: Record<string, unknown> = { apimodelPath: file, nodes, sshPrivateKey: FAKE_SSH_KEY, frontProxyCaCertificate: proxyCa.cert, frontProxyCaPrivateKey: proxyCa.key, ...extra };
            pulumi.runtime.setAllConfig(
                Object.fromEntries(Object.entries(stack).filter(([, v]) => v !== undefined).map(([k, v]) => [`${NS}:${k}`, typeof v === "string" ? v : JSON.stringify(v)])),
                ["sshPrivateKey", "frontProxyCaPrivateKey", ...secrets].map((k) => `${NS}:${k}`),
            );
        }
        const profile = () => ({ caCertificate: ca.cert, caPrivateKey: ca.key, apiServerCertificate: ca.cert, apiServerPrivateKey: saKey });

        it("derives the inventory, completed by the stack's host keys and agent addresses, and adopts the CA and service-account key as secrets", async () => {
            setStack(writeOutput(apimodel({ masters: 3, jumpbox: { name: "azsprod-jb" } }, profile())), { jumpbox: { host: "10.240.255.250", hostKey: HOST_KEY(9) } });
            const { inventory, pki } = readStackConfig();
            assert.deepEqual(
                inventory.nodes.map((node) => [node.name, node.role, node.index, node.pool, node.ip, node.hostKey]),
                [
                    [`k8s-master-${SUFFIX}-0`, "master", 0, "master", "10.240.255.5", HOST_KEY(0)],
                    [`k8s-master-${SUFFIX}-1`, "master", 1, "master", "10.240.255.6", HOST_KEY(1)],
                    [`k8s-master-${SUFFIX}-2`, "master", 2, "master", "10.240.255.7", HOST_KEY(2)],
                    [`k8s-agentpool1-${SUFFIX}-0`, "agent", undefined, "agentpool1", "10.240.0.4", HOST_KEY(10)],
                    [`k8s-agentpool1-${SUFFIX}-1`, "agent", undefined, "agentpool1", "10.240.0.5", HOST_KEY(11)],
                    [`k8s-agentpool1-${SUFFIX}-2`, "agent", undefined, "agentpool1", "10.240.0.6", HOST_KEY(12)],
                ],
            );
            assert.deepEqual([inventory.clusterName, inventory.fqdn, inventory.adminUsername, inventory.loadBalancerIps], ["azsprod", "azsprod.redmond.cloudapp.azurestack.contoso.com", "azsadmin", ["10.240.255.15"]]);
            assert.deepEqual([inventory.privateNetwork, inventory.jumpbox], [true, { host: "10.240.255.250", port: 22, user: "azureuser", hostKey: HOST_KEY(9) }]);
            const adopted = pki.adopted["kubernetes-ca"]!;
            assert.equal(adopted.certPem, ca.cert);
            assert.equal(await pulumi.isSecret(adopted.keyPem as pulumi.Output<string>), true);
            assert.equal(await pulumi.isSecret(pki.adoptedServiceAccountKey!.keyPem as pulumi.Output<string>), true);
            assert.match(pki.adoptedServiceAccountKey!.publicKeyPem, /BEGIN PUBLIC KEY/);
        });

        it("takes typed values that agree (lists as sets, the same CA) and the keys the apimodel does not hold", () => {
            setStack(
                writeOutput(apimodel({ masters: 3 }, profile())),
                { clusterName: "azsprod", adminUsername: "azsadmin", loadBalancerIps: ["10.240.255.15"], apiServerEndpoint: "https://10.240.255.15:443", kubernetesCaCertificate: ca.cert, kubernetesCaPrivateKey: ca.key },
                ["kubernetesCaPrivateKey"],
            );
            const { inventory, pki } = readStackConfig();
            assert.equal(inventory.apiServerEndpoint, "https://10.240.255.15:443");
            assert.equal(pki.adopted["kubernetes-ca"]!.certPem, ca.cert);
        });

        it("a typed value that differs is an error naming both values and both sources; keys are shown by fingerprint, never quoted", () => {
            const file = writeOutput(apimodel({ masters: 3 }, profile()));
            const other = ssl.ca({ cn: "other-ca", key: "rsa2048" });
            const nodes = [{ name: `k8s-master-${SUFFIX}-0`, ip: "10.240.255.9", hostKey: HOST_KEY(0) }];
            setStack(file, { fqdn: "azsprod.example.com", loadBalancerIps: ["10.240.255.16"] });
            assert.deepEqual(configProblems(() => readStackConfig()), [
                `fqdn: "azsprod.example.com" in the stack file conflicts with "azsprod.redmond.cloudapp.azurestack.contoso.com" from apimodelPath ${file} (properties.masterProfile.fqdn); make them agree, or remove the stack file's value`,
                `loadBalancerIps: ["10.240.255.16"] in the stack file conflicts with ["10.240.255.15"] from apimodelPath ${file} (properties.masterProfile.firstConsecutiveStaticIP + 10 (the internal load balancer)); make them agree, or remove the stack file's value`,
            ]);
            setStack(file, { nodes });
            assert.match(
                configProblems(() => readStackConfig())[0]!,
                new RegExp(`^nodes\\[0\\]\\.ip \\(k8s-master-${SUFFIX}-0\\): "10\\.240\\.255\\.9" in the stack file conflicts with "10\\.240\\.255\\.5" from apimodelPath ${file} \\(properties\\.masterProfile\\.firstConsecutiveStaticIP\\)`),
            );
            setStack(file, { kubernetesCaCertificate: other.cert, kubernetesCaPrivateKey: other.key, serviceAccountPrivateKey: other.key }, ["kubernetesCaPrivateKey", "serviceAccountPrivateKey"]);
            const problems = configProblems(() => readStackConfig());
            assert.deepEqual(
                problems.map((p) => p.replace(/SHA-256 [0-9A-Fa-f:]+…/g, "SHA-256 …")),
                [
                    `kubernetesCaCertificate: the certificate "CN=other-ca" (SHA-256 …) in the stack file conflicts with the certificate "CN=ca" (SHA-256 …) from apimodelPath ${file} (properties.certificateProfile.caCertificate); make them agree, or remove the stack file's value`,
                    `kubernetesCaPrivateKey: the private key of public key SHA-256 … in the stack file conflicts with the private key of public key SHA-256 … from apimodelPath ${file} (properties.certificateProfile.caPrivateKey); make them agree, or remove the stack file's value`,
                    `serviceAccountPrivateKey: the private key of public key SHA-256 … in the stack file conflicts with the private key of public key SHA-256 … from apimodelPath ${file} (properties.certificateProfile.apiServerPrivateKey); make them agree, or remove the stack file's value`,
                ],
            );
            const keyLines = [ca.key, other.key, saKey].map((pem) => pem.split("\n")[1]!);
            assert.ok(!problems.some((p) => keyLines.some((line) => p.includes(line))), "a problem quotes a private key");
        });

        it("a node the apimodel does not have, and VMs the stack does not list, are errors naming them", () => {
            const file = writeOutput(apimodel({ masters: 3 }));
            const nodes = [0, 1, 2].map((i) => ({ name: `k8s-master-${SUFFIX}-${i}`, hostKey: HOST_KEY(i) })).concat([{ name: `k8s-agentpool1-${SUFFIX}-7`, ip: "10.240.0.11", hostKey: HOST_KEY(17) } as never]);
            setStack(file, { nodes });
            assert.deepEqual(configProblems(() => readStackConfig()), [
                `nodes[3].name: k8s-agentpool1-${SUFFIX}-7 is not a VM of apimodelPath ${file} (k8s-master-${SUFFIX}-0..2, k8s-agentpool1-${SUFFIX}-0..2); correct the name, or the apimodel if the cluster changed`,
                `nodes: apimodelPath ${file} has 3 VMs the stack's nodes do not list: k8s-agentpool1-${SUFFIX}-0..2; add each by name with its hostKey (agents also with their ip: the apimodel does not hold agents' addresses)`,
            ]);
        });

        it("a bad apimodel stops readStackConfig with its problem alone, before any section is read", () => {
            const missing = path.join(ssl.dir, "gone", "apimodel.json");
            setStack(missing, { pki: { rsaBits: 512 } });
            assert.deepEqual(configProblems(() => readStackConfig()), [`apimodelPath: cannot read the apimodel ${missing}: ENOENT`]);
        });

        it("a CA on the nodes that the apimodel does not hold must be adopted while its generation 0 is in use: the first up never replaces it", () => {
            const file = writeOutput(apimodel({ masters: 3 }, profile()));
            const unadopted = { frontProxyCaCertificate: undefined, frontProxyCaPrivateKey: undefined };
            setStack(file, unadopted);
            assert.deepEqual(configProblems(() => readStackConfig()), [
                `frontProxyCaCertificate / frontProxyCaPrivateKey: the cluster's front-proxy-ca (/etc/kubernetes/certs/proxy-ca.crt, /etc/kubernetes/certs/proxy-ca.key on the masters) is not adopted, and apimodelPath ${file} does not hold it: ` +
                    "generation 0 would be a new CA replacing the cluster's in a single pass. Run `npm run discover -- --stack <stack>`, which reads it from the masters and sets both keys, " +
                    'or set them yourself; to replace the CA on purpose, adopt it and rotate it in phases (README "Rotating a CA without downtime")',
            ]);
            // a one-shot starts from generation 0, which it trusts first: the cluster's CA
            setStack(file, { ...unadopted, pki: { caRotation: "oneShot", caGenerations: { frontProxyCa: { "1": "active" } } } });
            assert.match(configProblems(() => readStackConfig())[0]!, /^frontProxyCaCertificate \/ frontProxyCaPrivateKey: the cluster's front-proxy-ca /);
            // a separate etcd CA is on the nodes only, too
            setStack(file, { frontProxyCaCertificate: proxyCa.cert, frontProxyCaPrivateKey: proxyCa.key, pki: { etcdCa: "separate" } });
            assert.match(configProblems(() => readStackConfig())[0]!, /^etcdCaCertificate \/ etcdCaPrivateKey: the cluster's etcd-ca \(\/etc\/kubernetes\/certs\/etcd-ca\.crt, /);
            // generation 0 retired: nothing of the cluster's CA is used
            setStack(file, { ...unadopted, pki: { caGenerations: { frontProxyCa: { "0": "retired", "1": "active" } } } });
            assert.equal(readStackConfig().pki.adopted["front-proxy-ca"], undefined);
            setStack(file);
            assert.equal(readStackConfig().pki.adopted["front-proxy-ca"]!.certPem, proxyCa.cert);
        });

        it("a CA from the file is checked like a typed one, its problems naming the file", () => {
            const expired = ssl.ca({ cn: "old-ca", key: "rsa2048", days: 1 });
            const file = writeOutput(apimodel({ masters: 3 }, { caCertificate: expired.cert, caPrivateKey: ca.key }));
            setStack(file);
            assert.match(configProblems(() => readStackConfig()).join("\n"), new RegExp(`^azs-cert-rotation:kubernetesCaCertificate / kubernetesCaPrivateKey \\(from apimodelPath ${file}\\): `, "m"));
        });
    });
});
