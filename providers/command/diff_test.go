package main

import (
	"reflect"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func baseInputs() resource.PropertyMap {
	out, _ := checkInputs(resource.PropertyMap{
		propCreate:   str("install.sh"),
		propStdin:    secret(str("payload")),
		propTriggers: resource.NewArrayProperty([]resource.PropertyValue{str("gen-1")}),
		propConnection: secret(obj(resource.PropertyMap{
			connHost: str("10.0.0.5"), connPrivateKey: secret(str("k")),
		})),
	})
	return out
}

func TestDiff(t *testing.T) {
	type change = map[string]pulumirpc.PropertyDiff_Kind
	cases := []struct {
		name         string
		edit         func(m resource.PropertyMap)
		wantChanged  change
		wantReplaces []string
	}{
		{"nothing", func(resource.PropertyMap) {}, change{}, nil},
		{"stdin", func(m resource.PropertyMap) { m[propStdin] = secret(str("payload 2")) }, change{"stdin": pulumirpc.PropertyDiff_UPDATE}, nil},
		{"stdin secretness only", func(m resource.PropertyMap) { m[propStdin] = str("payload") }, change{}, nil},
		{"create", func(m resource.PropertyMap) { m[propCreate] = str("install.sh -v") }, change{"create": pulumirpc.PropertyDiff_UPDATE}, nil},
		{"update added", func(m resource.PropertyMap) { m[propUpdate] = str("upgrade.sh") }, change{"update": pulumirpc.PropertyDiff_ADD}, nil},
		{"delete added", func(m resource.PropertyMap) { m[propDelete] = str("rm -f x") }, change{"delete": pulumirpc.PropertyDiff_ADD}, nil},
		{"stdin removed", func(m resource.PropertyMap) { delete(m, propStdin) }, change{"stdin": pulumirpc.PropertyDiff_DELETE}, nil},
		{"stdin null", func(m resource.PropertyMap) { m[propStdin] = resource.NewNullProperty() }, change{"stdin": pulumirpc.PropertyDiff_DELETE}, nil},
		{"logging", func(m resource.PropertyMap) { m[propLogging] = str("none") }, change{"logging": pulumirpc.PropertyDiff_UPDATE}, nil},
		{"environment", func(m resource.PropertyMap) {
			m[propEnvironment] = obj(resource.PropertyMap{"LANG": str("C")})
		}, change{"environment": pulumirpc.PropertyDiff_ADD}, nil},
		{"addPreviousOutputInEnv", func(m resource.PropertyMap) {
			m[propAddPreviousOutputInEnv] = resource.NewBoolProperty(false)
		}, change{"addPreviousOutputInEnv": pulumirpc.PropertyDiff_UPDATE}, nil},
		{"connection host", func(m resource.PropertyMap) {
			c, _ := connOf(t, m)
			c = c.Copy()
			c[connHost] = str("10.0.0.6")
			m[propConnection] = secret(obj(c))
		}, change{"connection": pulumirpc.PropertyDiff_UPDATE}, nil},
		{"triggers", func(m resource.PropertyMap) {
			m[propTriggers] = resource.NewArrayProperty([]resource.PropertyValue{str("gen-2")})
		}, change{"triggers": pulumirpc.PropertyDiff_UPDATE_REPLACE}, []string{"triggers"}},
		{"triggers removed", func(m resource.PropertyMap) { delete(m, propTriggers) },
			change{"triggers": pulumirpc.PropertyDiff_DELETE_REPLACE}, []string{"triggers"}},
		{"triggers and stdin", func(m resource.PropertyMap) {
			m[propTriggers] = resource.NewArrayProperty([]resource.PropertyValue{str("gen-2")})
			m[propStdin] = str("other")
		}, change{"triggers": pulumirpc.PropertyDiff_UPDATE_REPLACE, "stdin": pulumirpc.PropertyDiff_UPDATE}, []string{"triggers"}},
		{"unknown create (preview)", func(m resource.PropertyMap) { m[propCreate] = unknown() },
			change{"create": pulumirpc.PropertyDiff_UPDATE}, nil},
		{"unknown trigger element (preview)", func(m resource.PropertyMap) {
			m[propTriggers] = resource.NewArrayProperty([]resource.PropertyValue{unknown()})
		}, change{"triggers": pulumirpc.PropertyDiff_UPDATE_REPLACE}, []string{"triggers"}},
		{"unknown private key inside secret connection", func(m resource.PropertyMap) {
			c, _ := connOf(t, m)
			c = c.Copy()
			c[connPrivateKey] = secret(unknown())
			m[propConnection] = secret(obj(c))
		}, change{"connection": pulumirpc.PropertyDiff_UPDATE}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			olds := baseInputs()
			news := baseInputs()
			tc.edit(news)
			d := diffInputs(olds, news, nil)
			if !reflect.DeepEqual(d.changed, tc.wantChanged) {
				t.Errorf("changed = %v, want %v", d.changed, tc.wantChanged)
			}
			if !reflect.DeepEqual(d.replaces, tc.wantReplaces) {
				t.Errorf("replaces = %v, want %v", d.replaces, tc.wantReplaces)
			}
			resp := d.toResponse()
			wantChanges := pulumirpc.DiffResponse_DIFF_SOME
			if len(tc.wantChanged) == 0 {
				wantChanges = pulumirpc.DiffResponse_DIFF_NONE
			}
			if resp.Changes != wantChanges || !resp.HasDetailedDiff || len(resp.DetailedDiff) != len(tc.wantChanged) {
				t.Errorf("response: %v", resp)
			}
			for k, kind := range tc.wantChanged {
				if dd := resp.DetailedDiff[k]; dd == nil || dd.Kind != kind || !dd.InputDiff {
					t.Errorf("detailedDiff[%s] = %v", k, dd)
				}
			}
		})
	}
}

func TestDiffIgnoreChanges(t *testing.T) {
	olds, news := baseInputs(), baseInputs()
	news[propStdin] = str("changed")
	if d := diffInputs(olds, news, []string{"stdin"}); len(d.changed) != 0 {
		t.Errorf("ignored change reported: %v", d.changed)
	}
}

func TestOldInputsFromState(t *testing.T) {
	state := baseInputs()
	state[propStdout] = str("out")
	state[propStderr] = str("err")
	// No old inputs from the engine: the state without stdout/stderr is compared.
	if d := diffInputs(oldInputsOf(nil, state), baseInputs(), nil); len(d.changed) != 0 {
		t.Errorf("outputs counted as changes: %v", d.changed)
	}
	// Old inputs, when sent, win over the state.
	old := baseInputs()
	old[propCreate] = str("older.sh")
	if d := diffInputs(oldInputsOf(old, state), baseInputs(), nil); d.changed["create"] != pulumirpc.PropertyDiff_UPDATE {
		t.Errorf("old inputs not used: %v", d.changed)
	}
}
