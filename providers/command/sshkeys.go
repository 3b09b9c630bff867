package main

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

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
