// Reaching into the local testbed from e2e tests: commands on its VMs over SSH (the testbed's
// own ssh config, pinned host keys), the certificates its services present, its API.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ServiceManagers } from "../../../components/nodeModel";
import { REPO_ROOT, TESTBED_STATE } from "../../../testbed/harness/workspace";

/**
 * The e2e prober's per-request timeout: a request fails on any error (refused, reset, TLS, an HTTP
 * error) and when it takes longer than this. 5 s, not the benchmarks' 2 s: on this 2-core machine,
 * running 8 VMs, single requests take over 2 s while nothing rotates (the testbed settling, CPU
 * steal), so 2 s measured the machine; an unavailable apiserver still fails every request. The
 * latencies are printed with each up.
 */
export const E2E_PROBE_TIMEOUT_SECONDS = 5;

export { TESTBED_STATE };

export interface TestbedNode {
    name: string;
    role: "master" | "agent";
    ip: string;
    index?: number;
    /** How the testbed runs each service where it differs from AKS Engine. */
    services?: Partial<ServiceManagers>;
}

export function testbedNodes(): TestbedNode[] {
    const inventory = JSON.parse(fs.readFileSync(path.join(TESTBED_STATE, "inventory.json"), "utf8")) as { nodes: TestbedNode[] };
    return inventory.nodes.filter((n) => n.role === "master" || n.role === "agent");
}

/** Runs a shell command on a VM as the admin user (sudo available); returns stdout. */
export function onNode(node: string, script: string, timeoutMs = 60_000): string {
    return execFileSync("ssh", ["-F", path.join(TESTBED_STATE, "ssh/config"), "-o", "BatchMode=yes", node, script], { encoding: "utf8", timeout: timeoutMs });
}

/** One node's step records (/var/log/azure/rotate-certs-activity.json), by step id ("<kind>/<node>"). */
export type StepRecords = Record<string, { status: string; message: string; initiated: string; finished?: string }>;
export function activityOf(node: string): StepRecords {
    return JSON.parse(onNode(node, "cat /var/log/azure/rotate-certs-activity.json")) as StepRecords;
}

/** Runs a testbed script (testbed/up, down, …) from the repository. */
export function testbed(command: string, args: string[] = [], timeoutMs = 900_000): void {
    execFileSync(path.join(REPO_ROOT, "testbed", command), args, { stdio: "inherit", timeout: timeoutMs });
}

export function fingerprint(pem: string): string {
    return execFileSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256"], { input: pem, encoding: "utf8" }).trim();
}

/** The SHA-256 fingerprint of the certificate a TLS endpoint presents (with a client cert read from a node, for etcd). */
export function servedFingerprint(host: string, port: number, node?: string, client?: { cert: string; key: string }): string {
    const cmd = `openssl s_client -connect ${host}:${port}${client ? ` -cert ${client.cert} -key ${client.key}` : ""} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`;
    return (node ? onNode(node, `sudo sh -c '${cmd}'`) : execFileSync("sh", ["-c", cmd], { encoding: "utf8", timeout: 20_000 })).trim();
}

/** A digest of the canary objects testbed/up wrote into etcd, read through master 0 (testbed/etcd-check): a rotation must not change it. */
export function etcdCanaryHash(): string {
    return (JSON.parse(execFileSync(path.join(REPO_ROOT, "testbed/etcd-check"), { encoding: "utf8" })) as { canarySha256: string }).canarySha256;
}

/** GET on the API through the load balancer with a node's client certificate (run on that node). */
export function apiGet(node: string, apiPath: string): unknown {
    const out = onNode(
        node,
        `sudo curl -sS --max-time 10 --cacert /etc/kubernetes/certs/ca.crt --cert /etc/kubernetes/certs/client.crt --key /etc/kubernetes/certs/client.key https://$(sed -n 's/^ *server: *https:\\/\\///p' /var/lib/kubelet/kubeconfig | head -n1)${apiPath}`,
    );
    return JSON.parse(out);
}

/** Names of the Nodes whose Ready condition is True. */
export function readyNodes(askVia: string): string[] {
    const list = apiGet(askVia, "/api/v1/nodes") as { items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[] };
    return list.items.filter((n) => n.status.conditions.some((c) => c.type === "Ready" && c.status === "True")).map((n) => n.metadata.name).sort();
}

/** Waits (bounded) until every listed node is Ready. */
export async function waitForReady(askVia: string, nodes: string[], timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let ready: string[] = [];
    while (Date.now() < deadline) {
        try {
            ready = readyNodes(askVia);
            if (nodes.every((n) => ready.includes(n))) return ready;
        } catch {
            // the API may be restarting
        }
        await new Promise((r) => setTimeout(r, 2000));
    }
    return ready;
}

/** A VM's directory on the host (its services, logs and mounts). */
export function vmDir(node: string): string {
    return path.join(TESTBED_STATE, "vms", node);
}

/** Runs a command inside a VM as root, from the host (its namespaces; no SSH needed). */
export function inVm(node: string, command: string[]): string {
    const pid = fs.readFileSync(path.join(vmDir(node), "init.pid"), "utf8").trim();
    return execFileSync("nsenter", ["-t", pid, "-m", "-u", "-n", "--", ...command], { encoding: "utf8", timeout: 60_000 });
}

/**
 * Copies every VM's service logs, rotation log and static pods' logs out of the testbed before it is taken down, so a
 * failed run can be read afterwards; returns the directory.
 */
export function saveNodeLogs(label: string): string {
    const dest = path.join(os.tmpdir(), "azs-e2e-logs", `${label}-${new Date().toISOString().replace(/[:.]/g, "")}`);
    const vms = path.join(TESTBED_STATE, "vms");
    for (const node of fs.existsSync(vms) ? fs.readdirSync(vms) : []) {
        for (const [from, to] of [["logs", "services"], ["root/var-log-azure", "azure"], ["root/var-log-pods", "pods"]]) {
            const src = path.join(vms, node, from);
            if (fs.existsSync(src)) fs.cpSync(src, path.join(dest, node, to), { recursive: true });
        }
    }
    console.log(`      node logs saved in ${dest}`);
    return dest;
}
