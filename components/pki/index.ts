// The cluster PKI: catalog (one table of every certificate), components, rotation planning, reports.
// What modules outside components/pki use of it.
export { pkiInventoryFrom } from "./instances";
export { KUBECONFIG_CATALOG } from "./kubeconfigs";
export { ClusterPki } from "./clusterPki";
export { CLUSTER_PKI_NAME } from "./names";
export { installsLeaves, instancesAt, kubeconfig, nodeFiles } from "./nodeFiles";
export { expectedNodeFiles, stackOutputs } from "./stackOutputs";
export type { ExpectedNodeFile, NodeFilesOutput } from "./stackOutputs";
