package main

// Keepalives against the in-process SSH server: answered ones keep a long command running, and a
// connection whose network stops carrying anything (a relay that freezes) fails the command
// within keepaliveInterval × keepaliveMaxMissed, directly and through a proxy.

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// shortKeepalives makes the keepalive interval d for the test (window 3 d).
func shortKeepalives(t *testing.T, d time.Duration) {
	t.Helper()
	interval, missed := keepaliveInterval, keepaliveMaxMissed
	keepaliveInterval, keepaliveMaxMissed = d, 3
	t.Cleanup(func() { keepaliveInterval, keepaliveMaxMissed = interval, missed })
}

// freezingRelay forwards TCP connections to target until it is frozen; from then on it reads and
// drops everything in both directions, as a network that lost the host would.
type freezingRelay struct {
	port   int
	frozen atomic.Bool
}

func startRelay(t *testing.T, target string) *freezingRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r := &freezingRelay{port: ln.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go r.pump(u, c)
			go r.pump(c, u)
		}
	}()
	return r
}

func (r *freezingRelay) pump(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		if !r.frozen.Load() {
			dst.Write(buf[:n])
		}
	}
}

func TestKeepaliveDefaultsDetectWithinAMinute(t *testing.T) {
	if window := keepaliveInterval * time.Duration(keepaliveMaxMissed); window != 45*time.Second {
		t.Errorf("keepalive window %s, want 45s (15 s × 3: a dead connection fails its command within a minute)", window)
	}
}

func TestKeepaliveAnsweredKeepsTheConnection(t *testing.T) {
	shortKeepalives(t, 50*time.Millisecond)
	_, tc := newTestSetup(t)
	// The server answers keepalives with failure (it does not know them), which is an answer.
	res, err := runOn(context.Background(), tc.conn, &recorder{}, runRequest{command: cmdOf("sleep 1; echo done")})
	if err != nil || res.stdout != "done" {
		t.Errorf("a command longer than the keepalive window: %v %+v", err, res)
	}
}

func TestKeepaliveLostConnectionFailsTheCommand(t *testing.T) {
	shortKeepalives(t, 100*time.Millisecond)
	srv, tc := newTestSetup(t)
	relay := startRelay(t, srv.addr)
	c := tc.conn
	c.port = relay.port
	time.AfterFunc(300*time.Millisecond, func() { relay.frozen.Store(true) })
	start := time.Now()
	_, err := runOn(context.Background(), c, &recorder{}, runRequest{command: cmdOf("echo started; sleep 30")})
	took := time.Since(start)
	want := fmt.Sprintf("connection to 127.0.0.1:%d lost: no keepalive reply for 0.3s while running \"echo started; sleep 30\"\nstderr: (empty)\nstdout (last 40 lines):\nstarted", relay.port)
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	// frozen at 0.3 s, the last reply at most one interval before, then the window of 0.3 s
	if took < 450*time.Millisecond || took > 3*time.Second {
		t.Errorf("failed after %s, want 0.5 to 0.6 s", took)
	}
}

func TestKeepaliveLostProxyFailsTheCommand(t *testing.T) {
	shortKeepalives(t, 100*time.Millisecond)
	target, tc := newTestSetup(t)
	pub, _ := ssh.ParsePrivateKey([]byte(tc.key))
	jump := startFakeSSH(t, pub.PublicKey())
	relay := startRelay(t, jump.addr)
	c := tc.conn
	c.proxy = &connSpec{host: "127.0.0.1", port: relay.port, user: "jumper", privateKey: tc.key, hostKey: jump.hostKey, dialErrorLimit: 1, perDialTimeout: 5}
	time.AfterFunc(300*time.Millisecond, func() { relay.frozen.Store(true) })
	start := time.Now()
	_, err := runOn(context.Background(), c, &recorder{}, runRequest{command: cmdOf("sleep 30")})
	want := fmt.Sprintf("connection to %s via proxy 127.0.0.1:%d lost: no keepalive reply for 0.3s while running \"sleep 30\"", target.addr, relay.port)
	if err == nil || !strings.HasPrefix(err.Error(), want) || time.Since(start) > 3*time.Second {
		t.Errorf("after %s: got %v\nwant %s...", time.Since(start), err, want)
	}
}
