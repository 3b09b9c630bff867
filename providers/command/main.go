// Command pulumi-resource-command is a Pulumi resource plugin named "command" that serves the
// command:remote:Command resource of the @pulumi/command 1.2.x npm SDK, written for this project
// because the Go proxy here refuses github.com/pulumi/pulumi-command/provider.
//
// Property names and the defaults the SDK applies are those of @pulumi/command 1.2.1
// (node_modules/@pulumi/command/remote/command.d.ts, types/input.d.ts, remote/command.js).
// Every other token of that package (command:local:Command, command:local:run,
// command:remote:CopyToRemote, command:remote:CopyFile) is refused with a clear error.
//
// Files:
//   - server.go: the gRPC ResourceProviderServer (Check, Diff, Create, Read, Update, Delete, ...);
//   - props.go:  the property names, enum values and defaults of the resource and its connection;
//   - values.go: reading property values through their secret and output wrappers (pure);
//   - check.go:  Check: defaulting and validating the resource's inputs (pure);
//   - spec.go:   decoding checked inputs or state into a command and connection spec (pure);
//   - sshkeys.go: parsing the pinned host key and the private key of a connection;
//   - diff.go:   the Diff decision (pure);
//   - ssh.go:    dialing (retries, per-dial timeout, proxy/jump host, host key pinning, which is
//     required; the configured private key or password only, never an ssh-agent);
//   - keepalive.go: keepalive@openssh.com every 15 s; a connection without a reply for 45 s is closed;
//   - run.go:    running one command in an SSH session, streaming and capturing its output;
//   - schema.go: the package schema GetSchema returns.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Version is the plugin version GetPluginInfo and the schema report. providers/build-command.sh sets
// it with -ldflags "-X main.Version=<version>" to the version @pulumi/command asks for.
var Version = "1.2.1"

func main() {
	// provider.Main parses the engine's flags itself, so -version is looked for before it runs.
	if len(os.Args) == 2 && (os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println(Version)
		return
	}
	err := provider.Main("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		if host == nil {
			return newServer(nil), nil
		}
		return newServer(host), nil
	})
	if err != nil {
		cmdutil.ExitError(err.Error())
	}
}
