// Command pgprobe shows, step by step, what happens when a PostgreSQL client
// connects to a server, and why it fails when it fails. This file wires the
// command line (urfave/cli/v2) to the probe and the reporters; it holds no
// protocol or rendering logic.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/statelog"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

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
	err := app.Run(reorderArgs(app, args))
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "pgprobe: "+asTyped(ee.msg, args))
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "pgprobe: "+asTyped(err.Error(), args))
	fmt.Fprintln(stderr, "Try \"pgprobe --help\" for more information.")
	return statelog.ExitNoAttempt
}

var outputFormats = []string{"timeline", "json", "ndjson", "table"}

func probeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "host", Aliases: []string{"h"}, Usage: "database server host or socket directory (as psql -h)"},
		&cli.StringFlag{Name: "port", Aliases: []string{"p"}, Usage: "database server port (as psql -p)"},
		&cli.StringFlag{Name: "username", Aliases: []string{"U"}, Usage: "database user name (as psql -U)"},
		&cli.StringFlag{Name: "dbname", Aliases: []string{"d"}, Usage: "database name, or a connection string or URI (as psql -d)"},
		&cli.BoolFlag{Name: "password", Aliases: []string{"W"}, Usage: "prompt for a password before connecting"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "timeline", Usage: "output `FORMAT`: timeline, json, ndjson or table"},
		&cli.StringFlag{Name: "color", Value: "auto", Usage: "colour `WHEN`: auto, always or never (NO_COLOR is honoured)"},
		&cli.BoolFlag{Name: "ping", Usage: "stop at the server's first answer to the startup message and exit as pg_isready would"},
		&cli.StringFlag{Name: "timeout", Aliases: []string{"t"}, Value: "30s", Usage: "deadline for the whole probe: `DURATION` such as 10s, or seconds; 0 for none"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show every ParameterStatus and more detail in the timeline"},
		&cli.IntFlag{Name: "min-cert-days", Usage: "check: the server certificate must stay valid at least `N` more days (exit 4 otherwise)"},
		&cli.StringFlag{Name: "min-tls-version", Usage: "check: the connection must use TLS `VERSION` 1.2 or 1.3 or newer (exit 4 otherwise)"},
		&cli.Uint64Flag{Name: "seed", Usage: "seed `N` for load_balance_hosts=random's shuffles, to repeat a run (0 or unset: random)"},
	}
}

// rootFlags are the default command's flags: the probe's and runFlags.
func rootFlags() []cli.Flag { return append(probeFlags(), runFlags()...) }

// setGlobalFlags replaces urfave/cli's package-wide -h and -v (pgprobe's
// -h is psql's host) once, so that apps may be built concurrently.
var setGlobalFlags = sync.OnceFunc(func() {
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Aliases: []string{"?"}, Usage: "show help"}
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Aliases: []string{"V"}, Usage: "print the version"}
})

