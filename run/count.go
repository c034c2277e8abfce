package run

import (
	"context"
	"fmt"
	"time"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/statelog"
)

// repeat probes the target n times in a row and returns the last run's
// record with the runs' statistics; its exit code is the highest of the
// runs' (and ok is false when any run failed). An interrupt ends the runs:
// the record is then the last run's, interrupted, with the statistics of
// the runs that completed.
func repeat(ctx context.Context, req probe.Request, n int, once func(context.Context, probe.Request) *statelog.Log) *statelog.Log {
	return repeatEvery(ctx, req, n, 0, once)
}

// repeatEvery is repeat with a pause of interval between two runs (--interval);
// the pause ends early, and no run follows, once ctx is done.
func repeatEvery(ctx context.Context, req probe.Request, n int, interval time.Duration, once func(context.Context, probe.Request) *statelog.Log) *statelog.Log {
	runs := make([]*statelog.Log, 0, n)
	// At least once: a record is owed even when ctx is already done.
	for i := 0; i < n && (i == 0 || ctx.Err() == nil); i++ {
		if i > 0 && interval > 0 && !waitInterval(ctx, interval) {
			break
		}
		runs = append(runs, once(ctx, req))
	}
	last := runs[len(runs)-1]
	done := runs
	if isInterrupted(last) {
		done = runs[:len(runs)-1] // its partial timings would skew the statistics
	}
	codes := make([]int, 0, len(done))
	worst, failed := 0, 0
	for _, l := range done {
		codes = append(codes, l.ExitCode)
		worst = max(worst, l.ExitCode)
		if l.ExitCode != statelog.ExitOK {
			failed++
		}
	}
	if len(done) > 0 {
		last.Stats, _ = statelog.StepStats(done)
	}
	last.Runs = len(done)
	last.RunExitCodes = codes
	last.RunsFailed = &failed
	if len(runs) < n && interrupted(ctx, last, fmt.Sprintf(" after %d of %d runs", len(done), n)) || isInterrupted(last) {
		return last
	}
	last.ExitCode = worst
	last.OK = last.OK && worst == statelog.ExitOK
	return last
}

// waitInterval waits d, or until ctx is done; it reports whether d passed.
func waitInterval(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
