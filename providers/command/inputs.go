package main

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

// Property names of command:remote:Command (@pulumi/command 1.2.1).
const (
	propAddPreviousOutputInEnv = "addPreviousOutputInEnv"
	propConnection             = "connection"
	propCreate                 = "create"
	propDelete                 = "delete"
	propEnvironment            = "environment"
	propLogging                = "logging"
	propStdin                  = "stdin"
	propTriggers               = "triggers"
	propUpdate                 = "update"
	propStdout                 = "stdout" // output only
	propStderr                 = "stderr" // output only
)

// Property names of remote.Connection / remote.ProxyConnection.
const (
	connAgentSocketPath    = "agentSocketPath"
	connDialErrorLimit     = "dialErrorLimit"
	connHost               = "host"
	connHostKey            = "hostKey"
	connPassword           = "password"
	connPerDialTimeout     = "perDialTimeout"
	connPort               = "port"
	connPrivateKey         = "privateKey"
	connPrivateKeyPassword = "privateKeyPassword"
	connProxy              = "proxy" // Connection only
	connUser               = "user"
)

// Values of the remote.Logging enum.
const (
	logStdout          = "stdout"
	logStderr          = "stderr"
	logStdoutAndStderr = "stdoutAndStderr"
	logNone            = "none"
)

// Defaults: the SDK's connectionArgsProvideDefaults / proxyConnectionArgsProvideDefaults, and the
// documented defaults of logging and addPreviousOutputInEnv.
const (
	defaultPort           = 22
	defaultUser           = "root"
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
	defaultLogging        = logStdoutAndStderr
)

var inputProps = map[string]bool{
	propAddPreviousOutputInEnv: true, propConnection: true, propCreate: true, propDelete: true,
	propEnvironment: true, propLogging: true, propStdin: true, propTriggers: true, propUpdate: true,
}

