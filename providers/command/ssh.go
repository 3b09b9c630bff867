package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

func joinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// hostKeyMismatchError is returned by the host key callback when a pinned key differs.
type hostKeyMismatchError struct {
	addr          string
	expected, got ssh.PublicKey
}

func (e *hostKeyMismatchError) Error() string {
	return fmt.Sprintf("host key mismatch for %s: expected %s %s, got %s %s", e.addr,
		e.expected.Type(), ssh.FingerprintSHA256(e.expected), e.got.Type(), ssh.FingerprintSHA256(e.got))
}

// checkHostKey compares the key a server presented with the pinned one.
func checkHostKey(addr string, pinned, got ssh.PublicKey) error {
	if bytes.Equal(pinned.Marshal(), got.Marshal()) {
		return nil
	}
	return &hostKeyMismatchError{addr: addr, expected: pinned, got: got}
}

// hostKeyAlgorithms are the host key algorithms to ask a server for so that it presents a key of
// the pinned key's type (a server with several host keys would otherwise choose).
func hostKeyAlgorithms(pinned ssh.PublicKey) []string {
	if pinned.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{pinned.Type()}
}

// dialer opens SSH connections for one operation; status reports retries to the engine.
type dialer struct {
	status func(msg string)
}

// sshClient is a connection to the target, and to the proxy it goes through, if any, with the
// keepalive that closes both when the target stops answering.
type sshClient struct {
	*ssh.Client
	proxy     *ssh.Client
	keepalive *keepalive
}

func (c *sshClient) Close() error {
	if c.keepalive != nil {
		c.keepalive.stop()
	}
	return c.closeConns()
}

// closeConns closes the proxy first: closing the target's connection writes to the proxy's,
// which must not block on a dead network.
func (c *sshClient) closeConns() error {
	if c.proxy != nil {
		c.proxy.Close()
	}
	return c.Client.Close()
}

// lost is the error of a connection the keepalive closed, or nil.
func (c *sshClient) lost() error {
	if c.keepalive == nil {
		return nil
	}
	return c.keepalive.lost()
}

