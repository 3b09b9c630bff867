package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

func str(s string) resource.PropertyValue                    { return resource.NewStringProperty(s) }
func num(n float64) resource.PropertyValue                   { return resource.NewNumberProperty(n) }
func obj(m resource.PropertyMap) resource.PropertyValue      { return resource.NewObjectProperty(m) }
func secret(v resource.PropertyValue) resource.PropertyValue { return resource.MakeSecret(v) }

// hostKey is a well-formed pinned host key (Check requires one on every connection).
var hostKey = str("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC2Oi8O6g1lN7D1TsT9sC7SHasyXqOkbdXb4xnP6J71n")

func unknown() resource.PropertyValue {
	return resource.MakeComputed(resource.NewStringProperty(""))
}

// connOf returns the (unwrapped) connection of checked inputs and whether it was secret.
func connOf(t *testing.T, m resource.PropertyMap) (resource.PropertyMap, bool) {
	t.Helper()
	v, isSecret, isUnknown := unwrap(m[propConnection])
	if isUnknown || !v.IsObject() {
		t.Fatalf("connection is not a known object: %v", m[propConnection])
	}
	return v.ObjectValue(), isSecret
}

func failuresOf(fs []checkFailure) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Property + ": " + f.Reason + "\n")
	}
	return b.String()
}

func TestCheckAppliesDefaults(t *testing.T) {
	news := resource.PropertyMap{
		propCreate: str("hostname"),
		propConnection: obj(resource.PropertyMap{
			connHost:    str("10.0.0.5"),
			connHostKey: hostKey,
			connProxy:   obj(resource.PropertyMap{connHost: str("jump"), connHostKey: hostKey}),
		}),
	}
	out, failures := checkInputs(news)
	if len(failures) != 0 {
		t.Fatalf("unexpected failures:\n%s", failuresOf(failures))
	}
	if got := out[propLogging]; !got.IsString() || got.StringValue() != "stdoutAndStderr" {
		t.Errorf("logging = %v, want stdoutAndStderr", got)
	}
	if got := out[propAddPreviousOutputInEnv]; !got.IsBool() || !got.BoolValue() {
		t.Errorf("addPreviousOutputInEnv = %v, want true", got)
	}
	conn, isSecret := connOf(t, out)
	if !isSecret {
		t.Errorf("connection is not secret")
	}
	want := map[string]any{connPort: 22.0, connUser: "root", connDialErrorLimit: 10.0, connPerDialTimeout: 15.0, connHost: "10.0.0.5"}
	for k, w := range want {
		if got := conn[resource.PropertyKey(k)].V; got != w {
			t.Errorf("connection.%s = %v, want %v", k, got, w)
		}
	}
	proxy := conn[connProxy].ObjectValue()
	for k, w := range map[string]any{connPort: 22.0, connUser: "root", connDialErrorLimit: 10.0, connPerDialTimeout: 15.0} {
		if got := proxy[resource.PropertyKey(k)].V; got != w {
			t.Errorf("connection.proxy.%s = %v, want %v", k, got, w)
		}
	}
	if _, ok := out[propStdin]; ok {
		t.Errorf("stdin was added")
	}
}

func TestCheckKeepsGivenValuesAndSecrets(t *testing.T) {
	key := newEd25519PEM(t)
	news := resource.PropertyMap{
		propStdin:                  secret(str("top secret")),
		propLogging:                str("none"),
		propAddPreviousOutputInEnv: resource.NewBoolProperty(false),
		propConnection: secret(obj(resource.PropertyMap{
			connHost:       str("h"),
			connPort:       num(2222),
			connUser:       str("azureuser"),
			connPrivateKey: secret(str(key)),
			connHostKey:    hostKey,
		})),
	}
	out, failures := checkInputs(news)
	if len(failures) != 0 {
		t.Fatalf("unexpected failures:\n%s", failuresOf(failures))
	}
	if !out[propStdin].IsSecret() {
		t.Errorf("stdin lost its secretness")
	}
	if out[propLogging].StringValue() != "none" || out[propAddPreviousOutputInEnv].BoolValue() {
		t.Errorf("given values replaced by defaults: %v", out)
	}
	conn, _ := connOf(t, out)
	if conn[connPort].NumberValue() != 2222 || conn[connUser].StringValue() != "azureuser" {
		t.Errorf("connection values replaced: %v", conn)
	}
	if !conn[connPrivateKey].IsSecret() {
		t.Errorf("privateKey lost its secretness")
	}
}