var connectionProps = map[string]bool{
	connAgentSocketPath: true, connDialErrorLimit: true, connHost: true, connHostKey: true,
	connPassword: true, connPerDialTimeout: true, connPort: true, connPrivateKey: true,
	connPrivateKeyPassword: true, connProxy: true, connUser: true,
}

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
	out := resource.PropertyMap{}
	for k, v := range news {
		out[k] = v
	}
	for _, k := range news.StableKeys() {
		if isInternalKey(k) {
			continue
		}
		if !inputProps[string(k)] {
			c.fail(string(k), "unknown property %q: command:remote:Command takes %s", k, sortedKeys(inputProps))
		}
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
	out := resource.PropertyMap{}
	for k, v := range in {
		out[k] = v
	}
	for _, k := range in.StableKeys() {
		if isInternalKey(k) {
			continue
		}
		if !connectionProps[string(k)] || (!allowProxy && k == connProxy) {
			what := "Connection"
			if !allowProxy {
				what = "ProxyConnection"
			}
			c.fail(path+"."+string(k), "unknown property %q of %s", k, what)
		}
	}

	if !present(in, connHost) {
		c.fail(path+"."+connHost, "missing required property '%s.%s'", path, connHost)
	} else if s, ok := c.optionalString(in, connHost, path+"."+connHost); ok && strings.TrimSpace(s) == "" {
		c.fail(path+"."+connHost, "host must not be empty")
	}
	for _, key := range []string{connUser, connPassword, connPrivateKey, connPrivateKeyPassword, connAgentSocketPath, connHostKey} {
		c.optionalString(in, key, path+"."+key)
	}
	if !present(in, connUser) {
		out[connUser] = resource.NewStringProperty(defaultUser)
	}
	c.intWithDefault(in, out, connPort, path, defaultPort, 1, 65535)
	c.intWithDefault(in, out, connDialErrorLimit, path, defaultDialErrorLimit, -1, math.MaxInt32)
	c.intWithDefault(in, out, connPerDialTimeout, path, defaultPerDialTimeout, 0, math.MaxInt32)

	if s, ok := c.optionalString(in, connHostKey, path+"."+connHostKey); ok && s != "" {
		if _, err := parseHostKey(s); err != nil {
			c.fail(path+"."+connHostKey, "%v", err)
		}
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

func sortedKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// optString is a string input that may be absent; secret records whether it was a secret.
type optString struct {
	val    string
	set    bool
	secret bool
}

// connSpec is a checked, known Connection or ProxyConnection.
type connSpec struct {
	host, user                     string
	port                           int
	password, privateKey           string
	privateKeyPassword             string
	agentSocketPath                string
	hostKey                        string
	dialErrorLimit, perDialTimeout int
	proxy                          *connSpec
}

func (c *connSpec) addr() string { return joinHostPort(c.host, c.port) }

// commandSpec is a checked, known command:remote:Command, from its inputs or its state.
type commandSpec struct {
	create, update, delete optString
	stdin                  optString
	env                    []envVar // sorted by name
	logging                string
	addPrevious            bool
	conn                   connSpec
	stdout, stderr         string // outputs of the previous run (state only)
}

type envVar struct{ name, value string }

var errUnknownInputs = errors.New("inputs are not known yet")

// parseSpec reads a commandSpec from checked inputs or state. Values must be known.
func parseSpec(m resource.PropertyMap) (*commandSpec, error) {
	if m.ContainsUnknowns() {
		return nil, errUnknownInputs
	}
	s := &commandSpec{logging: defaultLogging, addPrevious: true}
	s.create = getOptString(m, propCreate)
	s.update = getOptString(m, propUpdate)
	s.delete = getOptString(m, propDelete)
	s.stdin = getOptString(m, propStdin)
	s.stdout = getOptString(m, propStdout).val
	s.stderr = getOptString(m, propStderr).val
	if l := getOptString(m, propLogging); l.set {
		s.logging = l.val
	}
	if present(m, propAddPreviousOutputInEnv) {
		v, _, _ := unwrap(m[propAddPreviousOutputInEnv])
		if v.IsBool() {
			s.addPrevious = v.BoolValue()
		}
	}
	if present(m, propEnvironment) {
		v, _, _ := unwrap(m[propEnvironment])
		if v.IsObject() {
			env := v.ObjectValue()
			for _, k := range env.StableKeys() {
				ev, _, _ := unwrap(env[k])
				if ev.IsString() {
					s.env = append(s.env, envVar{string(k), ev.StringValue()})
				}
			}
		}
	}
	if !present(m, propConnection) {
		return nil, errors.New("missing property 'connection'")
	}
	v, _, _ := unwrap(m[propConnection])
	if !v.IsObject() {
		return nil, errors.New("connection must be an object")
	}
	conn, err := parseConn(v.ObjectValue(), true)
	if err != nil {
		return nil, err
	}
	s.conn = *conn
	return s, nil
}

func parseConn(m resource.PropertyMap, allowProxy bool) (*connSpec, error) {
	c := &connSpec{
		host:               getOptString(m, connHost).val,
		user:               getOptString(m, connUser).val,
		password:           getOptString(m, connPassword).val,
		privateKey:         getOptString(m, connPrivateKey).val,
		privateKeyPassword: getOptString(m, connPrivateKeyPassword).val,
		agentSocketPath:    getOptString(m, connAgentSocketPath).val,
		hostKey:            getOptString(m, connHostKey).val,
		port:               getInt(m, connPort, defaultPort),
		dialErrorLimit:     getInt(m, connDialErrorLimit, defaultDialErrorLimit),
		perDialTimeout:     getInt(m, connPerDialTimeout, defaultPerDialTimeout),
	}
	if c.user == "" {
		c.user = defaultUser
	}
	if c.host == "" {
		return nil, errors.New("connection.host is required")
	}
	if allowProxy && present(m, connProxy) {
		v, _, _ := unwrap(m[connProxy])
		if v.IsObject() {
			p, err := parseConn(v.ObjectValue(), false)
			if err != nil {
				return nil, fmt.Errorf("proxy: %w", err)
			}
			c.proxy = p
		}
	}
	return c, nil
}

func getOptString(m resource.PropertyMap, key string) optString {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return optString{}
	}
	inner, secret, unknown := unwrap(v)
	if unknown || !inner.IsString() {
		return optString{}
	}
	return optString{val: inner.StringValue(), set: true, secret: secret}
}

func getInt(m resource.PropertyMap, key string, def int) int {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return def
	}
	inner, _, unknown := unwrap(v)
	if unknown || !inner.IsNumber() {
		return def
	}
	return int(inner.NumberValue())
}

// parseHostKey parses a pinned host key in authorized_keys format ("ssh-ed25519 AAAA... comment").
func parseHostKey(s string) (ssh.PublicKey, error) {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(s)))
	if err != nil {
		return nil, fmt.Errorf("hostKey is not a public key in authorized_keys format (e.g. \"ssh-ed25519 AAAA...\"): %v", err)
	}
	return key, nil
}

// parsePrivateKey parses a PEM private key (RSA, ECDSA, ed25519; OpenSSH or PKCS#1/#8), decrypting
// it with passphrase when it is encrypted. Errors never quote the key.
func parsePrivateKey(pemKey, passphrase string) (ssh.Signer, error) {
	signer, err := ssh.ParsePrivateKey([]byte(pemKey))
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase == "" {
			return nil, errors.New("privateKey is encrypted: set privateKeyPassword")
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(pemKey), []byte(passphrase))
		if err != nil {
			return nil, fmt.Errorf("privateKey cannot be decrypted with privateKeyPassword: %v", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("privateKey cannot be parsed: %v", err)
	}
	return signer, nil
}
