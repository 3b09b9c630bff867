// Command pulumi-resource-tls is the Pulumi resource plugin for the TLS provider.
//
// schema.json and bridge-metadata.json are not in the repository: providers/build-tls.sh writes
// them here (in its build copy of this module) from pulumi-tfgen-tls before building this.
package main

import (
	"context"
	_ "embed"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	"azs-cert-rotation/providers/tls/provider"
)

//go:embed schema.json
var schema []byte

//go:embed bridge-metadata.json
var bridgeMetadata []byte

func main() {
	pftfbridge.Main(context.Background(), "tls", provider.Provider(bridgeMetadata),
		pftfbridge.ProviderMetadata{PackageSchema: schema})
}
