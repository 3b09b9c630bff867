package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const (
	remoteCommand = "command:remote:Command"
	envStdout     = "PULUMI_COMMAND_STDOUT"
	envStderr     = "PULUMI_COMMAND_STDERR"
)

// engineHost is the part of provider.HostClient the server uses (a fake in tests).
type engineHost interface {
	Log(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
	LogStatus(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
}

// server implements the resource provider protocol for command:remote:Command. It holds no
// per-resource state, so the engine may call it for many resources at once.
type server struct {
	pulumirpc.UnimplementedResourceProviderServer
	host engineHost // nil: nowhere to log (attach mode, tests)

	cancelled context.Context // done once the engine called Cancel
	cancel    context.CancelFunc
}

func newServer(host engineHost) *server {
	ctx, cancel := context.WithCancel(context.Background())
	return &server{host: host, cancelled: ctx, cancel: cancel}
}

func notImplemented(tok string) error {
	return fmt.Errorf("%s: not implemented by this build of pulumi-resource-command (azs-cert-rotation): only %s",
		tok, remoteCommand)
}

// typeOf is the resource type of a request: its type field, or else the type in its URN.
func typeOf(typ, urn string) string {
	if typ != "" {
		return typ
	}
	if u := resource.URN(urn); u.IsValid() {
		return string(u.Type())
	}
	return "(unknown type)"
}

func checkType(typ, urn string) error {
	if t := typeOf(typ, urn); t != remoteCommand {
		return notImplemented(t)
	}
	return nil
}

// labelled is a property struct of a request and the label its unmarshalling errors carry.
type labelled struct {
	props *structpb.Struct
	label string
}

// requestProps checks that a request is for command:remote:Command, then unmarshals its
// property structs in the order given.
func requestProps(typ, urn string, structs ...labelled) ([]resource.PropertyMap, error) {
	if err := checkType(typ, urn); err != nil {
		return nil, err
	}
	maps := make([]resource.PropertyMap, len(structs))
	for i, st := range structs {
		m, err := unmarshal(st.props, st.label)
		if err != nil {
			return nil, err
		}
		maps[i] = m
	}
	return maps, nil
}

func unmarshal(s *structpb.Struct, label string) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{
		Label: label, KeepUnknowns: true, KeepSecrets: true, KeepResources: true,
	})
}

func marshal(m resource.PropertyMap, label string) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{
		Label: label, KeepUnknowns: true, KeepSecrets: true, KeepResources: true,
	})
}

// ---- plugin and provider configuration

func (s *server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

func (s *server) GetSchema(_ context.Context, _ *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	schema, err := schemaJSON(Version)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetSchemaResponse{Schema: schema}, nil
}

// CheckConfig accepts the provider's configuration as is: pulumi:providers:command has no
// settings (the engine adds its own, such as "version").
func (s *server) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *server) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (s *server) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, AcceptResources: true, SupportsPreview: true}, nil
}

// Cancel ends every command in flight (their sessions are closed) and any later one.
func (s *server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	s.cancel()
	return &emptypb.Empty{}, nil
}

func (s *server) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	return nil, notImplemented(req.GetTok())
}

func (s *server) Call(_ context.Context, req *pulumirpc.CallRequest) (*pulumirpc.CallResponse, error) {
	return nil, notImplemented(req.GetTok())
}

func (s *server) Construct(_ context.Context, req *pulumirpc.ConstructRequest) (*pulumirpc.ConstructResponse, error) {
	return nil, notImplemented(req.GetType())
}

// ---- command:remote:Command

func (s *server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	maps, err := requestProps(req.GetType(), req.GetUrn(), labelled{req.GetNews(), "Check.news"})
	if err != nil {
		return nil, err
	}
	news := maps[0]
	checked, failures := checkInputs(news)
	inputs, err := marshal(checked, "Check.inputs")
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.CheckResponse{Inputs: inputs}
	for _, f := range failures {
		resp.Failures = append(resp.Failures, &pulumirpc.CheckFailure{Property: f.Property, Reason: f.Reason})
	}
	return resp, nil
}

func (s *server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	maps, err := requestProps(req.GetType(), req.GetUrn(),
		labelled{req.GetOlds(), "Diff.olds"}, labelled{req.GetOldInputs(), "Diff.oldInputs"}, labelled{req.GetNews(), "Diff.news"})
	if err != nil {
		return nil, err
	}
	olds, oldInputs, news := maps[0], maps[1], maps[2]
	return diffInputs(oldInputsOf(oldInputs, olds), news, req.GetIgnoreChanges()).toResponse(), nil
}

func (s *server) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	maps, err := requestProps(req.GetType(), req.GetUrn(), labelled{req.GetProperties(), "Create.properties"})
	if err != nil {
		return nil, err
	}
	props := maps[0]
	name := req.GetName()
	if name == "" {
		name = resource.URN(req.GetUrn()).Name()
	}
	outs := props.Copy()
	if req.GetPreview() {
		if getOptString(props, propCreate).set || props[propCreate].ContainsUnknowns() {
			outs[propStdout] = resource.MakeComputed(resource.NewStringProperty(""))
			outs[propStderr] = resource.MakeComputed(resource.NewStringProperty(""))
		} else {
			outs[propStdout], outs[propStderr] = resource.NewStringProperty(""), resource.NewStringProperty("")
		}
		st, err := marshal(outs, "Create.outputs")
		return &pulumirpc.CreateResponse{Properties: st}, err
	}
	spec, err := parseSpec(props)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.GetUrn(), err)
	}
	res := runResult{}
	if spec.create.set {
		res, err = s.runCommand(ctx, req.GetUrn(), spec, spec.create, nil, req.GetTimeout())
		if err != nil {
			return nil, err
		}
	}
	id, err := resource.NewUniqueHex(name, 8, 0)
	if err != nil {
		return nil, err
	}
	outs[propStdout], outs[propStderr] = resource.NewStringProperty(res.stdout), resource.NewStringProperty(res.stderr)
	st, err := marshal(outs, "Create.outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: st}, nil
}