func newApp(e *env) *cli.App {
	setGlobalFlags()
	app := &cli.App{
		Name:      "pgprobe",
		Usage:     "show every step of a PostgreSQL connection, and why it fails",
		UsageText: "pgprobe [flags] [CONNINFO | URI]\npgprobe [flags] TARGET TARGET ...\npgprobe settings [CONNINFO | URI]\npgprobe listen [flags]\npgprobe demo\npgprobe completion bash|zsh|fish|powershell",
		Description: "pgprobe re-enacts libpq's connection state machine (PQconnectPoll) one step at a time: " +
			"name resolution, TCP or Unix-socket connect, SSLRequest and the server's one-byte answer, the TLS handshake " +
			"and certificate checks under sslmode's rules, the startup message, authentication (trust, password, MD5, " +
			"SCRAM-SHA-256 with or without channel binding), ParameterStatus, BackendKeyData and ReadyForQuery. " +
			"It records each state, its timing and any error, and prints a timeline, JSON, NDJSON or a table. " +
			"Targets are libpq connection strings or URIs exactly as psql takes them; every PG* environment variable, " +
			"service files and .pgpass are read as libpq reads them. Flags may come before or after the target.",
		Version:         versionString(),
		Writer:          e.stdout,
		ErrWriter:       e.stderr,
		HideHelpCommand: true,
		Flags:           rootFlags(),
		ExitErrHandler:  func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageErr("%s\nTry \"pgprobe --help\" for more information.", err)
		},
		Action: func(c *cli.Context) error { return probeAction(c, e) },
		Commands: []*cli.Command{
			{
				Name:      "settings",
				Usage:     "show the resolved settings and where each came from; no connection",
				ArgsUsage: "[CONNINFO | URI]",
				Flags:     settingsFlags(),
				Action:    func(c *cli.Context) error { return settingsAction(c, e) },
				OnUsageError: func(_ *cli.Context, err error, _ bool) error {
					return usageErr("%s\nTry \"pgprobe settings --help\" for more information.", err)
				},
			},
			listenCommand(e),
			demoCommand(e),
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
	return append(out, &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "output `FORMAT`: table or json"})
}

// input turns the command line into what libpq would read.
func input(c *cli.Context, e *env, target string) conninfo.Input {
	in := conninfo.Input{Target: target, Flags: map[string]string{}, FlagOrigin: map[string]string{}, Getenv: e.getenv}
	in.HomeDir, _ = e.getenv("HOME")
	for flag, kw := range map[string]string{"host": "host", "port": "port", "username": "user", "dbname": "dbname"} {
		if c.IsSet(flag) {
			in.Flags[kw] = c.String(flag)
			in.FlagOrigin[kw] = "--" + flag
		}
	}
	// psql's -d may itself be a connection string.
	if in.Target == "" && c.IsSet("dbname") && conninfo.IsConnString(c.String("dbname")) {
		in.Target = c.String("dbname")
		delete(in.Flags, "dbname")
	}
	return in
}

