// One VM's part of the rollout: its preflight and its steps, each a @pulumi/command remote
// command that sends scripts/ and the step's files over stdin. A step's command line carries a
// digest of every file its services read on this node, so the step runs again exactly when one
// of them changed, and not otherwise.
import { createHash } from "crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../nodeModel";
import { commandLine, InputFile, scriptText, stepInput } from "./remoteScript";
import { RolloutStep } from "./plan";

export interface SshEndpoint {
    host: string;
    port: number;
    user: string;
    /** Pinned host key, "<type> <base64>". */
    hostKey: string;
}

export interface NodeConnection extends SshEndpoint {
    privateKey: pulumi.Output<string>;
    /** A jump host the node is reached through (private VNet). */
    proxy?: SshEndpoint;
}

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
    /** Bound on one remote command (gates included). */
    commandTimeoutSeconds: number;
}

export interface StepRun {
    step: RolloutStep;
    /** The step's parameters (registry paramsOf its kind). */
    params: Record<string, string>;
    after: pulumi.Resource[];
}

const DIAL = { dialErrorLimit: 3, perDialTimeout: 10 };

const digestOf = (parts: pulumi.Output<string>[]): pulumi.Output<string> =>
    // Hashes of the contents only (no key material): shown in the plan, so not secret.
    pulumi.unsecret(pulumi.all(parts).apply((texts) => createHash("sha256").update(texts.join("\0")).digest("hex").slice(0, 16)));

export class NodeCertificates extends pulumi.ComponentResource {
    readonly preflight: command.remote.Command;
    readonly steps: Record<string, command.remote.Command> = {};
    private readonly args: NodeCertificatesArgs;
    private readonly connection: command.types.input.remote.ConnectionArgs;

    constructor(name: string, args: NodeCertificatesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("azs-cert-rotation:rollout:NodeCertificates", name, {}, opts);
        this.args = args;
        const c = args.connection;
        this.connection = {
            host: c.host,
            port: c.port,
            user: c.user,
            hostKey: c.hostKey,
            privateKey: c.privateKey,
            ...DIAL,
            ...(c.proxy ? { proxy: { ...c.proxy, privateKey: c.privateKey, ...DIAL } } : {}),
        };
        const digest = digestOf(args.files.map((f) => f.content));
        this.preflight = this.remoteCommand(
            "preflight",
            ["preflight", args.node],
            digest,
            pulumi.output(stepInput(args.preflightParams, [])),
            [],
        );
    }

    /** Adds a step; it runs after `after` and after every node's preflight (passed in `after`). */
    addStep(run: StepRun): command.remote.Command {
        const { step } = run;
        const installs = step.installs.map((planned) => {
            const file = this.args.files.find((f) => f.path === planned.path);
            if (!file) throw new Error(`${step.id}: no content for ${planned.path}`);
            return file.content.apply((content): InputFile => ({ path: planned.path, mode: planned.secret ? "0600" : "0644", restarts: planned.restarts, content }));
        });
        const watched = this.args.files.filter((f) => step.watches.includes(f.path)).map((f) => f.content);
        const input = pulumi.all(installs).apply((files) => stepInput(run.params, files));
        const cmd = this.remoteCommand(step.kind, ["rotate", step.kind, step.node], digestOf(watched), input, run.after);
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

    private remoteCommand(name: string, args: string[], digest: pulumi.Output<string>, input: pulumi.Output<string>, after: pulumi.Resource[]): command.remote.Command {
        const script = args[0] === "preflight" ? "preflight" : "rotate";
        const timeout = `${this.args.commandTimeoutSeconds}s`;
        return new command.remote.Command(
            `${this.args.resourceName ?? this.args.node}-${name}`,
            {
                connection: this.connection,
                create: digest.apply((d) => commandLine(this.args.platform, [...args, d])),
                // Keys travel inside: the whole stdin is secret in state.
                stdin: pulumi.secret(input.apply((text) => `${scriptText(this.args.platform, script)}\n${text}`)),
                logging: "stdoutAndStderr",
                // The previous run's output is not needed, and AKS Engine's sshd refuses the variables it travels in.
                addPreviousOutputInEnv: false,
            },
            { parent: this, dependsOn: after, customTimeouts: { create: timeout, update: timeout } },
        );
    }
}
