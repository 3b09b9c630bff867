// Stack configuration: reading and validation with clear errors, before any resource exists.
// One file per section (inventory.ts, pki.ts, rollout.ts, maintenanceWindow.ts, monitoring.ts); each has a pure parser (raw values in,
// typed settings or a ConfigError out), a reader over pulumi.Config, the lists of the keys it
// accepts and the documentation rows of its keys (gathered in keys.ts). reader.ts is the checked
// reader they share. A new section: a file like those, its rows and accepted keys in keys.ts, a
// field in StackConfig, and its keys in README.md and Pulumi.yaml (tests/unit/config/keys.test.ts).
// apimodel.ts reads the cluster from AKS Engine's apimodel.json when `apimodelPath` names one, and
// apimodelMerge.ts puts its values under the inventory's and the pki section's typed ones;
// apimodelWriteBack.ts checks whether a successful up may write the certificateProfile back into it.
// stack.ts checks the sections against each other (probe sources, maxUnavailable and
// maxUnavailablePerPool against the inventory) and the host keys, once each section parsed.
import * as pulumi from "@pulumi/pulumi";
import { PkiSettings } from "../pki/settings";
import { readApiModelConfig } from "./apimodel";
import { ApiModelWriteBack, readApiModelWriteBackConfig } from "./apimodelWriteBack";
import { InventorySettings, readInventoryConfig } from "./inventory";
import { readMaintenanceWindowConfig } from "./maintenanceWindow";
import { PrometheusRuleSettings, readMonitoringConfig } from "./monitoring";
import { ParseOptions, readPkiConfig } from "./pki";
import { CONFIG_NAMESPACE, ConfigError } from "./reader";
import { readRolloutConfig, RolloutSettings } from "./rollout";
import { stackProblems } from "./stack";
import type { MaintenanceWindow } from "../rollout/maintenanceWindow";

export { ConfigError, CONFIG_NAMESPACE } from "./reader";
export { readApiModelConfig, readApiModelFile } from "./apimodel";
export type { ApiModel, ApiModelCluster } from "./apimodel";
export type { ApiModelWriteBack } from "./apimodelWriteBack";
export { CONFIG_KEYS } from "./keys";
export { INVENTORY_KEYS, parseInventoryConfig, readInventoryConfig } from "./inventory";
export type { InventoryNode, InventorySettings } from "./inventory";
export { MAINTENANCE_WINDOW_KEY, parseMaintenanceWindowConfig } from "./maintenanceWindow";
export { parseMonitoringConfig } from "./monitoring";
export type { PrometheusRuleSettings } from "./monitoring";
export { parsePkiConfig, readPkiConfig } from "./pki";
export type { AdoptionInput, ParseOptions } from "./pki";
export { parseRolloutConfig, ROLLOUT_KEYS } from "./rollout";
export type { RolloutSettings } from "./rollout";
export { stackProblems } from "./stack";

export interface StackConfig {
    inventory: InventorySettings;
    pki: PkiSettings;
    rollout: RolloutSettings;
    /** When `pulumi up` may change the nodes; undefined: always. */
    maintenanceWindow?: MaintenanceWindow;
    /** Where a successful up writes the certificateProfile back; undefined: apimodelWriteBack is false. */
    apimodelWriteBack?: ApiModelWriteBack;
    /** Where the certificate alert rules go as a PrometheusRule; undefined: monitoring.prometheusRule is false. */
    prometheusRule?: PrometheusRuleSettings;
}

/** Every section, validated, and checked against each other (stack.ts). Call first in index.ts: a ConfigError stops the program before any resource. */
export function readStackConfig(config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE), opts: ParseOptions = {}): StackConfig {
    const problems: string[] = [];
    const collect = <T>(read: () => T): T | undefined => {
        try {
            return read();
        } catch (e) {
            if (!(e instanceof ConfigError)) throw e;
            problems.push(...e.problems);
            return undefined;
        }
    };
    // a bad apimodel stops here: every section would report its absence
    const apiModel = readApiModelConfig(config);
    const inventory = collect(() => readInventoryConfig(config, apiModel));
    const pki = collect(() => readPkiConfig(config, opts, apiModel));
    const rollout = collect(() => readRolloutConfig(config));
    const maintenanceWindow = collect(() => readMaintenanceWindowConfig(config));
    const apimodelWriteBack = collect(() => readApiModelWriteBackConfig(config));
    const prometheusRule = collect(() => readMonitoringConfig(config));
    if (inventory && rollout) problems.push(...stackProblems(inventory, rollout));
    if (problems.length > 0 || !inventory || !pki || !rollout) throw new ConfigError(problems);
    return { inventory, pki, rollout, ...(maintenanceWindow ? { maintenanceWindow } : {}), ...(apimodelWriteBack ? { apimodelWriteBack } : {}), ...(prometheusRule ? { prometheusRule } : {}) };
}
