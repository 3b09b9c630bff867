// The rollout: plan (pure), remote scripts, per-node components and the ordered whole.
export * from "./plan";
export * from "./remoteScript";
export * from "./nodeCertificates";
export * from "./rollout";
