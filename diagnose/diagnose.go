// Package diagnose classifies what went wrong in a probe and says what to
// do about it: the advice on each error of a record and the warnings of a
// success. It diagnoses; it never renders.
//
// A record is diagnosed in two places. Each event's error gets its advice
// when the event is recorded, through Sink, so that a streamed event carries
// the same advice as the finished document. Record then diagnoses the
// finished record: the errors no event carried, the final error, the
// warnings.
package diagnose

import (
	"strings"

	"github.com/pgprobe/pgprobe/statelog"
)

// Record diagnoses a finished record: advice on every attempt's and event's
// error that has none yet (an event's error that went through Sink keeps the
// advice it was streamed with), advice on the final error, and, when the
// probe succeeded, the warnings. Calling it again changes nothing.
func Record(l *statelog.Log) {
	if l == nil {
		return
	}
	for _, a := range l.Attempts {
		if a == nil {
			continue
		}
		for i := range a.Events {
			event(l, a.Events[i].Error, a)
		}
		event(l, a.Error, a)
	}
	if l.Error != nil {
		final(l)
		return
	}
	for _, a := range l.Attempts {
		if a == nil || !a.OK {
			continue
		}
		addWarning(l, failedFirst(l, a))
		if name := Pooler(nil, a); name != "" {
			addWarning(l, poolerWarning(name))
		} else {
			addWarning(l, madeUpKeyWarning(a))
		}
		break
	}
}

// Event gives e, an error of attempt a, its advice unless it has some.
func Event(e *statelog.Error, a *statelog.Attempt) { event(nil, e, a) }

// event is Event within the record l (nil when unknown), whose other
// attempts and warnings can name the cause: the server's version learnt by
// an earlier attempt, a password file libpq ignored.
func event(l *statelog.Log, e *statelog.Error, a *statelog.Attempt) {
	if e != nil && e.Advice == "" {
		e.Advice = adviseIn(l, e, a)
	}
}

// Sink returns a statelog.Sink that gives each event's error its advice
// before it passes the event on to next (none when next is nil). The
// event's Error is the record's own, so the advice stays in the record.
func Sink(next statelog.Sink) statelog.Sink {
	return sink{next: next}
}

type sink struct{ next statelog.Sink }

func (s sink) Event(l *statelog.Log, a *statelog.Attempt, e statelog.Event) {
	event(l, e.Error, a)
	if s.next != nil {
		s.next.Event(l, a, e)
	}
}

// final gives l.Error the advice for the probe as a whole, which can say
// more than the advice for the attempt that failed: sslmode=prefer's retry
// without SSL points back at the SSL attempt's error, and a server that
// answered with an error at one address of a name gets a note on the
// addresses libpq never tried. l.Error is often the very *Error that an
// attempt and its event hold; when the final advice differs from theirs,
// l.Error becomes a copy of its own, so that the event keeps the advice it
// was streamed with.
func final(l *statelog.Log) {
	e := l.Error
	if e.Class == statelog.ClassInterrupted {
		return // no advice (Advise), and no note on what was never tried
	}
	shared := holder(l, e, same) != nil
	if !shared && e.Advice != "" {
		return
	}
	last := AttemptOf(l, e)
	own := ownError(last, e)
	advice := sslOnlyRetry(l, last)
	if advice == "" {
		advice = adviseIn(l, own, last)
	}
	advice += untriedAddresses(own, last) + otherHosts(l, last, own)
	if e.Class == statelog.ClassCheck && len(l.Checks) > 0 {
		advice = checksAdvice(l)
	}
	switch {
	case !shared:
		e.Advice = advice
	case advice != e.Advice:
		c := *e
		c.Advice = advice
		l.Error = &c
	}
}

// addWarning appends w to the record's warnings once.
func addWarning(l *statelog.Log, w string) {
	if w == "" {
		return
	}
	for _, x := range l.Warnings {
		if x == w {
			return
		}
	}
	l.Warnings = append(l.Warnings, w)
}

// AttemptOf finds the attempt an error belongs to: the one that holds the
// very same *Error, else one holding an error that differs from it only in
// its advice (Record's copy of a final error), else the last attempt.
func AttemptOf(l *statelog.Log, e *statelog.Error) *statelog.Attempt {
	if l == nil || len(l.Attempts) == 0 {
		return nil
	}
	if a := holder(l, e, same); a != nil {
		return a
	}
	if a := holder(l, e, alike); a != nil {
		return a
	}
	return l.Attempts[len(l.Attempts)-1]
}

// holder is the latest attempt whose error, or one of whose events' errors,
// matches e.
func holder(l *statelog.Log, e *statelog.Error, match func(x, e *statelog.Error) bool) *statelog.Attempt {
	if e == nil {
		return nil
	}
	for i := len(l.Attempts) - 1; i >= 0; i-- {
		a := l.Attempts[i]
		if a == nil {
			continue
		}
		if match(a.Error, e) {
			return a
		}
		for j := range a.Events {
			if match(a.Events[j].Error, e) {
				return a
			}
		}
	}
	return nil
}

func same(x, e *statelog.Error) bool { return x == e }

// alike: x and e differ at most in their advice, and in e's message
// holding x's among the other attempts' (libpq's accumulated message).
func alike(x, e *statelog.Error) bool {
	if x == nil || !strings.Contains(e.Message, x.Message) {
		return false
	}
	c := *x
	c.Advice, c.Message = e.Advice, e.Message
	return c == *e
}
