// Package cmdenv is what pgprobe's subcommands share: the surroundings the
// app reads (Env), the error that carries an exit code out of an action,
// and the handling of --color, the output width and the --wait progress
// line that every command does the same way.
package cmdenv

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/statelog"
)

// Env is what the app reads from its surroundings; tests replace it.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) (string, bool)
	// NoTTY makes -W read the password from stdin even when a terminal is
	// there (tests).
	NoTTY bool
	// ProgressTTY makes --wait show its progress on stderr as on a
	// terminal (tests).
	ProgressTTY bool
	// Exiting: the process ends when the app returns (main, not tests), so
	// process-wide clean-ups that only matter to a caller that goes on can
	// be skipped.
	Exiting bool
}

// ExitError carries an exit code out of an action; Msg, when not empty,
// goes to stderr after "pgprobe: ".
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// UsageErr is a usage error: the message, exit 3.
func UsageErr(format string, a ...any) error {
	return &ExitError{Code: statelog.ExitNoAttempt, Msg: fmt.Sprintf(format, a...)}
}

// ColorFlag is --color for output on stdout; report checks the value.
func (e *Env) ColorFlag(c *cli.Context) (bool, error) {
	on, err := report.ColorEnabled(c.String("color"), e.Stdout, e.lookup)
	if err != nil {
		return false, UsageErr("%s", err)
	}
	return on, nil
}

// OutputWidth is the width to lay the human output out to: stdout's
// terminal's, else COLUMNS, else 0 (not known).
func (e *Env) OutputWidth() int { return e.WidthOf(e.Stdout) }

// WidthOf is the width of w's terminal, else COLUMNS, else 0 (not known).
func (e *Env) WidthOf(w io.Writer) int { return report.Width(w, e.lookup) }

func (e *Env) lookup(k string) string { v, _ := e.Getenv(k); return v }

// ProgressWriter is stderr when it is a terminal (or the test says so), else nil.
func (e *Env) ProgressWriter() io.Writer {
	if e.ProgressTTY {
		return e.Stderr
	}
	if f, ok := e.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f
	}
	return nil
}

// OrList is "a, b or c".
func OrList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
