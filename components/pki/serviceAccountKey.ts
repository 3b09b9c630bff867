import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { PRIVATE_KEY_OUTPUTS, tlsKeyArgs } from "./certificateAuthority";
import { rotationTrigger } from "./resolve";
import { resourceNames } from "./names";
import { AdoptedKeyPair, DEFAULT_KEY, KeySpec } from "./settings";

export interface ServiceAccountKeyArgs {
    /** Default RSA 2048 (the apiserver verifies RS256 / ES256 tokens). */
    key?: KeySpec;
    /** This key pair's generation (pki.serviceAccountKeyGenerations). */
    generation: number;
    /** The cluster's current key, used as is (no resource). */
    adopted?: AdoptedKeyPair;
}

/**
 * One generation of the service-account token signing key pair. It has no certificate and no
 * expiry: a new generation replaces it, in phases (caPhases.ts), so tokens it signed keep
 * verifying until it is retired.
 */
export class ServiceAccountKey extends pulumi.ComponentResource {
    /** Secret. */
    readonly privateKeyPem: pulumi.Output<string>;
    readonly publicKeyPem: pulumi.Output<string>;

    constructor(name: string, args: ServiceAccountKeyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("azs-cert-rotation:pki:ServiceAccountKey", name, {}, opts);
        if (args.adopted) {
            this.privateKeyPem = pulumi.secret(args.adopted.keyPem);
            this.publicKeyPem = pulumi.output(args.adopted.publicKeyPem);
            this.registerOutputs({ publicKeyPem: this.publicKeyPem });
            return;
        }
        const key = new tls.PrivateKey(resourceNames.keyPair(name).key, tlsKeyArgs(args.key ?? DEFAULT_KEY), {
            parent: this,
            replacementTrigger: rotationTrigger("serviceAccount", args.generation),
            additionalSecretOutputs: PRIVATE_KEY_OUTPUTS,
        });
        this.privateKeyPem = pulumi.secret(key.privateKeyPem);
        this.publicKeyPem = key.publicKeyPem;
        this.registerOutputs({ publicKeyPem: this.publicKeyPem });
    }
}
