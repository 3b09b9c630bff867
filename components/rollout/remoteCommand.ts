// One remote step as a @pulumi/command remote command: the step's scripts and input on a secret
// stdin, a command line of plain words ending in a digest of what the step watches (so it runs
// again exactly when that changes), the node's pinned connection, and a timeout.
import { createHash } from "crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../nodeModel";
import { commandLine, scriptText, StepScript } from "./remoteScript";

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

const DIAL = { dialErrorLimit: 3, perDialTimeout: 10 };

/**
 * A digest of contents (hashes only, no key material: shown in the plan, so not secret), and of
 * `extra` when it is not empty (a step's repair mark: without one the digest is the contents' alone).
 */
export const digestOf = (parts: pulumi.Output<string>[], extra?: pulumi.Output<string>): pulumi.Output<string> =>
    pulumi.unsecret(
        pulumi.all([pulumi.all(parts), extra ?? ""]).apply(([texts, more]) => createHash("sha256").update((more ? [...texts, more] : texts).join("\0")).digest("hex").slice(0, 16)),
    );

export interface RemoteStepArgs {
    platform: Platform;
    connection: NodeConnection;
    script: StepScript;
    /** The script's arguments after its name (plain words). */
    args: string[];
    digest: pulumi.Output<string>;
    /** The input after the scripts (stepInput). */
    input: pulumi.Output<string>;
    after: pulumi.Resource[];
    timeoutSeconds: number;
}

export function remoteStep(name: string, a: RemoteStepArgs, parent: pulumi.Resource): command.remote.Command {
    const c = a.connection;
    const connection: command.types.input.remote.ConnectionArgs = {
        host: c.host,
        port: c.port,
        user: c.user,
        hostKey: c.hostKey,
        privateKey: c.privateKey,
        ...DIAL,
        ...(c.proxy ? { proxy: { ...c.proxy, privateKey: c.privateKey, ...DIAL } } : {}),
    };
    const timeout = `${a.timeoutSeconds}s`;
    return new command.remote.Command(
        name,
        {
            connection,
            create: a.digest.apply((d) => commandLine(a.platform, [a.script, ...a.args, d])),
            // Keys travel inside: the whole stdin is secret in state.
            stdin: pulumi.secret(a.input.apply((text) => `${scriptText(a.platform, a.script)}\n${text}`)),
            logging: "stdoutAndStderr",
            // The previous run's output is not needed, and AKS Engine's sshd refuses the variables it travels in.
            addPreviousOutputInEnv: false,
        },
        { parent, dependsOn: a.after, customTimeouts: { create: timeout, update: timeout } },
    );
}
