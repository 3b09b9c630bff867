// What the scripts' tests on a scratch tree share: the bash that defines a remote step's functions
// as the node reads them (the platform's script list, components/nodeModel.ts) without running the
// step (its last file's last line is the call), and a step's parameters with the gate stood in for.
import * as path from "path";
import { PLATFORM_SPECS } from "../../../components/nodeModel";
import { StepScript } from "../../../components/rollout/remoteScript";

export const SCRIPTS_DIR = path.resolve(__dirname, "../../../components/rollout/scripts");

export function sourceStepScripts(step: StepScript): string {
    const files = PLATFORM_SPECS.linux.scripts[step].map((f) => path.join(SCRIPTS_DIR, f));
    return files.map((f, i) => (i === files.length - 1 ? `source <(sed '$d' ${f})` : `source ${f}`)).join("; ");
}

/** A step's parameters on master m0 with the stand-in gate `gate_stand_in`, no drain, no precheck, and `given` over them. */
export function standInStepParams(given: { services: string; cert_keys: string; flag_edits: string }): Record<string, string> {
    return {
        node_name: "m0",
        services: given.services,
        health_timeout: "1",
        gate: "gate_stand_in",
        precheck: "",
        before_restart: "",
        drain: "0",
        lb_settle: "0",
        lb_probe_sources: "",
        ca_certs: "/etc/kubernetes/certs/ca.crt",
        cert_keys: given.cert_keys,
        backups_kept: "3",
        flag_edits: given.flag_edits,
    };
}
