package main

// --wait: retry a target with backoff until it succeeds or the time is spent.

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/pgprobe/pgprobe/diagnose"
	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/statelog"
	"golang.org/x/term"
)

const (
	waitFirstBackoff = 100 * time.Millisecond
	waitMaxBackoff   = 2 * time.Second
)

// waitFor probes until a try exits 0, the settings turn out unusable (exit
// 3: retrying cannot help), ctx ends or wait is spent. Each try's --timeout
// is capped by the time left; the pauses between tries double from 100ms to
// 2s, capped by the time left. It returns the last try's record with Tries
// set. progress, when not nil, is told of each failed try and of the end.
func waitFor(ctx context.Context, req probe.Request, wait time.Duration,
	once func(context.Context, probe.Request) *statelog.Log, progress waitProgress) (l *statelog.Log) {
	start := time.Now()
	deadline := start.Add(wait)
	backoff := waitFirstBackoff
	if progress != nil {
		defer func() { progress.finished(l) }()
	}
	for try := 1; ; try++ {
		r := req
		if left := time.Until(deadline); r.Timeout == 0 || r.Timeout > left {
			r.Timeout = max(left, time.Millisecond)
		}
		l = once(ctx, r)
		l.Tries = try
		if l.ExitCode == statelog.ExitOK || l.ExitCode == statelog.ExitNoAttempt || ctx.Err() != nil {
			return l
		}
		if progress != nil {
			progress.tried(l, try, time.Since(start))
		}
		left := time.Until(deadline)
		if left <= 0 {
			return l
		}
		pause := min(backoff, left)
		backoff = min(2*backoff, waitMaxBackoff)
		select {
		case <-ctx.Done():
			return l
		case <-time.After(pause):
		}
		if time.Until(deadline) <= 0 {
			return l
		}
	}
}

// waitProgress shows --wait's progress on a terminal: one line, rewritten
// in place, cleared when the waiting is over.
type waitProgress interface {
	tried(l *statelog.Log, try int, elapsed time.Duration) // a try failed; more may follow
	finished(l *statelog.Log)                              // a target's waiting is over
}

// newWaitProgress is --wait's progress for n targets on w, a terminal.
func newWaitProgress(w io.Writer, wait time.Duration, n int) waitProgress {
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

func (p *lineProgress) tried(l *statelog.Log, try int, elapsed time.Duration) {
	fmt.Fprint(p.w, "\r\x1b[K"+progressLine(l, try, elapsed, p.wait, p.width))
}

func (p *lineProgress) finished(*statelog.Log) { fmt.Fprint(p.w, "\r\x1b[K") }

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

func (p *fleetProgress) tried(l *statelog.Log, try int, _ time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = fmt.Sprintf("%s, try %d: %s: %s", l.Target, try, l.Error.Class, diagnose.Short(l.Error))
	p.draw()
}

func (p *fleetProgress) finished(l *statelog.Log) {
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
// never wraps; 100 when it is unknown.
func progressWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			return cols - 1
		}
	}
	return 100
}

// progressWriter is stderr when it is a terminal (or the test says so), else nil.
func progressWriter(e *env) io.Writer {
	if e.progressTTY {
		return e.stderr
	}
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f
	}
	return nil
}
