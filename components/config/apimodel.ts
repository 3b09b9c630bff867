// The cluster as AKS Engine describes it: `apimodelPath` names its _output/<dnsPrefix>/apimodel.json.
// This module reads that file into what the stack config would otherwise type by hand (the
// inventory's names, addresses and pools, and the certificateProfile's CA and service-account key),
// each value with the apimodel field it comes from; apimodelMerge.ts puts them together with the
// typed values. AKS Engine does not store the VM names' suffix in apimodel.json (it derives it from
// a hash of the DNS prefix): it writes it into the ARM template beside it, azuredeploy.json, as the
// default of the `nameSuffix` parameter, which is where it is read from.
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { NodeRole, Platform } from "../nodeModel";
import type { AcceptedKeys, ConfigKeyDoc } from "./keys";
import { checkDnsName, CONFIG_NAMESPACE, ConfigError, Section } from "./reader";

export const APIMODEL_PATH_KEY = "apimodelPath";
export const APIMODEL_EXCLUDE_KEY = "apimodelExcludePools";

/** The keys of this section (see keys.ts). */
export const APIMODEL_ACCEPTS: AcceptedKeys = { "": [APIMODEL_PATH_KEY, APIMODEL_EXCLUDE_KEY] };

/** The documentation of the keys this section reads (see keys.ts). */
export const APIMODEL_KEY_DOCS: ConfigKeyDoc[] = [
    {
        key: APIMODEL_PATH_KEY,
        type: "path",
        default: "unset",
        description:
            "AKS Engine's _output/<dnsPrefix>/apimodel.json (with azuredeploy.json beside it): clusterName, fqdn, loadBalancerIps, adminUsername, privateNetwork, the jumpbox's name and user, every master (name, index, ip) and agent (name, pool) and the adopted Kubernetes CA and service-account key come from it; typed keys must agree with it",
    },
    {
        key: APIMODEL_EXCLUDE_KEY,
        type: "string list",
        default: "[]",
        description: "agent pools of the apimodel the rotation cannot handle (Windows, scale sets) and leaves out, knowingly: their nodes keep their certificates",
    },
];

/** AKS Engine's apimodel (vlabs): the fields this program reads. */
export interface ApiModel {
    properties: {
        orchestratorProfile?: { kubernetesConfig?: { privateCluster?: { enabled?: boolean; jumpboxProfile?: { name: string; username?: string } } } };
        masterProfile: { count: number; dnsPrefix: string; fqdn?: string; firstConsecutiveStaticIP: string; availabilityProfile?: "AvailabilitySet" };
        agentPoolProfiles?: { name: string; count: number; osType?: "Linux" | "Windows"; availabilityProfile: "AvailabilitySet" | "VirtualMachineScaleSets" }[];
        linuxProfile?: { adminUsername?: string };
        certificateProfile?: { caCertificate?: string; caPrivateKey?: string; apiServerPrivateKey?: string };
    };
}

/** A value the apimodel holds, and the field it comes from ("properties.masterProfile.fqdn"). */
export interface ApiModelFact<T = unknown> {
    value: T;
    field: string;
}

export interface ApiModelPool {
    name: string;
    count: number;
    osType: "linux" | "windows";
    availabilityProfile: "AvailabilitySet" | "VirtualMachineScaleSets";
    /** Listed in apimodelExcludePools: its nodes are not in the inventory. */
    excluded: boolean;
}

export type ApiModelNodeField = "role" | "index" | "pool" | "ip" | "platform";

export interface ApiModelNode {
    name: string;
    facts: Partial<Record<ApiModelNodeField, ApiModelFact>>;
}

/** The stack config's values as the apimodel gives them. */
export interface ApiModelCluster {
    /** How messages name the file: "apimodelPath /srv/_output/azsprod/apimodel.json". */
    source: string;
    /** The inventory's top-level keys the apimodel holds. */
    inventory: Partial<Record<"clusterName" | "fqdn" | "loadBalancerIps" | "adminUsername", ApiModelFact>>;
    /** privateCluster.enabled: the nodes are reachable only through a jumpbox. */
    privateCluster: boolean;
    jumpbox?: Partial<Record<"name" | "user", ApiModelFact>>;
    pools: ApiModelPool[];
    /** Masters (by index), then each pool's agents, as AKS Engine names the VMs. */
    nodes: ApiModelNode[];
    certificateProfile: Partial<Record<"caCertificate" | "caPrivateKey" | "apiServerPrivateKey", ApiModelFact<string>>>;
}

