// Command pgprobe shows, step by step, what happens when a PostgreSQL client
// connects to a server, and why it fails when it fails. This file wires the
// command line (urfave/cli/v2) to the probe and the reporters; it holds no
// protocol or rendering logic.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/internal/cliargs"
	"github.com/pgprobe/pgprobe/internal/completion"
	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/statelog"
)

func main() {
	os.Exit(runEnv(&env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.LookupEnv, exiting: true}, os.Args))
}

// exitError carries an exit code out of an action.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErr(format string, a ...any) error {
	return &exitError{code: statelog.ExitNoAttempt, msg: fmt.Sprintf(format, a...)}
}

// env is what the app reads from its surroundings; tests replace it.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) (string, bool)
	// noTTY makes -W read the password from stdin even when a terminal is
	// there (tests).
	noTTY bool
	// progressTTY makes --wait show its progress on stderr as on a
	// terminal (tests).
	progressTTY bool
	// exiting: the process ends when runEnv returns (main, not tests), so
	// process-wide clean-ups that only matter to a caller that goes on can
	// be skipped.
	exiting bool
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(&env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.LookupEnv}, args)
}

func runEnv(e *env, args []string) int {
	stderr := e.stderr
	app := newApp(e)
	err := app.Run(cliargs.Reorder(app, args))
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "pgprobe: "+cliargs.AsTyped(cliargs.ValueHint(app, ee.msg), args))
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "pgprobe: "+cliargs.AsTyped(cliargs.ValueHint(app, err.Error()), args))
	fmt.Fprintln(stderr, "Try \"pgprobe --help\" for more information.")
	return statelog.ExitNoAttempt
}

// outputFormats are -o's values; report knows them.
var outputFormats = report.Formats()

func probeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "host", Aliases: []string{"h"}, Usage: "database server host or socket directory (as psql -h)"},
		&cli.StringFlag{Name: "port", Aliases: []string{"p"}, Usage: "database server port (as psql -p)"},
		&cli.StringFlag{Name: "username", Aliases: []string{"U"}, Usage: "database user name (as psql -U)"},
		&cli.StringFlag{Name: "dbname", Aliases: []string{"d"}, Usage: "database name, or a connection string or URI (as psql -d)"},
		&cli.BoolFlag{Name: "password", Aliases: []string{"W"}, Usage: "prompt for a password before connecting"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: outputFormats[0], Usage: "output `FORMAT`: " + orList(outputFormats)},
		&cli.StringFlag{Name: "color", Value: report.ColorModes()[0], Usage: "colour `WHEN`: " + orList(report.ColorModes()) + " (NO_COLOR is honoured)"},
		&cli.BoolFlag{Name: "ping", Usage: "stop at the server's first answer to the startup message and exit as pg_isready would"},
		&cli.StringFlag{Name: "timeout", Aliases: []string{"t"}, Value: "30s", Usage: "deadline for the whole probe: `DURATION` such as 10s, or seconds; 0 for none"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show every ParameterStatus and more detail in the timeline"},
		&cli.IntFlag{Name: "min-cert-days", Usage: "check: the server certificate must stay valid at least `N` more days (exit 4 otherwise)"},
		&cli.Float64Flag{Name: "min-ticket-hours", Usage: "check: the Kerberos ticket (GSSAPI) must stay valid at least `N` more hours (exit 4 otherwise)"},
		&cli.StringFlag{Name: "min-tls-version", Usage: "check: the connection must use TLS `VERSION` 1.2 or 1.3 or newer (exit 4 otherwise)"},
		saveChainFlag(),
		&cli.Uint64Flag{Name: "seed", Usage: "seed `N` for load_balance_hosts=random's shuffles, to repeat a run (0 or unset: random)"},
	}
}

// rootFlags are the default command's flags: the probe's and runFlags.
func rootFlags() []cli.Flag { return append(probeFlags(), runFlags()...) }

// setGlobalFlags replaces urfave/cli's package-wide -h and -v (pgprobe's
// -h is psql's host) once, so that apps may be built concurrently.
var setGlobalFlags = sync.OnceFunc(func() {
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Aliases: []string{"?"}, Usage: "show help"}
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Aliases: []string{"V"}, Usage: "print the version, the commit and the Go version it was built with"}
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintf(c.App.Writer, "%s %s\n", c.App.Name, c.App.Version) }
})

