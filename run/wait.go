package run

// --wait: retry a target with backoff until it succeeds or the time is spent.

import (
	"context"
	"fmt"
	"time"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/statelog"
)

const (
	waitFirstBackoff = 100 * time.Millisecond
	waitMaxBackoff   = 2 * time.Second
)

// Progress is told how waiting goes (--wait): each failed try and the end
// of each target's waiting. The targets' goroutines share it.
type Progress interface {
	Tried(l *statelog.Log, try int, elapsed time.Duration) // a try failed; more may follow
	Finished(l *statelog.Log)                              // a target's waiting is over
}

// waitFor probes until a try exits 0, the settings turn out unusable (exit
// 3: retrying cannot help), ctx ends or wait is spent. Each try's --timeout
// is capped by the time left; the pauses between tries double from 100ms to
// 2s, capped by the time left. It returns the last try's record with Tries
// set. progress, when not nil, is told of each failed try and of the end.
func waitFor(ctx context.Context, req probe.Request, wait time.Duration,
	once func(context.Context, probe.Request) *statelog.Log, progress Progress) (l *statelog.Log) {
	start := time.Now()
	deadline := start.Add(wait)
	backoff := waitFirstBackoff
	if progress != nil {
		defer func() { progress.Finished(l) }()
	}
	for try := 1; ; try++ {
		r := req
		if left := time.Until(deadline); r.Timeout == 0 || r.Timeout > left {
			r.Timeout = max(left, time.Millisecond)
		}
		l = once(ctx, r)
		l.Tries = try
		if l.ExitCode == statelog.ExitOK || l.ExitCode == statelog.ExitNoAttempt {
			return l
		}
		if ctx.Err() != nil {
			interrupted(ctx, l, fmt.Sprintf(" after try %d of --wait", try))
			return l
		}
		if progress != nil {
			progress.Tried(l, try, time.Since(start))
		}
		left := time.Until(deadline)
		if left <= 0 {
			return l
		}
		pause := min(backoff, left)
		backoff = min(2*backoff, waitMaxBackoff)
		select {
		case <-ctx.Done():
			interrupted(ctx, l, fmt.Sprintf(" while waiting to retry (try %d failed: %s)", try, l.Error.Class))
			return l
		case <-time.After(pause):
		}
		if time.Until(deadline) <= 0 {
			return l
		}
	}
}
