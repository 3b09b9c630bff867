package main

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

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
