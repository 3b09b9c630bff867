package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// newEd25519Key returns an OpenSSH PEM private key and its authorized_keys line.
func newEd25519Key(t *testing.T) (privPEM, authorized string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
}

func newEd25519PEM(t *testing.T) string { k, _ := newEd25519Key(t); return k }

func TestParseHostKey(t *testing.T) {
	_, line := newEd25519Key(t)
	for _, s := range []string{line, line + " root@k8s-master-0", "  " + line + "\n"} {
		k, err := parseHostKey(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if k.Type() != ssh.KeyAlgoED25519 {
			t.Errorf("type %s", k.Type())
		}
	}
	for _, s := range []string{"", "ssh-ed25519", "ssh-ed25519 notbase64!", "10.0.0.5 " + line[:20]} {
		if _, err := parseHostKey(s); err == nil {
			t.Errorf("%q parsed", s)
		}
	}
}

func TestCheckHostKey(t *testing.T) {
	_, a := newEd25519Key(t)
	_, b := newEd25519Key(t)
	ka, _ := parseHostKey(a)
	ka2, _ := parseHostKey(a + " other comment")
	kb, _ := parseHostKey(b)
	if err := checkHostKey("10.0.0.5:22", ka, ka2); err != nil {
		t.Errorf("same key: %v", err)
	}
	err := checkHostKey("10.0.0.5:22", ka, kb)
	want := fmt.Sprintf("host key mismatch for 10.0.0.5:22: expected ssh-ed25519 %s, got ssh-ed25519 %s",
		ssh.FingerprintSHA256(ka), ssh.FingerprintSHA256(kb))
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if !permanent(fmt.Errorf("ssh: handshake failed: %w", err)) {
		t.Errorf("a mismatch is retried")
	}
}

func TestPrivateKeyTypesAndHostKeyAlgorithms(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	keys := map[string]string{
		"rsa pkcs1":       string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})),
		"ecdsa sec1":      string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})),
		"ecdsa pkcs8":     string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
		"ed25519 openssh": newEd25519PEM(t),
	}
	wantAlgos := map[string][]string{
		"rsa pkcs1":       {"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"},
		"ecdsa sec1":      {"ecdsa-sha2-nistp256"},
		"ecdsa pkcs8":     {"ecdsa-sha2-nistp256"},
		"ed25519 openssh": {"ssh-ed25519"},
	}
	for name, k := range keys {
		signer, err := parsePrivateKey(k, "")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		// A password given for an unencrypted key is ignored.
		if _, err := parsePrivateKey(k, "unused"); err != nil {
			t.Errorf("%s with a password: %v", name, err)
		}
		line := string(ssh.MarshalAuthorizedKey(signer.PublicKey()))
		pub, err := parseHostKey(line)
		if err != nil {
			t.Fatal(err)
		}
		if got := hostKeyAlgorithms(pub); !reflect.DeepEqual(got, wantAlgos[name]) {
			t.Errorf("%s: host key algorithms %v", name, got)
		}
	}
}