func newApp(e *env) *cli.App {
	setGlobalFlags()
	app := &cli.App{
		Name:      "pgprobe",
		Usage:     "show every step of a PostgreSQL connection, and why it fails",
		UsageText: "pgprobe [flags] [CONNINFO | URI | DBNAME [USERNAME]]\npgprobe [flags] CONNINFO|URI CONNINFO|URI ...\npgprobe settings [CONNINFO | URI | DBNAME [USERNAME]]\npgprobe listen [flags]\npgprobe demo\npgprobe exporter [flags]\npgprobe scan [flags] [CONNINFO | URI | DBNAME [USERNAME]]\npgprobe completion bash|zsh|fish|powershell",
		Description: "pgprobe re-enacts libpq's connection state machine (PQconnectPoll) one step at a time: " +
			"name resolution, TCP or Unix-socket connect, SSLRequest and the server's one-byte answer, the TLS handshake " +
			"and certificate checks under sslmode's rules, the startup message, authentication (trust, password, MD5, " +
			"SCRAM-SHA-256 with or without channel binding), ParameterStatus, BackendKeyData and ReadyForQuery. " +
			"It records each state, its timing and any error, and prints a timeline, JSON, NDJSON or a table. " +
			"Targets are libpq connection strings or URIs exactly as psql takes them; plain words are psql's DBNAME and USERNAME " +
			"(filling what -d and -U leave empty); several targets must each be a connection string or URI. Every PG* environment variable, " +
			"service files and .pgpass are read as libpq reads them. Flags may come before or after the target.",
		Version:               versionString(),
		Writer:                e.stdout,
		ErrWriter:             e.stderr,
		HideHelpCommand:       true,
		CustomAppHelpTemplate: appHelpTemplate(),
		Flags:                 rootFlags(),
		ExitErrHandler:        func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageErr("%s\nTry \"pgprobe --help\" for more information.", err)
		},
		Action: func(c *cli.Context) error { return probeAction(c, e) },
		Commands: []*cli.Command{
			{
				Name:      "settings",
				Usage:     "show the resolved settings and where each came from; no connection",
				ArgsUsage: "[CONNINFO | URI | DBNAME [USERNAME]]",
				Flags:     settingsFlags(),
				Action:    func(c *cli.Context) error { return settingsAction(c, e) },
				OnUsageError: func(_ *cli.Context, err error, _ bool) error {
					return usageErr("%s\nTry \"pgprobe settings --help\" for more information.", err)
				},
			},
			listenCommand(e),
			demoCommand(e),
			exporterCommand(e),
			scanCommand(e),
			{
				Name:      "completion",
				Usage:     "print a shell completion script",
				ArgsUsage: "bash|zsh|fish|powershell",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usageErr("completion needs one shell: bash, zsh, fish or powershell")
					}
					s, err := completionScript(c.App, c.Args().First())
					if err != nil {
						return usageErr("%s", err)
					}
					fmt.Fprint(e.stdout, s)
					return nil
				},
			},
		},
	}
	return app
}

func settingsFlags() []cli.Flag {
	var out []cli.Flag
	for _, f := range probeFlags() {
		switch f.Names()[0] {
		case "host", "port", "username", "dbname", "color":
			out = append(out, f)
		}
	}
	formats := report.SettingsFormats()
	return append(out, &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: formats[0], Usage: "output `FORMAT`: " + orList(formats)})
}

// orList is "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func settingsAction(c *cli.Context, e *env) error {
	output := c.String("output")
	if !contains(report.SettingsFormats(), output) {
		return usageErr("invalid --output %q for settings: use %s", output, orList(report.SettingsFormats()))
	}
	ins, warnings, err := cliargs.Targets(c, e.getenv, e.stdin)
	if err != nil {
		return usageErr("%s", err)
	}
	if len(ins) > 1 {
		return usageErr("settings takes one target: a connection string, a URI, or DBNAME [USERNAME]; got %d", len(ins))
	}
	for _, w := range warnings {
		fmt.Fprintln(e.stderr, "pgprobe: "+w)
	}
	s, err := conninfo.Resolve(ins[0])
	if err != nil {
		_ = report.Settings(output, e.stdout, report.Options{Width: outputWidth(e)}, nil, err, nil)
		return &exitError{code: statelog.ExitNoAttempt, msg: err.Error()}
	}
	home, _ := e.getenv("HOME")
	return report.Settings(output, e.stdout, report.Options{Width: outputWidth(e)}, s, nil, probe.Explain(s, home))
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

// completionScript is app's completion script for shell, offering the
// values each command's flags take.
func completionScript(app *cli.App, shell string) (string, error) {
	colors := report.ColorModes()
	return completion.Script(app, shell, completion.Values{
		"":         {"output": outputFormats, "color": colors, "min-tls-version": {"1.2", "1.3"}},
		"settings": {"output": report.SettingsFormats(), "color": colors},
		"listen":   listenValues(),
		"demo":     {"output": outputFormats, "color": colors},
		"scan":     {"output": report.ScanFormats(), "color": colors, "fail-on": statelog.Severities()},
	})
}
