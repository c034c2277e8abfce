package main

// From flags to what the run loop takes (probe.Requests, run.Options and a
// report.Writer), then its outcome to an exit code. Package run is imported
// as runner: run is this package's entry point for tests.

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/internal/cliargs"
	"github.com/pgprobe/pgprobe/internal/cmd/cmdenv"
	"github.com/pgprobe/pgprobe/internal/cmd/savechain"
	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/report"
	runner "github.com/pgprobe/pgprobe/run"
	"github.com/pgprobe/pgprobe/statelog"
)

// runFlags are the flags that say how often and how many at once to probe.
func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing at all: the exit code is the answer (usage errors still go to stderr)"},
		&cli.StringFlag{Name: "wait", Usage: "retry with backoff until the target succeeds or `DURATION` (such as 30s) is spent; the exit code is the last try's"},
		&cli.StringFlag{Name: "targets-file", Usage: "probe the targets listed in `FILE`, one connection string or URI a line (# starts a comment, also after a target; - for stdin)"},
		&cli.IntFlag{Name: "concurrency", Value: runner.DefaultConcurrency, Usage: "probe at most `N` targets at once"},
		&cli.IntFlag{Name: "count", Aliases: []string{"n"}, Value: 1, Usage: "probe each target `N` times in a row and report how many failed and min, p50, p95, max, mean and standard deviation of every step"},
		&cli.StringFlag{Name: "interval", Usage: "with -n: pause `DURATION` (such as 1s or 500ms, or seconds) between two runs; 0 for none"},
	}
}

// request is what every target shares: --timeout, --ping, the checks, --seed.
func request(c *cli.Context) (probe.Request, error) {
	timeout, err := cliargs.ParseTimeout(c.String("timeout"))
	if err != nil {
		return probe.Request{}, cmdenv.UsageErr("%s", err)
	}
	req := probe.Request{Ping: c.Bool("ping"), Timeout: timeout, Checks: probe.Checks{MinCertDays: c.Int("min-cert-days")}, Seed: c.Uint64("seed")}
	if req.Checks.MinCertDays < 0 {
		return req, cmdenv.UsageErr("invalid --min-cert-days %d: give a number of days, 0 or more", req.Checks.MinCertDays)
	}
	if req.Checks.MinTicketHours = c.Float64("min-ticket-hours"); req.Checks.MinTicketHours < 0 {
		return req, cmdenv.UsageErr("invalid --min-ticket-hours %g: give a number of hours, 0 or more", req.Checks.MinTicketHours)
	}
	if v := c.String("min-tls-version"); v != "" {
		if req.Checks.MinTLSVersion, err = probe.ParseTLSVersion(v); err != nil {
			return req, cmdenv.UsageErr("invalid --min-tls-version: %s", err)
		}
	}
	return req, nil
}

func runOptions(c *cli.Context) (runner.Options, error) {
	var err error
	o := runner.Options{Concurrency: c.Int("concurrency"), Count: c.Int("count")}
	if o.Concurrency < 1 {
		return o, cmdenv.UsageErr("invalid --concurrency %d: give 1 or more", o.Concurrency)
	}
	if o.Count < 1 {
		return o, cmdenv.UsageErr("invalid --count %d: give 1 or more", o.Count)
	}
	if c.IsSet("wait") {
		d, err := cliargs.ParseWait(c.String("wait"))
		if err != nil {
			return o, cmdenv.UsageErr("%s", err)
		}
		o.Wait = d
	}
	if c.IsSet("interval") {
		if o.Interval, err = cliargs.ParseInterval(c.String("interval")); err != nil {
			return o, cmdenv.UsageErr("%s", err)
		}
	}
	if o.Wait > 0 && o.Count > 1 {
		return o, cmdenv.UsageErr("--wait and --count do not combine: wait for the target first, then measure it")
	}
	return o, nil
}

func probeAction(c *cli.Context, e *env) error {
	output := c.String("output")
	if !slices.Contains(outputFormats, output) {
		return cmdenv.UsageErr("invalid --output %q: use one of %s", output, strings.Join(outputFormats, ", "))
	}
	colorOn, err := e.ColorFlag(c)
	if err != nil {
		return err
	}
	base, err := request(c)
	if err != nil {
		return err
	}
	ro, err := runOptions(c)
	if err != nil {
		return err
	}
	list, warnings, err := cliargs.Targets(c, e.Getenv, e.Stdin)
	if err != nil {
		return cmdenv.UsageErr("%s", err)
	}
	saver, err := savechain.New(c, len(list))
	if err != nil {
		return err
	}
	base.OnPeerChain = saver.Hook()
	if !c.Bool("quiet") {
		for _, w := range warnings {
			fmt.Fprintln(e.Stderr, "pgprobe: "+w)
		}
	}
	if base.Ping && (base.Checks.MinCertDays > 0 || base.Checks.MinTLSVersion != "" || base.Checks.MinTicketHours > 0) {
		return cmdenv.UsageErr("--ping stops before TLS details matter to a check: use --min-cert-days, --min-tls-version and --min-ticket-hours without --ping")
	}
	if c.Bool("password") {
		if base.Password, err = cliargs.PromptPassword(e.Stdin, e.NoTTY); err != nil {
			return cmdenv.UsageErr("could not read the password: %s", err)
		}
	}
	// A targets file makes a fleet, whatever its length: a script reading
	// .results must not get another shape when the file shrinks to a line.
	opts := report.Options{Color: colorOn, Width: e.OutputWidth(), Verbose: c.Bool("verbose"), Fleet: len(list) > 1 || c.String("targets-file") != ""}
	out, _ := report.New(output, e.Stdout, opts)
	if c.Bool("quiet") {
		// Usage errors above still reach stderr, and the targets' settings
		// errors; from here on, nothing else.
		out = report.NewQuiet(e.Stderr, opts)
		q := *e
		q.Stdout, q.Stderr = io.Discard, io.Discard
		e = &q
	}
	if w := e.ProgressWriter(); ro.Wait > 0 && w != nil {
		ro.Progress = runner.NewProgress(w, ro.Wait, len(list))
	}
	reqs := make([]probe.Request, len(list))
	for i, in := range list {
		reqs[i] = base
		reqs[i].Input = in
		reqs[i].Display = cliargs.Display(in)
	}
	ctx, stop := e.Interruptible()
	defer stop()
	code, err := runner.Targets(ctx, reqs, ro, out)
	saver.Save(e.Stderr)
	if err != nil {
		return &cmdenv.ExitError{Code: cmdenv.InterruptCode(ctx, statelog.ExitNoAnswer), Msg: "could not write the report: " + err.Error()}
	}
	code = cmdenv.InterruptCode(ctx, code)
	if code != 0 {
		return &cmdenv.ExitError{Code: code}
	}
	return nil
}
