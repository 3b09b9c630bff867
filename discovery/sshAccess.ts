// SSH as discovery uses it: OpenSSH's client with a config of its own in a private temporary
// directory (the identity from the stack, pinned host keys only, never an agent, the jumpbox as
// ProxyJump for a private cluster), so that nothing of the operator's ~/.ssh is consulted.
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Duplex } from "stream";

export interface SshEndpoint {
    host: string;
    port: number;
    user: string;
    /** "<type> <base64>"; the connection is refused unless the host presents it. */
    hostKey: string;
}

export interface SshAccessOptions {
    user: string;
    /** PEM of the admin's SSH key (the stack's sshPrivateKey): written 0600 into the private directory, removed by close(). */
    privateKey: string;
    /** The jumpbox every connection goes through (private clusters), else none. */
    jumpbox?: SshEndpoint;
}

const SSH_TIMEOUT_MS = 60_000;
const JUMPBOX_ALIAS = "azs-jumpbox";

export class SshAccess {
    private readonly dir: string;
    private readonly knownHosts: string;
    private readonly config: string;
    private readonly pinned = new Map<string, string>();

    constructor(private readonly opts: SshAccessOptions) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "azs-discover-"));
        fs.chmodSync(this.dir, 0o700);
        this.knownHosts = path.join(this.dir, "known_hosts");
        this.config = path.join(this.dir, "config");
        const identity = path.join(this.dir, "id");
        fs.writeFileSync(identity, opts.privateKey.endsWith("\n") ? opts.privateKey : `${opts.privateKey}\n`, { mode: 0o600 });
        const lines = [
            ...(opts.jumpbox
                ? [`Host ${JUMPBOX_ALIAS}`, `  HostName ${opts.jumpbox.host}`, `  Port ${opts.jumpbox.port}`, `  User ${opts.jumpbox.user}`, `  HostKeyAlias ${JUMPBOX_ALIAS}`]
                : []),
            "Host *",
            `  User ${opts.user}`,
            `  IdentityFile ${identity}`,
            "  IdentitiesOnly yes",
            "  IdentityAgent none",
            "  BatchMode yes",
            `  UserKnownHostsFile ${this.knownHosts}`,
            "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes",
            "  UpdateHostKeys no",
            "  ConnectTimeout 15",
            "  ServerAliveInterval 15",
            "  ServerAliveCountMax 4",
            "  LogLevel ERROR",
        ];
        fs.writeFileSync(this.config, `${lines.join("\n")}\n`, { mode: 0o600 });
        if (opts.jumpbox) this.pin(JUMPBOX_ALIAS, opts.jumpbox.hostKey);
    }

    /** Trusts `hostKey` for `host` from now on (a host key discovery scanned, or the stack's). */
    pin(host: string, hostKey: string): void {
        this.pinned.set(host, hostKey);
        fs.writeFileSync(this.knownHosts, [...this.pinned].map(([h, k]) => `${h} ${k}\n`).join(""), { mode: 0o600 });
    }

    private args(host: string): string[] {
        return ["-F", this.config, ...(this.opts.jumpbox && host !== JUMPBOX_ALIAS ? ["-J", JUMPBOX_ALIAS] : []), host];
    }

    private exec(args: string[], what: string, input?: string): Promise<string> {
        return new Promise((resolve, reject) => {
            const child = execFile("ssh", args, { encoding: "utf8", timeout: SSH_TIMEOUT_MS, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
                if (error) reject(new Error(`${what}: ${stderr.trim() || error.message}`));
                else resolve(stdout);
            });
            if (input !== undefined) child.stdin?.end(input);
        });
    }

    /** Runs a command on a pinned node (through the jumpbox if there is one); its stdout. `input` goes to the command's stdin (a script for `bash -s`). */
    run(host: string, command: string, input?: string): Promise<string> {
        return this.exec([...this.args(host), command], `ssh ${host}`, input);
    }

    /**
     * The SSH host keys `hosts` present, as ssh-keyscan sees them from the jumpbox (inside the
     * cluster's network) or, without one, from here: "<host> <type> <base64>" lines.
     */
    scanHostKeys(hosts: string[]): Promise<string> {
        const keyscan = ["ssh-keyscan", "-T", "10", "-t", "ed25519,ecdsa,rsa", ...hosts];
        if (!this.opts.jumpbox) {
            return new Promise((resolve, reject) =>
                execFile(keyscan[0]!, keyscan.slice(1), { encoding: "utf8", timeout: SSH_TIMEOUT_MS }, (error, stdout, stderr) =>
                    error && !stdout ? reject(new Error(`ssh-keyscan: ${stderr.trim() || error.message}`)) : resolve(stdout),
                ),
            );
        }
        // ssh-keyscan exits non-zero when a host does not answer; the caller names the hosts without a key
        return this.exec([...this.args(JUMPBOX_ALIAS), `${keyscan.join(" ")} 2>/dev/null || true`], "ssh-keyscan on the jumpbox");
    }

    /**
     * A byte stream to host:port: through the jumpbox (ssh -W, nothing listens here), or without
     * one a direct connection (null: the caller connects itself).
     */
    tunnel(host: string, port: number): { stream: Duplex; process: ChildProcess; stderr: () => string } | null {
        if (!this.opts.jumpbox) return null;
        const child = spawn("ssh", ["-F", this.config, "-W", `${host}:${port}`, JUMPBOX_ALIAS], { stdio: ["pipe", "pipe", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
        const stream = Duplex.from({ readable: child.stdout, writable: child.stdin });
        // the stream closes with ssh ("Premature close"): what went wrong is in ssh's stderr, which the caller reports
        stream.on("error", () => undefined);
        return { stream, process: child, stderr: () => stderr.trim() };
    }

    /** Removes the private directory (the identity file with it). */
    close(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
