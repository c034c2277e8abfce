package cliargs

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/probe/conninfo"
)

// Input turns the command line into what libpq would read: target, psql's
// -h, -p, -U and -d (which may itself hold a connection string), and the
// environment.
func Input(c *cli.Context, getenv func(string) (string, bool), target string) conninfo.Input {
	in := conninfo.Input{Target: target, Flags: map[string]string{}, FlagOrigin: map[string]string{}, Getenv: getenv}
	in.HomeDir = conninfo.HomeDir(getenv)
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

// Display is what the record calls a target given only by flags.
func Display(in conninfo.Input) string {
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
