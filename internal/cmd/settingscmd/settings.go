// Package settingscmd is pgprobe settings: the resolved settings
// (probe/conninfo) and where each came from, with no connection.
package settingscmd

import (
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/internal/cliargs"
	"github.com/pgprobe/pgprobe/internal/cmd/cmdenv"
	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/probe/conninfo"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/statelog"
)

// Command is pgprobe settings; common are the root's --host, --port,
// --username, --dbname and --color.
func Command(e *cmdenv.Env, common []cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "settings",
		Usage:     "show the resolved settings and where each came from; no connection",
		ArgsUsage: "[CONNINFO | URI | DBNAME [USERNAME]]",
		Flags:     flags(common),
		Action:    func(c *cli.Context) error { return action(c, e) },
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return cmdenv.UsageErr("%s\nTry \"pgprobe settings --help\" for more information.", err)
		},
	}
}

func flags(common []cli.Flag) []cli.Flag {
	formats := report.SettingsFormats()
	return append(common, &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: formats[0], Usage: "output `FORMAT`: " + cmdenv.OrList(formats)})
}

func action(c *cli.Context, e *cmdenv.Env) error {
	output := c.String("output")
	if !slices.Contains(report.SettingsFormats(), output) {
		return cmdenv.UsageErr("invalid --output %q for settings: use %s", output, cmdenv.OrList(report.SettingsFormats()))
	}
	ins, warnings, err := cliargs.Targets(c, e.Getenv, e.Stdin)
	if err != nil {
		return cmdenv.UsageErr("%s", err)
	}
	if len(ins) > 1 {
		return cmdenv.UsageErr("settings takes one target: a connection string, a URI, or DBNAME [USERNAME]; got %d", len(ins))
	}
	for _, w := range warnings {
		fmt.Fprintln(e.Stderr, "pgprobe: "+w)
	}
	s, err := conninfo.Resolve(ins[0])
	if err != nil {
		_ = report.Settings(output, e.Stdout, report.Options{Width: e.OutputWidth()}, nil, err, nil)
		return &cmdenv.ExitError{Code: statelog.ExitNoAttempt, Msg: err.Error()}
	}
	home, _ := e.Getenv("HOME")
	return report.Settings(output, e.Stdout, report.Options{Width: e.OutputWidth()}, s, nil, probe.Explain(s, home))
}
