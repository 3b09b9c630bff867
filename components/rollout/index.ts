// The rollout: the step registry, the plan (pure), the remote scripts' input, the per-node
// components, the ordered whole and its maintenance-window guard.
export { adminKubeconfigFile, Rollout } from "./rollout";
export type { RolloutArgs } from "./rollout";
export { describeRollout, planRollout } from "./plan";
export type { PlanInput, RolloutStep } from "./plan";
export { commandLine, scriptText, stepInput } from "./remoteScript";
export type { InputFile, StepScript } from "./remoteScript";
export { OVERRIDE_ENV, overrideRequested, windowStatus } from "./maintenanceGuard";
