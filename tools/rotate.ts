// The operator's entry point where Pulumi's Node.js language host is not installed (it cannot be
// built from the module proxy this project builds the engine from): runs this project's program
// through the Automation API, whose in-process language server replaces that plugin, against the
// stack files in the project directory. Where a full Pulumi install exists, plain `pulumi preview`
// and `pulumi up` in the project directory do the same thing.
import * as path from "path";
import { LocalWorkspace, OutputMap, Stack } from "@pulumi/pulumi/automation";
import { program } from "../components/program";

export const operations = ["preview", "up", "refresh", "destroy", "outputs"] as const;
export type Operation = (typeof operations)[number];

export interface RotateArgs {
    operation: Operation;
    stack: string;
    yes: boolean;
    refresh: boolean;
    diff: boolean;
}

const usage = `usage: npm run rotate -- <${operations.join("|")}> --stack <name> [--yes] [--refresh] [--diff]
  preview   show the rotation plan (what is replaced, why, and the restart order)
  up        apply it; needs --yes (without it, only the preview runs)
  refresh   read the current state of every resource into the stack
  destroy   remove the stack's resources from state (needs --yes); nothing on the nodes is deleted
  outputs   print the stack outputs (certificate expiry, per-node activity)`;

export function parseArgs(argv: string[]): RotateArgs {
    const [operation, ...rest] = argv;
    if (!operations.includes(operation as Operation)) {
        throw new Error(`unknown operation ${JSON.stringify(operation ?? "")}\n${usage}`);
    }
    const args: RotateArgs = { operation: operation as Operation, stack: "", yes: false, refresh: false, diff: false };
    for (let i = 0; i < rest.length; i++) {
        const flag = rest[i];
        if (flag === "--stack" || flag === "-s") {
            args.stack = rest[++i] ?? "";
        } else if (flag === "--yes" || flag === "-y") {
            args.yes = true;
        } else if (flag === "--refresh") {
            args.refresh = true;
        } else if (flag === "--diff") {
            args.diff = true;
        } else {
            throw new Error(`unknown flag ${flag}\n${usage}`);
        }
    }
    if (!/^[A-Za-z0-9_.-]+$/.test(args.stack)) {
        throw new Error(`--stack <name> is required (one stack per environment, e.g. staging or prod)\n${usage}`);
    }
    return args;
}

async function openStack(stackName: string): Promise<Stack> {
    const projectDir = path.resolve(__dirname, "..");
    return LocalWorkspace.createOrSelectStack(
        { stackName, projectName: "azs-cert-rotation", program },
        { workDir: projectDir },
    );
}

// Secret outputs (private keys, kubeconfigs) are never printed; `pulumi stack output --show-secrets` is the deliberate way.
export function showableOutputs(outputs: OutputMap): Record<string, unknown> {
    return Object.fromEntries(Object.entries(outputs).map(([name, o]) => [name, o.secret ? "[secret]" : o.value]));
}

export async function run(args: RotateArgs): Promise<void> {
    const stack = await openStack(args.stack);
    const onOutput = (out: string) => process.stdout.write(out);
    switch (args.operation) {
        case "preview":
            await stack.preview({ onOutput, refresh: args.refresh, diff: args.diff });
            return;
        case "up":
            if (!args.yes) {
                await stack.preview({ onOutput, refresh: args.refresh, diff: args.diff });
                console.log("\nThis was a preview. Re-run with --yes to apply it.");
                return;
            }
            await stack.up({ onOutput, refresh: args.refresh, diff: args.diff });
            return;
        case "refresh":
            await stack.refresh({ onOutput });
            return;
        case "destroy":
            if (!args.yes) {
                throw new Error("destroy needs --yes");
            }
            await stack.destroy({ onOutput });
            return;
        case "outputs":
            console.log(JSON.stringify(showableOutputs(await stack.outputs()), null, 2));
            return;
    }
}

if (require.main === module) {
    Promise.resolve()
        .then(() => run(parseArgs(process.argv.slice(2))))
        .catch((err: Error) => {
            console.error(err.message);
            process.exit(1);
        });
}
