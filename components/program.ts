// The Pulumi program: stack config → inventory → PKI → rollout → outputs. Config is validated
// first, so bad input stops `pulumi preview` before any resource is planned.
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE, readStackConfig } from "./config";
import { ClusterPki, pkiInventoryFrom } from "./pki";
import { Rollout } from "./rollout";

export async function program(): Promise<Record<string, unknown>> {
    const { inventory, pki: settings, rollout: rolloutSettings } = readStackConfig(new pulumi.Config(CONFIG_NAMESPACE));
    const pki = new ClusterPki("pki", {
        settings,
        inventory: pkiInventoryFrom(inventory),
        clusterName: inventory.clusterName,
        apiServerEndpoint: inventory.apiServerEndpoint,
    });
    const outputs = pki.stackOutputs();
    const rollout = rolloutSettings.enabled ? new Rollout("rollout", { pki, inventory, settings: rolloutSettings }) : undefined;
    if (rollout) {
        pulumi.log.info(`rollout plan (a step runs only when its node's files change):\n${rollout.planText.join("\n")}`);
    } else {
        pulumi.log.warn("rollout.enabled is false: certificates are planned and reported, nothing is installed on the nodes");
    }
    return {
        cluster: {
            name: inventory.clusterName,
            apiServerEndpoint: inventory.apiServerEndpoint,
            masters: inventory.nodes.filter((n) => n.role === "master").map((n) => n.name),
            agents: inventory.nodes.filter((n) => n.role === "agent").map((n) => n.name),
        },
        // Certificate facts and CA bundles are public; they inherit secrecy from the CA keys they
        // were computed with, which would hide every expiry date from `pulumi stack output`.
        certificates: pulumi.unsecret(outputs.certificates),
        trustBundles: pulumi.unsecret(outputs.trustBundles),
        kubeconfigs: outputs.kubeconfigs,
        certificateProfile: outputs.certificateProfile,
        rolloutPlan: rollout?.planText ?? [],
        // Step outcomes printed by the scripts hold no secret; they inherit secrecy from stdin.
        activity: rollout ? pulumi.unsecret(rollout.activity) : {},
    };
}
