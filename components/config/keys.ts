// The documentation of the config keys, in one list: each section writes the rows of its keys next
// to its parser (APIMODEL_KEY_DOCS, APIMODEL_WRITE_BACK_KEY_DOCS, INVENTORY_KEY_DOCS, PKI_KEY_DOCS, ROLLOUT_KEYS, MAINTENANCE_WINDOW_KEY_DOCS, MONITORING_KEY_DOCS) and the keys it accepts (the
// lists its rejectUnknown calls check). README.md's configuration table and Pulumi.yaml are written
// by hand; tests/unit/config/keys.test.ts holds the three against ACCEPTED_KEYS, down to nested keys.
import { APIMODEL_ACCEPTS, APIMODEL_KEY_DOCS } from "./apimodel";
import { APIMODEL_WRITE_BACK_ACCEPTS, APIMODEL_WRITE_BACK_KEY_DOCS } from "./apimodelWriteBack";
import { INVENTORY_ACCEPTS, INVENTORY_KEY_DOCS } from "./inventory";
import { MAINTENANCE_WINDOW_ACCEPTS, MAINTENANCE_WINDOW_KEY_DOCS } from "./maintenanceWindow";
import { MONITORING_ACCEPTS, MONITORING_KEY_DOCS } from "./monitoring";
import { PKI_ACCEPTS, PKI_KEY_DOCS } from "./pki";
import { ROLLOUT_ACCEPTS, ROLLOUT_KEYS } from "./rollout";

export interface ConfigKeyDoc {
    key: string;
    type: string;
    default: string;
    secret?: boolean;
    /** A key holding an object documents its fields as a list "{name, role: …, ip}" in here. */
    description: string;
}

/**
 * The keys a section accepts: "" lists its top-level keys, and each dotted path the fields of the
 * object at that path (of each item, for a list of objects such as nodes).
 */
export type AcceptedKeys = Readonly<Record<string, readonly string[]>>;

/** Every config key the program reads (for the README and Pulumi.yaml). */
export const CONFIG_KEYS: ConfigKeyDoc[] = [...APIMODEL_KEY_DOCS, ...APIMODEL_WRITE_BACK_KEY_DOCS, ...INVENTORY_KEY_DOCS, ...PKI_KEY_DOCS, ...ROLLOUT_KEYS, ...MAINTENANCE_WINDOW_KEY_DOCS, ...MONITORING_KEY_DOCS];

/** Every key the parsers accept, dotted: sshPrivateKey, pki, pki.validity, pki.validity.leafDays, nodes.hostKey … */
export const ACCEPTED_KEYS: string[] = [APIMODEL_ACCEPTS, APIMODEL_WRITE_BACK_ACCEPTS, INVENTORY_ACCEPTS, PKI_ACCEPTS, ROLLOUT_ACCEPTS, MAINTENANCE_WINDOW_ACCEPTS, MONITORING_ACCEPTS].flatMap((section) =>
    Object.entries(section).flatMap(([path, fields]) => fields.map((f) => (path ? `${path}.${f}` : f))),
);
