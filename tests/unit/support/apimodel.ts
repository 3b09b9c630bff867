// AKS Engine's apimodel.json as `aks-engine deploy` writes it (vlabs), for tests: the fields this
// program reads, and some it does not read left in (numbers, booleans, empty objects, raw & < > and
// non-ASCII text, as AKS Engine's encoder writes them). Keys and certificates are the caller's, made at
// test time.

/** The VM names' suffix (azuredeploy.json's nameSuffix) of every test apimodel. */
export const SUFFIX = "31415926";

export interface Shape {
    masters: number;
    pools?: { name: string; count: number; osType?: string; availabilityProfile?: string }[];
    jumpbox?: { name: string; username?: string };
}

/** An apimodel as `aks-engine deploy` writes it (vlabs), with the fields this program does not read left in. */
export function apimodel(shape: Shape, certificateProfile: Record<string, string | string[]> = {}): Record<string, unknown> {
    return {
        apiVersion: "vlabs",
        location: "redmond",
        properties: {
            orchestratorProfile: {
                orchestratorType: "Kubernetes",
                orchestratorVersion: "1.23.15",
                kubernetesConfig: {
                    networkPlugin: "kubenet",
                    serviceCidr: "10.0.0.0/16",
                    gchighthreshold: 85,
                    useInstanceMetadata: false,
                    kubeletConfig: { "--max-pods": "110", "--node-status-update-frequency": "10s" },
                    privateCluster: shape.jumpbox ? { enabled: true, jumpboxProfile: { vmSize: "Standard_DS2_v2", publicKey: "ssh-rsa AAAA", ...shape.jumpbox } } : { enabled: false },
                },
            },
            masterProfile: { count: shape.masters, dnsPrefix: "azsprod", vmSize: "Standard_DS2_v2", firstConsecutiveStaticIP: "10.240.255.5", availabilityProfile: "AvailabilitySet", fqdn: "azsprod.redmond.cloudapp.azurestack.contoso.com" },
            agentPoolProfiles: (shape.pools ?? [{ name: "agentpool1", count: 3 }]).map((p) => ({ vmSize: "Standard_DS2_v2", availabilityProfile: "AvailabilitySet", osType: "Linux", ...p })),
            linuxProfile: { adminUsername: "azsadmin", ssh: { publicKeys: [{ keyData: "ssh-rsa AAAA" }] } },
            customCloudProfile: { portalURL: "https://portal.local.azurestack.external/?tenant=a&view=<all>", environment: { name: "AzureStackCloud", serviceManagementVMDNSSuffix: "cloudapp.net" } },
            featureFlags: {},
            certificateProfile,
            aadProfile: { serverAppID: "", adminGroupID: "Zürich admins" },
        },
    };
}
