// The cluster-wide rotation lock, held on the first master for the length of a run that changes
// anything (scripts/lock.sh): taken before every node's preflight, released after the last step.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../nodeModel";
import { NodeConnection, remoteStep } from "./remoteCommand";
import { stepInput } from "./remoteScript";
import { LOCK_PARAMS } from "./registry";

export interface ClusterLockArgs {
    node: string;
    platform: Platform;
    connection: NodeConnection;
    /** Who holds it: the stack (organization/project/stack). */
    holder: string;
    /** Changes exactly when some node's preflight runs again: the lock is taken and released then. */
    digest: pulumi.Output<string>;
    timeoutSeconds: number;
}

export class ClusterLock extends pulumi.ComponentResource {
    readonly take: command.remote.Command;
    private readonly args: ClusterLockArgs;

    constructor(name: string, args: ClusterLockArgs, opts?: pulumi.ComponentResourceOptions) {
        super("azs-cert-rotation:rollout:ClusterLock", name, {}, opts);
        this.args = args;
        this.take = this.command("take", []);
    }

    /** The release, after `after` (every step of the run); call once. */
    release(after: pulumi.Resource[]): command.remote.Command {
        const release = this.command("release", [this.take, ...after]);
        this.registerOutputs({ holder: this.args.holder });
        return release;
    }

    private command(action: "take" | "release", after: pulumi.Resource[]): command.remote.Command {
        const { node, platform, connection, holder, digest, timeoutSeconds } = this.args;
        const params: Record<string, string> = Object.fromEntries(LOCK_PARAMS.map((p) => [p, holder]));
        return remoteStep(`${node}-lock-${action}`, { platform, connection, script: "lock", args: [action, node], digest, input: pulumi.output(stepInput(params, [])), after, timeoutSeconds }, this);
    }
}
