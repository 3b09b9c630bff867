package main

// Tests of run, connect and the server's Create/Update/Delete against an in-process SSH server
// (golang.org/x/crypto/ssh) that runs commands with the local /bin/sh.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

type fakeSSH struct {
	addr       string
	hostKey    string // authorized_keys line
	acceptEnv  func(name string) bool
	mu         sync.Mutex
	handshakes int
}

// startFakeSSH serves SSH on 127.0.0.1 for a client with clientPub: "session" channels (env,
// exec, signal) and "direct-tcpip" (so it can be a jump host).
func startFakeSSH(t *testing.T, clientPub ssh.PublicKey) *fakeSSH {
	t.Helper()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, _ := ssh.NewSignerFromKey(hostPriv)
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(clientPub.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &fakeSSH{
		addr:      ln.Addr().String(),
		hostKey:   strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey()))),
		acceptEnv: func(name string) bool { return name == "LANG" },
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c, cfg)
		}
	}()
	return f
}

func (f *fakeSSH) port() int {
	_, p, _ := net.SplitHostPort(f.addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (f *fakeSSH) serve(c net.Conn, cfg *ssh.ServerConfig) {
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.handshakes++
	f.mu.Unlock()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			ch, chReqs, err := nc.Accept()
			if err != nil {
				continue
			}
			go f.session(ch, chReqs)
		case "direct-tcpip":
			var p struct {
				Host     string
				Port     uint32
				OrigHost string
				OrigPort uint32
			}
			if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
				nc.Reject(ssh.ConnectionFailed, err.Error())
				continue
			}
			target, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
			if err != nil {
				nc.Reject(ssh.ConnectionFailed, err.Error())
				continue
			}
			ch, chReqs, err := nc.Accept()
			if err != nil {
				target.Close()
				continue
			}
			go ssh.DiscardRequests(chReqs)
			go func() { io.Copy(ch, target); ch.CloseWrite() }()
			go func() { io.Copy(target, ch); target.Close() }()
		default:
			nc.Reject(ssh.UnknownChannelType, "no")
		}
	}
}

func (f *fakeSSH) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	var env []string
	var mu sync.Mutex
	var cmd *exec.Cmd
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			ssh.Unmarshal(req.Payload, &kv)
			ok := f.acceptEnv(kv.Name)
			if ok {
				env = append(env, kv.Name+"="+kv.Value)
			}
			req.Reply(ok, nil)
		case "exec":
			var p struct{ Command string }
			ssh.Unmarshal(req.Payload, &p)
			req.Reply(true, nil)
			mu.Lock()
			cmd = exec.Command("/bin/sh", "-c", p.Command)
			cmd.Env = append(os.Environ(), env...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			startErr := cmd.Start()
			mu.Unlock()
			go func() {
				status := 0
				err := startErr
				if err == nil {
					err = cmd.Wait()
				}
				if err != nil {
					var ee *exec.ExitError
					if errors.As(err, &ee) {
						status = ee.ExitCode()
					} else {
						status = 255
					}
				}
				ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
				ch.Close()
			}()
		case "signal":
			mu.Lock()
			if cmd != nil && cmd.Process != nil {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			}
			mu.Unlock()
			req.Reply(true, nil)
		default:
			req.Reply(false, nil)
		}
	}
}

type testClient struct {
	key  string // PEM
	conn connSpec
}

func newTestSetup(t *testing.T) (*fakeSSH, testClient) {
	t.Helper()
	key, pubLine := newEd25519Key(t)
	pub, _ := parseHostKey(pubLine)
	srv := startFakeSSH(t, pub)
	return srv, testClient{key: key, conn: connSpec{
		host: "127.0.0.1", port: srv.port(), user: "tester", privateKey: key, hostKey: srv.hostKey,
		dialErrorLimit: 3, perDialTimeout: 5,
	}}
}

type recorder struct {
	mu       sync.Mutex
	info     []string
	warnings []string
}