// displayTarget is what the record calls a target given only by flags.
func displayTarget(in conninfo.Input) string {
	if in.Target != "" {
		return in.Target
	}
	var parts []string
	for _, kw := range []string{"host", "port", "user", "dbname"} {
		if v, ok := in.Flags[kw]; ok {
			parts = append(parts, kw+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// negativeNumber reports whether s is "-" and then a number of seconds.
func negativeNumber(s string) bool {
	rest, ok := strings.CutPrefix(s, "-")
	return ok && rest != "" && strings.Trim(rest, "0123456789.") == ""
}

func parseTimeout(s string) (time.Duration, error) {
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("invalid --timeout %q: %sgive a duration such as 10s or 500ms, or a number of seconds", s, why)
	}
	// A number of seconds: digits with at most one point, nothing else
	// (ParseFloat's exponents, hex floats, Inf and NaN are no timeouts).
	digits := strings.TrimPrefix(s, "+")
	if digits != "" && digits != "." && strings.Count(digits, ".") <= 1 && strings.Trim(digits, "0123456789.") == "" {
		tooLong := fmt.Sprintf("longer than %v, the longest duration: ", time.Duration(math.MaxInt64))
		if !strings.Contains(digits, ".") {
			// Whole seconds; ParseInt fails here only on overflow.
			n, err := strconv.ParseInt(digits, 10, 64)
			if err != nil || n > math.MaxInt64/int64(time.Second) {
				return bad(tooLong)
			}
			return time.Duration(n) * time.Second, nil
		}
		// With a fraction ("0.5"): libpq's connect_timeout is whole
		// seconds, but a flag may be finer.
		f, err := strconv.ParseFloat(digits, 64)
		ns := math.Round(f * float64(time.Second))
		switch {
		case err != nil || ns >= math.MaxInt64: // float64(MaxInt64) is 2^63: would overflow
			return bad(tooLong)
		case ns == 0 && f > 0:
			// A positive timeout must not become 0, which is none at all.
			return bad("more than 0 but shorter than 1ns, the shortest duration: ")
		}
		return time.Duration(ns), nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err == nil && d < 0 || err != nil && negativeNumber(s):
		return bad("a negative duration is no deadline: ")
	case err != nil:
		return bad("")
	case d == 0 && strings.ContainsAny(s, "123456789"):
		return bad("more than 0 but shorter than 1ns, the shortest duration: ")
	}
	return d, nil
}

func probeAction(c *cli.Context, e *env) error {
	output := c.String("output")
	if !contains(outputFormats, output) {
		return usageErr("invalid --output %q: use one of %s", output, strings.Join(outputFormats, ", "))
	}
	colorOn, err := report.ColorEnabled(c.String("color"), e.stdout, func(k string) string { v, _ := e.getenv(k); return v })
	if err != nil {
		return usageErr("%s", err)
	}
	timeout, err := parseTimeout(c.String("timeout"))
	if err != nil {
		return usageErr("%s", err)
	}
	checks := probe.Checks{MinCertDays: c.Int("min-cert-days")}
	if checks.MinCertDays < 0 {
		return usageErr("invalid --min-cert-days %d: give a number of days, 0 or more", checks.MinCertDays)
	}
	if v := c.String("min-tls-version"); v != "" {
		if checks.MinTLSVersion, err = probe.ParseTLSVersion(v); err != nil {
			return usageErr("invalid --min-tls-version: %s", err)
		}
	}
	ro, err := parseRunOpts(c)
	if err != nil {
		return err
	}
	targets := c.Args().Slice()
	if f := c.String("targets-file"); f != "" {
		more, err := readTargets(f, e.stdin)
		if err != nil {
			return usageErr("%s", err)
		}
		targets = append(targets, more...)
	}
	// A targets file makes a fleet, whatever its length: a script reading
	// .results must not get another shape when the file shrinks to a line.
	ro.fleet = c.String("targets-file") != ""
	if len(targets) == 0 {
		targets = []string{""}
	} else if c.IsSet("dbname") && conninfo.IsConnString(c.String("dbname")) {
		return usageErr("-d holds a connection string and a target was given too: give it one way, either -d or as an argument")
	}
	if c.Bool("ping") && (checks.MinCertDays > 0 || checks.MinTLSVersion != "") {
		return usageErr("--ping stops before TLS details matter to a check: use --min-cert-days and --min-tls-version without --ping")
	}
	var password string
	if c.Bool("password") {
		password, err = promptPassword(e)
		if err != nil {
			return usageErr("could not read the password: %s", err)
		}
	}

	quiet := c.Bool("quiet")
	if quiet {
		// Usage errors above still reach stderr; from here on, nothing.
		ro.usageErrs = &lockedWriter{w: e.stderr}
		q := *e
		q.stdout, q.stderr = io.Discard, io.Discard
		e = &q
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer func() {
		// signal.Stop waits for the runtime's signal thread to acknowledge
		// (about 0.4 ms here, 1% of a --ping); a process about to exit
		// need not give the signal back.
		if !e.exiting {
			stop()
		}
	}()

	var sink *statelog.NDJSONSink
	if output == "ndjson" {
		sink = statelog.NewNDJSONSink(e.stdout)
		ro.ndjson, ro.sink = true, sink
	}
	if w := progressWriter(e); ro.wait > 0 && w != nil {
		ro.progress = newWaitProgress(w, ro.wait, len(targets))
	}
	reqs := make([]probe.Request, len(targets))
	for i, t := range targets {
		reqs[i] = probe.Request{Input: input(c, e, t), Ping: c.Bool("ping"), Timeout: timeout, Password: password, Checks: checks, Seed: c.Uint64("seed")}
		reqs[i].Display = displayTarget(reqs[i].Input)
	}
	opts := report.Options{Color: colorOn, Verbose: c.Bool("verbose")}
	if quiet {
		// The exit code is the answer: render nothing at all.
		output = ""
	}
	code, err := probeAndReport(ctx, e.stdout, reqs, ro, output, opts)
	if err != nil {
		return &exitError{code: statelog.ExitNoAnswer, msg: "could not write the report: " + err.Error()}
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// promptPassword reads a password from the terminal without echo, as psql -W.
func promptPassword(e *env) (string, error) {
	if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil && !e.noTTY {
		defer tty.Close()
		fmt.Fprint(tty, "Password: ")
		b, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return string(b), err
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func settingsAction(c *cli.Context, e *env) error {
	if c.NArg() > 1 {
		return usageErr("settings takes one connection string or URI, got %d arguments", c.NArg())
	}
	output := c.String("output")
	if output != "table" && output != "json" {
		return usageErr("invalid --output %q for settings: use table or json", output)
	}
	s, err := conninfo.Resolve(input(c, e, c.Args().First()))
	if err != nil {
		if output == "json" {
			_ = report.SettingsJSON(e.stdout, nil, err, nil)
		}
		return &exitError{code: statelog.ExitNoAttempt, msg: err.Error()}
	}
	home, _ := e.getenv("HOME")
	explanations := probe.Explain(s, home)
	if output == "json" {
		if explanations == nil {
			explanations = []string{}
		}
		return report.SettingsJSON(e.stdout, s, nil, explanations)
	}
	return report.SettingsTable(e.stdout, s, explanations)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// asTyped gives a flag error from Go's flag package ("flag provided but not
// defined: -bogus", "invalid value \"x\" for flag -count", which always show
// one dash) the flag as the user typed it ("--bogus").
func asTyped(msg string, args []string) string {
	m := reFlagName.FindStringSubmatchIndex(msg)
	if m == nil {
		return msg
	}
	name := msg[m[2]:m[3]]
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			return msg[:m[2]-1] + "-" + msg[m[2]-1:]
		}
	}
	return msg
}

var reFlagName = regexp.MustCompile(`(?:: |flag )-([A-Za-z][A-Za-z0-9-]*)`)

// reorderArgs lets flags follow the target, as in psql: urfave/cli v2 stops
// parsing flags at the first positional argument, so flags found after a
// positional argument are moved in front of it.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	flags := app.Flags
	start := 1
	// A subcommand after root flags ("-o json settings X") is still the
	// subcommand: move it to the front so its own flags apply.
	for i := 1; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		if len(args[i]) > 1 && args[i][0] == '-' {
			if !isFlagValueFree(app, args[i]) {
				i++ // skip the flag's value
			}
			continue
		}
		for _, cmd := range app.Commands {
			if args[i] == cmd.Name {
				args = append(append([]string{args[0], cmd.Name}, args[1:i]...), args[i+1:]...)
				flags, start = cmd.Flags, 2
			}
		}
		break
	}
	takesValue := map[string]bool{}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var opts, pos []string
	rest := args[start:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i+1:]...)
			break
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' && !strings.Contains(a, "=") && takesValue[a[1:2]] {
			// psql's attached short values: -p5432, -ojson.
			opts = append(opts, a[:2], a[2:])
			continue
		}
		if len(a) > 1 && a[0] == '-' {
			opts = append(opts, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
				opts = append(opts, rest[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	out := append([]string{}, args[:start]...)
	out = append(out, opts...)
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out
}

// isFlagValueFree reports whether arg is a flag that takes no value (so the
// word after it is not its value).
func isFlagValueFree(app *cli.App, arg string) bool {
	if len(arg) < 2 || arg[0] != '-' || strings.Contains(arg, "=") {
		return true
	}
	if arg[1] != '-' && len(arg) > 2 {
		return true // -p5432: the value is attached
	}
	name := strings.TrimLeft(arg, "-")
	for _, f := range app.Flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return isBool
			}
		}
	}
	return true
}
