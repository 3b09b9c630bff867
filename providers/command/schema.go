package main

import "encoding/json"

// schemaJSON is the package schema: command:remote:Command with the property names, types and
// defaults of @pulumi/command 1.2.1, and the types it uses. Only what this plugin serves.
func schemaJSON(version string) (string, error) {
	str := map[string]any{"type": "string"}
	secretStr := map[string]any{"type": "string", "secret": true}
	intWithDefault := func(def int) map[string]any { return map[string]any{"type": "integer", "default": def} }
	ref := func(t string) map[string]any { return map[string]any{"$ref": "#/types/" + t} }

	connection := func(withProxy bool) map[string]any {
		props := map[string]any{
			connHost:               str,
			connPort:               map[string]any{"type": "number", "default": defaultPort},
			connUser:               map[string]any{"type": "string", "default": defaultUser},
			connPassword:           secretStr,
			connPrivateKey:         secretStr,
			connPrivateKeyPassword: secretStr,
			connAgentSocketPath:    str,
			connHostKey:            str,
			connDialErrorLimit:     intWithDefault(defaultDialErrorLimit),
			connPerDialTimeout:     intWithDefault(defaultPerDialTimeout),
		}
		desc := "Instructions for how to connect to a remote endpoint via a bastion host."
		if withProxy {
			props[connProxy] = ref("command:remote:ProxyConnection")
			desc = "Instructions for how to connect to a remote endpoint."
		}
		return map[string]any{"type": "object", "description": desc, "properties": props, "required": []string{connHost}}
	}

	inputs := map[string]any{
		propAddPreviousOutputInEnv: map[string]any{"type": "boolean", "default": true},
		propConnection:             map[string]any{"$ref": "#/types/command:remote:Connection", "secret": true},
		propCreate:                 str,
		propDelete:                 str,
		propEnvironment:            map[string]any{"type": "object", "additionalProperties": str},
		propLogging:                ref("command:remote:Logging"),
		propStdin:                  str,
		propTriggers:               map[string]any{"type": "array", "items": map[string]any{"$ref": "pulumi.json#/Any"}, "replaceOnChanges": true},
		propUpdate:                 str,
	}
	outputs := map[string]any{}
	for k, v := range inputs {
		outputs[k] = v
	}
	outputs[propStdout] = str
	outputs[propStderr] = str

	logging := []map[string]any{}
	for _, v := range []string{logStdout, logStderr, logStdoutAndStderr, logNone} {
		logging = append(logging, map[string]any{"name": v, "value": v})
	}

	schema := map[string]any{
		"name":        "command",
		"displayName": "Command",
		"version":     version,
		"description": "command:remote:Command only (azs-cert-rotation's build of the command provider).",
		"meta":        map[string]any{"moduleFormat": "(.*)"},
		"language":    map[string]any{"nodejs": map[string]any{"packageName": "@pulumi/command"}},
		"config":      map[string]any{},
		"provider":    map[string]any{"type": "object"},
		"types": map[string]any{
			"command:remote:Connection":      connection(true),
			"command:remote:ProxyConnection": connection(false),
			"command:remote:Logging":         map[string]any{"type": "string", "enum": logging},
		},
		"resources": map[string]any{
			remoteCommand: map[string]any{
				"description":     "A command to run on a remote host. The connection is established via ssh.",
				"inputProperties": inputs,
				"requiredInputs":  []string{propConnection},
				"properties":      outputs,
				"required":        []string{propConnection, propStdout, propStderr},
			},
		},
	}
	b, err := json.MarshalIndent(schema, "", "  ")
	return string(b), err
}
