// `apimodelWriteBack`: whether a successful `pulumi up` writes the new certificateProfile into the
// apimodel.json that `apimodelPath` names (the writing is components/apimodel/). Checked here, before
// any resource: it needs apimodelPath, and the file and its directory (the backup and the temporary
// file go beside it) must be writable.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { APIMODEL_PATH_KEY } from "./apimodel";
import type { AcceptedKeys, ConfigKeyDoc } from "./keys";
import { CONFIG_NAMESPACE, ConfigError, Section } from "./reader";

export const APIMODEL_WRITE_BACK_KEY = "apimodelWriteBack";

/** The keys of this section (see keys.ts). */
export const APIMODEL_WRITE_BACK_ACCEPTS: AcceptedKeys = { "": [APIMODEL_WRITE_BACK_KEY] };

/** The documentation of the key this section reads (see keys.ts). */
export const APIMODEL_WRITE_BACK_KEY_DOCS: ConfigKeyDoc[] = [
    {
        key: APIMODEL_WRITE_BACK_KEY,
        type: "boolean",
        default: "false",
        description:
            "after a successful pulumi up, write the new certificateProfile into the apimodelPath file (a 0600 timestamped backup beside it first, then an atomic replace, mode 0600), so aks-engine scale and upgrade use the new certificates; refused with a warning while a CA rotation keeps two generations trusted",
    },
];

/** Where a successful up writes the certificateProfile. */
export interface ApiModelWriteBack {
    /** The apimodel.json, absolute. */
    file: string;
}

/** Why the file or its directory cannot be written, or undefined. */
function unwritable(file: string): string | undefined {
    for (const [target, what] of [
        [file, "the file"],
        [path.dirname(file), "its directory (the backup and the temporary file are written beside it)"],
    ] as const) {
        try {
            fs.accessSync(target, fs.constants.W_OK);
        } catch (e) {
            return `${what} ${target} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
        }
    }
    return undefined;
}

/** The write-back the stack asks for, or undefined when apimodelWriteBack is false. Throws a ConfigError naming both keys. */
export function readApiModelWriteBackConfig(config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE)): ApiModelWriteBack | undefined {
    const problems: string[] = [];
    const enabled = new Section("", { [APIMODEL_WRITE_BACK_KEY]: config.get(APIMODEL_WRITE_BACK_KEY) }, problems).bool(APIMODEL_WRITE_BACK_KEY, false);
    if (problems.length > 0) throw new ConfigError(problems);
    if (!enabled) return undefined;
    const apimodelPath = config.get(APIMODEL_PATH_KEY) || undefined;
    if (apimodelPath === undefined) {
        throw new ConfigError([`${APIMODEL_WRITE_BACK_KEY}: true needs ${APIMODEL_PATH_KEY}, the apimodel.json to write the certificateProfile into; set ${APIMODEL_PATH_KEY} or set ${APIMODEL_WRITE_BACK_KEY} to false`]);
    }
    const file = path.resolve(apimodelPath);
    const why = unwritable(file);
    if (why) throw new ConfigError([`${APIMODEL_WRITE_BACK_KEY}: the certificateProfile cannot be written back into ${APIMODEL_PATH_KEY} ${file}: ${why}`]);
    return { file };
}
