// Command pulumi-tfgen-tls generates the Pulumi package schema (schema.json) and the bridge
// metadata (bridge-metadata.json) of the TLS provider: `pulumi-tfgen-tls schema --out DIR`.
// providers/build-tls.sh runs it and embeds both files into pulumi-resource-tls.
package main

import (
	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"azs-cert-rotation/providers/tls/provider"
)

func main() {
	pftfgen.Main("tls", provider.Provider(nil))
}