func TestCheckValidation(t *testing.T) {
	_, pubOnly := newEd25519Key(t)
	cases := []struct {
		name     string
		news     resource.PropertyMap
		wantPath string
		wantText string
	}{
		{"no connection", resource.PropertyMap{propCreate: str("x")}, "connection", "missing required property 'connection'"},
		{"no host", resource.PropertyMap{propConnection: obj(resource.PropertyMap{connUser: str("u")})}, "connection.host", "missing required"},
		{"empty host", resource.PropertyMap{propConnection: obj(resource.PropertyMap{connHost: str(" ")})}, "connection.host", "must not be empty"},
		{"proxy without host", resource.PropertyMap{propConnection: obj(resource.PropertyMap{
			connHost: str("h"), connProxy: obj(resource.PropertyMap{connUser: str("j")})})}, "connection.proxy.host", "missing required"},
		{"proxy of proxy", resource.PropertyMap{propConnection: obj(resource.PropertyMap{
			connHost: str("h"), connProxy: obj(resource.PropertyMap{connHost: str("j"), connProxy: obj(resource.PropertyMap{})})})},
			"connection.proxy.proxy", "unknown property"},
		{"bad logging", resource.PropertyMap{propLogging: str("all"), propConnection: obj(resource.PropertyMap{connHost: str("h")})}, "logging", "must be one of"},
		{"bad port", resource.PropertyMap{propConnection: obj(resource.PropertyMap{connHost: str("h"), connPort: num(70000)})}, "connection.port", "between 1 and 65535"},
		{"fractional timeout", resource.PropertyMap{propConnection: obj(resource.PropertyMap{connHost: str("h"), connPerDialTimeout: num(1.5)})}, "connection.perDialTimeout", "integer"},
		{"dialErrorLimit below -1", resource.PropertyMap{propConnection: obj(resource.PropertyMap{connHost: str("h"), connDialErrorLimit: num(-2)})}, "connection.dialErrorLimit", "between -1"},
		{"bad hostKey", resource.PropertyMap{propConnection: obj(resource.PropertyMap{connHost: str("h"), connHostKey: str("not a key")})}, "connection.hostKey", "authorized_keys format"},
		{"no hostKey", resource.PropertyMap{propConnection: obj(resource.PropertyMap{connHost: str("h")})}, "connection.hostKey",
			`connection.hostKey is required: pin the server's host key ("ssh-ed25519 AAAA...", as ssh-keyscan prints it); this provider refuses to connect to an unverified host`},
		{"empty hostKey", resource.PropertyMap{propConnection: obj(resource.PropertyMap{connHost: str("h"), connHostKey: str(" ")})}, "connection.hostKey", "connection.hostKey is required"},
		{"proxy without hostKey", resource.PropertyMap{propConnection: obj(resource.PropertyMap{connHost: str("h"), connHostKey: hostKey,
			connProxy: obj(resource.PropertyMap{connHost: str("j")})})}, "connection.proxy.hostKey", "connection.proxy.hostKey is required: pin the server's host key"},
		{"agentSocketPath", resource.PropertyMap{propConnection: obj(resource.PropertyMap{connHost: str("h"), connHostKey: hostKey, connAgentSocketPath: str("/run/agent.sock")})},
			"connection.agentSocketPath", "connection.agentSocketPath is not supported: this provider authenticates with privateKey (or password) only, never an ssh-agent"},
		{"bad privateKey", resource.PropertyMap{propConnection: obj(resource.PropertyMap{connHost: str("h"), connPrivateKey: secret(str("garbage"))})}, "connection.privateKey", "cannot be parsed"},
		{"public key as privateKey", resource.PropertyMap{propConnection: obj(resource.PropertyMap{connHost: str("h"), connPrivateKey: str(pubOnly)})}, "connection.privateKey", "cannot be parsed"},
		{"unknown property", resource.PropertyMap{"comand": str("x"), propConnection: obj(resource.PropertyMap{connHost: str("h")})}, "comand", "unknown property"},
		{"env not string", resource.PropertyMap{propEnvironment: obj(resource.PropertyMap{"A": num(1)}), propConnection: obj(resource.PropertyMap{connHost: str("h")})}, "environment.A", "strings"},
		{"triggers not array", resource.PropertyMap{propTriggers: str("x"), propConnection: obj(resource.PropertyMap{connHost: str("h")})}, "triggers", "array"},
		{"create not string", resource.PropertyMap{propCreate: num(1), propConnection: obj(resource.PropertyMap{connHost: str("h")})}, "create", "must be a string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, failures := checkInputs(tc.news)
			for _, f := range failures {
				if f.Property == tc.wantPath && strings.Contains(f.Reason, tc.wantText) {
					return
				}
			}
			t.Errorf("want failure %s: ...%s..., got:\n%s", tc.wantPath, tc.wantText, failuresOf(failures))
		})
	}
}

