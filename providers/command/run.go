package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	tailLineCount = 40        // lines of stdout/stderr an error shows
	tailMaxBytes  = 16 << 10  // and at most this many bytes of each
	maxLogLine    = 64 << 10  // a line longer than this is logged in pieces
	prevOutputMax = 128 << 10 // PULUMI_COMMAND_STDOUT/STDERR longer than this are not sent
)

var errTimeout = errors.New("operation timed out")

// runRequest is one command to run on a remote host.
type runRequest struct {
	command     optString
	stdin       optString
	env         []envVar // must be accepted by the server: an error names the one refused
	optionalEnv []envVar // PULUMI_COMMAND_STDOUT/STDERR: a warning when refused
	logging     string
	timeout     time.Duration // 0: none; for the error message (ctx carries the deadline)
	logLine     func(line string)
	warn        func(msg string)
	connect     func(ctx context.Context) (*sshClient, error)
}

// runResult is what a command printed.
type runResult struct {
	stdout, stderr string
}

// commandLabel is how errors name a command: quoted, shortened, "[secret]" when it is a secret.
func commandLabel(c optString) string {
	if c.secret {
		return "[secret]"
	}
	s := c.val
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return fmt.Sprintf("%q", s)
}

func logsStdout(logging string) bool { return logging == logStdout || logging == logStdoutAndStderr }
func logsStderr(logging string) bool { return logging == logStderr || logging == logStdoutAndStderr }

// lineWriter captures everything written to it and passes each complete line to emit.
type lineWriter struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	emit    func(string) // nil: capture only
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	if w.emit == nil {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.emit(strings.TrimSuffix(string(w.partial[:i]), "\r"))
		w.partial = w.partial[i+1:]
	}
	for len(w.partial) > maxLogLine {
		w.emit(string(w.partial[:maxLogLine]))
		w.partial = w.partial[maxLogLine:]
	}
	if len(w.partial) == 0 {
		w.partial = nil
	}
	return len(p), nil
}

// flush emits a last line that had no newline.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.emit != nil && len(w.partial) > 0 {
		w.emit(string(w.partial))
	}
	w.partial = nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

// tail returns the last n lines of s (without a final newline), at most maxBytes of them.
func tail(s string, n, maxBytes int) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, "\n")
	if len(out) > maxBytes {
		out = "..." + out[len(out)-maxBytes:]
	}
	return out
}

// outputTail is the part of a failed command's output an error shows, as logging allows.
func outputTail(logging, stdout, stderr string) string {
	var b strings.Builder
	section := func(name, s string) {
		t := tail(s, tailLineCount, tailMaxBytes)
		if t == "" {
			fmt.Fprintf(&b, "\n%s: (empty)", name)
			return
		}
		fmt.Fprintf(&b, "\n%s (last %d lines):\n%s", name, tailLineCount, t)
	}
	if logsStderr(logging) {
		section("stderr", stderr)
	}
	if logsStdout(logging) {
		section("stdout", stdout)
	}
	switch logging {
	case logNone:
		b.WriteString("\n(stdout and stderr not shown: logging is \"none\")")
	case logStdout:
		b.WriteString("\n(stderr not shown: logging is \"stdout\")")
	case logStderr:
		b.WriteString("\n(stdout not shown: logging is \"stderr\")")
	}
	return b.String()
}

// run connects, runs the command in one session and returns its output. stdin, when set, is
// written to the command and then closed. On a non-zero exit, the error has the exit status,
// the command and the tail of its output; on the context's deadline or cancellation the
// session is signalled and closed.
func run(ctx context.Context, r runRequest) (runResult, error) {
	label := commandLabel(r.command)
	ctxErr := func(err error) error {
		if errors.Is(context.Cause(ctx), errTimeout) {
			return fmt.Errorf("timed out after %s running %s", formatSeconds(r.timeout), label)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("cancelled while running %s", label)
		}
		return err
	}

	client, err := r.connect(ctx)
	if err != nil {
		return runResult{}, ctxErr(err)
	}
	defer client.Close()
	// connErr explains an error on the connection: lost (the keepalive closed it), timed out or cancelled.
	connErr := func(err error) error {
		if lost := client.lost(); lost != nil {
			return fmt.Errorf("%w while running %s", lost, label)
		}
		return ctxErr(err)
	}
	session, err := client.NewSession()
	if err != nil {
		return runResult{}, connErr(fmt.Errorf("ssh: cannot open a session: %w", err))
	}
	defer session.Close()

	for _, e := range r.env {
		if err := session.Setenv(e.name, e.value); err != nil {
			return runResult{}, connErr(fmt.Errorf("the SSH server refused environment variable %q (%v): it accepts only the "+
				"names its sshd_config AcceptEnv lists; or prefix the command with %s=... instead", e.name, err, e.name))
		}
	}
	for _, e := range r.optionalEnv {
		if err := session.Setenv(e.name, e.value); err != nil {
			r.warn(fmt.Sprintf("the SSH server refused environment variable %s (not in its AcceptEnv): the command runs without it", e.name))
		}
	}

	stdout := &lineWriter{}
	stderr := &lineWriter{}
	if logsStdout(r.logging) {
		stdout.emit = r.logLine
	}
	if logsStderr(r.logging) {
		stderr.emit = r.logLine
	}
	session.Stdout, session.Stderr = stdout, stderr
	if r.stdin.set && r.stdin.val != "" {
		session.Stdin = strings.NewReader(r.stdin.val)
	}

	if err := session.Start(r.command.val); err != nil {
		return runResult{}, connErr(fmt.Errorf("ssh: cannot start %s: %w", label, err))
	}
	done := make(chan error, 1)
	go func() { done <- session.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGTERM)
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		session.Close()
		client.Close()
		stdout.flush()
		stderr.flush()
		return runResult{}, ctxErr(ctx.Err())
	}
	stdout.flush()
	stderr.flush()
	res := runResult{
		stdout: strings.TrimSuffix(stdout.String(), "\n"),
		stderr: strings.TrimSuffix(stderr.String(), "\n"),
	}
	if err != nil {
		var exit *ssh.ExitError
		var missing *ssh.ExitMissingError
		var what string
		if lost := client.lost(); lost != nil && !errors.As(err, &exit) {
			return res, fmt.Errorf("%w while running %s%s", lost, label, outputTail(r.logging, res.stdout, res.stderr))
		}
		switch {
		case errors.As(err, &exit) && exit.Signal() != "":
			what = fmt.Sprintf("killed by signal %s", exit.Signal())
		case errors.As(err, &exit):
			what = fmt.Sprintf("exited with status %d", exit.ExitStatus())
		case errors.As(err, &missing):
			what = "ended without an exit status"
		default:
			return res, ctxErr(fmt.Errorf("ssh: running %s: %w", label, err))
		}
		return res, fmt.Errorf("command %s running %s%s", what, label, outputTail(r.logging, res.stdout, res.stderr))
	}
	return res, nil
}

func formatSeconds(d time.Duration) string { return fmt.Sprintf("%gs", d.Seconds()) }
