// Reads what the cluster stage acts on (objects.ts) before anything is planned: scripts/list-cluster.sh
// sent over SSH to a master (discovery's SshAccess: the stack's key, pinned host keys, the jumpbox
// for a private cluster) and run there with sudo against that master's apiserver with the
// node's client certificate. Read-only; metadata only.
import * as fs from "fs";
import * as path from "path";
import { SshAccess, SshEndpoint } from "../../discovery/sshAccess";
import { ClusterObjects, parseClusterListing } from "./objects";

export const LIST_CLUSTER_SCRIPT = path.join(__dirname, "scripts", "list-cluster.sh");

export interface ClusterListingInput {
    master: { name: string; ip: string; hostKey: string };
    /** Paths on the master: the CA bundle the apiserver serves under, the client certificate and key. */
    files: { ca: string; cert: string; key: string };
    namespaces: string[];
    user: string;
    sshPrivateKey: string;
    jumpbox?: SshEndpoint;
}

const quoted = (word: string) => `'${word.replace(/'/g, "'\\''")}'`;

/** The cluster's objects in the namespaces; throws naming the master when they cannot be read. */
export async function readClusterObjects(input: ClusterListingInput): Promise<ClusterObjects> {
    const ssh = new SshAccess({ user: input.user, privateKey: input.sshPrivateKey, ...(input.jumpbox ? { jumpbox: input.jumpbox } : {}) });
    try {
        ssh.pin(input.master.ip, input.master.hostKey);
        const args = [`https://${input.master.ip}:443`, input.files.ca, input.files.cert, input.files.key, ...input.namespaces];
        const out = await ssh.run(input.master.ip, ["sudo", "-n", "bash", "-s", "--", ...args.map(quoted)].join(" "), fs.readFileSync(LIST_CLUSTER_SCRIPT, "utf8"));
        return parseClusterListing(out);
    } catch (e) {
        throw new Error(`the cluster stage could not list the workloads of ${input.namespaces.join(", ")} through ${input.master.name}: ${(e as Error).message}`);
    } finally {
        ssh.close();
    }
}
