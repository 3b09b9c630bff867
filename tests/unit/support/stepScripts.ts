// The bash that defines a remote step's functions as the node reads them (the platform's script
// list, components/nodeModel.ts), without running the step: its last file's last line is the call.
import * as path from "path";
import { PLATFORM_SPECS } from "../../../components/nodeModel";
import { StepScript } from "../../../components/rollout/remoteScript";

export const SCRIPTS_DIR = path.resolve(__dirname, "../../../components/rollout/scripts");

export function sourceStepScripts(step: StepScript): string {
    const files = PLATFORM_SPECS.linux.scripts[step].map((f) => path.join(SCRIPTS_DIR, f));
    return files.map((f, i) => (i === files.length - 1 ? `source <(sed '$d' ${f})` : `source ${f}`)).join("; ");
}
