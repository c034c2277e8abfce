package main

// pgprobe listen and pgprobe demo: the server side (server.Server) wired to
// the command line. No protocol or rendering logic lives here.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/report"
	runner "github.com/pgprobe/pgprobe/run"
	"github.com/pgprobe/pgprobe/server"
	"github.com/pgprobe/pgprobe/statelog"
)

func listenFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "addr", Value: "127.0.0.1:5432", Usage: "TCP address to listen on, `HOST:PORT` (port 0 picks a free one)"},
		&cli.StringFlag{Name: "unix", Usage: "also listen on a Unix socket in `DIR` (DIR/.s.PGSQL.PORT, PORT from --addr)"},
		&cli.StringFlag{Name: "ssl", Value: "on", Usage: "answer SSLRequest with 'S' and accept TLS (`on`), or with 'N' (off)"},
		&cli.StringFlag{Name: "cert", Usage: "server certificate `FILE` (PEM); default: a self-signed one made at start for the addresses listened on"},
		&cli.StringFlag{Name: "key", Usage: "private key `FILE` (PEM) of --cert"},
		&cli.BoolFlag{Name: "direct-ssl", Usage: "also accept PostgreSQL 17 direct TLS (sslnegotiation=direct; ALPN \"postgresql\" required)"},
		&cli.StringFlag{Name: "auth", Value: server.AuthSCRAMSHA256, Usage: "authentication to ask for: trust, password, md5 or scram-sha-256 (`METHOD`); any password is accepted and never shown"},
		&cli.StringFlag{Name: "protocol", Value: server.Protocol30, Usage: "newest protocol `VERSION` to speak: 3.0 (as PostgreSQL 15 to 17: a client asking for 3.2 gets NegotiateProtocolVersion) or 3.2 (as PostgreSQL 18: accepted, with a 32-byte cancel key)"},
		&cli.StringFlag{Name: "then", Value: server.ThenError, Usage: "after authentication: error (a FATAL error saying this is pgprobe) or ok (complete the startup; queries get an error) (`WHAT`)"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "timeline", Usage: "output `FORMAT` per client: timeline, json (one document per client) or ndjson (one line per client)"},
		&cli.StringFlag{Name: "color", Value: "auto", Usage: "colour `WHEN`: auto, always or never (NO_COLOR is honoured)"},
		&cli.IntFlag{Name: "count", Usage: "stop after `N` client connections (0: run until interrupted)"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show every cipher and group the client offered"},
	}
}

func listenCommand(e *env) *cli.Command {
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
		Flags:  listenFlags(),
		Action: func(c *cli.Context) error { return listenAction(c, e) },
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageErr("%s\nTry \"pgprobe %s --help\" for more information.", err, c.Command.Name)
		},
	}
}

// listenValues are the values listen's flags take, for the completions.
func listenValues() map[string][]string {
	return map[string][]string{
		"output": report.SessionFormats, "color": report.ColorModes(), "ssl": {"on", "off"},
		"auth": {server.AuthTrust, server.AuthPassword, server.AuthMD5, server.AuthSCRAMSHA256},
		"then": {server.ThenError, server.ThenOK},
	}
}

func demoFlags() []cli.Flag {
	var out []cli.Flag
	for _, f := range probeFlags() {
		switch f.Names()[0] {
		case "output", "color", "verbose":
			out = append(out, f)
		}
	}
	return out
}

func demoCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "probe a built-in server on loopback: works with no database at all",
		Description: "Starts pgprobe's own server on a free loopback port (SSL on, a generated certificate, SCRAM-SHA-256 " +
			"with a generated password), probes it as libpq would with sslmode=require, and prints the record " +
			"(with the timeline, also what the server saw). It reads no PG* variable and no file of your home directory. " +
			"The exit status is the probe's.",
		Flags:  demoFlags(),
		Action: func(c *cli.Context) error { return demoAction(c, e) },
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageErr("%s\nTry \"pgprobe %s --help\" for more information.", err, c.Command.Name)
		},
	}
}

// configFlags names the flag that sets each server.Config field.
var configFlags = map[string]string{"SSL": "--ssl", "DirectSSL": "--direct-ssl", "Auth": "--auth", "Then": "--then", "MaxProtocol": "--protocol"}

// configUsageErr words the server's refusal of a configuration in the
// flags' terms (exit 3).
func configUsageErr(err error) error {
	var ce *server.ConfigError
	if !errors.As(err, &ce) || configFlags[ce.Field] == "" {
		return usageErr("%s", err)
	}
	if ce.Needs != "" {
		return usageErr("%s needs %s on", configFlags[ce.Field], configFlags[ce.Needs])
	}
	return usageErr("invalid %s %q: use %s", configFlags[ce.Field], ce.Value, ce.Valid)
}

