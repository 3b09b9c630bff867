// The cluster's Nodes as its apiserver lists them, read with the admin credentials of AKS Engine's
// kubeconfig (_output/<dnsPrefix>/kubeconfig/kubeconfig.<location>.json): through the jumpbox for a
// private cluster, the server's certificate verified against the kubeconfig's CA and host name.
import * as https from "https";
import * as net from "net";
import * as tls from "tls";
import { parse as parseYaml } from "yaml";
import type { SshAccess } from "./sshAccess";

export interface LiveNode {
    name: string;
    internalIp?: string;
    /** The Node's `agentpool` label (AKS Engine sets it to the pool's name). */
    pool?: string;
    operatingSystem?: string;
}

export interface AdminCredentials {
    server: URL;
    ca: string;
    cert: string;
    key: string;
}

type Kubeconfig = {
    "current-context"?: string;
    contexts?: { name: string; context: { cluster: string; user: string } }[];
    clusters?: { name: string; cluster: { server: string; "certificate-authority-data"?: string } }[];
    users?: { name: string; user: { "client-certificate-data"?: string; "client-key-data"?: string } }[];
};

/** The current context's server, CA and client certificate of a kubeconfig (JSON or YAML, data embedded, as AKS Engine writes it). */
export function adminCredentials(text: string, file: string): AdminCredentials {
    const config = parseYaml(text) as Kubeconfig;
    const context = config.contexts?.find((c) => c.name === config["current-context"])?.context ?? config.contexts?.[0]?.context;
    const cluster = config.clusters?.find((c) => c.name === context?.cluster)?.cluster;
    const user = config.users?.find((u) => u.name === context?.user)?.user;
    const data = (value: string | undefined, what: string): string => {
        if (!value) throw new Error(`${file}: the current context has no ${what} (discovery needs the admin kubeconfig AKS Engine writes, with embedded data)`);
        return Buffer.from(value, "base64").toString("utf8");
    };
    if (!cluster?.server) throw new Error(`${file}: the current context has no cluster server`);
    return { server: new URL(cluster.server), ca: data(cluster["certificate-authority-data"], "certificate-authority-data"), cert: data(user?.["client-certificate-data"], "client-certificate-data"), key: data(user?.["client-key-data"], "client-key-data") };
}

/**
 * GET /api/v1/nodes on `address` (the load balancer, reached through the jumpbox when there is
 * one), the certificate checked for the kubeconfig's server name. A status other than 200 is an error.
 */
export async function listLiveNodes(credentials: AdminCredentials, address: { host: string; port: number }, ssh: SshAccess): Promise<LiveNode[]> {
    const serverName = credentials.server.hostname.replace(/^\[|\]$/g, "");
    const tunnel = ssh.tunnel(address.host, address.port);
    try {
        const tlsOptions: tls.ConnectionOptions = {
            ca: credentials.ca,
            cert: credentials.cert,
            key: credentials.key,
            ...(net.isIP(serverName) ? {} : { servername: serverName }),
            checkServerIdentity: (_host, cert) => tls.checkServerIdentity(serverName, cert),
        };
        const body = await new Promise<string>((resolve, reject) => {
            const request = https.request(
                {
                    host: address.host,
                    port: address.port,
                    path: "/api/v1/nodes",
                    method: "GET",
                    ...tlsOptions,
                    timeout: 30_000,
                    agent: false,
                    ...(tunnel ? { createConnection: () => tls.connect({ ...tlsOptions, socket: tunnel.stream }) } : {}),
                },
                (response) => {
                    let text = "";
                    response.setEncoding("utf8");
                    response.on("data", (chunk: string) => (text += chunk));
                    response.on("end", () => (response.statusCode === 200 ? resolve(text) : reject(new Error(`GET /api/v1/nodes answered ${response.statusCode}: ${text.slice(0, 200)}`))));
                },
            );
            request.on("timeout", () => request.destroy(new Error("GET /api/v1/nodes: no answer within 30 s")));
            request.on("error", reject);
            request.end();
        });
        type NodeList = { items: { metadata: { name: string; labels?: Record<string, string> }; status?: { addresses?: { type: string; address: string }[]; nodeInfo?: { operatingSystem?: string } } }[] };
        return (JSON.parse(body) as NodeList).items.map((item) => ({
            name: item.metadata.name,
            internalIp: item.status?.addresses?.find((a) => a.type === "InternalIP")?.address,
            pool: item.metadata.labels?.agentpool,
            operatingSystem: item.status?.nodeInfo?.operatingSystem,
        }));
    } catch (e) {
        const ssh = tunnel?.stderr() ? ` (ssh: ${tunnel.stderr()})` : "";
        throw new Error(`reading the cluster's Nodes from ${credentials.server.href} (${address.host}:${address.port}${tunnel ? " through the jumpbox" : ""}): ${(e as Error).message}${ssh}`);
    } finally {
        tunnel?.process.kill();
    }
}
