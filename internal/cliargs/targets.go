package cliargs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/pgprobe/pgprobe/probe/conninfo"
)

// Words is what the positional words mean.
type Words struct {
	// Targets are connection strings or URIs, one per target (a fleet
	// when more than one), or psql's one DBNAME word.
	Targets []string
	// User is psql's USERNAME word; HasUser says it was given.
	User    string
	HasUser bool
	// Ignored are the words psql would warn about: "extra command-line
	// argument ignored".
	Ignored []string
}

// ReadWords reads the positional words. Words that are all connection
// strings or URIs are targets, one each. Plain words are read as psql
// reads [DBNAME [USERNAME]]: each fills the first of dbname and user name
// that -d and -U left empty, and the rest are ignored. A mix of the two
// kinds is an error, since psql would take a connection string in second
// place for a user name and the reader would likely mean a second target.
func ReadWords(words []string, dbnameSet, userSet bool) (Words, error) {
	var plain, conn []string
	for _, w := range words {
		if conninfo.IsConnString(w) {
			conn = append(conn, w)
		} else {
			plain = append(plain, w)
		}
	}
	switch {
	case len(plain) == 0:
		return Words{Targets: conn}, nil
	case len(conn) > 0:
		return Words{}, fmt.Errorf("%q is a connection string or URI and %q is not: several targets must each be a connection string or URI (write \"dbname=%s\" for that database), "+
			"and a user name goes in the connection string (user=%s) or after -U", conn[0], plain[0], plain[0], plain[0])
	}
	var w Words
	for _, word := range plain {
		switch {
		case !dbnameSet:
			w.Targets, dbnameSet = []string{word}, true
		case !userSet:
			w.User, w.HasUser, userSet = word, true, true
		default:
			w.Ignored = append(w.Ignored, word)
		}
	}
	return w, nil
}

// Warnings are psql's warnings for the ignored words.
func (w Words) Warnings() []string {
	out := make([]string, len(w.Ignored))
	for i, word := range w.Ignored {
		out[i] = fmt.Sprintf("warning: extra command-line argument %q ignored (several targets must each be a connection string or URI)", word)
	}
	return out
}

// Targets are the inputs of the command line's targets: the arguments,
// then the --targets-file's; one input of libpq's defaults when there
// are none. The warnings are for words psql would ignore.
func Targets(c *cli.Context, getenv func(string) (string, bool), stdin io.Reader) ([]conninfo.Input, []string, error) {
	args := c.Args().Slice()
	w, err := ReadWords(args, c.IsSet("dbname"), c.IsSet("username"))
	if err != nil {
		return nil, nil, err
	}
	list := w.Targets
	if f := c.String("targets-file"); f != "" {
		for _, a := range args {
			if !conninfo.IsConnString(a) {
				return nil, nil, fmt.Errorf("with --targets-file the arguments are more targets, each a connection string or URI: %q is neither (write \"dbname=%s\")", a, a)
			}
		}
		more, err := ReadTargets(f, stdin)
		if err != nil {
			return nil, nil, err
		}
		list = append(list, more...)
	}
	if len(list) > 0 && c.IsSet("dbname") && conninfo.IsConnString(c.String("dbname")) {
		return nil, nil, errors.New("-d holds a connection string and a target was given too: give it one way, either -d or as an argument")
	}
	if len(list) == 0 {
		list = []string{""}
	}
	ins := make([]conninfo.Input, len(list))
	for i, t := range list {
		if !w.HasUser {
			ins[i] = Input(c, getenv, t)
			continue
		}
		// DBNAME USERNAME: both go in as flags, so that the record names
		// the target by all that was given ("host=… user=… dbname=…").
		ins[i] = Input(c, getenv, "")
		ins[i].Flags["user"], ins[i].FlagOrigin["user"] = w.User, "username argument"
		if len(w.Targets) > 0 {
			ins[i].Flags["dbname"], ins[i].FlagOrigin["dbname"] = w.Targets[0], "dbname argument"
		}
	}
	return ins, w.Warnings(), nil
}

// ReadTargets reads a --targets-file: one target a line, blank lines and
// comments skipped; "-" reads stdin.
func ReadTargets(path string, stdin io.Reader) ([]string, error) {
	var r io.Reader
	if path == "-" {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("could not read --targets-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxTargetLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(stripComment(sc.Text()))
		if line == "" {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("--targets-file %s: line %d is longer than %d bytes, the longest target pgprobe reads: one target a line", path, n+1, maxTargetLine)
		}
		return nil, fmt.Errorf("could not read --targets-file %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--targets-file %s holds no target", path)
	}
	return out, nil
}

// maxTargetLine is the longest --targets-file line read, newline included.
const maxTargetLine = 1024 * 1024

// stripComment cuts line at a # that starts it or follows white space,
// outside a single-quoted conninfo value and not escaped by a backslash
// ('a#b', 'a #b' and a\ \#b keep theirs). A URI's quotes are plain
// characters, and libpq's URIs have no fragment.
func stripComment(line string) string {
	t := strings.TrimSpace(line)
	uri := strings.HasPrefix(t, "postgresql://") || strings.HasPrefix(t, "postgres://")
	quoted, afterSpace := false, true
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && !uri:
			i++
		case c == '\'' && !uri:
			quoted = !quoted
		case c == '#' && !quoted && afterSpace:
			return line[:i]
		}
		afterSpace = c == ' ' || c == '\t'
	}
	return line
}
