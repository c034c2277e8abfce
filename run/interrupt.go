package run

import (
	"context"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/statelog"
)

// interrupted gives l, a record finished before ctx was interrupted, the
// interrupt as its verdict (what says when: " while waiting to retry"),
// unless it already has it; it reports whether ctx was interrupted. The
// attempts keep their own errors: what happened before the interrupt
// stays in the record.
func interrupted(ctx context.Context, l *statelog.Log, what string) bool {
	it, ok := probe.Interrupted(ctx)
	if !ok {
		return false
	}
	if !isInterrupted(l) {
		l.Interrupt(probe.InterruptError(it, what), it.ExitCode)
	}
	return true
}

func isInterrupted(l *statelog.Log) bool {
	return l.Error != nil && l.Error.Class == statelog.ClassInterrupted
}
