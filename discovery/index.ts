// npm run discover -- --stack <name> [--cwd <project dir>] [--kubeconfig <file>] [--accept-changed-host-keys]
//
// Fills the stack's `nodes` from the live cluster, for review: the apimodel's VMs, the Nodes the
// apiserver lists (names, InternalIP), each VM's SSH host key as ssh-keyscan sees it from the
// jumpbox (private clusters) or from here, with its SHA256 fingerprint to compare with the VM's boot
// diagnostics; and adopts the CAs that exist only on the masters (the front-proxy CA), read from
// every master and checked to be the same, so that the first `pulumi up` changes no CA. Nothing is
// written while the apimodel and the cluster disagree, or while a pinned host key changed (unless
// --accept-changed-host-keys). Exit codes: 0 written or unchanged, 1 refused (the reasons printed), 2 an error.
import * as fs from "fs";
import * as path from "path";
import { readApiModelFile } from "../components/config/apimodel";
import { adoptionKeys, casOnlyOnNodes } from "../components/config/pki";
import { adminCredentials, listLiveNodes } from "./liveNodes";
import { NodeCa, readNodeCa } from "./nodeCas";
import { chooseHostKeys, hostKeyFingerprint, reconcile, StackNode } from "./reconcile";
import { SshAccess, SshEndpoint } from "./sshAccess";
import { readStackValues, setStackValue, StackRef, writeStackNodes } from "./stackFile";

export interface DiscoveryOptions {
    stack: StackRef;
    kubeconfig?: string;
    acceptChangedHostKeys: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): DiscoveryOptions {
    let name: string | undefined;
    let dir = path.resolve(__dirname, "..");
    let kubeconfig: string | undefined;
    let acceptChangedHostKeys = false;
    for (let i = 0; i < argv.length; i++) {
        const value = () => argv[++i] ?? fail(`${argv[i - 1]} needs a value`);
        switch (argv[i]) {
            case "--stack": name = value(); break;
            case "--cwd": dir = path.resolve(value()); break;
            case "--kubeconfig": kubeconfig = path.resolve(value()); break;
            case "--accept-changed-host-keys": acceptChangedHostKeys = true; break;
            default: fail(`unknown argument ${argv[i]}`);
        }
    }
    if (!name) fail("--stack <name> is required");
    return { stack: { name: name!, dir }, kubeconfig, acceptChangedHostKeys };
}

