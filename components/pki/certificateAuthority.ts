import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { caIdentity, tlsAllowedUses } from "./resolve";
import { resourceNames } from "./names";
import type { KeyUsage } from "./catalog";
import { DEFAULT_KEY, DEFAULT_VALIDITY, KeySpec, Validity } from "./settings";
import { AdoptionPolicy, validateAdoptedCa } from "./x509";

/** tls.PrivateKey arguments for a key spec; ECDSA is P-256, never the provider's P-224 default. */
export function tlsKeyArgs(key: KeySpec): tls.PrivateKeyArgs {
    return key.algorithm === "RSA" ? { algorithm: "RSA", rsaBits: key.rsaBits } : { algorithm: "ECDSA", ecdsaCurve: "P256" };
}

/** Private-key outputs the engine must store encrypted, whatever the provider schema says. */
export const PRIVATE_KEY_OUTPUTS = ["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"];

export const HOURS_PER_DAY = 24;

const CA_USES: KeyUsage[] = ["certSign", "crlSign", "digitalSignature"];

export interface CertificateAuthorityArgs {
    commonName: string;
    /** The CA's name in its identity (default: the resource name); the same CA across generations keeps it. */
    caId?: string;
    /**
     * Generation of this CA. Part of its identity (name#generation): changing it replaces the key
     * and certificate, and every leaf signed by it is re-issued with a fresh key.
     */
    generation: number;
    /** Default RSA 2048. */
    key?: KeySpec;
    /** Default 10 years, renewed 1 year before expiry. */
    validity?: Validity;
    /**
     * Use an existing CA as is (no resource is created, nothing is replaced). Checked when the
     * values are known (at preview for config values): a bad CA fails the program with an error
     * naming `label`. ClusterPki's config path checks the same earlier, before any resource.
     */
    adopt?: {
        certPem: pulumi.Input<string>;
        keyPem: pulumi.Input<string>;
        policy: AdoptionPolicy;
        label?: string;
    };
}

/**
 * A certificate authority: a generated key + self-signed certificate, or an adopted CA.
 *
 * Renewal before expiry (the tls provider's earlyRenewalHours) replaces only the certificate and
 * keeps the key, on purpose: the renewed certificate has the same subject and key, so leaves issued
 * before still chain to it and no trust is broken whichever node gets the new files first. (The
 * leaves are re-issued too, since their caCertPem input changes; see LeafCertificate.) A new CA
 * key comes only from a generation bump (forced rotation; zero-downtime phases in issue 7).
 */
export class CertificateAuthority extends pulumi.ComponentResource {
    readonly certPem: pulumi.Output<string>;
    /** Secret. */
    readonly keyPem: pulumi.Output<string>;
    /** name#generation (+ adopted key fingerprint): leaves re-issue when it changes. */
    readonly identity: pulumi.Output<string>;
    readonly generation: number;
    readonly adopted: boolean;
    readonly validity: Validity;
    private readonly name: string;
    private readonly commonName: string;
    private readonly keySpec: KeySpec;

    constructor(name: string, args: CertificateAuthorityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("azs-cert-rotation:pki:CertificateAuthority", name, {}, opts);
        this.name = name;
        this.commonName = args.commonName;
        this.keySpec = args.key ?? DEFAULT_KEY;
        this.generation = args.generation;
        this.validity = args.validity ?? DEFAULT_VALIDITY.ca;
        this.adopted = args.adopt !== undefined;
        if (args.adopt) {
            const { policy, label = name } = args.adopt;
            // A bad CA is logged as an error on this component and thrown: every resource that uses
            // the CA (leaves wait for its identity) fails to register, which fails the program.
            const checked = pulumi.all([args.adopt.certPem, pulumi.secret(args.adopt.keyPem)]).apply(([cert, key]) => {
                let result: ReturnType<typeof validateAdoptedCa>;
                try {
                    result = validateAdoptedCa(cert, key, label, policy);
                } catch (e) {
                    pulumi.log.error((e as Error).message, this);
                    throw e;
                }
                for (const w of result.warnings) pulumi.log.warn(w, this);
                return result.facts.publicKeyFingerprint;
            });
            this.certPem = pulumi.all([args.adopt.certPem, checked]).apply(([cert]) => cert);
            this.keyPem = pulumi.secret(pulumi.all([args.adopt.keyPem, checked]).apply(([key]) => key));
            // The identity holds the public key's fingerprint only: not a secret.
            this.identity = pulumi.unsecret(checked.apply((fp) => caIdentity(args.caId ?? name, args.generation, fp)));
        } else {
            const names = resourceNames.ca(name);
            const keySpec = args.key ?? DEFAULT_KEY;
            const identity = caIdentity(args.caId ?? name, args.generation);
            const key = new tls.PrivateKey(names.key, tlsKeyArgs(keySpec), {
                parent: this,
                replacementTrigger: identity,
                additionalSecretOutputs: PRIVATE_KEY_OUTPUTS,
            });
            const cert = new tls.SelfSignedCert(
                names.cert,
                {
                    privateKeyPem: key.privateKeyPem,
                    subject: { commonName: args.commonName },
                    isCaCertificate: true,
                    setSubjectKeyId: true,
                    allowedUses: tlsAllowedUses(CA_USES, keySpec),
                    validityPeriodHours: this.validity.days * HOURS_PER_DAY,
                    earlyRenewalHours: this.validity.renewalDays * HOURS_PER_DAY,
                },
                { parent: this },
            );
            this.certPem = cert.certPem;
            this.keyPem = pulumi.secret(key.privateKeyPem);
            this.identity = pulumi.output(identity);
        }
        this.registerOutputs({ certPem: this.certPem, identity: this.identity });
    }

    /**
     * This CA's certificate (same subject and key) signed by an older generation of the same CA.
     * Served after a leaf, it lets clients that still trust only the older generation verify
     * certificates this one issues, until the older one is retired.
     */
    crossSignedBy(signer: CertificateAuthority, validity: Validity): pulumi.Output<string> {
        if (this.adopted) throw new Error(`${this.name}: an adopted CA is generation 0 and is never cross-signed`);
        const names = resourceNames.crossSigned(this.name, signer.generation);
        const csr = new tls.CertRequest(names.csr, { privateKeyPem: this.keyPem, subject: { commonName: this.commonName } }, { parent: this });
        const cert = new tls.LocallySignedCert(
            names.cert,
            {
                certRequestPem: csr.certRequestPem,
                caCertPem: signer.certPem,
                caPrivateKeyPem: signer.keyPem,
                isCaCertificate: true,
                setSubjectKeyId: true,
                allowedUses: tlsAllowedUses(CA_USES, this.keySpec),
                validityPeriodHours: validity.days * HOURS_PER_DAY,
                earlyRenewalHours: validity.renewalDays * HOURS_PER_DAY,
            },
            { parent: this },
        );
        return cert.certPem;
    }
}
