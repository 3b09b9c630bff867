// When the certificateProfile is written back into apimodel.json (apimodelWriteBack): once every
// node step of a `pulumi up` succeeded, never in a preview, never while a CA the profile depends on
// has two generations trusted (the apimodel holds one CA certificate: aks-engine scale or upgrade
// would give new nodes one generation alone, and nodes issued by the other would fail against them).
// The stack output `apimodelWriteBack` says what happened; it holds paths and no key.
import * as pulumi from "@pulumi/pulumi";
import type { ApiModelWriteBack } from "../config";
import { CA_LABELS, nextCaStep, trustedOf } from "../pki/caPhases";
import { CERTIFICATE_PROFILE_CAS } from "../pki/certificateProfile";
import { CaGenerations, SERVICE_ACCOUNT_ID } from "../pki/settings";
import { CertificateProfileFields, writeCertificateProfile } from "./writeBack";

export interface ProfileWriteBackArgs {
    writeBack: ApiModelWriteBack;
    /** The CA generations this run leaves the cluster with (the CA plan's last stage). */
    caGenerations: CaGenerations;
    /** Resolves only once every node step succeeded; undefined when the rollout is off. */
    rolloutDone?: pulumi.Output<unknown>;
    /** The stack's certificateProfile output (secret). */
    profile: pulumi.Output<CertificateProfileFields>;
    now: Date;
}

/** Why the profile must not be written back after this run, or undefined. */
export function writeBackRefusal(file: string, caGenerations: CaGenerations, rolloutEnabled: boolean): string | undefined {
    if (!rolloutEnabled) return `apimodelWriteBack: not written back, ${file} left untouched: rollout.enabled is false, so the nodes do not get the certificates the profile would name`;
    for (const id of [...CERTIFICATE_PROFILE_CAS, SERVICE_ACCOUNT_ID] as const) {
        const gens = caGenerations[id];
        const trusted = gens ? trustedOf(gens) : [];
        if (trusted.length < 2) continue;
        const next = nextCaStep(id, gens!);
        const holds = id === SERVICE_ACCOUNT_ID ? "one service-account key (certificateProfile.apiServerPrivateKey)" : "one CA (certificateProfile.caCertificate)";
        return (
            `apimodelWriteBack: refused, ${file} left untouched: the ${CA_LABELS[id]} is mid-rotation (generation ${trusted[0]} active, ${trusted.slice(1).join(", ")} trusted too) ` +
            `and AKS Engine's apimodel holds ${holds}, so aks-engine scale or upgrade would give new nodes one generation alone. ` +
            `The profile is written back at the end of the up that runs the retire phase, once every node step succeeded` +
            `${next ? ` (${next})` : ""}; until then do not run aks-engine scale or upgrade`
        );
    }
    return undefined;
}

/** Writes the profile back after the rollout, or says why not (a warning) and, in a preview, what the up will do. Returns the status text. */
export function profileWriteBack(args: ProfileWriteBackArgs): pulumi.Output<string> {
    const { file } = args.writeBack;
    const refusal = writeBackRefusal(file, args.caGenerations, args.rolloutDone !== undefined);
    if (refusal) {
        pulumi.log.warn(refusal);
        return pulumi.output(refusal);
    }
    if (pulumi.runtime.isDryRun()) {
        const plan = `apimodelWriteBack: pulumi up will write the new certificateProfile into ${file} once every node step succeeded (a 0600 backup beside it first; nothing when it holds that profile already); this preview writes nothing`;
        pulumi.log.info(plan);
        return pulumi.output(plan);
    }
    const status = pulumi.all([args.rolloutDone!, args.profile]).apply(([, profile]) => {
        const result = writeCertificateProfile(file, profile, args.now);
        const text = result.written
            ? `apimodelWriteBack: wrote the new certificateProfile into ${file} (the previous file is ${result.backup})`
            : `apimodelWriteBack: ${file} holds this certificateProfile already; not written`;
        pulumi.log.info(text);
        return text;
    });
    // the text names paths only; it is secret only because the profile is
    return pulumi.unsecret(status);
}
