// One VM's part of the rollout: its preflight (sent every file of the node, to check them all
// before any restart) and its steps, each a @pulumi/command remote command that sends scripts/
// and the step's files over stdin. A step's command line carries a
// digest of every file its services read on this node, so the step runs again exactly when one
// of them changed, and not otherwise.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../nodeModel";
import { RolloutStep } from "./plan";
import { digestOf, NodeConnection, remoteStep } from "./remoteCommand";
import { InputFile, StepScript, stepInput } from "./remoteScript";

/** A file with its content (keys secret). */
export interface SourcedFile {
    path: string;
    source: string;
    secret: boolean;
    content: pulumi.Output<string>;
}

export interface NodeCertificatesArgs {
    node: string;
    /** Prefix of the command resources' names (default: the node name). */
    resourceName?: string;
    platform: Platform;
    connection: NodeConnection;
    /** Every file the node receives. */
    files: SourcedFile[];
    /** The preflight's parameters (registry PREFLIGHT_PARAMS). */
    preflightParams: Record<string, string>;
    /** What the preflight waits for (the cluster lock). */
    preflightAfter: pulumi.Resource[];
    /** Bound on one remote command (gates included). */
    commandTimeoutSeconds: number;
    /** The node's repair marks (drift.ts), in words: the preflight runs again when they change. */
    repairMarks?: pulumi.Output<string>;
}

export interface StepRun {
    step: RolloutStep;
    /** The step's parameters (registry paramsOf its kind). */
    params: Record<string, string>;
    after: pulumi.Resource[];
    /** How many repairs of this step were planned (drift.ts); 0 or unset: none, the digest is the files' alone. */
    repairMark?: pulumi.Output<number>;
}

export class NodeCertificates extends pulumi.ComponentResource {
    readonly preflight: command.remote.Command;
    readonly steps: Record<string, command.remote.Command> = {};
    /** A digest of every file the node receives: the preflight runs again when it changes. */
    readonly watchDigest: pulumi.Output<string>;
    private readonly args: NodeCertificatesArgs;

    constructor(name: string, args: NodeCertificatesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("azs-cert-rotation:rollout:NodeCertificates", name, {}, opts);
        this.args = args;
        this.watchDigest = digestOf(args.files.map((f) => f.content), args.repairMarks);
        // the preflight checks every file of the node together (scripts/verify.sh): a bad one stops the run before any restart
        const everyFile = args.files.map((f) => f.content.apply((content): InputFile => ({ path: f.path, mode: fileMode(f.secret), restarts: [], content })));
        const input = pulumi.all(everyFile).apply((files) => stepInput(args.preflightParams, files));
        this.preflight = this.remoteCommand("preflight", "preflight", [args.node], this.watchDigest, input, args.preflightAfter);
    }

    /** Adds a step; it runs after `after` and after every node's preflight (passed in `after`). */
    addStep(run: StepRun): command.remote.Command {
        const { step } = run;
        const installs = step.installs.map((planned) => {
            const file = this.args.files.find((f) => f.path === planned.path);
            if (!file) throw new Error(`${step.id}: no content for ${planned.path}`);
            return file.content.apply((content): InputFile => ({ path: planned.path, mode: fileMode(planned.secret), restarts: planned.restarts, content }));
        });
        const watched = this.args.files.filter((f) => step.watches.includes(f.path)).map((f) => f.content);
        const mark = run.repairMark?.apply((n) => (n > 0 ? `repair ${n}` : ""));
        const input = pulumi.all(installs).apply((files) => stepInput(run.params, files));
        const cmd = this.remoteCommand(step.kind, "rotate", [step.kind, step.node], digestOf(watched, mark), input, run.after);
        this.steps[step.id] = cmd;
        return cmd;
    }

    /** Each step's outcome as its script printed it (last stdout line, JSON); set by finish(). */
    activity!: pulumi.Output<unknown[]>;

    /** Call after the last addStep: gathers the steps' outcomes and registers the outputs. */
    finish(): void {
        this.activity = pulumi.all(Object.values(this.steps).map((cmd) => cmd.stdout)).apply((outs) =>
            outs.map((out) => {
                const last = out.trim().split("\n").pop() ?? "";
                try {
                    return JSON.parse(last);
                } catch {
                    return { output: last };
                }
            }),
        );
        this.registerOutputs({ preflight: this.preflight.stdout, activity: this.activity });
    }

    private remoteCommand(name: string, script: StepScript, args: string[], digest: pulumi.Output<string>, input: pulumi.Output<string>, after: pulumi.Resource[]): command.remote.Command {
        const { platform, connection, commandTimeoutSeconds } = this.args;
        return remoteStep(`${this.args.resourceName ?? this.args.node}-${name}`, { platform, connection, script, args, digest, input, after, timeoutSeconds: commandTimeoutSeconds }, this);
    }
}

/** Keys 0600, the rest 0644. */
const fileMode = (secret: boolean): string => (secret ? "0600" : "0644");
