// Package democmd is pgprobe demo: a probe of the built-in server on
// loopback (run.Demo) wired to the command line.
package democmd

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/internal/cmd/cmdenv"
	"github.com/pgprobe/pgprobe/report"
	runner "github.com/pgprobe/pgprobe/run"
	"github.com/pgprobe/pgprobe/statelog"
)

// Command is pgprobe demo; flags are the root's --output, --color and
// --verbose.
func Command(e *cmdenv.Env, flags []cli.Flag) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "probe a built-in server on loopback: works with no database at all",
		Description: "Starts pgprobe's own server on a free loopback port (SSL on, a generated certificate, SCRAM-SHA-256 " +
			"with a generated password), probes it as libpq would with sslmode=require, and prints the record " +
			"(with the timeline, also what the server saw). It reads no PG* variable and no file of your home directory. " +
			"The exit status is the probe's.",
		Flags:  flags,
		Action: func(c *cli.Context) error { return action(c, e) },
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return cmdenv.UsageErr("%s\nTry \"pgprobe %s --help\" for more information.", err, c.Command.Name)
		},
	}
}

func action(c *cli.Context, e *cmdenv.Env) error {
	if c.NArg() > 0 {
		return cmdenv.UsageErr("demo takes no arguments, got %q", c.Args().First())
	}
	output := c.String("output")
	if !slices.Contains(report.Formats(), output) {
		return cmdenv.UsageErr("invalid --output %q: use one of %s", output, strings.Join(report.Formats(), ", "))
	}
	colorOn, err := e.ColorFlag(c)
	if err != nil {
		return err
	}
	out, err := report.New(output, e.Stdout, report.Options{Color: colorOn, Width: e.OutputWidth(), Verbose: c.Bool("verbose")})
	if err != nil {
		return cmdenv.UsageErr("%s", err)
	}
	var events statelog.Sink
	if st, ok := out.(report.Streamer); ok {
		events = st.Events()
	}
	ctx, stopSignals := e.Interruptible()
	defer stopSignals()
	l, seen, err := runner.Demo(ctx, events)
	if err != nil {
		return &cmdenv.ExitError{Code: statelog.ExitNoAnswer, Msg: "demo: " + err.Error()}
	}
	if err := writeDemo(out, l, seen); err != nil {
		return &cmdenv.ExitError{Code: statelog.ExitNoAnswer, Msg: "could not write the report: " + err.Error()}
	}
	if code := cmdenv.InterruptCode(ctx, l.ExitCode); code != 0 {
		return &cmdenv.ExitError{Code: code}
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