func (s *server) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	maps, err := requestProps(req.GetType(), req.GetUrn(),
		labelled{req.GetOlds(), "Update.olds"}, labelled{req.GetNews(), "Update.news"})
	if err != nil {
		return nil, err
	}
	olds, news := maps[0], maps[1]
	outs := news.Copy()
	prevStdout, prevStderr := getOptString(olds, propStdout).val, getOptString(olds, propStderr).val
	outs[propStdout], outs[propStderr] = resource.NewStringProperty(prevStdout), resource.NewStringProperty(prevStderr)

	if req.GetPreview() {
		cmdKnown := getOptString(news, propUpdate).set || getOptString(news, propCreate).set
		if cmdKnown || news[propUpdate].ContainsUnknowns() || news[propCreate].ContainsUnknowns() {
			outs[propStdout] = resource.MakeComputed(resource.NewStringProperty(""))
			outs[propStderr] = resource.MakeComputed(resource.NewStringProperty(""))
		}
		st, err := marshal(outs, "Update.outputs")
		return &pulumirpc.UpdateResponse{Properties: st}, err
	}
	spec, err := parseSpec(news)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.GetUrn(), err)
	}
	cmd := spec.update
	if !cmd.set {
		cmd = spec.create
	}
	if cmd.set {
		var prev []envVar
		if spec.addPrevious {
			prev = s.previousOutputEnv(req.GetUrn(), prevStdout, prevStderr)
		}
		res, err := s.runCommand(ctx, req.GetUrn(), spec, cmd, prev, req.GetTimeout())
		if err != nil {
			return nil, err
		}
		outs[propStdout], outs[propStderr] = resource.NewStringProperty(res.stdout), resource.NewStringProperty(res.stderr)
	}
	st, err := marshal(outs, "Update.outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: st}, nil
}

func (s *server) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	maps, err := requestProps(req.GetType(), req.GetUrn(), labelled{req.GetProperties(), "Delete.properties"})
	if err != nil {
		return nil, err
	}
	props := maps[0]
	if !getOptString(props, propDelete).set {
		return &emptypb.Empty{}, nil
	}
	spec, err := parseSpec(props)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.GetUrn(), err)
	}
	var prev []envVar
	if spec.addPrevious {
		prev = s.previousOutputEnv(req.GetUrn(), spec.stdout, spec.stderr)
	}
	if _, err := s.runCommand(ctx, req.GetUrn(), spec, spec.delete, prev, req.GetTimeout()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Read returns the state unchanged: a command has nothing on the remote host to read back.
func (s *server) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := checkType(req.GetType(), req.GetUrn()); err != nil {
		return nil, err
	}
	if len(req.GetProperties().GetFields()) == 0 {
		return nil, fmt.Errorf("%s: a command:remote:Command cannot be read or imported by ID: it has no remote state", req.GetUrn())
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// previousOutputEnv is PULUMI_COMMAND_STDOUT/STDERR for the next run, when non-empty.
func (s *server) previousOutputEnv(urn, stdout, stderr string) []envVar {
	var env []envVar
	for _, e := range []envVar{{envStdout, stdout}, {envStderr, stderr}} {
		switch {
		case e.value == "":
		case len(e.value) > prevOutputMax:
			s.log(urn, diag.Warning, fmt.Sprintf("%s not set: the previous output is longer than %d bytes", e.name, prevOutputMax))
		default:
			env = append(env, e)
		}
	}
	return env
}

func (s *server) log(urn string, sev diag.Severity, msg string) {
	if s.host != nil {
		_ = s.host.Log(context.Background(), sev, resource.URN(urn), msg)
	}
}

func (s *server) logStatus(urn string, msg string) {
	if s.host != nil {
		_ = s.host.LogStatus(context.Background(), diag.Info, resource.URN(urn), msg)
	}
}

// operationContext bounds one Create/Update/Delete: the request's context, the engine's Cancel,
// and the resource's custom timeout (seconds, 0: none), whose expiry is errTimeout.
func (s *server) operationContext(ctx context.Context, timeoutSeconds float64) (context.Context, time.Duration, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.cancelled, cancel)
	timeout := time.Duration(timeoutSeconds * float64(time.Second))
	if timeout <= 0 {
		return ctx, 0, func() { stop(); cancel() }
	}
	tctx, tcancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	return tctx, timeout, func() { tcancel(); stop(); cancel() }
}

// runCommand runs cmd for the resource urn over SSH, streaming its output lines to the engine
// as logging allows.
func (s *server) runCommand(ctx context.Context, urn string, spec *commandSpec, cmd optString,
	prevEnv []envVar, timeoutSeconds float64) (runResult, error) {
	if s.cancelled.Err() != nil {
		return runResult{}, errors.New("cancelled: the engine asked the provider to stop")
	}
	opCtx, timeout, done := s.operationContext(ctx, timeoutSeconds)
	defer done()
	d := &dialer{status: func(msg string) { s.logStatus(urn, msg) }}
	return run(opCtx, runRequest{
		command:     cmd,
		stdin:       spec.stdin,
		env:         spec.env,
		optionalEnv: prevEnv,
		logging:     spec.logging,
		timeout:     timeout,
		logLine:     func(line string) { s.log(urn, diag.Info, line) },
		warn:        func(msg string) { s.log(urn, diag.Warning, msg) },
		connect:     func(ctx context.Context) (*sshClient, error) { return d.connect(ctx, &spec.conn) },
	})
}
