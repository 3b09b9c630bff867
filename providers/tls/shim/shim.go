// Package shim exposes the constructor of the upstream Terraform TLS provider.
//
// The constructor lives in the upstream module's internal/provider package. Go lets only
// packages under github.com/hashicorp/terraform-provider-tls/ import it, so this small
// module carries that import path and is wired into the build by a `replace` directive in
// ../go.mod. It is ours, not an upstream file.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"

	upstream "github.com/hashicorp/terraform-provider-tls/internal/provider"
)

// NewProvider returns a new instance of the upstream plugin-framework TLS provider.
func NewProvider() provider.Provider {
	return upstream.New()
}
