package main

import (
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// diffResult is the Diff decision: the changed top-level inputs with their kind, and which of
// them force a replacement.
type diffResult struct {
	changed  map[string]pulumirpc.PropertyDiff_Kind
	replaces []string
}

// oldInputsOf returns the inputs a resource was last created or updated with: the engine's old
// inputs when it sent them, else its state without the outputs.
func oldInputsOf(oldInputs, olds resource.PropertyMap) resource.PropertyMap {
	if len(oldInputs) > 0 {
		return oldInputs
	}
	m := resource.PropertyMap{}
	for k, v := range olds {
		if k == propStdout || k == propStderr {
			continue
		}
		m[k] = v
	}
	return m
}

// diffInputs compares old and new inputs of a command:remote:Command. A changed "triggers"
// replaces the resource; any other changed input updates it (the update command, or create when
// there is none, runs again). Values not known yet (preview) count as changed. Secretness alone
// is not a change. Top-level keys in ignoreChanges are skipped.
func diffInputs(olds, news resource.PropertyMap, ignoreChanges []string) diffResult {
	ignored := map[string]bool{}
	for _, k := range ignoreChanges {
		ignored[k] = true
	}
	keys := map[resource.PropertyKey]bool{}
	for k := range olds {
		keys[k] = true
	}
	for k := range news {
		keys[k] = true
	}
	res := diffResult{changed: map[string]pulumirpc.PropertyDiff_Kind{}}
	for k := range keys {
		if isInternalKey(k) || ignored[string(k)] || k == propStdout || k == propStderr {
			continue
		}
		hadOld, hasNew := present(olds, string(k)), present(news, string(k))
		var kind pulumirpc.PropertyDiff_Kind
		switch {
		case !hadOld && !hasNew:
			continue
		case !hadOld:
			kind = pulumirpc.PropertyDiff_ADD
		case !hasNew:
			kind = pulumirpc.PropertyDiff_DELETE
		case valuesEqual(olds[k], news[k]):
			continue
		default:
			kind = pulumirpc.PropertyDiff_UPDATE
		}
		if k == propTriggers {
			kind = replaceKind(kind)
			res.replaces = append(res.replaces, string(k))
		}
		res.changed[string(k)] = kind
	}
	sort.Strings(res.replaces)
	return res
}

func replaceKind(k pulumirpc.PropertyDiff_Kind) pulumirpc.PropertyDiff_Kind {
	switch k {
	case pulumirpc.PropertyDiff_ADD:
		return pulumirpc.PropertyDiff_ADD_REPLACE
	case pulumirpc.PropertyDiff_DELETE:
		return pulumirpc.PropertyDiff_DELETE_REPLACE
	default:
		return pulumirpc.PropertyDiff_UPDATE_REPLACE
	}
}

// valuesEqual compares two property values ignoring secretness; unknown values are never equal.
func valuesEqual(a, b resource.PropertyValue) bool {
	pa, pb := plain(a), plain(b)
	if pa.ContainsUnknowns() || pb.ContainsUnknowns() {
		return false
	}
	return pa.DeepEquals(pb)
}

// plain returns v with every secret and known-output wrapper removed, at any depth.
func plain(v resource.PropertyValue) resource.PropertyValue {
	inner, _, unknown := unwrap(v)
	if unknown {
		return resource.MakeComputed(resource.NewStringProperty(""))
	}
	switch {
	case inner.IsArray():
		arr := inner.ArrayValue()
		out := make([]resource.PropertyValue, len(arr))
		for i, e := range arr {
			out[i] = plain(e)
		}
		return resource.NewArrayProperty(out)
	case inner.IsObject():
		obj := inner.ObjectValue()
		out := resource.PropertyMap{}
		for k, e := range obj {
			if pe := plain(e); !pe.IsNull() {
				out[k] = pe
			}
		}
		return resource.NewObjectProperty(out)
	}
	return inner
}

// toResponse turns the decision into the engine's DiffResponse.
func (d diffResult) toResponse() *pulumirpc.DiffResponse {
	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		HasDetailedDiff: true,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
		Replaces:        d.replaces,
	}
	if len(d.changed) == 0 {
		return resp
	}
	resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	for k, kind := range d.changed {
		resp.Diffs = append(resp.Diffs, k)
		resp.DetailedDiff[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	sort.Strings(resp.Diffs)
	return resp
}
