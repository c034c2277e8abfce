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
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/internal/cliargs"
	"github.com/pgprobe/pgprobe/internal/cmd/cmdenv"
	"github.com/pgprobe/pgprobe/internal/cmd/democmd"
	"github.com/pgprobe/pgprobe/internal/cmd/exportercmd"
	"github.com/pgprobe/pgprobe/internal/cmd/listencmd"
	"github.com/pgprobe/pgprobe/internal/cmd/savechain"
	"github.com/pgprobe/pgprobe/internal/cmd/scancmd"
	"github.com/pgprobe/pgprobe/internal/cmd/settingscmd"
	"github.com/pgprobe/pgprobe/internal/completion"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/statelog"
)

func main() {
	os.Exit(runEnv(&env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.LookupEnv, Exiting: true}, os.Args))
}

// env is what the app reads from its surroundings; tests replace it.
type env = cmdenv.Env

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(&env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.LookupEnv}, args)
}

func runEnv(e *env, args []string) int {
	stderr := e.Stderr
	app := newApp(e)
	err := app.Run(cliargs.Reorder(app, args))
	if err == nil {
		return 0
	}
	var ee *cmdenv.ExitError
	if errors.As(err, &ee) {
		if ee.Msg != "" {
			fmt.Fprintln(stderr, "pgprobe: "+cliargs.AsTyped(cliargs.ValueHint(app, ee.Msg), args))
		}
		return ee.Code
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
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: outputFormats[0], Usage: "output `FORMAT`: " + cmdenv.OrList(outputFormats)},
		&cli.StringFlag{Name: "color", Value: report.ColorModes()[0], Usage: "colour `WHEN`: " + cmdenv.OrList(report.ColorModes()) + " (NO_COLOR is honoured)"},
		&cli.BoolFlag{Name: "ping", Usage: "stop at the server's first answer to the startup message and exit as pg_isready would"},
		&cli.StringFlag{Name: "timeout", Aliases: []string{"t"}, Value: "30s", Usage: "deadline for the whole probe: `DURATION` such as 10s, or seconds; 0 for none"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show every ParameterStatus and more detail in the timeline"},
		&cli.IntFlag{Name: "min-cert-days", Usage: "check: the server certificate must stay valid at least `N` more days (exit 4 otherwise)"},
		&cli.Float64Flag{Name: "min-ticket-hours", Usage: "check: the Kerberos ticket (GSSAPI) must stay valid at least `N` more hours (exit 4 otherwise)"},
		&cli.StringFlag{Name: "min-tls-version", Usage: "check: the connection must use TLS `VERSION` 1.2 or 1.3 or newer (exit 4 otherwise)"},
		savechain.Flag(),
		&cli.Uint64Flag{Name: "seed", Usage: "seed `N` for load_balance_hosts=random's shuffles, to repeat a run (0 or unset: random)"},
	}
}

// rootFlags are the default command's flags: the probe's and runFlags.
func rootFlags() []cli.Flag { return append(probeFlags(), runFlags()...) }

// probeFlagsNamed are probeFlags' flags of those names, in probeFlags'
// order: the subcommands that take them share their definitions.
func probeFlagsNamed(names ...string) []cli.Flag {
	var out []cli.Flag
	for _, f := range probeFlags() {
		if slices.Contains(names, f.Names()[0]) {
			out = append(out, f)
		}
	}
	return out
}

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
		Writer:                e.Stdout,
		ErrWriter:             e.Stderr,
		HideHelpCommand:       true,
		CustomAppHelpTemplate: appHelpTemplate(),
		Flags:                 rootFlags(),
		ExitErrHandler:        func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return cmdenv.UsageErr("%s\nTry \"pgprobe --help\" for more information.", err)
		},
		Action: func(c *cli.Context) error { return probeAction(c, e) },
		Commands: []*cli.Command{
			settingscmd.Command(e, probeFlagsNamed("host", "port", "username", "dbname", "color")),
			listencmd.Command(e),
			democmd.Command(e, probeFlagsNamed("output", "color", "verbose")),
			exportercmd.Command(e),
			scancmd.Command(e, probeFlagsNamed("host", "port", "username", "dbname", "color")),
			{
				Name:      "completion",
				Usage:     "print a shell completion script",
				ArgsUsage: "bash|zsh|fish|powershell",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return cmdenv.UsageErr("completion needs one shell: bash, zsh, fish or powershell")
					}
					s, err := completionScript(c.App, c.Args().First())
					if err != nil {
						return cmdenv.UsageErr("%s", err)
					}
					fmt.Fprint(e.Stdout, s)
					return nil
				},
			},
		},
	}
	return app
}

// completionScript is app's completion script for shell, offering the
// values each command's flags take.
func completionScript(app *cli.App, shell string) (string, error) {
	colors := report.ColorModes()
	return completion.Script(app, shell, completion.Values{
		"":         {"output": outputFormats, "color": colors, "min-tls-version": {"1.2", "1.3"}},
		"settings": {"output": report.SettingsFormats(), "color": colors},
		"listen":   listencmd.Values(),
		"demo":     {"output": outputFormats, "color": colors},
		"scan":     {"output": report.ScanFormats(), "color": colors, "fail-on": statelog.Severities()},
	})
}