const MASTER = "properties.masterProfile";
const CERTIFICATE_PROFILE = "properties.certificateProfile";
const PRIVATE_CLUSTER = "properties.orchestratorProfile.kubernetesConfig.privateCluster";
/** AKS Engine puts the masters' internal load balancer this far after the first master's address (DefaultInternalLbStaticIPOffset). */
const INTERNAL_LB_OFFSET = 10;
/** AKS Engine's jumpbox user when privateCluster.jumpboxProfile.username is empty (DefaultJumpboxUsername). */
const DEFAULT_JUMPBOX_USER = "azureuser";
/** AKS Engine's orchestrator prefix of VM names (K8sOrchestratorName). */
const VM_PREFIX = "k8s";

/** The address `offset` after `ip` in its last octet (how AKS Engine's template counts), or undefined past .254. */
function addToLastOctet(ip: string, offset: number): string | undefined {
    const octets = ip.split(".").map(Number);
    const last = octets[3]! + offset;
    return last <= 254 ? [...octets.slice(0, 3), last].join(".") : undefined;
}

/**
 * The apimodel's fields this program reads, checked: a problem names the field and what AKS Engine
 * writes there. A scale-set master profile is refused: its VMs are named and addressed differently
 * (…vmss00000<i>, IPAddressCount apart), and AKS Engine on Azure Stack Hub uses availability sets.
 */
function checkApiModel(json: unknown, problems: string[]): ApiModel {
    const properties = new Section("properties", (json as { properties?: unknown } | null)?.properties, problems);
    const master = properties.section("masterProfile");
    if (!master.has("count")) master.report("count", "required");
    const masterProfile: ApiModel["properties"]["masterProfile"] = {
        count: master.oneOf("count", [1, 3, 5] as const, 1),
        dnsPrefix: master.string("dnsPrefix", undefined, (s) => (/^[a-z][a-z0-9-]{0,44}$/i.test(s) ? undefined : "must be an AKS Engine DNS prefix")),
        fqdn: master.string("fqdn", "", checkDnsName) || undefined,
        firstConsecutiveStaticIP: master.string("firstConsecutiveStaticIP", undefined, (s) => (net.isIPv4(s) ? undefined : "must be an IPv4 address")),
        availabilityProfile: master.oneOf("availabilityProfile", ["AvailabilitySet"] as const, "AvailabilitySet"),
    };
    const agentPoolProfiles = (properties.has("agentPoolProfiles") ? properties.objectList("agentPoolProfiles") : []).map((p) => {
        if (!p.has("availabilityProfile")) p.report("availabilityProfile", "required (AKS Engine writes it into the apimodel it deployed)");
        return {
            name: p.string("name", undefined, (s) => (/^[a-z][a-z0-9]{0,11}$/.test(s) ? undefined : "must be an AKS Engine pool name")),
            count: p.int("count", 0, 0, 1000),
            osType: p.oneOf("osType", ["Linux", "Windows"] as const, "Linux"),
            availabilityProfile: p.oneOf("availabilityProfile", ["AvailabilitySet", "VirtualMachineScaleSets"] as const, "AvailabilitySet"),
        };
    });
    const privateCluster = properties.section("orchestratorProfile").section("kubernetesConfig").section("privateCluster");
    const jumpbox = privateCluster.has("jumpboxProfile") ? privateCluster.section("jumpboxProfile") : undefined;
    const profile = properties.section("certificateProfile");
    // read here, not with Section.string: its problems quote the value, and these hold private keys
    const profileValues = ((json as { properties?: { certificateProfile?: unknown } } | null)?.properties?.certificateProfile ?? {}) as Record<string, unknown>;
    const pem = (name: string): string | undefined => {
        const value = profileValues[name];
        if (value === undefined || value === "") return undefined;
        // AKS Engine also takes a Key Vault secret's ID here; this program reads PEM values only
        if (typeof value === "string" && value.startsWith("/subscriptions/")) profile.report(name, "is a Key Vault reference; put the PEM value into the apimodel (AKS Engine's own commands read it there too)");
        else if (typeof value !== "string" || !value.includes("-----BEGIN ")) profile.report(name, "must be a PEM value (not quoted here: it may hold a private key)");
        else return value;
        return undefined;
    };
    return {
        properties: {
            orchestratorProfile: {
                kubernetesConfig: {
                    privateCluster: {
                        enabled: privateCluster.bool("enabled", false),
                        ...(jumpbox ? { jumpboxProfile: { name: jumpbox.string("name", undefined, checkDnsName), username: jumpbox.string("username", "", () => undefined) || undefined } } : {}),
                    },
                },
            },
            masterProfile,
            agentPoolProfiles,
            linuxProfile: { adminUsername: properties.section("linuxProfile").string("adminUsername", "", (s) => (/^[a-z_][a-z0-9_-]{0,31}$/.test(s) ? undefined : "must be a Linux user name")) || undefined },
            certificateProfile: { caCertificate: pem("caCertificate"), caPrivateKey: pem("caPrivateKey"), apiServerPrivateKey: pem("apiServerPrivateKey") },
        },
    };
}

