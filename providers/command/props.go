package main

// Property names of command:remote:Command (@pulumi/command 1.2.1).
const (
	propAddPreviousOutputInEnv = "addPreviousOutputInEnv"
	propConnection             = "connection"
	propCreate                 = "create"
	propDelete                 = "delete"
	propEnvironment            = "environment"
	propLogging                = "logging"
	propStdin                  = "stdin"
	propTriggers               = "triggers"
	propUpdate                 = "update"
	propStdout                 = "stdout" // output only
	propStderr                 = "stderr" // output only
)

// Property names of remote.Connection / remote.ProxyConnection.
const (
	connAgentSocketPath    = "agentSocketPath"
	connDialErrorLimit     = "dialErrorLimit"
	connHost               = "host"
	connHostKey            = "hostKey"
	connPassword           = "password"
	connPerDialTimeout     = "perDialTimeout"
	connPort               = "port"
	connPrivateKey         = "privateKey"
	connPrivateKeyPassword = "privateKeyPassword"
	connProxy              = "proxy" // Connection only
	connUser               = "user"
)

// Values of the remote.Logging enum.
const (
	logStdout          = "stdout"
	logStderr          = "stderr"
	logStdoutAndStderr = "stdoutAndStderr"
	logNone            = "none"
)

// Defaults: the SDK's connectionArgsProvideDefaults / proxyConnectionArgsProvideDefaults, and the
// documented defaults of logging and addPreviousOutputInEnv.
const (
	defaultPort           = 22
	defaultUser           = "root"
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
	defaultLogging        = logStdoutAndStderr
)

var inputProps = map[string]bool{
	propAddPreviousOutputInEnv: true, propConnection: true, propCreate: true, propDelete: true,
	propEnvironment: true, propLogging: true, propStdin: true, propTriggers: true, propUpdate: true,
}

var connectionProps = map[string]bool{
	connAgentSocketPath: true, connDialErrorLimit: true, connHost: true, connHostKey: true,
	connPassword: true, connPerDialTimeout: true, connPort: true, connPrivateKey: true,
	connPrivateKeyPassword: true, connProxy: true, connUser: true,
}
