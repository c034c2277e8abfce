package run

// The terminal's status line while --wait retries. It lives with the run
// loop, not in report: it renders no record, only the loop's own state
// (tries, time spent of the wait, targets up), on stderr, out of the
// targets' order.

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pgprobe/pgprobe/diagnose"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/statelog"
)

// NewProgress shows --wait's progress for n targets on w, a terminal: one
// line, rewritten in place, cleared when the waiting is over.
func NewProgress(w io.Writer, wait time.Duration, n int) Progress {
	if n == 1 {
		return &lineProgress{w: w, wait: wait, width: progressWidth(w)}
	}
	return &fleetProgress{w: w, wait: wait, width: progressWidth(w), start: time.Now(), total: n}
}

// lineProgress is one target's progress: its try, elapsed and last error.
type lineProgress struct {
	w     io.Writer
	wait  time.Duration
	width int
}

func (p *lineProgress) Tried(l *statelog.Log, try int, elapsed time.Duration) {
	fmt.Fprint(p.w, "\r\x1b[K"+progressLine(l, try, elapsed, p.wait, p.width))
}

func (p *lineProgress) Finished(*statelog.Log) { fmt.Fprint(p.w, "\r\x1b[K") }

// fleetProgress is a fleet's progress: how many targets are up, how many
// gave up, and the latest failed try. The targets' goroutines share it.
type fleetProgress struct {
	mu                sync.Mutex
	w                 io.Writer
	wait              time.Duration
	width             int
	start             time.Time
	total, up, gaveUp int
	last              string
}

func (p *fleetProgress) Tried(l *statelog.Log, try int, _ time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = fmt.Sprintf("%s, try %d: %s: %s", l.Target, try, l.Error.Class, diagnose.Short(l.Error))
	p.draw()
}

func (p *fleetProgress) Finished(l *statelog.Log) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l != nil && l.ExitCode == statelog.ExitOK {
		p.up++
	} else {
		p.gaveUp++
	}
	if p.up+p.gaveUp == p.total {
		fmt.Fprint(p.w, "\r\x1b[K")
		return
	}
	p.draw()
}

// draw writes the line; p.mu is held.
func (p *fleetProgress) draw() {
	s := fmt.Sprintf("pgprobe: waiting %s/%s: %d of %d up", time.Since(p.start).Round(100*time.Millisecond), p.wait, p.up, p.total)
	if p.gaveUp > 0 {
		s += fmt.Sprintf(", %d gave up", p.gaveUp)
	}
	if p.last != "" {
		s += "; last: " + p.last
	}
	fmt.Fprint(p.w, "\r\x1b[K"+fit(report.Clean(s), p.width))
}

// progressLine is the status shown while waiting: try, elapsed and the last
// error (its class and libpq's words without the "connection to server …
// failed:" prefix, which would push them off the line), cut to width (at
// least 2).
func progressLine(l *statelog.Log, try int, elapsed, wait time.Duration, width int) string {
	s := fmt.Sprintf("pgprobe: waiting %s/%s, try %d", elapsed.Round(100*time.Millisecond), wait, try)
	if l.Error != nil {
		s += ": " + l.Error.Class + ": " + diagnose.Short(l.Error)
	}
	return fit(s, width)
}

// fit cuts s to width runes, ending with an ellipsis.
func fit(s string, width int) string {
	width = max(width, 2) // one rune and "…"; never r[:-1]
	if r := []rune(s); len(r) > width {
		s = string(r[:width-1]) + "…"
	}
	return s
}

// progressWidth is the terminal's width, less one column so that the line
// never wraps; report.DefaultWidth when it is unknown.
func progressWidth(w io.Writer) int {
	if cols, ok := report.TerminalColumns(w); ok && cols > 20 {
		return cols - 1
	}
	return report.DefaultWidth
}
