// The cluster PKI: catalog (one table of every certificate), components, rotation planning, reports.
export * from "./catalog";
export * from "./settings";
export * from "./resolve";
export * from "./rotation";
export * from "./x509";
export * from "./report";
export * from "./certificateAuthority";
export * from "./leafCertificate";
export * from "./serviceAccountKey";
export * from "./clusterPki";