// clientConfig builds the SSH client configuration of c: its auth methods (the private key,
// then password and keyboard-interactive with the password; never an ssh-agent) and the check of
// the pinned host key, which it requires.
func clientConfig(c *connSpec) (*ssh.ClientConfig, error) {
	cfg := &ssh.ClientConfig{User: c.user}
	if c.hostKey == "" {
		return nil, errors.New("no hostKey: the server's host key must be pinned, an unverified host is refused")
	}
	pinned, err := parseHostKey(c.hostKey)
	if err != nil {
		return nil, err
	}
	cfg.HostKeyAlgorithms = hostKeyAlgorithms(pinned)
	addr := c.addr()
	cfg.HostKeyCallback = func(_ string, _ net.Addr, key ssh.PublicKey) error { return checkHostKey(addr, pinned, key) }
	if c.privateKey != "" {
		signer, err := parsePrivateKey(c.privateKey, c.privateKeyPassword)
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.password != "" {
		pw := c.password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if len(cfg.Auth) == 0 {
		return nil, errors.New("no SSH authentication method: set privateKey (or password)")
	}
	return cfg, nil
}

// permanent reports dial errors that retrying cannot fix: a host key mismatch or refused
// credentials.
func permanent(err error) bool {
	var mismatch *hostKeyMismatchError
	var noAlgo *ssh.AlgorithmNegotiationError
	return errors.As(err, &mismatch) || errors.As(err, &noAlgo) ||
		strings.Contains(err.Error(), "unable to authenticate")
}

// explainDialError drops the "ssh: handshake failed" wrapping off a host key mismatch, and
// explains the handshake error for a pinned key of a type the server lacks.
func explainDialError(c *connSpec, err error) error {
	var mismatch *hostKeyMismatchError
	if errors.As(err, &mismatch) {
		return mismatch
	}
	var noAlgo *ssh.AlgorithmNegotiationError
	if errors.As(err, &noAlgo) && noAlgo.What == "host key" && c.hostKey != "" {
		if k, perr := parseHostKey(c.hostKey); perr == nil {
			return fmt.Errorf("host key mismatch for %s: expected %s %s, the server has no %s host key (it offers %s)",
				c.addr(), k.Type(), ssh.FingerprintSHA256(k), k.Type(), strings.Join(noAlgo.RequestedAlgorithms, ", "))
		}
	}
	return err
}

// retryDelay is the pause before attempt n+1 (n >= 1): 0.5 s doubling to at most 5 s.
func retryDelay(n int) time.Duration {
	d := 500 * time.Millisecond
	for i := 1; i < n && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// withRetries runs attempt until it succeeds, fails permanently, or limit attempts have failed
// (limit -1: no limit). It returns the number of attempts made and the last error.
func (d *dialer) withRetries(ctx context.Context, what string, limit int, attempt func() error) (int, error) {
	if limit == 0 {
		limit = 1
	}
	for n := 1; ; n++ {
		err := attempt()
		if err == nil {
			return n, nil
		}
		if ctx.Err() != nil {
			return n, err
		}
		if permanent(err) || (limit > 0 && n >= limit) {
			return n, err
		}
		lim := "unlimited"
		if limit > 0 {
			lim = strconv.Itoa(limit)
		}
		d.status(fmt.Sprintf("%s: attempt %d/%s failed (%v); retrying", what, n, lim, err))
		select {
		case <-ctx.Done():
			return n, err
		case <-time.After(retryDelay(n)):
		}
	}
}

func attempts(n int) string {
	if n == 1 {
		return "after 1 attempt"
	}
	return fmt.Sprintf("after %d attempts", n)
}

// handshake runs the SSH client handshake on conn, bounded by timeout (0: none) and ctx; on
// failure conn is closed.
func handshake(ctx context.Context, conn net.Conn, addr string, cfg *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	type result struct {
		c     ssh.Conn
		chans <-chan ssh.NewChannel
		reqs  <-chan *ssh.Request
		err   error
	}
	done := make(chan result, 1)
	go func() {
		c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
		done <- result{c, chans, reqs, err}
	}()
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	select {
	case r := <-done:
		if r.err != nil {
			conn.Close()
			return nil, r.err
		}
		return ssh.NewClient(r.c, r.chans, r.reqs), nil
	case <-timer:
		conn.Close()
		<-done
		return nil, fmt.Errorf("ssh handshake timed out after %s", timeout)
	case <-ctx.Done():
		conn.Close()
		<-done
		return nil, ctx.Err()
	}
}

// dialOnce opens one SSH connection to c, over a TCP connection made by dial.
func dialOnce(ctx context.Context, c *connSpec, cfg *ssh.ClientConfig,
	dial func(ctx context.Context, addr string) (net.Conn, error)) (*ssh.Client, error) {
	timeout := time.Duration(c.perDialTimeout) * time.Second
	dctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	conn, err := dial(dctx, c.addr())
	if err != nil {
		return nil, err
	}
	remaining := time.Duration(0)
	if timeout > 0 {
		if remaining = timeout - time.Since(start); remaining <= 0 {
			conn.Close()
			return nil, fmt.Errorf("dial timed out after %s", timeout)
		}
	}
	return handshake(ctx, conn, c.addr(), cfg, remaining)
}

// dialDirect opens an SSH connection to c over TCP, retrying dial errors up to its
// dialErrorLimit; role ("" or "proxy ") names it in errors.
func (d *dialer) dialDirect(ctx context.Context, c *connSpec, cfg *ssh.ClientConfig, role string) (*ssh.Client, error) {
	var client *ssh.Client
	var nd net.Dialer
	n, err := d.withRetries(ctx, "ssh "+role+c.addr(), c.dialErrorLimit, func() (err error) {
		client, err = dialOnce(ctx, c, cfg, func(ctx context.Context, addr string) (net.Conn, error) {
			return nd.DialContext(ctx, "tcp", addr)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ssh: cannot connect to %s%s@%s: %v (%s)", role, c.user, c.addr(), explainDialError(c, err), attempts(n))
	}
	return client, nil
}

// connect opens an SSH connection to c, through its proxy when it has one, retrying dial
// errors up to each connection's dialErrorLimit.
func (d *dialer) connect(ctx context.Context, c *connSpec) (*sshClient, error) {
	cfg, err := clientConfig(c)
	if err != nil {
		return nil, fmt.Errorf("ssh: %s@%s: %w", c.user, c.addr(), err)
	}

	if c.proxy == nil {
		client, err := d.dialDirect(ctx, c, cfg, "")
		if err != nil {
			return nil, err
		}
		return withKeepalive(&sshClient{Client: client}, c.addr()), nil
	}

	p := c.proxy
	pcfg, err := clientConfig(p)
	if err != nil {
		return nil, fmt.Errorf("ssh: proxy %s@%s: %w", p.user, p.addr(), err)
	}
	proxy, err := d.dialDirect(ctx, p, pcfg, "proxy ")
	if err != nil {
		return nil, err
	}
	var client *ssh.Client
	n, err := d.withRetries(ctx, "ssh "+c.addr()+" via "+p.addr(), c.dialErrorLimit, func() (err error) {
		client, err = dialOnce(ctx, c, cfg, func(ctx context.Context, addr string) (net.Conn, error) {
			return proxy.DialContext(ctx, "tcp", addr)
		})
		return err
	})
	if err != nil {
		proxy.Close()
		return nil, fmt.Errorf("ssh: cannot connect to %s@%s via proxy %s@%s: %v (%s)",
			c.user, c.addr(), p.user, p.addr(), explainDialError(c, err), attempts(n))
	}
	return withKeepalive(&sshClient{Client: client, proxy: proxy}, c.addr()+" via proxy "+p.addr()), nil
}
