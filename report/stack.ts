// What the expiry report knows of a stack before it reads any node: its config through the Pulumi
// CLI (discovery's readStackValues: secrets in memory only), parsed by the program's own parsers
// (the inventory with the apimodel's values when apimodelPath is set, the pki section for warnDays
// and the catalog's layout), and its outputs (`pulumi stack output --json`, no secrets asked for):
// the `nodeFiles` output says what each node should hold.
import * as path from "path";
import { readApiModelFile } from "../components/config/apimodel";
import { inventoryFromValues, InventorySettings } from "../components/config/inventory";
import { parsePkiConfig } from "../components/config/pki";
import { ConfigError } from "../components/config/reader";
import type { CatalogOptions } from "../components/pki/catalog";
import type { SanSettings } from "../components/pki/instances";
import { NodeFilesOutput, parseNodeFilesOutput } from "../components/pki/stackOutputs";
import { runPulumi, StackRef } from "../discovery/stackFile";

export interface ReportContext {
    inventory: InventorySettings;
    warnDays: number;
    catalog: CatalogOptions;
    sans: SanSettings;
    /** The admin's SSH key (the stack's sshPrivateKey), kept in memory; SshAccess writes it 0600 into its private directory. */
    sshPrivateKey: string;
    /** The stack's nodeFiles output; undefined when the stack has none (never deployed, or by a version before it). */
    nodeFiles?: NodeFilesOutput;
}

/** The stack's outputs as `pulumi stack output --json` prints them (secret ones as "[secret]"). */
export async function readStackOutputs(stack: StackRef): Promise<Record<string, unknown>> {
    const stdout = await runPulumi(stack, ["stack", "output", "--json"]);
    try {
        return JSON.parse(stdout || "{}") as Record<string, unknown>;
    } catch (e) {
        throw new Error(`pulumi stack output (stack ${stack.name}): not JSON: ${(e as Error).message}`);
    }
}

/**
 * The report's view of a stack from its config values (readStackValues) and outputs: the
 * inventory as the program reads it (apimodelPath relative to the project directory), warnDays and
 * the catalog's layout from the pki section, the SSH key. A ConfigError names every problem.
 */
export function reportContext(stack: StackRef, values: Record<string, unknown>, outputs: Record<string, unknown>): ReportContext {
    const excluded = Array.isArray(values.apimodelExcludePools) ? values.apimodelExcludePools.map(String) : [];
    const apiModel = typeof values.apimodelPath === "string" ? readApiModelFile(path.resolve(stack.dir, values.apimodelPath), excluded) : undefined;
    const problems: string[] = [];
    let inventory: InventorySettings | undefined;
    let pki: ReturnType<typeof parsePkiConfig>["value"] | undefined;
    try {
        inventory = inventoryFromValues(values, apiModel);
    } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        problems.push(...e.problems);
    }
    try {
        // the adopted CAs are not needed here: warnDays, the layout and the SANs are
        pki = parsePkiConfig(values.pki, {}).value;
    } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        problems.push(...e.problems);
    }
    if (typeof values.sshPrivateKey !== "string") problems.push("sshPrivateKey: not set (pulumi config set --secret azs-cert-rotation:sshPrivateKey < <key file>)");
    if (problems.length > 0 || !inventory || !pki) throw new ConfigError(problems);
    const nodeFiles = parseNodeFilesOutput(outputs.nodeFiles);
    return { inventory, warnDays: pki.warnDays, catalog: pki.catalog, sans: pki.sans, sshPrivateKey: values.sshPrivateKey as string, ...(nodeFiles ? { nodeFiles } : {}) };
}
