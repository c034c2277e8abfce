package cliargs

import (
	"regexp"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
)

// Reorder lets flags follow the target, as in psql: urfave/cli v2 stops
// parsing flags at the first positional argument, so flags found after a
// positional argument are moved in front of it.
func Reorder(app *cli.App, args []string) []string {
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

// AsTyped gives a flag error from Go's flag package ("flag provided but not
// defined: -bogus", "invalid value \"x\" for flag -count", which always show
// one dash) the flag as the user typed it ("--bogus").
func AsTyped(msg string, args []string) string {
	m := reFlagName().FindStringSubmatchIndex(msg)
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

// reFlagName finds the flag in a flag error; compiled on first use, as
// most runs have no flag error.
var reFlagName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?:: |flag )-([A-Za-z][A-Za-z0-9-]*)`)
})
