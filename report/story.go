package report

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/pgprobe/pgprobe/diagnose"
	"github.com/pgprobe/pgprobe/statelog"
)

// The parts of the timeline that tell the rest of the story: the attempts
// that failed before a success, the checks, the runs of -n.

// earlierBlock lists, under a verdict that does not already hold them (a
// success, a failed check), the attempts that failed before the last one:
// where, how, and how long each took.
func (t *timeline) earlierBlock() {
	l := t.l
	if len(l.EarlierFailures) == 0 || (l.Error != nil && l.Error.Class != statelog.ClassCheck) {
		return
	}
	total := 0.0
	for _, f := range l.EarlierFailures {
		total += f.DurationMS
	}
	n := len(l.EarlierFailures)
	t.line("  ", t.p.warn.Sprintf("after %d failed attempt%s, which took %s:", n, plural(n), fmtMS(total)))
	for _, f := range l.EarlierFailures {
		t.line("    ", fmt.Sprintf("attempt %d  %s  %s  %s  ", f.Attempt+1, failurePlace(f), clean(f.Class), fmtMS(f.DurationMS)),
			t.p.warn.Sprint(clean(failureShort(f))))
	}
}

// failurePlace is where an earlier attempt went: host:port, the address
// when the name resolved to another, and the encryption it tried.
func failurePlace(f statelog.Failure) string {
	host := f.Host
	switch {
	case host == "":
		host = f.HostAddr
	case f.HostAddr != "" && f.HostAddr != f.Host && !strings.HasPrefix(f.HostAddr, "/"):
		host += " (" + f.HostAddr + ")"
	}
	s := clean(host)
	if f.Port > 0 && !strings.HasPrefix(f.HostAddr, "/") {
		s += ":" + strconv.Itoa(f.Port)
	}
	if f.Encryption != "" && f.Step != statelog.StepResolve && f.Step != statelog.StepConnect {
		s += " " + clean(f.Encryption) // sslmode's tries of one address differ by it
	}
	return s
}

func failureShort(f statelog.Failure) string {
	return diagnose.Short(&statelog.Error{Class: f.Class, Message: f.Message})
}

// checksBlock shows each check asked for and how it went.
func (t *timeline) checksBlock() {
	if len(t.l.Checks) == 0 {
		return
	}
	t.line()
	t.block("checks")
	w := 0
	for _, c := range t.l.Checks {
		w = max(w, width(clean(c.Name)))
	}
	for _, c := range t.l.Checks {
		mark := t.p.ok.Sprint(markOK)
		got := clean(c.Got)
		if !c.OK {
			mark, got = t.p.bad.Sprint(markFail), t.p.bad.Sprint(got)
		}
		t.line("    ", mark, " ", padRight(clean(c.Name), w), "  ", got, t.p.dim.Sprint(" (want "+clean(c.Want)+")"))
	}
}

// runsBlock is -n's summary before the exit line: how many runs failed,
// then each step's statistics.
func (t *timeline) runsBlock() {
	if len(t.l.Stats) == 0 {
		return
	}
	var b bytes.Buffer
	o := t.o
	o.Fleet = false // the timeline's header names the target
	if err := statsSection(&b, t.l, o); err != nil {
		return
	}
	t.line()
	for _, s := range lines(b.String()) {
		t.line(s)
	}
}

// runsLine says how the runs of -n went: "5 runs, 1 failed (exit codes
// 0 0 2 0 0)".
func runsLine(l *statelog.Log) string {
	failed := 0
	codes := make([]string, len(l.RunExitCodes))
	for i, c := range l.RunExitCodes {
		codes[i] = strconv.Itoa(c)
		if c != statelog.ExitOK {
			failed++
		}
	}
	if l.RunsFailed != nil {
		failed = *l.RunsFailed
	}
	s := fmt.Sprintf("%d run%s", l.Runs, plural(l.Runs))
	if l.RunsFailed == nil && len(codes) == 0 {
		return s // a record that does not say
	}
	s += fmt.Sprintf(", %d failed", failed)
	if failed > 0 && len(codes) > 0 {
		s += " (exit codes " + strings.Join(codes, " ") + ")"
	}
	return s
}

// maxErrorCell is the most the table's ERROR column shows: the failure
// that decided, then as much of the earlier ones, maxEarlierPart each.
const (
	maxErrorCell   = 160
	maxEarlierPart = 64
)

// errorCell is the table's ERROR column: the class and libpq's words; when
// several attempts failed, the last one's words first, then the earlier
// ones' with where they went; for a success, the attempts that failed
// before it.
func errorCell(l *statelog.Log) string {
	e := l.Error
	if e == nil {
		if len(l.EarlierFailures) == 0 {
			return "-"
		}
		var parts []string
		for _, f := range l.EarlierFailures {
			parts = append(parts, fmt.Sprintf("%s %s (%s)", failurePlace(f), f.Class, fmtMS(f.DurationMS)))
		}
		return shortCell("earlier: " + strings.Join(parts, "; "))
	}
	if e.Class == statelog.ClassCheck {
		return shortCell(e.Class + ": " + strings.ReplaceAll(e.Message, "\n", "; "))
	}
	if len(l.EarlierFailures) == 0 {
		return shortCell(e.Class + ": " + diagnose.Short(e))
	}
	last := e.Class + ": " + diagnose.Short(e) // where: the ADDRESS column
	var parts []string
	for _, f := range l.EarlierFailures {
		parts = append(parts, cut(failurePlace(f)+" "+f.Class+": "+failureShort(f), maxEarlierPart))
	}
	return shortCell(last + "; earlier: " + strings.Join(parts, "; "))
}

// shortCell cuts s to maxErrorCell cells, cleaned, with an ellipsis.
func shortCell(s string) string { return cut(clean(s), maxErrorCell) }
