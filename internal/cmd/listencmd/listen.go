// Package listencmd is pgprobe listen: the server side (server.Server) wired
// to the command line. No protocol or rendering logic lives here.
package listencmd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/internal/cmd/cmdenv"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/server"
	"github.com/pgprobe/pgprobe/statelog"
)

func flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "addr", Value: "127.0.0.1:5432", Usage: "TCP address to listen on, `HOST:PORT` (port 0 picks a free one)"},
		&cli.StringFlag{Name: "unix", Usage: "also listen on a Unix socket in `DIR` (DIR/.s.PGSQL.PORT, PORT from --addr)"},
		&cli.StringFlag{Name: "ssl", Value: "on", Usage: "answer SSLRequest with 'S' and accept TLS (`on`), or with 'N' (off)"},
		&cli.StringFlag{Name: "cert", Usage: "server certificate `FILE` (PEM); default: a self-signed one made at start for the addresses listened on"},
		&cli.StringFlag{Name: "key", Usage: "private key `FILE` (PEM) of --cert"},
		&cli.BoolFlag{Name: "direct-ssl", Usage: "also accept PostgreSQL 17 direct TLS (sslnegotiation=direct; ALPN \"postgresql\" required)"},
		&cli.StringFlag{Name: "auth", Value: server.AuthSCRAMSHA256, Usage: "authentication to ask for: trust, password, md5, scram-sha-256 or, with --keytab, gss (`METHOD`); any password is accepted and never shown"},
		&cli.StringFlag{Name: "keytab", Usage: "Kerberos keytab `FILE` (krb_server_keyfile): answer GSSENCRequest with 'G', accept GSSAPI encryption and gss authentication, and record the client's tokens (sizes and principals, never their contents)"},
		&cli.StringFlag{Name: "protocol", Value: server.Protocol30, Usage: "newest protocol `VERSION` to speak: 3.0 (as PostgreSQL 15 to 17: a client asking for 3.2 gets NegotiateProtocolVersion) or 3.2 (as PostgreSQL 18: accepted, with a 32-byte cancel key)"},
		&cli.StringFlag{Name: "then", Value: server.ThenError, Usage: "after authentication: error (a FATAL error saying this is pgprobe) or ok (complete the startup; queries get an error) (`WHAT`)"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "timeline", Usage: "output `FORMAT` per client: timeline, json (one document per client) or ndjson (one line per client)"},
		&cli.StringFlag{Name: "color", Value: "auto", Usage: "colour `WHEN`: auto, always or never (NO_COLOR is honoured)"},
		&cli.IntFlag{Name: "count", Usage: "stop after `N` client connections (0: run until interrupted)"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show every cipher and group the client offered"},
	}
}

// Command is pgprobe listen.
func Command(e *cmdenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "listen",
		Usage: "the server side: answer clients as ProcessStartupPacket does and record what they send",
		Description: "Point an application at pgprobe instead of the database to see which sslmode, SNI, ALPN, TLS versions, " +
			"startup parameters (user, database, application_name, …) and authentication it really uses. " +
			"pgprobe answers SSLRequest, GSSENCRequest, CancelRequest and the startup message as PostgreSQL does, " +
			"asks for the chosen authentication (accepting any password, never recording it), then ends with a FATAL error " +
			"(--then error) or completes the startup (--then ok) so that the client connects. " +
			"One record per client connection is printed when the connection ends. " +
			"Exit status: 0 when --count clients were seen, 130 when stopped by SIGINT (^C) and 143 by SIGTERM, as a shell reports them " +
			"(the records of the clients still connected are printed first), 2 when it cannot listen, 3 for bad flags.",
		Flags:  flags(),
		Action: func(c *cli.Context) error { return action(c, e) },
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return cmdenv.UsageErr("%s\nTry \"pgprobe %s --help\" for more information.", err, c.Command.Name)
		},
	}
}

// Values are the values listen's flags take, for the completions.
func Values() map[string][]string {
	return map[string][]string{
		"output": report.SessionFormats, "color": report.ColorModes(), "ssl": {"on", "off"},
		"auth": {server.AuthTrust, server.AuthPassword, server.AuthMD5, server.AuthSCRAMSHA256, server.AuthGSS},
		"then": {server.ThenError, server.ThenOK},
	}
}

// configFlags names the flag that sets each server.Config field.
var configFlags = map[string]string{"SSL": "--ssl", "DirectSSL": "--direct-ssl", "Auth": "--auth", "Then": "--then", "MaxProtocol": "--protocol", "GSS.Keytab": "--keytab"}

// configUsageErr words the server's refusal of a configuration in the
// flags' terms (exit 3).
func configUsageErr(err error) error {
	var ce *server.ConfigError
	if !errors.As(err, &ce) || configFlags[ce.Field] == "" {
		return cmdenv.UsageErr("%s", err)
	}
	if ce.Needs != "" {
		return cmdenv.UsageErr("%s needs %s on", configFlags[ce.Field], configFlags[ce.Needs])
	}
	return cmdenv.UsageErr("invalid %s %q: use %s", configFlags[ce.Field], ce.Value, ce.Valid)
}

