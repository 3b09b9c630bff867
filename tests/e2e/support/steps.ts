// Running the remote step scripts directly over SSH on a testbed VM, without the engine, with the
// parameters the program sends (step registry and catalog) and files signed by the testbed's CA.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { resolveServiceManagers } from "../../../components/nodeModel";
import { expandInstances, pkiInventoryFrom } from "../../../components/pki/instances";
import { certificateCatalog } from "../../../components/pki/catalog";
import { commandLine, InputFile, scriptText, StepScript, stepInput } from "../../../components/rollout";
import { ParamContext, ParamNode } from "../../../components/rollout/stepParams";
import { testbedRollout } from "../../../testbed/harness/workspace";
import { TESTBED_STATE, testbedNodes } from "./testbed";

export const CERTS = "/etc/kubernetes/certs";
const PKI = path.join(TESTBED_STATE, "pki");

export interface StepResult {
    status: number;
    stdout: string;
    stderr: string;
}

/**
 * Runs a step script on a VM; `cut` drops the input's last line, `disconnectAfterMs` kills the
 * local ssh client then (the connection drops; the remote step goes on or not on its own).
 */
export function runStep(node: string, script: StepScript, args: string[], params: Record<string, string>, files: InputFile[], opts: { cut?: boolean; disconnectAfterMs?: number } = {}): Promise<StepResult> {
    let input = `${scriptText("linux", script)}\n${stepInput(params, files)}`;
    if (opts.cut) input = input.slice(0, input.lastIndexOf("done"));
    return new Promise((resolve) => {
        const ssh: ChildProcess = spawn("ssh", ["-F", path.join(TESTBED_STATE, "ssh/config"), "-o", "BatchMode=yes", node, commandLine("linux", [script, ...args])]);
        let stdout = "";
        let stderr = "";
        ssh.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
        ssh.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
        ssh.stdin!.on("error", () => undefined);
        ssh.stdin!.end(input);
        const limit = setTimeout(() => ssh.kill("SIGKILL"), 300_000);
        const cut = opts.disconnectAfterMs !== undefined ? setTimeout(() => ssh.kill("SIGKILL"), opts.disconnectAfterMs) : undefined;
        ssh.on("close", (code) => {
            clearTimeout(limit);
            if (cut) clearTimeout(cut);
            resolve({ status: code ?? -1, stdout, stderr });
        });
    });
}

/** A testbed node with the managers its stack declares. */
export function testbedParamNode(name: string): ParamNode {
    const n = testbedNodes().find((x) => x.name === name)!;
    return { ...n, services: resolveServiceManagers(n.role, n.services ?? {}).managers };
}

/**
 * What the program would derive for the testbed: catalog paths, members; the load balancer drain of
 * the testbed's stack (testbedRollout) when `drain`, else none (a master then stays in the balancer).
 */
export function testbedParamContext(healthTimeoutSeconds: number, drain = false): ParamContext {
    const rollout = testbedRollout();
    return {
        instances: expandInstances(certificateCatalog(), pkiInventoryFrom({ nodes: testbedNodes(), fqdn: "testbed.local" })),
        masters: testbedNodes().filter((n) => n.role === "master"),
        etcdCaId: "kubernetes-ca",
        healthTimeoutSeconds,
        loadBalancerSettleSeconds: drain ? (rollout.loadBalancerSettleSeconds as number) : 2,
        loadBalancerProbeSources: drain ? (rollout.loadBalancerProbeSources as string[]) : [],
        backupsKept: 5,
    };
}

export const certFile = (name: string, content: string, restarts: string[] = []): InputFile => ({ path: `${CERTS}/${name}`, mode: name.endsWith(".key") ? "0600" : "0644", restarts, content });

/** A new client certificate signed by the testbed's cluster CA (or `caDir`'s), in `dir`. */
export function newClientCert(dir: string, subject: string, caDir = PKI): { cert: string; key: string } {
    const out = (f: string) => path.join(dir, f);
    fs.writeFileSync(out("client.cnf"), "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n");
    execFileSync("openssl", ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", out("c.key"), "-subj", subject, "-out", out("c.csr")], { stdio: "ignore" });
    execFileSync("openssl", ["x509", "-req", "-in", out("c.csr"), "-CA", path.join(caDir, "ca.crt"), "-CAkey", path.join(caDir, "ca.key"), "-CAcreateserial", "-days", "30", "-extfile", out("client.cnf"), "-out", out("c.crt")], { stdio: "ignore" });
    return { cert: fs.readFileSync(out("c.crt"), "utf8"), key: fs.readFileSync(out("c.key"), "utf8") };
}

/** The path of a testbed VM's service run script (on this machine: the VM's directory). */
export const serviceRunScript = (vm: string, service: string) => path.join(TESTBED_STATE, "vms", vm, "services", service, "run");
