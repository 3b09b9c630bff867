import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { ExtKeyUsage, KeyUsage, RotationType } from "./catalog";
import { HOURS_PER_DAY, PRIVATE_KEY_OUTPUTS, tlsKeyArgs } from "./certificateAuthority";
import { rotationTrigger, tlsAllowedUses } from "./resolve";
import { resourceNames } from "./names";
import { DEFAULT_KEY, DEFAULT_VALIDITY, KeySpec, Validity } from "./settings";

/** What a leaf needs of its CA (a CertificateAuthority is one). */
export interface Issuer {
    certPem: pulumi.Input<string>;
    keyPem: pulumi.Input<string>;
    identity: pulumi.Input<string>;
}

export interface LeafCertificateArgs {
    issuer: Issuer;
    commonName: string;
    organization?: string;
    dnsNames?: string[];
    ipAddresses?: string[];
    usages: (KeyUsage | ExtKeyUsage)[];
    /** Default RSA 2048. */
    key?: KeySpec;
    /** Default 1 year, renewed 30 days before expiry. */
    validity?: Validity;
    /** Forced rotation: the type's generation; with the issuer's identity it forms the replacement trigger. */
    rotation: { type: RotationType; generation: number };
    /**
     * Sign this key instead of generating one (AKS Engine's apiserver certificate uses the
     * service-account key). Renewal and rotation then re-issue the certificate only.
     */
    externalKeyPem?: pulumi.Input<string>;
    /** Key that signs the renewal clock; ClusterPki shares one. Default: a key of the leaf's own. */
    clockKeyPem?: pulumi.Input<string>;
}

/**
 * A leaf certificate signed by an Issuer.
 *
 * Renewal rotates the key too (operators expect a fresh key, as cert-manager's rotationPolicy
 * Always): the tls provider re-issues a certificate inside its renewal window but keeps the key, so
 * a throwaway self-signed "renewal clock" with the leaf's validity and renewal lead is created just
 * before the key, and the key's replacementTrigger is the clock's id. When the clock falls due (at
 * the same plan as the certificate, or seconds before) the key, CSR and certificate are replaced
 * together, and `pulumi preview` shows it. The clock also carries the forced-rotation trigger.
 *
 * A change of the CA certificate re-issues the certificate (not the key). `ignoreChanges` on
 * caCertPem would spare leaves a CA renewal, but the engine creates a replacement with the ignored
 * (old) value, and after a CA key rotation that is an old CA certificate next to a new CA key,
 * which the provider refuses to sign with.
 */
export class LeafCertificate extends pulumi.ComponentResource {
    readonly certPem: pulumi.Output<string>;
    /** Secret. */
    readonly keyPem: pulumi.Output<string>;
    readonly validity: Validity;

    constructor(name: string, args: LeafCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("azs-cert-rotation:pki:LeafCertificate", name, {}, opts);
        const names = resourceNames.leaf(name);
        const keySpec = args.key ?? DEFAULT_KEY;
        this.validity = args.validity ?? DEFAULT_VALIDITY.leaf;
        // Every child waits for this (an adopted issuer's identity fails when the CA is bad).
        const trigger = pulumi.output(args.issuer.identity).apply((id) => rotationTrigger(args.rotation.type, args.rotation.generation, id));
        const validityHours = this.validity.days * HOURS_PER_DAY;
        const renewalHours = this.validity.renewalDays * HOURS_PER_DAY;

        let keyPem: pulumi.Output<string>;
        if (args.externalKeyPem !== undefined) {
            keyPem = pulumi.secret(args.externalKeyPem);
        } else {
            const clockKeyPem =
                args.clockKeyPem ??
                new tls.PrivateKey(names.ownClockKey, tlsKeyArgs({ algorithm: "ECDSA", rsaBits: 2048 }), {
                    parent: this,
                    additionalSecretOutputs: PRIVATE_KEY_OUTPUTS,
                    dependsOn: trigger.apply(() => []), // nothing before the issuer is known to be good
                }).privateKeyPem;
            const clock = new tls.SelfSignedCert(
                names.clock,
                {
                    privateKeyPem: clockKeyPem,
                    subject: { commonName: `renewal clock of ${name}` },
                    allowedUses: ["digital_signature"],
                    validityPeriodHours: validityHours,
                    earlyRenewalHours: renewalHours,
                },
                { parent: this, replacementTrigger: trigger },
            );
            const key = new tls.PrivateKey(names.key, tlsKeyArgs(keySpec), {
                parent: this,
                replacementTrigger: clock.id,
                additionalSecretOutputs: PRIVATE_KEY_OUTPUTS,
            });
            keyPem = pulumi.secret(key.privateKeyPem);
        }
        const csr = new tls.CertRequest(
            names.csr,
            {
                privateKeyPem: keyPem,
                subject: { commonName: args.commonName, organization: args.organization },
                dnsNames: args.dnsNames ?? [],
                ipAddresses: args.ipAddresses ?? [],
            },
            // Without a key of its own, the CSR carries the forced-rotation trigger.
            { parent: this, replacementTrigger: args.externalKeyPem !== undefined ? trigger : undefined },
        );
        const cert = new tls.LocallySignedCert(
            names.cert,
            {
                certRequestPem: csr.certRequestPem,
                caCertPem: args.issuer.certPem,
                caPrivateKeyPem: args.issuer.keyPem,
                allowedUses: tlsAllowedUses(args.usages, keySpec),
                setSubjectKeyId: true,
                validityPeriodHours: validityHours,
                earlyRenewalHours: renewalHours,
            },
            { parent: this },
        );
        this.certPem = cert.certPem;
        this.keyPem = keyPem;
        this.registerOutputs({ certPem: this.certPem });
    }
}