// listenConfig turns the flags into a server configuration, checked before
// anything listens.
func listenConfig(c *cli.Context) (server.Config, error) {
	cfg := server.Config{Auth: c.String("auth"), Then: c.String("then"), DirectSSL: c.Bool("direct-ssl"), MaxProtocol: c.String("protocol")}
	switch strings.ToLower(c.String("ssl")) {
	case "on", "true", "yes", "1":
		cfg.SSL = true
	case "off", "false", "no", "0":
	default:
		return cfg, usageErr("invalid --ssl %q: use on or off", c.String("ssl"))
	}
	if err := cfg.Validate(); err != nil {
		return cfg, configUsageErr(err)
	}
	certFile, keyFile := c.String("cert"), c.String("key")
	switch {
	case (certFile == "") != (keyFile == ""):
		return cfg, usageErr("--cert and --key go together")
	case certFile != "" && !cfg.SSL:
		return cfg, usageErr("--cert and --key need --ssl on")
	case certFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return cfg, usageErr("could not load the certificate: %s", err)
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

func parseListen(c *cli.Context, e *env) (*listenOptions, error) {
	if c.NArg() > 0 {
		return nil, usageErr("listen takes no arguments, got %q", c.Args().First())
	}
	output := c.String("output")
	if !contains(report.SessionFormats, output) {
		return nil, usageErr("invalid --output %q for listen: use one of %s", output, strings.Join(report.SessionFormats, ", "))
	}
	colorOn, err := colorFlag(c, e)
	if err != nil {
		return nil, err
	}
	o := &listenOptions{count: c.Int("count"), addr: c.String("addr"), unixDir: c.String("unix")}
	if o.count < 0 {
		return nil, usageErr("invalid --count %d: give 0 or more", o.count)
	}
	if o.cfg, err = listenConfig(c); err != nil {
		return nil, err
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return nil, usageErr("invalid --addr %q: give HOST:PORT", o.addr)
	}
	if o.out, err = report.NewSessionWriter(output, e.stdout, report.Options{Color: colorOn, Width: outputWidth(e), Verbose: c.Bool("verbose")}); err != nil {
		return nil, usageErr("%s", err)
	}
	return o, nil
}

func listenAction(c *cli.Context, e *env) error {
	o, err := parseListen(c, e)
	if err != nil {
		return err
	}
	// Before anything listens: a signal from then on stops listen cleanly
	// (a client that sees the port open may signal right away).
	ctx, stopSignals := interruptible(e)
	defer stopSignals()
	listeners, err := server.Listen(o.addr, o.unixDir)
	if err != nil {
		return &exitError{code: statelog.ExitNoAnswer, msg: "could not listen: " + err.Error()}
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
	fmt.Fprintln(e.stderr, report.Fit("pgprobe listen: "+srv.Describe(listeners)+". Point a client here; interrupt (^C) to stop.",
		widthOf(e, e.stderr), 2))
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
			failure = &exitError{code: statelog.ExitNoAnswer, msg: "could not write the report: " + err.Error()}
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
				return &exitError{code: statelog.ExitNoAnswer, msg: "stopped listening: " + err.Error()}
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
					if code := interruptCode(ctx, statelog.ExitOK); failure == nil && code != 0 {
						return &exitError{code: code}
					}
					return failure
				}
			}
		}
	}
}

func demoAction(c *cli.Context, e *env) error {
	if c.NArg() > 0 {
		return usageErr("demo takes no arguments, got %q", c.Args().First())
	}
	output := c.String("output")
	if !contains(outputFormats, output) {
		return usageErr("invalid --output %q: use one of %s", output, strings.Join(outputFormats, ", "))
	}
	colorOn, err := colorFlag(c, e)
	if err != nil {
		return err
	}
	out, err := report.New(output, e.stdout, report.Options{Color: colorOn, Width: outputWidth(e), Verbose: c.Bool("verbose")})
	if err != nil {
		return usageErr("%s", err)
	}
	var events statelog.Sink
	if st, ok := out.(report.Streamer); ok {
		events = st.Events()
	}
	ctx, stopSignals := interruptible(e)
	defer stopSignals()
	l, seen, err := runner.Demo(ctx, events)
	if err != nil {
		return &exitError{code: statelog.ExitNoAnswer, msg: "demo: " + err.Error()}
	}
	if err := writeDemo(out, l, seen); err != nil {
		return &exitError{code: statelog.ExitNoAnswer, msg: "could not write the report: " + err.Error()}
	}
	if code := interruptCode(ctx, l.ExitCode); code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// writeDemo writes the probe's record l and, where the format shows the
// server's side too (the timeline), what the server saw.
func writeDemo(out report.Writer, l *statelog.Log, seen *statelog.Session) error {
	err := report.Write(out, l)
	if sa, ok := out.(report.SessionAppender); ok && err == nil && seen != nil {
		err = sa.AppendSession("What the server saw (pgprobe listen records the same for any client):", seen)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
