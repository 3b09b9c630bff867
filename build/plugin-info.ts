// Asks a resource plugin binary what the engine would: starts it on its own (attach mode, no
// engine), reads the port it prints, and calls GetPluginInfo and GetSchema over gRPC.
// Prints one line: `<GetPluginInfo version> <version in the schema GetSchema returns>`.
// Used by build/lib.sh's check_plugin_info for plugins without a -version flag.
//   node -r ts-node/register/transpile-only build/plugin-info.ts PLUGIN_BINARY
import { spawn } from "child_process";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { ResourceProviderClient } from "@pulumi/pulumi/proto/provider_grpc_pb";
import { GetSchemaRequest } from "@pulumi/pulumi/proto/provider_pb";

const timeoutMs = 60_000;

function unary<T>(call: (cb: (err: grpc.ServiceError | null, res: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => call((err, res) => (err ? reject(err) : resolve(res))));
}

async function main(binary: string): Promise<string> {
    const child = spawn(binary, [], { stdio: ["ignore", "pipe", "inherit"] });
    try {
        const port = await new Promise<number>((resolve, reject) => {
            let out = "";
            const timer = setTimeout(() => reject(new Error(`${binary} printed no port in ${timeoutMs} ms`)), timeoutMs);
            child.on("error", reject);
            child.on("exit", (code) => reject(new Error(`${binary} exited (${code}) before printing its port`)));
            child.stdout.on("data", (chunk: Buffer) => {
                out += chunk.toString();
                const line = out.split("\n");
                if (line.length > 1) {
                    clearTimeout(timer);
                    const n = Number(line[0].trim());
                    if (Number.isInteger(n) && n > 0) resolve(n);
                    else reject(new Error(`${binary} printed '${line[0]}', not a port`));
                }
            });
        });
        const client = new ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
            "grpc.max_receive_message_length": -1, // a schema is megabytes (kubernetes: 5 MB)
        });
        const deadline = () => ({ deadline: Date.now() + timeoutMs });
        try {
            const info = await unary<{ getVersion(): string }>((cb) =>
                client.getPluginInfo(new Empty(), new grpc.Metadata(), deadline(), cb));
            const schema = await unary<{ getSchema(): string }>((cb) =>
                client.getSchema(new GetSchemaRequest().setVersion(0), new grpc.Metadata(), deadline(), cb));
            const schemaVersion = (JSON.parse(schema.getSchema()) as { version?: string }).version ?? "(none)";
            return `${info.getVersion()} ${schemaVersion}`;
        } finally {
            client.close();
        }
    } finally {
        child.kill("SIGTERM");
    }
}

const binary = process.argv[2];
if (!binary) {
    console.error("usage: plugin-info.ts PLUGIN_BINARY");
    process.exit(2);
}
main(binary).then(
    (line) => {
        console.log(line);
        process.exit(0);
    },
    (err: unknown) => {
        console.error(`plugin-info: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
    },
);