function fail(message: string): never {
    throw new UsageError(`${message}\nusage: npm run discover -- --stack <name> [--cwd <project dir>] [--kubeconfig <file>] [--accept-changed-host-keys]`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The jumpbox as the stack pins it; its host key must be typed by the operator (discovery cannot vouch for the first hop). */
function jumpboxOf(values: Record<string, unknown>, user: string): SshEndpoint {
    const j = values.jumpbox;
    if (!isObject(j) || typeof j.host !== "string" || typeof j.hostKey !== "string") {
        throw new UsageError("the cluster is private: set jumpbox.host and jumpbox.hostKey in the stack file (the host key from `ssh-keyscan <jumpbox>`, its fingerprint compared with the jumpbox VM's boot diagnostics)");
    }
    return { host: j.host, port: Number(j.port ?? 22), user: typeof j.user === "string" ? j.user : user, hostKey: j.hostKey };
}

/** Discovery on one stack (the CLI's work, also run by the demo): its exit code, 0 written or unchanged, 1 refused. */
export async function discover(opts: DiscoveryOptions): Promise<number> {
    const values = await readStackValues(opts.stack);
    if (typeof values.apimodelPath !== "string") throw new UsageError(`stack ${opts.stack.name}: apimodelPath is not set; discovery starts from AKS Engine's apimodel.json`);
    if (typeof values.sshPrivateKey !== "string") throw new UsageError(`stack ${opts.stack.name}: sshPrivateKey is not set (pulumi config set --secret azs-cert-rotation:sshPrivateKey < <key file>)`);
    const apimodelFile = path.resolve(opts.stack.dir, values.apimodelPath);
    const excluded = Array.isArray(values.apimodelExcludePools) ? values.apimodelExcludePools.map(String) : [];
    const cluster = readApiModelFile(apimodelFile, excluded);
    const user = typeof values.adminUsername === "string" ? values.adminUsername : String(cluster.inventory.adminUsername?.value ?? "azureuser");
    const privateNetwork = cluster.privateCluster || values.privateNetwork === true || values.privateNetwork === "true";
    const location = (JSON.parse(fs.readFileSync(apimodelFile, "utf8")) as { location?: string }).location;
    const kubeconfigFile = opts.kubeconfig ?? path.join(path.dirname(apimodelFile), "kubeconfig", `kubeconfig.${location}.json`);
    const credentials = adminCredentials(fs.readFileSync(kubeconfigFile, "utf8"), kubeconfigFile);
    const pki = isObject(values.pki) ? values.pki : {};
    const nodeCas = casOnlyOnNodes({ etcdCa: pki.etcdCa === "separate" ? "separate" : "shared", serviceAccountKey: pki.serviceAccountKey === "dedicated" ? "dedicated" : "apiserver" });
    const stackNodes = (Array.isArray(values.nodes) ? values.nodes : []).filter((n): n is StackNode => isObject(n) && typeof n.name === "string");

    const ssh = new SshAccess({ user, privateKey: values.sshPrivateKey, ...(privateNetwork ? { jumpbox: jumpboxOf(values, user) } : {}) });
    try {
        const via = privateNetwork ? "through the jumpbox" : "directly";
        console.log(`discover: ${cluster.source}: ${cluster.nodes.length} VMs; reading the cluster ${via}`);
        const live = await listLiveNodes(credentials, { host: credentials.server.hostname.replace(/^\[|\]$/g, ""), port: Number(credentials.server.port || 443) }, ssh);
        const liveIp = new Map(live.map((n) => [n.name.toLowerCase(), n.internalIp]));
        const ips = cluster.nodes.map((vm) => (vm.facts.ip?.value as string | undefined) ?? liveIp.get(vm.name.toLowerCase())).filter((ip): ip is string => ip !== undefined);
        const pinnedType = (ip: string) => (stackNodes.find((n) => n.ip === ip)?.hostKey as string | undefined)?.split(" ")[0];
        const scanned = chooseHostKeys(ips.length > 0 ? await ssh.scanHostKeys(ips) : "", pinnedType);
        const result = reconcile(cluster, live, scanned, stackNodes);

        const changed = new Set(result.changedHostKeys.map((c) => c.name));
        const added = new Set(result.newHostKeys.map((c) => c.name));
        console.log(`\n${"node".padEnd(32)} ${"address".padEnd(15)} host key (compare with the VM's boot diagnostics)`);
        for (const n of result.nodes) {
            const state = changed.has(n.name) ? "CHANGED" : added.has(n.name) ? "new" : "pinned";
            console.log(`${n.name.padEnd(32)} ${String(n.ip).padEnd(15)} ${String(n.hostKey).split(" ")[0]} ${hostKeyFingerprint(String(n.hostKey))} (${state})`);
        }
        for (const name of result.dropped) console.log(`${name}: in the stack's nodes but not a VM of the apimodel: left out`);
        if (result.differences.length > 0) {
            console.log(`\nThe apimodel and the live cluster differ; nothing was written:\n${result.differences.map((d) => `  - ${d}`).join("\n")}`);
            return 1;
        }
        if (result.changedHostKeys.length > 0 && !opts.acceptChangedHostKeys) {
            console.log("\nPinned host keys changed; nothing was written. A VM that was not rebuilt should not change its host key: check each before you accept it (--accept-changed-host-keys):");
            for (const c of result.changedHostKeys) console.log(`  - ${c.name} (${c.ip}): pinned ${hostKeyFingerprint(c.pinned)}, now presents ${hostKeyFingerprint(c.scanned)}`);
            return 1;
        }

        // Read every CA before anything is written: a failure leaves the stack file as it was.
        for (const n of result.nodes) ssh.pin(String(n.ip), String(n.hostKey));
        const masters = cluster.nodes.filter((vm) => vm.facts.role?.value === "master").map((vm) => ({ name: vm.name, ip: String(vm.facts.ip!.value) }));
        const toAdopt: NodeCa[] = [];
        for (const ca of nodeCas) {
            const keys = adoptionKeys(ca.id);
            const found = await readNodeCa(ssh, masters, ca);
            if (values[keys.cert] !== undefined) {
                const same = String(values[keys.cert]).trim() === found.certificate.trim();
                console.log(`${ca.id}: adopted already (${keys.cert}); the masters' ${ca.certFile} ${same ? "is the same" : `is another certificate (SHA-256 ${found.fingerprint}): a rotation since, or drift`}; left as it is`);
            } else {
                toAdopt.push(found);
            }
        }
        for (const ca of toAdopt) {
            const keys = adoptionKeys(ca.id);
            await setStackValue(opts.stack, keys.cert, ca.certificate, false);
            await setStackValue(opts.stack, keys.key, ca.privateKey, true);
            console.log(`${ca.id}: adopted from the ${masters.length} masters (the same on each), SHA-256 ${ca.fingerprint}: ${keys.cert}, ${keys.key} (secret)`);
        }
        const wrote = writeStackNodes(opts.stack, result.nodes);
        console.log(wrote ? `\nWrote ${result.nodes.length} nodes into Pulumi.${opts.stack.name}.yaml: review them (git diff) before pulumi preview.` : "\nThe stack's nodes are up to date: nothing written.");
        return 0;
    } finally {
        ssh.close();
    }
}

if (require.main === module) {
    let opts: DiscoveryOptions;
    try {
        opts = parseArgs(process.argv.slice(2));
    } catch (e) {
        console.error(`discover: ${(e as Error).message}`);
        process.exit(2);
    }
    discover(opts).then(
        (code) => process.exit(code),
        (e: Error) => {
            console.error(`discover: ${e instanceof UsageError ? "" : "failed: "}${e.message}`);
            process.exit(2);
        },
    );
}
