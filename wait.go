package main

// --wait: retry a target with backoff until it succeeds or the time is spent.

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

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
// set. progress, when not nil, gets a one-line status rewritten with \r.
func waitFor(ctx context.Context, req probe.Request, wait time.Duration,
	once func(context.Context, probe.Request) *statelog.Log, progress io.Writer) *statelog.Log {
	start := time.Now()
	deadline := start.Add(wait)
	backoff := waitFirstBackoff
	width := progressWidth(progress)
	defer func() {
		if progress != nil {
			fmt.Fprint(progress, "\r\x1b[K")
		}
	}()
	for try := 1; ; try++ {
		r := req
		if left := time.Until(deadline); r.Timeout == 0 || r.Timeout > left {
			r.Timeout = max(left, time.Millisecond)
		}
		l := once(ctx, r)
		l.Tries = try
		if l.ExitCode == statelog.ExitOK || l.ExitCode == statelog.ExitNoAttempt || ctx.Err() != nil {
			return l
		}
		if progress != nil {
			fmt.Fprint(progress, "\r\x1b[K"+progressLine(l, try, time.Since(start), wait, width))
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

// progressLine is the status shown while waiting: try, elapsed and the last
// error (its class and libpq's words without the "connection to server …
// failed:" prefix, which would push them off the line), cut to width (at
// least 2).
func progressLine(l *statelog.Log, try int, elapsed, wait time.Duration, width int) string {
	s := fmt.Sprintf("pgprobe: waiting %s/%s, try %d", elapsed.Round(100*time.Millisecond), wait, try)
	if l.Error != nil {
		s += ": " + l.Error.Class + ": " + report.Short(l.Error)
	}
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
