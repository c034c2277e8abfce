// Package scancmd is pgprobe scan: package scan wired to the command line.
// No probing or grading lives here.
package scancmd

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/internal/cliargs"
	"github.com/pgprobe/pgprobe/internal/cmd/cmdenv"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/scan"
	"github.com/pgprobe/pgprobe/statelog"
)

// flags are the root's host, port, username, dbname and color (common),
// then scan's own.
func flags(common []cli.Flag) []cli.Flag {
	formats := report.ScanFormats()
	return append(common,
		&cli.StringFlag{Name: "users", Usage: "look at the authentication of `USERS`, a comma-separated list (default: the target's user)"},
		&cli.StringFlag{Name: "fail-on", Value: statelog.SeverityHigh, Usage: "exit 4 when a finding is at or above `SEVERITY`: " + cmdenv.OrList(statelog.Severities())},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: formats[0], Usage: "output `FORMAT`: " + cmdenv.OrList(formats)},
		&cli.StringFlag{Name: "timeout", Aliases: []string{"t"}, Value: scan.DefaultTimeout.String(), Usage: "deadline for each connection of the scan: `DURATION` such as 5s, or seconds"},
		&cli.IntFlag{Name: "concurrency", Value: scan.DefaultConcurrency, Usage: "open at most `N` connections at once"},
	)
}

// Command is pgprobe scan; common are the root's --host, --port,
// --username, --dbname and --color.
func Command(e *cmdenv.Env, common []cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "scan",
		Usage:     "what a server accepts (TLS versions, suites, groups, certificate, each user's authentication), graded",
		ArgsUsage: "[CONNINFO | URI | DBNAME [USERNAME]]",
		Description: "Opens many short connections to one server and reports what it accepts: SSL, TLS 1.0 to 1.3, each TLS 1.2 " +
			"cipher suite and key-exchange group on its own, a HelloRetryRequest for clients leading with X25519, the certificate " +
			"(chain, key, signature, days left, verified against sslrootcert or the system's store, host name), direct TLS, " +
			"GSSENCRequest's answer, protocol 3.2, bytes after SSLRequest (CVE-2021-23214), and for each user the first " +
			"authentication request over TLS and without encryption. No password is ever sent and nothing is written to the " +
			"server. Findings are graded info, low, medium, high or critical, each with the postgresql.conf or pg_hba.conf change " +
			"that removes it. Exit status: 0 nothing at or above --fail-on, 4 findings at or above it, 2 the server could not be " +
			"reached, 3 bad flags or settings.",
		Flags:  flags(common),
		Action: func(c *cli.Context) error { return action(c, e) },
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return cmdenv.UsageErr("%s\nTry \"pgprobe %s --help\" for more information.", err, c.Command.Name)
		},
	}
}

func action(c *cli.Context, e *cmdenv.Env) error {
	output := c.String("output")
	if !slices.Contains(report.ScanFormats(), output) {
		return cmdenv.UsageErr("invalid --output %q for scan: use %s", output, cmdenv.OrList(report.ScanFormats()))
	}
	failOn := c.String("fail-on")
	if statelog.SeverityRank(failOn) == 0 {
		return cmdenv.UsageErr("invalid --fail-on %q: use %s", failOn, cmdenv.OrList(statelog.Severities()))
	}
	colorOn, err := e.ColorFlag(c)
	if err != nil {
		return err
	}
	timeout, err := cliargs.ParseTimeout(c.String("timeout"))
	if err != nil {
		return cmdenv.UsageErr("%s", err)
	}
	if timeout == 0 {
		return cmdenv.UsageErr("invalid --timeout 0 for scan: each connection needs a deadline, such as 10s")
	}
	if c.Int("concurrency") < 1 {
		return cmdenv.UsageErr("invalid --concurrency %d: give 1 or more", c.Int("concurrency"))
	}
	users, err := scanUsers(c.String("users"), c.IsSet("users"))
	if err != nil {
		return err
	}
	ins, warnings, err := cliargs.Targets(c, e.Getenv, e.Stdin)
	if err != nil {
		return cmdenv.UsageErr("%s", err)
	}
	if len(ins) > 1 {
		return cmdenv.UsageErr("scan takes one target: a connection string, a URI, or DBNAME [USERNAME]; got %d", len(ins))
	}
	for _, w := range warnings {
		fmt.Fprintln(e.Stderr, "pgprobe: "+w)
	}
	ctx, stop := e.Interruptible()
	defer stop()
	doc := scan.Run(ctx, scan.Options{Input: ins[0], Display: cliargs.Display(ins[0]), Users: users, FailOn: failOn,
		Timeout: timeout, Concurrency: c.Int("concurrency")})
	if doc.ExitCode == statelog.ExitNoAttempt && output != "json" {
		return cmdenv.UsageErr("%s", doc.Error.Message)
	}
	if err := report.Scan(output, e.Stdout, report.Options{Color: colorOn, Width: e.OutputWidth()}, doc, failOn); err != nil {
		return &cmdenv.ExitError{Code: statelog.ExitNoAnswer, Msg: "could not write the report: " + err.Error()}
	}
	if code := cmdenv.InterruptCode(ctx, doc.ExitCode); code != 0 {
		return &cmdenv.ExitError{Code: code}
	}
	return nil
}

// scanUsers reads --users: names separated by commas, none empty.
func scanUsers(v string, set bool) ([]string, error) {
	if !set {
		return nil, nil
	}
	var out []string
	for _, u := range strings.Split(v, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			return nil, cmdenv.UsageErr("invalid --users %q: give user names separated by commas, such as alice,bob", v)
		}
		out = append(out, u)
	}
	return out, nil
}
