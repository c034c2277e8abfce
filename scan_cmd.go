package main

// pgprobe scan: package scan wired to the command line. No probing or
// grading lives here.

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/internal/cliargs"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/scan"
	"github.com/pgprobe/pgprobe/statelog"
)

func scanFlags() []cli.Flag {
	var out []cli.Flag
	for _, f := range probeFlags() {
		switch f.Names()[0] {
		case "host", "port", "username", "dbname", "color":
			out = append(out, f)
		}
	}
	formats := report.ScanFormats()
	return append(out,
		&cli.StringFlag{Name: "users", Usage: "look at the authentication of `USERS`, a comma-separated list (default: the target's user)"},
		&cli.StringFlag{Name: "fail-on", Value: statelog.SeverityHigh, Usage: "exit 4 when a finding is at or above `SEVERITY`: " + orList(statelog.Severities())},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: formats[0], Usage: "output `FORMAT`: " + orList(formats)},
		&cli.StringFlag{Name: "timeout", Aliases: []string{"t"}, Value: scan.DefaultTimeout.String(), Usage: "deadline for each connection of the scan: `DURATION` such as 5s, or seconds"},
		&cli.IntFlag{Name: "concurrency", Value: scan.DefaultConcurrency, Usage: "open at most `N` connections at once"},
	)
}

func scanCommand(e *env) *cli.Command {
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
		Flags:  scanFlags(),
		Action: func(c *cli.Context) error { return scanAction(c, e) },
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageErr("%s\nTry \"pgprobe %s --help\" for more information.", err, c.Command.Name)
		},
	}
}

func scanAction(c *cli.Context, e *env) error {
	output := c.String("output")
	if !contains(report.ScanFormats(), output) {
		return usageErr("invalid --output %q for scan: use %s", output, orList(report.ScanFormats()))
	}
	failOn := c.String("fail-on")
	if statelog.SeverityRank(failOn) == 0 {
		return usageErr("invalid --fail-on %q: use %s", failOn, orList(statelog.Severities()))
	}
	colorOn, err := colorFlag(c, e)
	if err != nil {
		return err
	}
	timeout, err := cliargs.ParseTimeout(c.String("timeout"))
	if err != nil {
		return usageErr("%s", err)
	}
	if timeout == 0 {
		return usageErr("invalid --timeout 0 for scan: each connection needs a deadline, such as 10s")
	}
	if c.Int("concurrency") < 1 {
		return usageErr("invalid --concurrency %d: give 1 or more", c.Int("concurrency"))
	}
	users, err := scanUsers(c.String("users"), c.IsSet("users"))
	if err != nil {
		return err
	}
	ins, warnings, err := cliargs.Targets(c, e.getenv, e.stdin)
	if err != nil {
		return usageErr("%s", err)
	}
	if len(ins) > 1 {
		return usageErr("scan takes one target: a connection string, a URI, or DBNAME [USERNAME]; got %d", len(ins))
	}
	for _, w := range warnings {
		fmt.Fprintln(e.stderr, "pgprobe: "+w)
	}
	ctx, stop := interruptible(e)
	defer stop()
	doc := scan.Run(ctx, scan.Options{Input: ins[0], Display: cliargs.Display(ins[0]), Users: users, FailOn: failOn,
		Timeout: timeout, Concurrency: c.Int("concurrency")})
	if doc.ExitCode == statelog.ExitNoAttempt && output != "json" {
		return usageErr("%s", doc.Error.Message)
	}
	if err := report.Scan(output, e.stdout, report.Options{Color: colorOn, Width: outputWidth(e)}, doc, failOn); err != nil {
		return &exitError{code: statelog.ExitNoAnswer, msg: "could not write the report: " + err.Error()}
	}
	if code := interruptCode(ctx, doc.ExitCode); code != 0 {
		return &exitError{code: code}
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
			return nil, usageErr("invalid --users %q: give user names separated by commas, such as alice,bob", v)
		}
		out = append(out, u)
	}
	return out, nil
}
