package report

import (
	"io"

	"github.com/pgprobe/pgprobe/statelog"
)

// NewQuiet is --quiet's report: nothing at all, as the exit code is the
// answer, except each target's settings error (exit 3) on usage, in the
// order of the targets: a mistake in a connection string is a usage error,
// which --quiet does not hide. It is no output format of its own: -o is
// still checked, and then ignored.
func NewQuiet(usage io.Writer, o Options) Writer { return &quietWriter{w: usage, fleet: o.Fleet} }

type quietWriter struct {
	w     io.Writer
	fleet bool
}

func (x *quietWriter) Prepare(l *statelog.Log) (Part, error) {
	p := partOf(l)
	if l.ExitCode != statelog.ExitNoAttempt || l.Error == nil {
		return p, nil
	}
	// Cleaned as the table is: a targets file line or an option name may
	// hold ESC sequences.
	line := "pgprobe: " + clean(l.Error.Message) + "\n"
	if x.fleet {
		line = "pgprobe: " + clean(l.Target) + ": " + clean(l.Error.Message) + "\n"
	}
	p.b = []byte(line)
	return p, nil
}

// Add writes the usage line; an error writing to stderr is nobody's to
// hear.
func (x *quietWriter) Add(p Part) error {
	if len(p.b) > 0 {
		_, _ = x.w.Write(p.b)
	}
	return nil
}

func (x *quietWriter) Close() error   { return nil }
func (x *quietWriter) Buffered() bool { return true }
