package run

import (
	"context"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/statelog"
)

// repeat probes the target n times in a row and returns the last run's
// record with the runs' statistics; its exit code is the highest of the
// runs' (and ok is false when any run failed).
func repeat(ctx context.Context, req probe.Request, n int, once func(context.Context, probe.Request) *statelog.Log) *statelog.Log {
	runs := make([]*statelog.Log, 0, n)
	codes := make([]int, 0, n)
	worst := 0
	// At least once: a record is owed even when ctx is already done.
	for i := 0; i < n && (i == 0 || ctx.Err() == nil); i++ {
		l := once(ctx, req)
		runs = append(runs, l)
		codes = append(codes, l.ExitCode)
		worst = max(worst, l.ExitCode)
	}
	last := runs[len(runs)-1]
	last.Stats, _ = statelog.StepStats(runs)
	last.Runs = len(runs)
	last.RunExitCodes = codes
	last.ExitCode = worst
	last.OK = last.OK && worst == statelog.ExitOK
	return last
}
