package diagnose

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/internal/logtest"
	"github.com/pgprobe/pgprobe/statelog"
)

func TestRecord(t *testing.T) {
	for _, fx := range logtest.Fixtures {
		l := fx.Log()
		Record(l)
		if l.Error != nil && l.Error.Advice == "" {
			t.Errorf("%s: no advice on .error", fx.Name)
		}
		for _, a := range l.Attempts {
			if a.Error != nil && a.Error.Advice == "" {
				t.Errorf("%s: no advice on an attempt error", fx.Name)
			}
			for _, e := range a.Events {
				if e.Error != nil && e.Error.Advice == "" {
					t.Errorf("%s: no advice on an event error", fx.Name)
				}
			}
		}
		before := docOf(t, l)
		Record(l)
		if after := docOf(t, l); after != before {
			t.Errorf("%s: Record is not idempotent:\n%s\n%s", fx.Name, before, after)
		}
	}
	Record(nil)
}

func docOf(t *testing.T, l *statelog.Log) string {
	t.Helper()
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// recorder is a sink that keeps the advice each event's error had when the
// event reached it.
type recorder struct{ advice []string }

func (r *recorder) Event(_ *statelog.Log, _ *statelog.Attempt, e statelog.Event) {
	if e.Error != nil {
		r.advice = append(r.advice, e.Error.Advice)
	}
}

// untriedProbe records, as probe would, a server at the first of two
// addresses of localhost rejecting the password: the final error is the
// very *Error the attempt and its error_response event hold, and its
// advice gets the note on the address libpq never tried.
func untriedProbe(sink statelog.Sink) *statelog.Log {
	l := statelog.New("host=localhost user=app", sink)
	began := time.Now()
	a := l.AddAttempt(&statelog.Attempt{Host: "localhost", Port: 5432, Network: "tcp", SSLMode: "disable", Encryption: "plaintext"})
	a.Addresses = []string{"::1", "127.0.0.1"}
	l.Record(a, "CONNECTION_NEEDED", statelog.StepResolve, began, "localhost → ::1, 127.0.0.1", nil, nil)
	a.HostAddr = "::1"
	l.Record(a, "CONNECTION_STARTED", statelog.StepConnect, began, "[::1]:5432 connected", nil, nil)
	e := &statelog.Error{Class: statelog.ClassAuth, Severity: "FATAL", SQLState: "28P01",
		Message: `connection to server at "localhost" (::1), port 5432 failed: FATAL:  password authentication failed for user "app"`}
	a.Error = e
	l.Record(a, "CONNECTION_AWAITING_RESPONSE", statelog.StepErrorResponse, began, "", e, nil)
	l.Finish(e)
	return l
}

func TestStreamedAdviceIsKept(t *testing.T) {
	var r recorder
	streamed := untriedProbe(Sink(&r))
	if len(r.advice) != 1 || r.advice[0] == "" {
		t.Fatalf("the sink saw advice %q, want one", r.advice)
	}
	Record(streamed)
	ev := streamed.Attempts[0].Events[2].Error
	if ev.Advice != r.advice[0] {
		t.Errorf("Record changed the streamed advice:\n%s\n%s", r.advice[0], ev.Advice)
	}
	if strings.Contains(ev.Advice, "Note:") {
		t.Errorf("the event's advice has the record's note: %s", ev.Advice)
	}
	final := streamed.Error
	if final == ev || !strings.Contains(final.Advice, "Note: localhost also resolves to 127.0.0.1") ||
		!strings.HasPrefix(final.Advice, ev.Advice) {
		t.Errorf("final advice %q should be the event's plus the note", final.Advice)
	}
	if a := AttemptOf(streamed, final); a != streamed.Attempts[0] {
		t.Errorf("AttemptOf lost the final error's attempt")
	}
	before := docOf(t, streamed)
	if Record(streamed); docOf(t, streamed) != before {
		t.Errorf("Record is not idempotent")
	}

	// Without a diagnosing sink, Record writes the same advice.
	later := untriedProbe(nil)
	Record(later)
	if got, want := later.Error.Advice, final.Advice; got != want {
		t.Errorf("final advice differs:\n%s\n%s", got, want)
	}
	if got := later.Attempts[0].Events[2].Error.Advice; got != ev.Advice {
		t.Errorf("event advice differs:\n%s\n%s", got, ev.Advice)
	}
}

func TestSinkPassesOn(t *testing.T) {
	var r recorder
	s := Sink(&r)
	l := statelog.New("t", nil)
	a := &statelog.Attempt{Host: "db", Port: 5432}
	e := &statelog.Error{Class: statelog.ClassConnect, Errno: "ECONNREFUSED", Message: "Connection refused"}
	s.Event(l, a, statelog.Event{Step: statelog.StepConnect})
	s.Event(l, a, statelog.Event{Step: statelog.StepConnect, Error: e})
	if len(r.advice) != 1 || r.advice[0] == "" || e.Advice != r.advice[0] {
		t.Errorf("advice passed on: %q; on the error: %q", r.advice, e.Advice)
	}
	Sink(nil).Event(l, a, statelog.Event{Error: &statelog.Error{Class: statelog.ClassDNS}})
}

// TestSharedFinalErrorKeptWhenAlike: when the final advice is the event's,
// l.Error stays the very *Error of its attempt and event.
func TestSharedFinalErrorKeptWhenAlike(t *testing.T) {
	l := logtest.HBA28000()
	e := l.Error
	Record(l)
	if l.Error != e || l.Attempts[0].Error != e {
		t.Errorf("the final error was copied though its advice is its attempt's")
	}
}