/**
 * The cluster described by an apimodel (its JSON, parsed) and the name suffix of its VMs. Throws a
 * ConfigError naming the source and every field that is missing or not what AKS Engine writes;
 * a Windows or scale-set pool is refused unless `excludedPools` lists it.
 */
export function parseApiModel(json: unknown, nameSuffix: string, source: string, excludedPools: readonly string[] = []): ApiModelCluster {
    const problems: string[] = [];
    const { properties } = checkApiModel(json, problems);
    const { count: masterCount, firstConsecutiveStaticIP: firstIp } = properties.masterProfile;
    if (firstIp && !addToLastOctet(firstIp, masterCount - 1 + (masterCount > 1 ? INTERNAL_LB_OFFSET : 0))) {
        problems.push(`${MASTER}.firstConsecutiveStaticIP: ${firstIp}: the masters and the internal load balancer (+${INTERNAL_LB_OFFSET}) do not fit before .255`);
    }
    const pools = (properties.agentPoolProfiles ?? []).map(
        (p): ApiModelPool => ({ name: p.name, count: p.count, osType: p.osType === "Windows" ? "windows" : "linux", availabilityProfile: p.availabilityProfile, excluded: excludedPools.includes(p.name) }),
    );
    problems.push(...poolProblems(pools, excludedPools));
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `${source}: ${p}`));

    const masters: ApiModelNode[] = Array.from({ length: masterCount }, (_, i) => ({
        name: `${VM_PREFIX}-master-${nameSuffix}-${i}`,
        facts: {
            role: { value: "master" satisfies NodeRole, field: `${MASTER}.count` },
            index: { value: i, field: `${MASTER}.count` },
            pool: { value: "master", field: MASTER },
            ip: { value: addToLastOctet(firstIp, i), field: `${MASTER}.firstConsecutiveStaticIP${i > 0 ? ` + ${i}` : ""}` },
            platform: { value: "linux" satisfies Platform, field: MASTER },
        },
    }));
    const agents: ApiModelNode[] = pools.flatMap((pool, p) =>
        pool.excluded
            ? []
            : Array.from({ length: pool.count }, (_, i) => ({
                  // availability-set VMs: k8s-<pool>-<nameSuffix>-<i> (AKS Engine's GetAgentVMPrefix)
                  name: `${VM_PREFIX}-${pool.name}-${nameSuffix}-${i}`,
                  facts: {
                      role: { value: "agent" satisfies NodeRole, field: `properties.agentPoolProfiles[${p}]` },
                      pool: { value: pool.name, field: `properties.agentPoolProfiles[${p}].name` },
                      platform: { value: "linux" satisfies Platform, field: `properties.agentPoolProfiles[${p}].osType` },
                  },
              })),
    );
    const { fqdn, dnsPrefix } = properties.masterProfile;
    const adminUsername = properties.linuxProfile?.adminUsername;
    const privateCluster = properties.orchestratorProfile?.kubernetesConfig?.privateCluster;
    const jumpbox = privateCluster?.jumpboxProfile;
    const certificateProfile: ApiModelCluster["certificateProfile"] = {};
    for (const [name, value] of Object.entries(properties.certificateProfile ?? {}) as [keyof ApiModelCluster["certificateProfile"], string | undefined][]) {
        if (value) certificateProfile[name] = { value, field: `${CERTIFICATE_PROFILE}.${name}` };
    }
    return {
        source,
        inventory: {
            clusterName: { value: dnsPrefix.toLowerCase(), field: `${MASTER}.dnsPrefix` },
            ...(fqdn ? { fqdn: { value: fqdn, field: `${MASTER}.fqdn` } } : {}),
            // one master has no internal load balancer: the apiserver address is the master's own
            loadBalancerIps: { value: masterCount > 1 ? [addToLastOctet(firstIp, INTERNAL_LB_OFFSET)] : [], field: `${MASTER}.firstConsecutiveStaticIP + ${INTERNAL_LB_OFFSET} (the internal load balancer)` },
            ...(adminUsername ? { adminUsername: { value: adminUsername, field: "properties.linuxProfile.adminUsername" } } : {}),
        },
        privateCluster: privateCluster?.enabled === true,
        ...(jumpbox
            ? {
                  jumpbox: {
                      name: { value: jumpbox.name, field: `${PRIVATE_CLUSTER}.jumpboxProfile.name` },
                      user: { value: jumpbox.username ?? DEFAULT_JUMPBOX_USER, field: `${PRIVATE_CLUSTER}.jumpboxProfile.username` },
                  },
              }
            : {}),
        pools,
        nodes: [...masters, ...agents],
        certificateProfile,
    };
}

