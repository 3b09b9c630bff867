package main

import (
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// unwrap strips secret and (known) output wrappers off v. unknown is true when v, or the output
// it wraps, is not known yet (during preview).
func unwrap(v resource.PropertyValue) (inner resource.PropertyValue, secret, unknown bool) {
	for {
		switch {
		case v.IsSecret():
			secret = true
			v = v.SecretValue().Element
		case v.IsOutput():
			o := v.OutputValue()
			secret = secret || o.Secret
			if !o.Known {
				return v, secret, true
			}
			v = o.Element
		case v.IsComputed():
			return v, secret, true
		default:
			return v, secret, false
		}
	}
}

// rewrap wraps v in a secret when secret is set.
func rewrap(v resource.PropertyValue, secret bool) resource.PropertyValue {
	if secret {
		return resource.MakeSecret(v)
	}
	return v
}

// present reports whether key is set in m to something other than null.
func present(m resource.PropertyMap, key string) bool {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return false
	}
	inner, _, unknown := unwrap(v)
	return unknown || !inner.IsNull()
}

func isInternalKey(k resource.PropertyKey) bool { return strings.HasPrefix(string(k), "__") }
