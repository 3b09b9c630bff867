// Serves Pulumi's LanguageRuntime gRPC service for the project in the current directory, using the
// in-process language server that @pulumi/pulumi ships for Automation API inline programs. The
// engine starts this like its own plugin (cwd = project directory), reads the port from stdout,
// and asks it to run the program; the program runs with the project's own @pulumi/pulumi.
import * as path from "path";

const projectDir = process.cwd();
const fromProject = (id: string) => require(require.resolve(id, { paths: [projectDir] }));

const grpc = fromProject("@grpc/grpc-js");
const { LanguageServer } = fromProject("@pulumi/pulumi/automation/server");
const { LanguageRuntimeService } = fromProject("@pulumi/pulumi/proto/language_grpc_pb");

// The project's main module (package.json "main") either exports a function that returns the
// stack outputs, or exports the outputs themselves.
async function program(): Promise<Record<string, unknown>> {
    const main = require(path.resolve(projectDir));
    return typeof main === "function" ? main() : main;
}

const server = new grpc.Server();
server.addService(LanguageRuntimeService, new LanguageServer(program));
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err: Error | null, port: number) => {
    if (err) {
        console.error(`pulumi-language-nodejs: cannot listen: ${err.message}`);
        process.exit(1);
    }
    console.log(port);
});