/** Pools the node model cannot run, unless excluded, and exclusions that name no such pool. */
function poolProblems(pools: ApiModelPool[], excludedPools: readonly string[]): string[] {
    const problems: string[] = [];
    pools.forEach((pool, i) => {
        const unsupported =
            pool.osType === "windows"
                ? "osType Windows: Windows nodes are not supported yet (the node model runs Linux nodes only)"
                : pool.availabilityProfile === "VirtualMachineScaleSets"
                  ? "a scale set: its instances' names are not derivable from the apimodel, and scale-set pools are not supported yet"
                  : undefined;
        if (unsupported && !pool.excluded) {
            problems.push(
                `properties.agentPoolProfiles[${i}] (pool ${pool.name}): ${unsupported}; to rotate the other nodes and leave this pool's on their current certificates ` +
                    `(a CA rotation would cut them off), list it in ${CONFIG_NAMESPACE}:${APIMODEL_EXCLUDE_KEY}`,
            );
        }
        if (!unsupported && pool.excluded) problems.push(`${APIMODEL_EXCLUDE_KEY}: pool ${pool.name} is a Linux availability-set pool the rotation handles; only Windows and scale-set pools may be left out`);
    });
    for (const name of excludedPools) if (!pools.some((p) => p.name === name)) problems.push(`${APIMODEL_EXCLUDE_KEY}: the apimodel has no pool ${name} (pools: ${pools.map((p) => p.name).join(", ") || "none"})`);
    return problems;
}

/** Reads the JSON file `file`; a problem names the key, the path and what is wrong. */
function readJson(file: string, what: string): unknown {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (e) {
        throw new ConfigError([`${APIMODEL_PATH_KEY}: cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
    }
    try {
        return JSON.parse(text);
    } catch (e) {
        throw new ConfigError([`${APIMODEL_PATH_KEY}: ${what} ${file} is not valid JSON: ${(e as Error).message}`]);
    }
}

/** The apimodel at `file` and the name suffix from the azuredeploy.json beside it. */
export function readApiModelFile(file: string, excludedPools: readonly string[] = []): ApiModelCluster {
    const json = readJson(file, "the apimodel");
    const templateFile = path.join(path.dirname(file), "azuredeploy.json");
    const template = readJson(templateFile, "the ARM template AKS Engine writes beside the apimodel (the VM names' suffix)");
    const nameSuffix = (template as { parameters?: { nameSuffix?: { defaultValue?: unknown } } } | null)?.parameters?.nameSuffix?.defaultValue;
    if (typeof nameSuffix !== "string" || !/^[a-z0-9]+$/i.test(nameSuffix)) {
        throw new ConfigError([`${APIMODEL_PATH_KEY}: ${templateFile}: parameters.nameSuffix.defaultValue must hold the VM names' suffix (k8s-master-<suffix>-0), got ${JSON.stringify(nameSuffix)}`]);
    }
    return parseApiModel(json, nameSuffix, `${APIMODEL_PATH_KEY} ${file}`, excludedPools);
}

/** The apimodel the stack names, or undefined when apimodelPath is unset ("", Pulumi.yaml's default). */
export function readApiModelConfig(config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE)): ApiModelCluster | undefined {
    const file = config.get(APIMODEL_PATH_KEY) || undefined;
    const problems: string[] = [];
    let excluded: string[] = [];
    try {
        excluded = new Section("", { [APIMODEL_EXCLUDE_KEY]: config.getObject<unknown>(APIMODEL_EXCLUDE_KEY) }, problems).stringList(APIMODEL_EXCLUDE_KEY, () => undefined);
    } catch {
        problems.push(`${APIMODEL_EXCLUDE_KEY}: not valid YAML/JSON`);
    }
    if (file === undefined && excluded.length > 0) problems.push(`${APIMODEL_EXCLUDE_KEY}: set without ${APIMODEL_PATH_KEY}`);
    if (problems.length > 0) throw new ConfigError(problems);
    return file === undefined ? undefined : readApiModelFile(path.resolve(file), excluded);
}
