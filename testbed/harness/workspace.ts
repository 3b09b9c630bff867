// A directory the Pulumi CLI runs this project from, holding its own stack files, so that runs
// against generated inventories (the testbed, tests) never write into the clone. The project's
// files are symlinks to this repository.
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { parseDocument } from "yaml";

export const REPO_ROOT = path.resolve(__dirname, "../..");
/** Where testbed/up keeps the local testbed's state: $TESTBED_STATE, else the default in testbed/state-dir (testbed/lib/common.sh reads the same file). */
export const TESTBED_STATE = process.env.TESTBED_STATE ?? fs.readFileSync(path.join(REPO_ROOT, "testbed/state-dir"), "utf8").trim();
const PROJECT_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", "components", "node_modules"];

function createProjectWorkspace(dir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    for (const name of PROJECT_FILES) {
        const link = path.join(dir, name);
        if (!fs.existsSync(link)) fs.symlinkSync(path.join(REPO_ROOT, name), link);
    }
    return dir;
}

/**
 * Writes the stack's config file from a generated one (e.g. the testbed's Pulumi.testbed.yaml),
 * keeping the encryption salt of an earlier run so its secrets still decrypt.
 */
function writeStackFile(dir: string, stackName: string, configYaml: string): void {
    const file = path.join(dir, `Pulumi.${stackName}.yaml`);
    const salt = fs.existsSync(file) ? fs.readFileSync(file, "utf8").match(/^encryptionsalt: .*$/m)?.[0] : undefined;
    fs.writeFileSync(file, salt ? `${salt}\n${configYaml}` : configYaml);
}

/** The stack, run by the Pulumi CLI with the project's program (the operator's path, not an inline program). */
function openStack(dir: string, stackName: string, envVars: Record<string, string>): Promise<Stack> {
    return LocalWorkspace.createOrSelectStack({ stackName, workDir: dir }, { envVars });
}

/** A stack of this project in `dir` whose config file is `configYaml` (a generated inventory). */
export async function openGeneratedStack(dir: string, stackName: string, configYaml: string, envVars: Record<string, string>): Promise<Stack> {
    createProjectWorkspace(dir);
    writeStackFile(dir, stackName, configYaml);
    return openStack(dir, stackName, envVars);
}

/**
 * Rollout settings for the testbed in `state`, as an operator would set them for its load
 * balancer: haproxy (10.240.255.15, which also probes from that address) probes every
 * LB_PROBE_INTERVAL seconds (testbed.env; 1 s by default, AKS Engine's 5 s in the benches) and
 * marks a master down after 2 failed probes, so the settle time is those 2 probes plus one more.
 */
export function testbedRollout(state: string = TESTBED_STATE): Record<string, unknown> {
    const interval = Number(readTestbedEnv(state).LB_PROBE_INTERVAL ?? "1");
    return { enabled: true, healthTimeoutSeconds: 120, loadBalancerSettleSeconds: 3 * interval, loadBalancerProbeSources: ["10.240.255.15"] };
}

