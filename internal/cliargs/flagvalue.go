package cliargs

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
)

// ValueHint rewrites Go's flag errors for a value that does not parse
// ("invalid value \"abc\" for flag -seed: parse error") to say what to
// give instead; other messages are returned unchanged.
func ValueHint(app *cli.App, msg string) string {
	m := reBadValue().FindStringSubmatchIndex(msg)
	if m == nil {
		return msg
	}
	value, name, why := msg[m[2]:m[3]], msg[m[4]:m[5]], msg[m[6]:m[7]]
	want := ""
	switch findFlag(app, name).(type) {
	case *cli.BoolFlag:
		want = "give true or false, or the flag alone"
	case *cli.IntFlag:
		want = "give a whole number"
	case *cli.Uint64Flag:
		want = fmt.Sprintf("give a whole number from 0 to %d", uint64(math.MaxUint64))
	default:
		return msg
	}
	if why == "value out of range" {
		want = "out of range: " + strings.Replace(want, "a whole", "a smaller whole", 1)
	}
	return msg[:m[0]] + fmt.Sprintf("invalid value %q for flag -%s: %s", value, name, want) + msg[m[1]:]
}

// findFlag is the app's or a command's flag called name.
func findFlag(app *cli.App, name string) cli.Flag {
	lists := [][]cli.Flag{app.Flags}
	for _, c := range app.Commands {
		lists = append(lists, c.Flags)
	}
	for _, flags := range lists {
		for _, f := range flags {
			for _, n := range f.Names() {
				if n == name {
					return f
				}
			}
		}
	}
	return nil
}

var reBadValue = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`invalid (?:boolean )?value "((?:[^"\\]|\\.)*)" for (?:flag )?-([A-Za-z?][A-Za-z0-9-]*): (parse error|value out of range)`)
})
