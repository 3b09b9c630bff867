package main

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// checkFailure is a Check failure: a property path (as the engine prints it) and a reason.
type checkFailure struct {
	Property string
	Reason   string
}

type checker struct{ failures []checkFailure }

func (c *checker) fail(path, format string, args ...any) {
	c.failures = append(c.failures, checkFailure{Property: path, Reason: fmt.Sprintf(format, args...)})
}

// checkInputs applies the defaults to the inputs of a command:remote:Command and validates them.
// It returns the inputs to record (secrets and unknowns kept where they were; connection always
// secret, as the SDK and the upstream schema mark it) and the failures, sorted by property path.
func checkInputs(news resource.PropertyMap) (resource.PropertyMap, []checkFailure) {
	c := &checker{}
	out := news.Copy()
	for _, k := range unknownKeys(news, func(k resource.PropertyKey) bool { return inputProps[string(k)] }) {
		c.fail(string(k), "unknown property %q: command:remote:Command takes %s", k, sortedKeys(inputProps))
	}

	for _, key := range []string{propCreate, propUpdate, propDelete, propStdin} {
		c.optionalString(news, key, key)
	}
	if present(news, propLogging) {
		if s, ok := c.optionalString(news, propLogging, propLogging); ok {
			switch s {
			case logStdout, logStderr, logStdoutAndStderr, logNone:
			default:
				c.fail(propLogging, "logging must be one of %q, %q, %q, %q; got %q",
					logStdout, logStderr, logStdoutAndStderr, logNone, s)
			}
		}
	} else {
		out[propLogging] = resource.NewStringProperty(defaultLogging)
	}
	if present(news, propAddPreviousOutputInEnv) {
		v, _, unknown := unwrap(news[propAddPreviousOutputInEnv])
		if !unknown && !v.IsBool() {
			c.fail(propAddPreviousOutputInEnv, "addPreviousOutputInEnv must be a boolean")
		}
	} else {
		out[propAddPreviousOutputInEnv] = resource.NewBoolProperty(true)
	}
	if present(news, propEnvironment) {
		v, _, unknown := unwrap(news[propEnvironment])
		switch {
		case unknown:
		case !v.IsObject():
			c.fail(propEnvironment, "environment must be a map of strings")
		default:
			env := v.ObjectValue()
			for _, k := range env.StableKeys() {
				path := propEnvironment + "." + string(k)
				if k == "" || strings.ContainsAny(string(k), "=\x00") {
					c.fail(path, "invalid environment variable name %q", k)
				}
				ev, _, evUnknown := unwrap(env[k])
				if !evUnknown && !ev.IsString() {
					c.fail(path, "environment values must be strings")
				}
			}
		}
	}
	if present(news, propTriggers) {
		v, _, unknown := unwrap(news[propTriggers])
		if !unknown && !v.IsArray() {
			c.fail(propTriggers, "triggers must be an array")
		}
	}

	if !present(news, propConnection) {
		c.fail(propConnection, "missing required property 'connection'")
	} else {
		v, _, unknown := unwrap(news[propConnection])
		switch {
		case unknown:
			// Not known yet (preview): checked again when it is.
			out[propConnection] = resource.MakeSecret(news[propConnection])
		case !v.IsObject():
			c.fail(propConnection, "connection must be an object")
		default:
			conn := c.checkConnection(propConnection, v.ObjectValue(), true)
			// Always secret: it holds credentials (the SDK and the upstream schema do the same).
			out[propConnection] = resource.MakeSecret(resource.NewObjectProperty(conn))
		}
	}

	sort.SliceStable(c.failures, func(i, j int) bool { return c.failures[i].Property < c.failures[j].Property })
	return out, c.failures
}

