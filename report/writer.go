package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// Writer is one report being written: the records of a run, one per
// target. Every output format is a Writer; New makes one by name.
//
// A run loop that probes many targets at once calls Prepare in the
// goroutine that probed a target, as soon as its record is finished (so
// that the expensive rendering runs in parallel and no record outlives its
// probe), then Add with the parts one at a time in the order of the
// targets, then Close once.
type Writer interface {
	// Prepare renders l into its part of the report. It is safe for
	// concurrent use and writes nothing.
	Prepare(l *statelog.Log) (Part, error)
	// Add writes a part, or keeps it for Close. Calls come one at a time,
	// in the order of the targets.
	Add(p Part) error
	// Close writes what can only come at the end (a fleet's verdict, the
	// table) and returns the first error writing the report.
	Close() error
	// Buffered reports whether Add keeps parts until Close (the table,
	// NDJSON's verdict lines) or they are tiny (quiet): then probing far
	// ahead of the first target not yet added costs no extra memory.
	// When false, Add writes each part out, and a run loop bounds how many
	// finished parts wait behind a slow target.
	Buffered() bool
}

// Part is one target's share of a report, made by Prepare: its verdict
// and what it will write (bytes, a table row), never the whole record.
type Part struct {
	ok   bool
	code int
	b    []byte
	row  Row
}

func partOf(l *statelog.Log) Part { return Part{ok: l.OK, code: l.ExitCode} }

// Streamer is a Writer that also writes events as they happen (NDJSON).
// A run loop gives each probe one of its sinks.
type Streamer interface {
	Writer
	// Events is the sink that writes each event the moment it is
	// recorded; safe for concurrent use by several probes.
	Events() statelog.Sink
	// HeldEvents is a sink that holds one try's events until release
	// writes them in one piece: with --wait and --count only the last
	// try's events are shown.
	HeldEvents() (sink statelog.Sink, release func())
}

// SessionAppender is a Writer that can show, after its records, what the
// server side recorded of the same connection (pgprobe demo's timeline
// shows both halves).
type SessionAppender interface {
	AppendSession(title string, s *statelog.Session) error
}

// Write adds one record to w: Prepare, then Add.
func Write(w Writer, l *statelog.Log) error {
	p, err := w.Prepare(l)
	if err != nil {
		return err
	}
	return w.Add(p)
}

// format is one output format, registered by the file that implements it:
// a new format is one file holding a Writer and an init calling register.
type format struct {
	name string
	rank int // its place in Formats
	new  func(w io.Writer, o Options) Writer
}

var formats []format

func register(rank int, name string, new func(w io.Writer, o Options) Writer) {
	formats = append(formats, format{name: name, rank: rank, new: new})
}

// Formats names every output format New knows, the default first.
func Formats() []string {
	sorted := slices.SortedFunc(slices.Values(formats), func(a, b format) int { return a.rank - b.rank })
	names := make([]string, len(sorted))
	for i, f := range sorted {
		names[i] = f.name
	}
	return names
}

// New starts a report in the named format (one of Formats) on w.
func New(name string, w io.Writer, o Options) (Writer, error) {
	for _, f := range formats {
		if f.name == name {
			return f.new(w, o), nil
		}
	}
	return nil, fmt.Errorf("unknown output format %q: use one of %s", name, strings.Join(Formats(), ", "))
}
