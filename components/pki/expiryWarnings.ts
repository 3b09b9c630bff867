// What every preview and up says about certificates near their notAfter: the ones less than
// pki.warnDays away in one warning, the expired ones in one error-level message, soonest first,
// each with the nodes that hold it and what to run. The facts are the `certificates` output's (the
// state's certificates and the adopted CAs); a certificate this preview re-issues has no known
// notAfter yet and is left out (the preview lists its replacement).
import * as pulumi from "@pulumi/pulumi";
import type { ClusterPki } from "./clusterPki";
import type { CertificateReport } from "./report";
import { CA_CONFIG_NAME } from "./settings";
import { ReportedCertificate, reportedCertificates } from "./stackOutputs";

export type KnownCertificate = Omit<ReportedCertificate, "report"> & { report: CertificateReport };

export interface ExpiryMessages {
    /** The certificates less than warnDays from their notAfter, not expired yet. */
    warning?: string;
    /** The expired ones. */
    error?: string;
}

function whatToDo(c: KnownCertificate): string {
    if (c.report.renewal === "manual" && c.entry.kind === "ca") {
        const ca = CA_CONFIG_NAME[c.entry.id];
        return `adopted, so never renewed by this program: rotate it in phases, pki.caGenerations.${ca}: { "0": active, "1": trusted } then activate and retire (README "Rotating a CA without downtime"; pki.caRotation: immediate if it already expired)`;
    }
    if (c.report.daysLeft < 0) return "the next pulumi up re-issues it and installs it on its nodes";
    return `the first pulumi up from ${c.report.renewalDate.slice(0, 10)} (its renewal date) re-issues it and installs it on its nodes`;
}

/** The messages about `certificates` less than warnDays from expiry; a certificate on all `nodeCount` nodes is said to be on every node. */
export function expiryMessages(certificates: KnownCertificate[], warnDays: number, nodeCount: number): ExpiryMessages {
    // ISO-8601 UTC timestamps sort as dates
    const due = certificates.filter((c) => c.report.daysLeft < warnDays).sort((a, b) => a.report.notAfter.localeCompare(b.report.notAfter));
    const line = (c: KnownCertificate) =>
        `  - ${c.id} (on ${c.nodeNames.length === nodeCount ? "every node" : c.nodeNames.join(", ")}): notAfter ${c.report.notAfter}, daysLeft ${c.report.daysLeft}; ${whatToDo(c)}`;
    const expired = due.filter((c) => c.report.daysLeft < 0);
    const expiring = due.filter((c) => c.report.daysLeft >= 0);
    return {
        ...(expiring.length > 0 ? { warning: `certificates expiring within pki.warnDays (${warnDays} days), soonest first:\n${expiring.map(line).join("\n")}` } : {}),
        ...(expired.length > 0 ? { error: `certificates expired:\n${expired.map(line).join("\n")}` } : {}),
    };
}

/**
 * The output's value, or undefined while the engine does not know it (a certificate this preview
 * re-issues), so that the known ones can be listed together. The second argument of apply is the
 * SDK's own runWithUnknowns (what its lifted property access uses): the callback runs with
 * pulumi.unknown instead of being skipped.
 */
function knownOrUndefined<T>(output: pulumi.Output<T>): pulumi.Output<T | undefined> {
    const apply = output.apply.bind(output) as unknown as <U>(func: (value: T) => U, runWithUnknowns: boolean) => pulumi.Output<U>;
    return apply((value) => (pulumi.containsUnknowns(value) ? undefined : value), true);
}

/** Logs the expiry messages of the PKI's known certificates (warning, error level) and returns them. */
export function logExpiringCertificates(pki: ClusterPki, warnDays: number, now: Date): pulumi.Output<ExpiryMessages> {
    const known = reportedCertificates(pki, now).map((c) => knownOrUndefined(c.report).apply((report) => (report ? [{ ...c, report }] : [])));
    return pulumi.all(known).apply((lists) => {
        const messages = expiryMessages(lists.flat(), warnDays, pki.resolved.inventory.nodes.length);
        if (messages.warning) pulumi.log.warn(messages.warning);
        if (messages.error) pulumi.log.error(messages.error);
        return messages;
    });
}
