//go:build tools

// Package tools pins, in this module, what providers/build-kubernetes.sh builds from
// github.com/pulumi/pulumi-kubernetes/provider/v4: the provider package its
// cmd/pulumi-resource-kubernetes serves, the version package its ldflag sets, and the
// schema package its generate.go reads schema.json with. The build resolves the whole
// dependency graph from this go.mod and go.sum.
package tools

import (
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
	_ "github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)
