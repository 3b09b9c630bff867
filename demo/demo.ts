// The main job on the local testbed, as an operator runs it on a real cluster: boots the simulated
// Azure Stack Hub cluster (testbed/up), starts a stack from the aks-engine apimodel.json alone (the
// cluster CA and service-account key adopted from it), runs discovery (nodes, addresses and SSH
// host keys from the live cluster, the front-proxy CA adopted from the masters), previews, then runs
// `pulumi up` with the real engine: it issues the cluster's certificates and the rollout (enabled,
// with the testbed load balancer's settings) installs them on the VMs over SSH and restarts the
// services that read them. Prints each certificate's expiry and the rollout activity.
import { execFileSync } from "child_process";
import * as path from "path";
import { discover } from "../discovery";
import { openGeneratedStack, REPO_ROOT, setAccessConfig, testbedRollout, testbedStackFileBeforeDiscovery, TESTBED_STATE as state } from "../testbed/harness/workspace";

const STACK = "testbed";

interface CertificateRow {
    subject?: string;
    notAfter?: string;
    daysLeft?: number;
    renewalDate?: string;
}

async function main(): Promise<void> {
    execFileSync(path.join(REPO_ROOT, "testbed/up"), { stdio: "inherit" });

    const dir = path.join(state, "project");
    // A local demo stack: its passphrase only guards the testbed's throwaway keys (discovery's CLI calls read it too).
    process.env.PULUMI_CONFIG_PASSPHRASE ??= "azs-testbed-demo";
    const stack = await openGeneratedStack(dir, STACK, testbedStackFileBeforeDiscovery(state), { PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE });
    await setAccessConfig(stack, state, testbedRollout(state));
    console.log(`npm run discover -- --stack ${STACK} --cwd ${dir}`);
    if ((await discover({ stack: { name: STACK, dir }, acceptChangedHostKeys: false })) !== 0) throw new Error("discovery refused to write the stack's nodes (above)");

    const onOutput = (out: string) => process.stdout.write(out);
    await stack.preview({ onOutput });
    const result = await stack.up({ onOutput });

    const certificates = result.outputs.certificates?.value as Record<string, CertificateRow>;
    console.log(`\nCertificates of the testbed cluster (stack ${STACK} in ${dir}):`);
    for (const [id, c] of Object.entries(certificates)) {
        if (c.notAfter) console.log(`  ${id.padEnd(28)} ${String(c.notAfter).padEnd(26)} ${String(c.daysLeft).padStart(5)} days left, renewed from ${c.renewalDate}`);
    }
    const activity = (result.outputs.activity?.value ?? {}) as Record<string, { step: string; status: string; finished: string; restarted: string[]; changed: string[] }[]>;
    console.log("\nRollout activity (this run and earlier ones; a step runs only when its node's files change):");
    for (const step of Object.values(activity).flat().sort((a, b) => a.finished.localeCompare(b.finished))) {
        console.log(`  ${step.finished}  ${step.step.padEnd(42)} ${step.status.padEnd(8)} ${String(step.changed.length).padStart(2)} files, restarted: ${step.restarted.join(", ") || "-"}`);
    }
    console.log(`\npulumi -C ${dir} stack output --stack ${STACK}   # everything; kubeconfigs and keys stay secret`);
}

main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
});
