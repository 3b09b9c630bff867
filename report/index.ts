// npm run report -- --stack <name> [--json] [--html FILE] [--cwd <project dir>]
//
// The certificates on the nodes themselves, read over SSH (through the jumpbox for a private
// cluster) with one read-only script, against what the stack's state says each node holds and the
// clock: subject, issuer, SANs, validity, days left, SHA-256, whether the key beside each matches
// (the key's hash is computed on the node) and whether it is the state's. A table by default, JSON
// (schema version 1, README "Expiry report") with --json; with --html FILE also a self-contained
// HTML page of the same report with a timeline (report/html.ts).
// Exit codes: 0 healthy; 1 something due (less than pki.warnDays left); 2 expired, drifted, a key
// that does not match, an expected file missing or unreadable, or a node not read; 3 no report
// (bad arguments, the stack's config or outputs unreadable, the HTML page not written).
import * as fs from "fs";
import * as path from "path";
import { SshAccess } from "../discovery/sshAccess";
import { readStackValues, StackRef } from "../discovery/stackFile";
import { pkiInventoryFrom } from "../components/pki/instances";
import { classify, Report } from "./classify";
import { collect } from "./collect";
import { renderHtml } from "./html";
import { renderJson, renderTable } from "./render";
import { readStackOutputs, reportContext } from "./stack";
import { catalogTargets, targetsFor } from "./targets";

export interface ReportOptions {
    stack: StackRef;
    json: boolean;
    /** Where to write the HTML page, if at all. */
    html?: string;
}

const USAGE = "usage: npm run report -- --stack <name> [--json] [--html FILE] [--cwd <project dir>]";

export class UsageError extends Error {}

export function parseArgs(argv: string[], defaultDir = path.resolve(__dirname, "..")): ReportOptions {
    let name: string | undefined;
    let dir = defaultDir;
    let json = false;
    let html: string | undefined;
    const fail = (message: string): never => {
        throw new UsageError(`${message}\n${USAGE}`);
    };
    for (let i = 0; i < argv.length; i++) {
        const value = () => argv[++i] ?? fail(`${argv[i - 1]} needs a value`);
        switch (argv[i]) {
            case "--stack": name = value(); break;
            case "--cwd": dir = path.resolve(value()); break;
            case "--json": json = true; break;
            // relative to where npm was run (npm run runs the script in the project directory)
            case "--html": html = path.resolve(process.env.INIT_CWD ?? process.cwd(), value()); break;
            default: fail(`unknown argument ${argv[i]}`);
        }
    }
    if (!name) fail("--stack <name> is required");
    return { stack: { name: name!, dir }, json, ...(html ? { html } : {}) };
}

/** Reads the stack and every node and classifies what was found. */
export async function makeReport(stack: StackRef, now: () => Date = () => new Date()): Promise<Report> {
    const [values, outputs] = await Promise.all([readStackValues(stack), readStackOutputs(stack)]);
    const ctx = reportContext(stack, values, outputs);
    const { inventory } = ctx;
    const pkiInventory = pkiInventoryFrom(inventory);
    const nodes = inventory.nodes.map((n) => ({
        ...n,
        targets: targetsFor({ node: n.name, role: n.role, adminUser: inventory.adminUsername, catalog: catalogTargets(ctx.catalog, pkiInventory, ctx.sans, n.name), stateFiles: ctx.nodeFiles?.[n.name] }),
    }));
    const jumpbox = inventory.privateNetwork ? inventory.jumpbox : undefined;
    const ssh = new SshAccess({ user: inventory.adminUsername, privateKey: ctx.sshPrivateKey, ...(jumpbox ? { jumpbox } : {}) });
    try {
        process.stderr.write(`report: reading ${nodes.length} nodes of stack ${stack.name} ${jumpbox ? `through the jumpbox ${jumpbox.host}` : "directly"}\n`);
        const readings = await collect(ssh, nodes);
        return classify({
            stack: stack.name,
            warnDays: ctx.warnDays,
            now: now(),
            nodes: nodes.map((n, i) => ({ name: n.name, role: n.role, ip: n.ip, targets: n.targets, reading: readings[i]! })),
        });
    } finally {
        ssh.close();
    }
}

if (require.main === module) {
    let opts: ReportOptions;
    try {
        opts = parseArgs(process.argv.slice(2));
    } catch (e) {
        console.error(`report: ${(e as Error).message}`);
        process.exit(3);
    }
    makeReport(opts.stack).then(
        (report) => {
            process.stdout.write(opts.json ? renderJson(report) : renderTable(report));
            process.exitCode = report.summary.exitCode;
            if (opts.html) {
                try {
                    fs.writeFileSync(opts.html, renderHtml(report));
                    process.stderr.write(`report: wrote ${opts.html}\n`);
                } catch (e) {
                    console.error(`report: no HTML page: ${(e as Error).message}`);
                    process.exitCode = 3;
                }
            }
        },
        (e: Error) => {
            console.error(`report: no report: ${e.message}`);
            process.exit(3);
        },
    );
}
