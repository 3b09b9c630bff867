package main

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Keepalives: a connection whose server stops answering (a VM that hung or lost its network, a
// firewall that forgot the flow) is closed after keepaliveMaxMissed intervals without a reply
// (15 s × 3 = 45 s), so the command running on it fails within a minute instead of waiting for
// TCP to give up, which takes from minutes to never. Variables so that tests can shorten them.
var (
	keepaliveInterval  = 15 * time.Second
	keepaliveMaxMissed = 3
)

// keepaliveRequest is OpenSSH's: servers answer it (with failure, as to any request they do not
// know), which is all a keepalive needs.
const keepaliveRequest = "keepalive@openssh.com"

// keepalive watches one connection; see startKeepalive.
type keepalive struct {
	done     chan struct{}
	stopOnce sync.Once
	mu       sync.Mutex
	err      error
}

// withKeepalive starts the keepalive of c, which name (host:port) identifies in its error.
func withKeepalive(c *sshClient, name string) *sshClient {
	c.keepalive = startKeepalive(c.Client, name, func() { c.closeConns() })
	return c
}

// startKeepalive sends a keepalive request on conn every keepaliveInterval, one at a time. When
// no reply has come for keepaliveMaxMissed intervals since the last one (or since the start), it
// records the loss and calls closeAll, which ends whatever waits on the connection.
func startKeepalive(conn ssh.Conn, name string, closeAll func()) *keepalive {
	k := &keepalive{done: make(chan struct{})}
	interval := keepaliveInterval
	window := interval * time.Duration(keepaliveMaxMissed)
	go func() {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		deadline := time.NewTimer(window)
		defer deadline.Stop()
		replies := make(chan error, 1) // one request at a time: a reply never blocks its sender
		pending := false
		for {
			select {
			case <-k.done:
				return
			case err := <-replies:
				if err != nil {
					return // the connection is closed
				}
				pending = false
				deadline.Reset(window)
			case <-ticker.C:
				if !pending {
					pending = true
					go func() {
						_, _, err := conn.SendRequest(keepaliveRequest, true, nil)
						replies <- err
					}()
				}
			case <-deadline.C:
				k.mu.Lock()
				k.err = fmt.Errorf("connection to %s lost: no keepalive reply for %s", name, formatSeconds(window))
				k.mu.Unlock()
				closeAll()
				return
			}
		}
	}()
	return k
}

// stop ends the keepalive (the connection is being closed).
func (k *keepalive) stop() { k.stopOnce.Do(func() { close(k.done) }) }

// lost is the error of a connection the keepalive closed, or nil.
func (k *keepalive) lost() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}
