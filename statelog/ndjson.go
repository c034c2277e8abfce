package statelog

import (
	"encoding/json"
	"io"
	"sync"
)

// NDJSONEvent is one line of NDJSON output for an event: the event's own
// fields plus where it belongs.
type NDJSONEvent struct {
	Type    string `json:"type"` // "event"
	Target  string `json:"target"`
	Attempt int    `json:"attempt"`
	Host    string `json:"host"`
	Port    int    `json:"port"`
	Event
}

// NDJSONVerdict is the last line: the final document's verdict.
type NDJSONVerdict struct {
	Type       string   `json:"type"` // "verdict"
	Schema     string   `json:"schema"`
	Target     string   `json:"target"`
	OK         bool     `json:"ok"`
	ExitCode   int      `json:"exit_code"`
	DurationMS float64  `json:"duration_ms"`
	Error      *Error   `json:"error"`
	Attempts   int      `json:"attempts"`
	Ping       string   `json:"ping,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	// --wait and --count, as in the document.
	Tries        int              `json:"tries,omitempty"`
	Runs         int              `json:"runs,omitempty"`
	RunExitCodes []int            `json:"run_exit_codes,omitempty"`
	Stats        map[string]Stats `json:"stats,omitempty"`
	RunsFailed   *int             `json:"runs_failed,omitempty"`
	// What else the document tells.
	EarlierFailures []Failure `json:"earlier_failures,omitempty"`
	Checks          []Check   `json:"checks,omitempty"`
}

// NDJSONFleetVerdict is a fleet's last NDJSON line, after each target's
// verdict line: the verdict of the fleet's JSON document.
type NDJSONFleetVerdict struct {
	Type     string `json:"type"` // "fleet_verdict"
	Schema   string `json:"schema"`
	OK       bool   `json:"ok"`
	ExitCode int    `json:"exit_code"`
	Targets  int    `json:"targets"` // how many targets were probed
	Failed   int    `json:"failed"`  // how many of them did not end with ok
}

// FleetVerdict writes a fleet's verdict line.
func (s *NDJSONSink) FleetVerdict(v NDJSONFleetVerdict) error {
	v.Type, v.Schema = "fleet_verdict", Schema
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enc.Encode(v)
}

// NDJSONSink writes each event as one JSON line the moment it is recorded.
// It is safe for concurrent use by several probes (fleet mode).
type NDJSONSink struct {
	mu  sync.Mutex
	w   io.Writer
	enc *json.Encoder
}

// NewNDJSONSink streams to w.
func NewNDJSONSink(w io.Writer) *NDJSONSink {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &NDJSONSink{w: w, enc: enc}
}

// Event implements Sink.
func (s *NDJSONSink) Event(l *Log, a *Attempt, e Event) {
	line := NDJSONEvent{Type: "event", Target: l.Target, Attempt: a.Index, Host: a.Host, Port: a.Port, Event: e}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.enc.Encode(line)
}

// Verdict writes the final line for l.
func (s *NDJSONSink) Verdict(l *Log) error {
	v := NDJSONVerdict{Type: "verdict", Schema: l.Schema, Target: l.Target, OK: l.OK, ExitCode: l.ExitCode,
		DurationMS: l.DurationMS, Error: l.Error, Attempts: len(l.Attempts), Ping: l.Ping, Warnings: l.Warnings,
		Tries: l.Tries, Runs: l.Runs, RunExitCodes: l.RunExitCodes, Stats: l.Stats, RunsFailed: l.RunsFailed,
		EarlierFailures: l.EarlierFailures, Checks: l.Checks}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enc.Encode(v)
}

// Raw writes already-encoded lines (a buffered probe's events) in one piece.
func (s *NDJSONSink) Raw(b []byte) {
	if len(b) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.w.Write(b)
}