func (r *recorder) Log(_ context.Context, sev diag.Severity, _ resource.URN, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sev == diag.Warning {
		r.warnings = append(r.warnings, msg)
	} else {
		r.info = append(r.info, msg)
	}
	return nil
}

func (r *recorder) LogStatus(context.Context, diag.Severity, resource.URN, string) error { return nil }

func runOn(ctx context.Context, c connSpec, rec *recorder, rr runRequest) (runResult, error) {
	d := &dialer{status: func(string) {}}
	rr.warn = func(m string) { rec.Log(ctx, diag.Warning, "", m) }
	rr.logLine = func(l string) { rec.Log(ctx, diag.Info, "", l) }
	rr.connect = func(ctx context.Context) (*sshClient, error) { return d.connect(ctx, &c) }
	if rr.logging == "" {
		rr.logging = logStdoutAndStderr
	}
	return run(ctx, rr)
}

func cmdOf(s string) optString { return optString{val: s, set: true} }

func TestRunCapturesOutputAndStdin(t *testing.T) {
	_, tc := newTestSetup(t)
	rec := &recorder{}
	res, err := runOn(context.Background(), tc.conn, rec, runRequest{
		command: cmdOf(`read line; echo "got $line"; echo oops >&2; echo LANG=$LANG`),
		stdin:   optString{val: "the secret\n", set: true, secret: true},
		env:     []envVar{{"LANG", "C.UTF-8"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.stdout != "got the secret\nLANG=C.UTF-8" || res.stderr != "oops" {
		t.Errorf("stdout %q stderr %q", res.stdout, res.stderr)
	}
	if len(rec.info) != 3 || len(rec.warnings) != 0 {
		t.Errorf("logged %q, warnings %q", rec.info, rec.warnings)
	}
	for _, l := range rec.info {
		if l == "the secret" {
			t.Errorf("stdin was logged")
		}
	}
}

func TestRunLoggingNone(t *testing.T) {
	_, tc := newTestSetup(t)
	rec := &recorder{}
	res, err := runOn(context.Background(), tc.conn, rec, runRequest{command: cmdOf("echo a; echo b >&2"), logging: logNone})
	if err != nil || res.stdout != "a" || res.stderr != "b" || len(rec.info) != 0 {
		t.Errorf("err %v res %+v logged %q", err, res, rec.info)
	}
	rec = &recorder{}
	if _, err = runOn(context.Background(), tc.conn, rec, runRequest{command: cmdOf("echo a; echo b >&2"), logging: logStderr}); err != nil || len(rec.info) != 1 || rec.info[0] != "b" {
		t.Errorf("logging stderr: err %v logged %q", err, rec.info)
	}
}

func TestRunFailure(t *testing.T) {
	_, tc := newTestSetup(t)
	_, err := runOn(context.Background(), tc.conn, &recorder{}, runRequest{
		command: cmdOf("echo progress; for i in $(seq 1 60); do echo err$i >&2; done; exit 3"),
	})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"exited with status 3", "seq 1 60", "err60", "err21\n", "stdout (last 40 lines):\nprogress"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "err20\n") {
		t.Errorf("error has more than the last 40 lines:\n%s", msg)
	}
	_, err = runOn(context.Background(), tc.conn, &recorder{}, runRequest{
		command: optString{val: "echo SECRET-OUT; exit 1", set: true, secret: true}, logging: logNone,
	})
	if err == nil || strings.Contains(err.Error(), "SECRET-OUT") || !strings.Contains(err.Error(), "[secret]") {
		t.Errorf("secret command / logging none: %v", err)
	}
}

func TestRunEnvironmentRefused(t *testing.T) {
	_, tc := newTestSetup(t)
	_, err := runOn(context.Background(), tc.conn, &recorder{}, runRequest{command: cmdOf("true"), env: []envVar{{"FOO", "1"}}})
	if err == nil || !strings.Contains(err.Error(), `environment variable "FOO"`) {
		t.Errorf("refused env: %v", err)
	}
	rec := &recorder{}
	res, err := runOn(context.Background(), tc.conn, rec, runRequest{command: cmdOf("echo ${PULUMI_COMMAND_STDOUT:-unset}"),
		optionalEnv: []envVar{{envStdout, "prev"}}})
	if err != nil || res.stdout != "unset" || len(rec.warnings) != 1 || !strings.Contains(rec.warnings[0], envStdout) {
		t.Errorf("refused optional env: %v %+v %q", err, res, rec.warnings)
	}
}

func TestRunTimeoutAndCancel(t *testing.T) {
	_, tc := newTestSetup(t)
	ctx, cancel := context.WithTimeoutCause(context.Background(), time.Second, errTimeout)
	defer cancel()
	start := time.Now()
	_, err := runOn(ctx, tc.conn, &recorder{}, runRequest{command: cmdOf("sleep 30"), timeout: time.Second})
	if err == nil || err.Error() != `timed out after 1s running "sleep 30"` || time.Since(start) > 5*time.Second {
		t.Errorf("timeout: %v after %s", err, time.Since(start))
	}

	srv := newServer(nil)
	ctx2, _, done := srv.operationContext(context.Background(), 0)
	defer done()
	go func() { time.Sleep(500 * time.Millisecond); srv.Cancel(context.Background(), nil) }()
	start = time.Now()
	_, err = runOn(ctx2, tc.conn, &recorder{}, runRequest{command: cmdOf("sleep 30")})
	if err == nil || !strings.Contains(err.Error(), "cancelled") || time.Since(start) > 5*time.Second {
		t.Errorf("cancel: %v after %s", err, time.Since(start))
	}
}

func TestConnectHostKeyAndRetries(t *testing.T) {
	srv, tc := newTestSetup(t)
	_, other := newEd25519Key(t)
	c := tc.conn
	c.hostKey = other + " wrong-host"
	rec := &recorder{}
	_, err := runOn(context.Background(), c, rec, runRequest{command: cmdOf("true")})
	pinned, _ := parseHostKey(other)
	actual, _ := parseHostKey(srv.hostKey)
	want := fmt.Sprintf("ssh: cannot connect to tester@%s: host key mismatch for %s: expected ssh-ed25519 %s, got ssh-ed25519 %s (after 1 attempt)",
		srv.addr, srv.addr, ssh.FingerprintSHA256(pinned), ssh.FingerprintSHA256(actual))
	if err == nil || err.Error() != want {
		t.Errorf("mismatch:\n got %v\nwant ...%s", err, want)
	}

	// No pinned key: refused before connecting (Check refuses it first; this holds for state read back).
	c = tc.conn
	c.hostKey = ""
	if _, err := runOn(context.Background(), c, &recorder{}, runRequest{command: cmdOf("true")}); err == nil ||
		err.Error() != fmt.Sprintf("ssh: tester@%s: no hostKey: the server's host key must be pinned, an unverified host is refused", srv.addr) {
		t.Errorf("unpinned: %v", err)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c = tc.conn
	c.port = closedPort
	start := time.Now()
	_, err = runOn(context.Background(), c, &recorder{}, runRequest{command: cmdOf("true")})
	if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("ssh: cannot connect to tester@127.0.0.1:%d: ", closedPort)) ||
		!strings.HasSuffix(err.Error(), "(after 3 attempts)") {
		t.Errorf("dial failure: %v", err)
	}
	if d := time.Since(start); d < 1400*time.Millisecond {
		t.Errorf("no back-off between attempts: %s", d)
	}

	c = tc.conn
	wrongKey, _ := newEd25519Key(t)
	c.privateKey = wrongKey
	if _, err = runOn(context.Background(), c, &recorder{}, runRequest{command: cmdOf("true")}); err == nil ||
		!strings.Contains(err.Error(), "unable to authenticate") || !strings.HasSuffix(err.Error(), "(after 1 attempt)") {
		t.Errorf("auth failure: %v", err)
	}
}

func TestConnectThroughProxy(t *testing.T) {
	target, tc := newTestSetup(t)
	pub, _ := ssh.ParsePrivateKey([]byte(tc.key))
	jump := startFakeSSH(t, pub.PublicKey())
	c := tc.conn
	c.proxy = &connSpec{host: "127.0.0.1", port: jump.port(), user: "jumper", privateKey: tc.key, hostKey: jump.hostKey,
		dialErrorLimit: 2, perDialTimeout: 5}
	res, err := runOn(context.Background(), c, &recorder{}, runRequest{command: cmdOf("echo via proxy")})
	if err != nil || res.stdout != "via proxy" {
		t.Fatalf("%v %+v", err, res)
	}
	if jump.handshakes != 1 || target.handshakes != 1 {
		t.Errorf("handshakes: jump %d target %d", jump.handshakes, target.handshakes)
	}
	// The proxy's own host key is checked with its own pin.
	c.proxy.hostKey = target.hostKey
	_, err = runOn(context.Background(), c, &recorder{}, runRequest{command: cmdOf("true")})
	if err == nil || !strings.HasPrefix(err.Error(), "ssh: cannot connect to proxy jumper@") || !strings.Contains(err.Error(), "host key mismatch") {
		t.Errorf("proxy mismatch: %v", err)
	}
}

// TestNoSSHAgent: an ssh-agent in the environment holding the authorized key is never asked; only
// the configured private key authenticates.
func TestNoSSHAgent(t *testing.T) {
	_, tc := newTestSetup(t)
	raw, err := ssh.ParseRawPrivateKey([]byte(tc.key))
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
		t.Fatal(err)
	}
	sock := t.TempDir() + "/agent.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var asked atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			asked.Add(1)
			go agent.ServeAgent(keyring, c)
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	c := tc.conn
	c.privateKey, _ = newEd25519Key(t) // not authorized
	if _, err := runOn(context.Background(), c, &recorder{}, runRequest{command: cmdOf("true")}); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("authenticated without the configured key: %v", err)
	}
	if asked.Load() != 0 {
		t.Errorf("the ssh-agent was asked %d times", asked.Load())
	}
}

// TestServerLifecycle drives Check, Create, Diff, Update and Delete through the gRPC types.
func TestServerLifecycle(t *testing.T) {
	srv, tc := newTestSetup(t)
	srv.acceptEnv = func(string) bool { return true }
	dir := t.TempDir()
	rec := &recorder{}
	s := newServer(rec)
	ctx := context.Background()
	urn := "urn:pulumi:dev::proj::command:remote:Command::cmd"
	inputs := func(stdin string) resource.PropertyMap {
		return resource.PropertyMap{
			propCreate: str(fmt.Sprintf(`cat > %s/in; echo created; echo "prev=[$PULUMI_COMMAND_STDOUT]"`, dir)),
			propDelete: str(fmt.Sprintf(`echo "$PULUMI_COMMAND_STDOUT" > %s/deleted`, dir)),
			propStdin:  secret(str(stdin)),
			propConnection: secret(obj(resource.PropertyMap{
				connHost: str("127.0.0.1"), connPort: num(float64(tc.conn.port)), connUser: str("tester"),
				connPrivateKey: secret(str(tc.key)), connHostKey: str(srv.hostKey),
			})),
		}
	}
	check := func(m resource.PropertyMap) *pulumirpc.CheckResponse {
		news, _ := marshal(m, "t")
		resp, err := s.Check(ctx, &pulumirpc.CheckRequest{Urn: urn, News: news})
		if err != nil || len(resp.Failures) != 0 {
			t.Fatalf("check: %v %v", err, resp.GetFailures())
		}
		return resp
	}
	checked := check(inputs("one"))

	pre, err := s.Create(ctx, &pulumirpc.CreateRequest{Urn: urn, Properties: checked.Inputs, Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	preOut, _ := unmarshal(pre.Properties, "t")
	if !preOut[propStdout].IsComputed() || !preOut[propStdin].IsSecret() {
		t.Errorf("preview outputs: %v", preOut)
	}
	if _, err := os.Stat(dir + "/in"); err == nil {
		t.Fatal("preview ran the command")
	}

	created, err := s.Create(ctx, &pulumirpc.CreateRequest{Urn: urn, Name: "cmd", Properties: checked.Inputs, Timeout: 60})
	if err != nil {
		t.Fatal(err)
	}
	outs, _ := unmarshal(created.Properties, "t")
	if !strings.HasPrefix(created.Id, "cmd") || outs[propStdout].StringValue() != "created\nprev=[]" {
		t.Errorf("create: id %q stdout %v", created.Id, outs[propStdout])
	}
	if !outs[propStdin].IsSecret() || !outs[propConnection].IsSecret() || outs[propStdout].IsSecret() {
		t.Errorf("secretness of outputs: stdin %v connection %v stdout %v",
			outs[propStdin].IsSecret(), outs[propConnection].IsSecret(), outs[propStdout].IsSecret())
	}
	if b, _ := os.ReadFile(dir + "/in"); string(b) != "one" {
		t.Errorf("stdin delivered %q", b)
	}

	diff, err := s.Diff(ctx, &pulumirpc.DiffRequest{Urn: urn, Olds: created.Properties, OldInputs: checked.Inputs, News: checked.Inputs})
	if err != nil || diff.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("no-op diff: %v %v", err, diff)
	}
	checked2 := check(inputs("two"))
	diff, err = s.Diff(ctx, &pulumirpc.DiffRequest{Urn: urn, Olds: created.Properties, News: checked2.Inputs})
	if err != nil || diff.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(diff.Replaces) != 0 || diff.Diffs[0] != "stdin" {
		t.Errorf("stdin diff: %v %v", err, diff)
	}

	updated, err := s.Update(ctx, &pulumirpc.UpdateRequest{Urn: urn, Olds: created.Properties, News: checked2.Inputs})
	if err != nil {
		t.Fatal(err)
	}
	uouts, _ := unmarshal(updated.Properties, "t")
	if got := uouts[propStdout].StringValue(); got != "created\nprev=[created\nprev=[]]" {
		t.Errorf("update stdout %q", got)
	}

	if _, err := s.Delete(ctx, &pulumirpc.DeleteRequest{Urn: urn, Properties: updated.Properties}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dir + "/deleted"); !strings.HasPrefix(string(b), "created\nprev=[created") {
		t.Errorf("delete saw PULUMI_COMMAND_STDOUT %q", b)
	}
	for _, l := range rec.info {
		if strings.Contains(l, "one") || strings.Contains(l, "two") {
			t.Errorf("stdin logged: %q", l)
		}
	}
}

func TestNotImplementedTokens(t *testing.T) {
	s := newServer(nil)
	for _, tok := range []string{"command:local:Command", "command:remote:CopyToRemote", "command:remote:CopyFile"} {
		_, err := s.Check(context.Background(), &pulumirpc.CheckRequest{Urn: "urn:pulumi:dev::p::" + tok + "::x"})
		want := tok + ": not implemented by this build of pulumi-resource-command (azs-cert-rotation): only command:remote:Command"
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v", tok, err)
		}
		if _, err := s.Create(context.Background(), &pulumirpc.CreateRequest{Type: tok}); err == nil {
			t.Errorf("%s: Create accepted", tok)
		}
	}
	if _, err := s.Invoke(context.Background(), &pulumirpc.InvokeRequest{Tok: "command:local:run"}); err == nil ||
		!strings.Contains(err.Error(), "not implemented by this build") {
		t.Errorf("invoke: %v", err)
	}
	schema, err := s.GetSchema(context.Background(), &pulumirpc.GetSchemaRequest{})
	if err != nil || !strings.Contains(schema.Schema, `"command:remote:Command"`) || !strings.Contains(schema.Schema, `"version": "`+Version+`"`) {
		t.Errorf("schema: %v", err)
	}
}
