// The maintenance-window guard of `pulumi up`. A run changes the nodes exactly when the cluster
// lock's digest differs from the one the last successful run recorded (the lock is taken, and
// every preflight runs, when it changes). Such a run outside the window is refused by making the
// lock's digest fail: the lock's take command then never registers, and every preflight and step
// waits for it, so the engine stops before any remote command. A preview never refuses; it says
// what an up would do.
import * as pulumi from "@pulumi/pulumi";
import { describeInstant, describeWindow, MaintenanceWindow, positionInWindow } from "./maintenanceWindow";

/** The environment variable that lets one `pulumi up` change the nodes outside the window. */
export const OVERRIDE_ENV = "AZS_MAINTENANCE_OVERRIDE";

export const overrideRequested = (env: NodeJS.ProcessEnv = process.env): boolean => env[OVERRIDE_ENV] === "1";

export interface MaintenanceGuardArgs {
    /** undefined: no window, every run may change the nodes. */
    window?: MaintenanceWindow;
    /** The cluster lock's digest the last successful run recorded; undefined when none did. */
    recordedLockDigest?: string;
    override: boolean;
    now: Date;
}

/** What the guard decided for a run, recorded in the `maintenance` stack output. */
export interface MaintenanceDecision {
    allowed: boolean;
    /** Set when the override let a run outside the window change the nodes: when, and by what. */
    overridden?: string;
    text: string;
}

/** "now (…) is inside the maintenance window Sat, Sun 22:00 for 6h (Europe/Berlin), opened …; the next opens …". */
export function windowStatus(window: MaintenanceWindow, now: Date): string {
    const { openedAt, nextStart } = positionInWindow(window, now);
    const where = openedAt ? `inside the maintenance window ${describeWindow(window)}, opened ${describeInstant(openedAt, window.timeZone)}` : `outside the maintenance window ${describeWindow(window)}`;
    return `now (${describeInstant(now, window.timeZone)}) is ${where}; the next opens ${describeInstant(nextStart, window.timeZone)}`;
}

/** Whether a run whose cluster lock digest is `lockDigest` may change the nodes now. */
export function decide(args: MaintenanceGuardArgs, lockDigest: string): MaintenanceDecision {
    const { window, recordedLockDigest, override, now } = args;
    if (!window) return { allowed: true, text: "no maintenance window: every run may change the nodes" };
    const status = windowStatus(window, now);
    if (lockDigest === recordedLockDigest) return { allowed: true, text: `nothing changes on the nodes; ${status}` };
    if (positionInWindow(window, now).openedAt) return { allowed: true, text: `the nodes change; ${status}` };
    if (override) {
        const overridden = `${OVERRIDE_ENV}=1 at ${now.toISOString()}`;
        return { allowed: true, overridden, text: `the nodes change outside the window, overridden by ${overridden}; ${status}` };
    }
    const change = recordedLockDigest === undefined ? "no earlier run recorded one" : `the last successful run recorded ${recordedLockDigest}`;
    return {
        allowed: false,
        text: `maintenance window: this update would change the nodes (cluster lock digest ${lockDigest}; ${change}) and is refused: ${status}. Run it then, or set ${OVERRIDE_ENV}=1 for this run to override.`,
    };
}

/**
 * The lock's digest through the guard: during an update that may not change the nodes now it
 * rejects with the decision's text, and so does `decision`; otherwise it is the digest unchanged (a
 * steady-state run keeps the lock's inputs, so no remote command runs).
 */
export function guardLockDigest(lockDigest: pulumi.Output<string>, args: MaintenanceGuardArgs): { lockDigest: pulumi.Output<string>; decision: pulumi.Output<MaintenanceDecision> } {
    const update = !pulumi.runtime.isDryRun();
    const decision = lockDigest.apply((digest) => {
        const decided = decide(args, digest);
        if (!decided.allowed) {
            if (update) throw new Error(decided.text);
            pulumi.log.warn(`pulumi up now would be refused: ${decided.text}`);
        }
        if (decided.overridden && update) pulumi.log.warn(`maintenance window overridden: ${decided.text}`);
        return decided;
    });
    return { lockDigest: pulumi.all([lockDigest, decision]).apply(([digest]) => digest), decision };
}