/** testbed/up's testbed.env as a map (values written with printf %q: plain words here). */
function readTestbedEnv(state: string): Record<string, string> {
    const env = fs.readFileSync(path.join(state, "testbed.env"), "utf8");
    return Object.fromEntries([...env.matchAll(/^(\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/**
 * Whether the testbed in `state` was brought up with `--separate-etcd-ca` (testbed.env ETCD_CA;
 * absent in older testbeds, which means AKS Engine's shared layout).
 */
function testbedHasSeparateEtcdCa(state: string): boolean {
    return readTestbedEnv(state).ETCD_CA === "separate";
}

/**
 * The project as a stack for the local testbed in `state` (testbed/up's inventory), with the
 * testbed cluster's current CA and service-account key adopted from its aks-engine apimodel.json
 * (the front-proxy CA and a separate etcd CA from the testbed's PKI directory) and the admin SSH key
 * set as a secret, as an operator would. `rollout` is the stack's rollout config object.
 */
export async function openTestbedStack(
    dir: string,
    stackName: string,
    state: string,
    envVars: Record<string, string>,
    rollout: Record<string, unknown> = testbedRollout(state),
): Promise<Stack> {
    const { apimodelPath } = JSON.parse(fs.readFileSync(path.join(state, "inventory.json"), "utf8")) as { apimodelPath: string };
    const profile = JSON.parse(fs.readFileSync(apimodelPath, "utf8")).properties.certificateProfile as { caCertificate: string; caPrivateKey: string; apiServerPrivateKey: string };
    const stack = await openGeneratedStack(dir, stackName, fs.readFileSync(path.join(state, "Pulumi.testbed.yaml"), "utf8"), envVars);
    await stack.setConfig("azs-cert-rotation:kubernetesCaCertificate", { value: profile.caCertificate });
    await stack.setConfig("azs-cert-rotation:kubernetesCaPrivateKey", { value: profile.caPrivateKey, secret: true });
    // The CAs AKS Engine's apimodel has no field for come from the testbed's own PKI files (what
    // `npm run discover` reads from the masters, tested on its own): the first up keeps them.
    const pki = (name: string) => fs.readFileSync(path.join(state, "pki", name), "utf8");
    await stack.setConfig("azs-cert-rotation:frontProxyCaCertificate", { value: pki("proxy-ca.crt") });
    await stack.setConfig("azs-cert-rotation:frontProxyCaPrivateKey", { value: pki("proxy-ca.key"), secret: true });
    if (testbedHasSeparateEtcdCa(state)) {
        await stack.setConfig("azs-cert-rotation:etcdCaCertificate", { value: pki("etcd-ca.crt") });
        await stack.setConfig("azs-cert-rotation:etcdCaPrivateKey", { value: pki("etcd-ca.key"), secret: true });
    }
    // AKS Engine signs service-account tokens with apiserver.key: keep it, so tokens stay valid.
    await stack.setConfig("azs-cert-rotation:serviceAccountPrivateKey", { value: profile.apiServerPrivateKey, secret: true });
    await setAccessConfig(stack, state, rollout);
    return stack;
}

/** The admin SSH key (a secret) and the rollout config object of a testbed stack. */
export async function setAccessConfig(stack: Stack, state: string, rollout: Record<string, unknown>): Promise<void> {
    await stack.setConfig("azs-cert-rotation:sshPrivateKey", { value: fs.readFileSync(path.join(state, "ssh", "id_ed25519"), "utf8"), secret: true });
    for (const [key, value] of Object.entries(rollout)) {
        if (Array.isArray(value)) {
            for (const [i, item] of value.entries()) await stack.setConfig(`azs-cert-rotation:rollout.${key}[${i}]`, { value: String(item) }, true);
        } else {
            await stack.setConfig(`azs-cert-rotation:rollout.${key}`, { value: String(value) }, true);
        }
    }
}

/** Sets an object-typed config key (Pulumi.yaml types `pki` as an object, so a JSON string is refused): written to the stack file as YAML. */
export async function setObjectConfig(stack: Stack, key: string, value: Record<string, unknown>): Promise<void> {
    const settings = await stack.workspace.stackSettings(stack.name);
    settings.config = { ...settings.config, [key]: value };
    await stack.workspace.saveStackSettings(stack.name, settings);
}

/**
 * The testbed's stack file as an operator starts discovery from it: apimodelPath, the jumpbox and
 * its pinned key, and of the nodes only how the testbed's masters run their services where that
 * differs from AKS Engine (its control plane as systemd units); `npm run discover` adds every
 * node's address and host key.
 */
export function testbedStackFileBeforeDiscovery(state: string = TESTBED_STATE): string {
    const doc = parseDocument(fs.readFileSync(path.join(state, "Pulumi.testbed.yaml"), "utf8"));
    const key = ["config", "azs-cert-rotation:nodes"];
    const nodes = (doc.getIn(key) as { toJSON(): { name: string; services?: Record<string, string> }[] }).toJSON();
    doc.setIn(key, doc.createNode(nodes.filter((n) => n.services && Object.keys(n.services).length > 0).map((n) => ({ name: n.name, services: n.services }))));
    return doc.toString();
}