// checkConnection validates a Connection (or, when allowProxy is false, a ProxyConnection) at
// path and returns it with the SDK's defaults applied. Secret fields stay secret.
func (c *checker) checkConnection(path string, in resource.PropertyMap, allowProxy bool) resource.PropertyMap {
	out := in.Copy()
	what := "Connection"
	if !allowProxy {
		what = "ProxyConnection"
	}
	known := func(k resource.PropertyKey) bool { return connectionProps[string(k)] && (allowProxy || k != connProxy) }
	for _, k := range unknownKeys(in, known) {
		c.fail(path+"."+string(k), "unknown property %q of %s", k, what)
	}

	if !present(in, connHost) {
		c.fail(path+"."+connHost, "missing required property '%s.%s'", path, connHost)
	} else if s, ok := c.optionalString(in, connHost, path+"."+connHost); ok && strings.TrimSpace(s) == "" {
		c.fail(path+"."+connHost, "host must not be empty")
	}
	for _, key := range []string{connUser, connPassword, connPrivateKey, connPrivateKeyPassword} {
		c.optionalString(in, key, path+"."+key)
	}
	if !present(in, connUser) {
		out[connUser] = resource.NewStringProperty(defaultUser)
	}
	c.intWithDefault(in, out, connPort, path, defaultPort, 1, 65535)
	c.intWithDefault(in, out, connDialErrorLimit, path, defaultDialErrorLimit, -1, math.MaxInt32)
	c.intWithDefault(in, out, connPerDialTimeout, path, defaultPerDialTimeout, 0, math.MaxInt32)

	// The host key is required: a connection to a host that is not pinned is refused (unknown: checked again when known).
	if s, ok := c.optionalString(in, connHostKey, path+"."+connHostKey); ok && strings.TrimSpace(s) != "" {
		if _, err := parseHostKey(s); err != nil {
			c.fail(path+"."+connHostKey, "%v", err)
		}
	} else if !present(in, connHostKey) || ok {
		c.fail(path+"."+connHostKey, "%s.%s is required: pin the server's host key (\"ssh-ed25519 AAAA...\", as ssh-keyscan prints it); "+
			"this provider refuses to connect to an unverified host", path, connHostKey)
	}
	// Only the configured private key (or password) authenticates: never an ssh-agent.
	if present(in, connAgentSocketPath) {
		c.fail(path+"."+connAgentSocketPath, "%s.%s is not supported: this provider authenticates with privateKey (or password) only, never an ssh-agent",
			path, connAgentSocketPath)
	}
	if key, ok := c.optionalString(in, connPrivateKey, path+"."+connPrivateKey); ok && key != "" {
		pass, _ := c.optionalString(in, connPrivateKeyPassword, path+"."+connPrivateKeyPassword)
		if _, err := parsePrivateKey(key, pass); err != nil {
			c.fail(path+"."+connPrivateKey, "%v", err)
		}
	}

	if allowProxy && present(in, connProxy) {
		v, secret, unknown := unwrap(in[connProxy])
		switch {
		case unknown:
		case !v.IsObject():
			c.fail(path+"."+connProxy, "proxy must be an object")
		default:
			proxy := c.checkConnection(path+"."+connProxy, v.ObjectValue(), false)
			out[connProxy] = rewrap(resource.NewObjectProperty(proxy), secret)
		}
	}
	return out
}

// optionalString checks that key, when set and known, is a string; it returns the string and
// whether it is set and known.
func (c *checker) optionalString(m resource.PropertyMap, key, path string) (string, bool) {
	if !present(m, key) {
		return "", false
	}
	v, _, unknown := unwrap(m[resource.PropertyKey(key)])
	if unknown {
		return "", false
	}
	if !v.IsString() {
		c.fail(path, "%s must be a string", key)
		return "", false
	}
	return v.StringValue(), true
}

// intWithDefault checks that key, when set and known, is an integer in [lo, hi], and sets the
// default in out when it is not set.
func (c *checker) intWithDefault(in, out resource.PropertyMap, key, path string, def, lo, hi int) {
	if !present(in, key) {
		out[resource.PropertyKey(key)] = resource.NewNumberProperty(float64(def))
		return
	}
	v, _, unknown := unwrap(in[resource.PropertyKey(key)])
	if unknown {
		return
	}
	if !v.IsNumber() || v.NumberValue() != math.Trunc(v.NumberValue()) {
		c.fail(path+"."+key, "%s must be an integer", key)
		return
	}
	if n := v.NumberValue(); n < float64(lo) || n > float64(hi) {
		c.fail(path+"."+key, "%s must be between %d and %d; got %v", key, lo, hi, n)
	}
}

// unknownKeys returns, in stable order, the keys of m that known refuses, but the engine's
// internal ones ("__" prefix).
func unknownKeys(m resource.PropertyMap, known func(resource.PropertyKey) bool) []resource.PropertyKey {
	var keys []resource.PropertyKey
	for _, k := range m.StableKeys() {
		if !isInternalKey(k) && !known(k) {
			keys = append(keys, k)
		}
	}
	return keys
}

func sortedKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}
