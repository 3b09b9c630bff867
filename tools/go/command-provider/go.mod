// The Pulumi command resource plugin (pulumi-resource-command), built by tools/build-command.sh.
// It serves command:remote:Command for the unchanged @pulumi/command 1.2.x npm SDK; see main.go.
// Pins: pulumi/sdk/v3 and the x/ modules at the versions tools/go/pulumi-cli already uses,
// so building this downloads little that the CLI build has not.
module azs-cert-rotation/tools/command-provider

go 1.25.0

require (
	github.com/pulumi/pulumi/sdk/v3 v3.250.0
	golang.org/x/crypto v0.53.0
	google.golang.org/grpc v1.82.0
	google.golang.org/protobuf v1.36.11
)
