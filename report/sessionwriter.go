package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// SessionFormats are the formats of the server side's record (pgprobe
// listen), the first the default.
var SessionFormats = []string{"timeline", "json", "ndjson"}

// SessionWriter writes one client connection's record after another to
// the same output.
type SessionWriter interface {
	WriteSession(s *statelog.Session) error
}

// NewSessionWriter returns the writer of format (one of SessionFormats) on
// w: timelines separated by a blank line, a stream of JSON documents (jq
// reads them as such), or one NDJSON line per session. o matters to the
// timeline only.
func NewSessionWriter(format string, w io.Writer, o Options) (SessionWriter, error) {
	switch format {
	case "timeline":
		return &sessionTimelines{w: w, o: o}, nil
	case "json":
		return sessionFunc(func(s *statelog.Session) error { return SessionJSON(w, s) }), nil
	case "ndjson":
		return sessionFunc(func(s *statelog.Session) error { return SessionNDJSON(w, s) }), nil
	}
	return nil, fmt.Errorf("unknown session format %q: use one of %s", format, strings.Join(SessionFormats, ", "))
}

type sessionFunc func(*statelog.Session) error

func (f sessionFunc) WriteSession(s *statelog.Session) error { return f(s) }

type sessionTimelines struct {
	w       io.Writer
	o       Options
	written bool
}

func (t *sessionTimelines) WriteSession(s *statelog.Session) error {
	if t.written {
		if _, err := io.WriteString(t.w, "\n"); err != nil {
			return err
		}
	}
	t.written = true
	return SessionTimeline(t.w, s, t.o)
}
