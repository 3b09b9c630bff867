// Package provider maps the upstream Terraform TLS provider (plugin framework) to Pulumi.
//
// The tokens below are the ones the @pulumi/tls npm SDK sends (tls:index/<camel>:<Pascal>),
// so the plugin built from this package serves that SDK. The bridge derives property names
// (rsa_bits -> rsaBits, street_address -> streetAddresses, ...) the same way it does for
// Pulumi's own build of the provider.
//
// The upstream provider pinned in ../go.mod is terraform-provider-tls 4.2.1, the newest
// commit the Go proxy here serves. @pulumi/tls 5.6.x was generated from 4.3.0, which added
// write-only private key inputs; see writeOnlyInputs.
package provider

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/terraform-provider-tls/shim"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// Version is the provider version the plugin reports (GetPluginInfo) and writes into its
// schema. The build sets it with -ldflags "-X <module>/provider.Version=<version>" to the
// version the @pulumi/tls npm package asks for.
var Version = "0.0.0-dev"

const (
	pkgName = "tls"
	modName = "index"
)

// resourceToken returns "tls:index/<lowerCamel>:<Name>".
func resourceToken(name string) tokens.Type {
	return tokens.Type(pkgName + ":" + modName + "/" + lowerFirst(name) + ":" + name)
}

// functionToken returns "tls:index/<name>:<name>" for a function (data source) named in lowerCamel.
func functionToken(name string) tokens.ModuleMember {
	return tokens.ModuleMember(pkgName + ":" + modName + "/" + name + ":" + name)
}

func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+('a'-'A')) + s[1:]
}

// Provider returns the bridge's description of the TLS provider. metadata is the bridge
// metadata (bridge-metadata.json) written by the tfgen program; the tfgen program itself
// starts from nil and the runtime plugin embeds what tfgen produced.
func Provider(metadata []byte) tfbridge.ProviderInfo {
	return tfbridge.ProviderInfo{
		P:            pftfbridge.ShimProvider(shim.NewProvider()),
		Name:         pkgName,
		Version:      Version,
		Description:  "A Pulumi package to create TLS resources in Pulumi programs.",
		Keywords:     []string{"pulumi", "tls"},
		License:      "Apache-2.0",
		Homepage:     "https://pulumi.io",
		Repository:   "https://github.com/pulumi/pulumi-tls",
		GitHubOrg:    "hashicorp",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Resources: map[string]*tfbridge.ResourceInfo{
			"tls_cert_request": {
				Tok:              resourceToken("CertRequest"),
				PreCheckCallback: rejectWriteOnly("privateKeyPemWo", "privateKeyPemWoVersion"),
			},
			"tls_locally_signed_cert": {
				Tok:              resourceToken("LocallySignedCert"),
				PreCheckCallback: rejectWriteOnly("caPrivateKeyPemWo", "caPrivateKeyPemWoVersion"),
			},
			"tls_private_key": {Tok: resourceToken("PrivateKey")},
			"tls_self_signed_cert": {
				Tok:              resourceToken("SelfSignedCert"),
				PreCheckCallback: rejectWriteOnly("privateKeyPemWo", "privateKeyPemWoVersion"),
			},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"tls_certificate": {Tok: functionToken("getCertificate")},
			"tls_public_key":  {Tok: functionToken("getPublicKey")},
		},
		JavaScript:                     &tfbridge.JavaScriptInfo{RespectSchemaVersion: true},
		EnableZeroDefaultSchemaVersion: true,
	}
}

// rejectWriteOnly fails Check when a program sets one of the write-only inputs that the
// @pulumi/tls 5.6.x SDK offers but the wrapped provider (4.2.1) does not have. Without this
// the bridge would drop them silently; the program should pass privateKeyPem instead.
func rejectWriteOnly(names ...string) tfbridge.PreCheckCallback {
	return func(_ context.Context, config, _ resource.PropertyMap) (resource.PropertyMap, error) {
		var set []string
		for _, name := range names {
			if v, ok := config[resource.PropertyKey(name)]; ok && !v.IsNull() {
				set = append(set, name)
			}
		}
		if len(set) == 0 {
			return config, nil
		}
		sort.Strings(set)
		return nil, fmt.Errorf("%v: write-only inputs need terraform-provider-tls 4.3.0, but this "+
			"pulumi-resource-tls wraps 4.2.1 (see providers/tls); set the non-write-only input instead", set)
	}
}