func TestCheckEncryptedKeyNeedsPassword(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	key := string(pem.EncodeToMemory(block))
	conn := resource.PropertyMap{connHost: str("h"), connPrivateKey: str(key), connHostKey: hostKey}
	_, failures := checkInputs(resource.PropertyMap{propConnection: obj(conn)})
	if len(failures) != 1 || failures[0].Property != "connection.privateKey" || !strings.Contains(failures[0].Reason, "privateKeyPassword") {
		t.Errorf("failures:\n%s", failuresOf(failures))
	}
	conn[connPrivateKeyPassword] = secret(str("pw"))
	if _, failures = checkInputs(resource.PropertyMap{propConnection: obj(conn)}); len(failures) != 0 {
		t.Errorf("with the password: %s", failuresOf(failures))
	}
	conn[connPrivateKeyPassword] = str("wrong")
	if _, failures = checkInputs(resource.PropertyMap{propConnection: obj(conn)}); len(failures) != 1 {
		t.Errorf("with a wrong password: %s", failuresOf(failures))
	} else if strings.Contains(failures[0].Reason, "PRIVATE KEY") {
		t.Errorf("failure quotes the key: %s", failures[0].Reason)
	}
}

func TestCheckSkipsUnknowns(t *testing.T) {
	news := resource.PropertyMap{
		propCreate: unknown(),
		propConnection: obj(resource.PropertyMap{
			connHost:    unknown(),
			connPort:    unknown(),
			connHostKey: unknown(),
		}),
	}
	out, failures := checkInputs(news)
	if len(failures) != 0 {
		t.Fatalf("unknowns failed: %s", failuresOf(failures))
	}
	conn, _ := connOf(t, out)
	if !conn[connPort].IsComputed() || !conn[connHost].IsComputed() {
		t.Errorf("unknowns replaced: %v", conn)
	}
	// A connection that is unknown as a whole stays unknown (and secret).
	out, failures = checkInputs(resource.PropertyMap{propConnection: unknown()})
	if len(failures) != 0 || !out[propConnection].ContainsUnknowns() || !out[propConnection].IsSecret() {
		t.Errorf("unknown connection: %v %s", out[propConnection], failuresOf(failures))
	}
}

func TestParseSpec(t *testing.T) {
	out, failures := checkInputs(resource.PropertyMap{
		propCreate:      str("echo hi"),
		propStdin:       secret(str("in")),
		propEnvironment: obj(resource.PropertyMap{"B": str("2"), "A": secret(str("1"))}),
		propConnection: secret(obj(resource.PropertyMap{
			connHost: str("10.0.0.5"), connPassword: secret(str("pw")), connHostKey: hostKey,
			connProxy: obj(resource.PropertyMap{connHost: str("jump"), connUser: str("j"), connPort: num(2200), connHostKey: hostKey}),
		})),
	})
	if len(failures) != 0 {
		t.Fatal(failuresOf(failures))
	}
	out[propStdout] = str("previous")
	s, err := parseSpec(out)
	if err != nil {
		t.Fatal(err)
	}
	if !s.create.set || s.create.val != "echo hi" || s.create.secret || !s.stdin.secret || s.update.set {
		t.Errorf("commands: %+v", s)
	}
	if len(s.env) != 2 || s.env[0] != (envVar{"A", "1"}) || s.env[1] != (envVar{"B", "2"}) {
		t.Errorf("env: %v", s.env)
	}
	if s.conn.addr() != "10.0.0.5:22" || s.conn.user != "root" || s.conn.password != "pw" || s.conn.dialErrorLimit != 10 {
		t.Errorf("conn: %+v", s.conn)
	}
	if s.conn.proxy == nil || s.conn.proxy.addr() != "jump:2200" || s.conn.proxy.user != "j" {
		t.Errorf("proxy: %+v", s.conn.proxy)
	}
	if s.stdout != "previous" || !s.addPrevious || s.logging != logStdoutAndStderr {
		t.Errorf("state: %+v", s)
	}
	if _, err := parseSpec(resource.PropertyMap{propCreate: unknown()}); err == nil {
		t.Errorf("unknown inputs parsed")
	}
}