// listenConfig turns the flags into a server configuration, checked before
// anything listens.
func listenConfig(c *cli.Context) (server.Config, error) {
	cfg := server.Config{Auth: c.String("auth"), Then: c.String("then"), DirectSSL: c.Bool("direct-ssl"), MaxProtocol: c.String("protocol")}
	if kt := c.String("keytab"); kt != "" {
		cfg.GSS = &server.GSSConfig{Keytab: kt}
	} else if cfg.Auth == server.AuthGSS {
		return cfg, cmdenv.UsageErr("--auth gss needs --keytab FILE: the server's Kerberos key to accept the client's ticket with")
	}
	switch strings.ToLower(c.String("ssl")) {
	case "on", "true", "yes", "1":
		cfg.SSL = true
	case "off", "false", "no", "0":
	default:
		return cfg, cmdenv.UsageErr("invalid --ssl %q: use on or off", c.String("ssl"))
	}
	if err := cfg.Validate(); err != nil {
		return cfg, configUsageErr(err)
	}
	certFile, keyFile := c.String("cert"), c.String("key")
	switch {
	case (certFile == "") != (keyFile == ""):
		return cfg, cmdenv.UsageErr("--cert and --key go together")
	case certFile != "" && !cfg.SSL:
		return cfg, cmdenv.UsageErr("--cert and --key need --ssl on")
	case certFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return cfg, cmdenv.UsageErr("could not load the certificate: %s", err)
		}
		cfg.Certificate = &cert
	}
	return cfg, nil
}

// listenOptions is what pgprobe listen's flags ask for.
type listenOptions struct {
	cfg     server.Config
	out     report.SessionWriter
	count   int
	addr    string
	unixDir string
}

func parseListen(c *cli.Context, e *cmdenv.Env) (*listenOptions, error) {
	if c.NArg() > 0 {
		return nil, cmdenv.UsageErr("listen takes no arguments, got %q", c.Args().First())
	}
	output := c.String("output")
	if !slices.Contains(report.SessionFormats, output) {
		return nil, cmdenv.UsageErr("invalid --output %q for listen: use one of %s", output, strings.Join(report.SessionFormats, ", "))
	}
	colorOn, err := e.ColorFlag(c)
	if err != nil {
		return nil, err
	}
	o := &listenOptions{count: c.Int("count"), addr: c.String("addr"), unixDir: c.String("unix")}
	if o.count < 0 {
		return nil, cmdenv.UsageErr("invalid --count %d: give 0 or more", o.count)
	}
	if o.cfg, err = listenConfig(c); err != nil {
		return nil, err
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return nil, cmdenv.UsageErr("invalid --addr %q: give HOST:PORT", o.addr)
	}
	if o.out, err = report.NewSessionWriter(output, e.Stdout, report.Options{Color: colorOn, Width: e.OutputWidth(), Verbose: c.Bool("verbose")}); err != nil {
		return nil, cmdenv.UsageErr("%s", err)
	}
	return o, nil
}

func action(c *cli.Context, e *cmdenv.Env) error {
	o, err := parseListen(c, e)
	if err != nil {
		return err
	}
	// Before anything listens: a signal from then on stops listen cleanly
	// (a client that sees the port open may signal right away).
	ctx, stopSignals := e.Interruptible()
	defer stopSignals()
	listeners, err := server.Listen(o.addr, o.unixDir)
	if err != nil {
		return &cmdenv.ExitError{Code: statelog.ExitNoAnswer, Msg: "could not listen: " + err.Error()}
	}
	cfg := o.cfg
	if cfg.SSL && cfg.Certificate == nil {
		hostname, _ := os.Hostname()
		cfg.CertificateHosts = server.CertificateHosts(listeners[0].Addr().String(), hostname)
	}
	sessions := make(chan *statelog.Session)
	stop := make(chan struct{})
	cfg.OnSession = func(s *statelog.Session) {
		select {
		case sessions <- s:
		case <-stop:
		}
	}
	srv, err := server.New(cfg)
	if err != nil {
		for _, l := range listeners {
			l.Close()
		}
		return configUsageErr(err)
	}
	served := make(chan error, len(listeners))
	for _, l := range listeners {
		go func(l net.Listener) { served <- srv.Serve(l) }(l)
	}
	fmt.Fprintln(e.Stderr, report.Fit("pgprobe listen: "+srv.Describe(listeners)+". Point a client here; interrupt (^C) to stop.",
		e.WidthOf(e.Stderr), 2))
	return showSessions(ctx, srv, sessions, stop, served, o)
}

// showSessions writes each client's record as its connection ends, until
// --count clients, a failed write, a listener's failure or ctx's end
// (SIGINT/SIGTERM: exit 130/143, as a shell reports it); then it closes srv.
func showSessions(ctx context.Context, srv *server.Server, sessions <-chan *statelog.Session, stop chan struct{}, served <-chan error, o *listenOptions) error {
	n := 0
	var failure error
	show := func(s *statelog.Session) {
		if failure != nil {
			return
		}
		if err := o.out.WriteSession(s); err != nil {
			failure = &cmdenv.ExitError{Code: statelog.ExitNoAnswer, Msg: "could not write the report: " + err.Error()}
		}
		n++
	}
	for {
		select {
		case s := <-sessions:
			show(s)
			if failure != nil || (o.count > 0 && n >= o.count) {
				close(stop)
				srv.Close()
				return failure
			}
		case err := <-served:
			if err != nil && !errors.Is(err, server.ErrClosed) {
				close(stop)
				srv.Close()
				return &cmdenv.ExitError{Code: statelog.ExitNoAnswer, Msg: "stopped listening: " + err.Error()}
			}
		case <-ctx.Done():
			// Print what the clients still connected saw, then stop.
			closed := make(chan struct{})
			go func() { srv.Close(); close(closed) }()
			for {
				select {
				case s := <-sessions:
					show(s)
				case <-closed:
					close(stop)
					if code := cmdenv.InterruptCode(ctx, statelog.ExitOK); failure == nil && code != 0 {
						return &cmdenv.ExitError{Code: code}
					}
					return failure
				}
			}
		}
	}
}
