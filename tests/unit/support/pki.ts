// Builds a ClusterPki under mocks from a pki config object.
import * as pulumi from "@pulumi/pulumi";
import { AdoptionInput, parsePkiConfig } from "../../../components/config";
import { PkiInventory } from "../../../components/pki/instances";
import { ClusterPki } from "../../../components/pki/clusterPki";
import { nodeFiles } from "../../../components/pki/nodeFiles";
import { CaGenerations, PkiSettings } from "../../../components/pki/settings";
import { inventory3x3, promiseOf, Registration, runMocked } from "./mocks";

export function settingsOf(raw: unknown, adoption: AdoptionInput = {}): PkiSettings {
    return parsePkiConfig(raw, adoption).value;
}

/** Every output of the PKI: awaiting it means every resource was registered. */
export function everything(pki: ClusterPki): pulumi.Output<unknown> {
    const outputs: pulumi.Output<unknown>[] = [
        ...Object.values(pki.generations).flatMap((g) => [...g.values()].map((c) => c.certPem)),
        ...pki.stages.flatMap((_, k) => pki.resolved.inventory.nodes.flatMap((n) => nodeFiles(pki, n.name, k).map((f) => f.content))),
        ...Object.values(pki.leaves).map((l) => l.certPem),
        ...Object.values(pki.keyPairs).map((k) => k.publicKeyPem),
        pki.kubeconfigs,
    ];
    return pulumi.all(outputs);
}

export async function runPki(settings: PkiSettings, inventory: PkiInventory = inventory3x3(), caStages?: CaGenerations[]): Promise<{ pki: ClusterPki; registrations: Registration[] }> {
    const { result, registrations } = await runMocked(
        () => new ClusterPki("pki", { settings, inventory, clusterName: "azstb", caStages }),
        (pki) => promiseOf(everything(pki)),
    );
    return { pki: result, registrations };
}
