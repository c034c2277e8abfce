package cmdenv

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/statelog"
)

// Interruptible returns a context that the first SIGINT or SIGTERM cancels
// with a probe.Interrupt naming it: the probes stop at once and the report
// says what they recorded until then. A second signal, while that report is
// being written, ends the process at once (when e.Exiting). stop gives the
// signals back.
func (e *Env) Interruptible() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			cancel(interruptOf(s))
		case <-done:
			return
		}
		select {
		case s := <-ch:
			if e.Exiting {
				os.Exit(interruptOf(s).ExitCode)
			}
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		// signal.Stop waits for the runtime's signal thread to acknowledge
		// (about 0.4 ms here, 1% of a --ping); a process about to exit
		// need not give the signals back.
		if !e.Exiting {
			signal.Stop(ch)
		}
	}
}

// interruptOf names a signal and gives the exit code a shell reports for a
// process it ended: 128 + its number.
func interruptOf(s os.Signal) *probe.Interrupt {
	if s == syscall.SIGTERM {
		return &probe.Interrupt{Signal: "SIGTERM", ExitCode: statelog.ExitTerminated}
	}
	return &probe.Interrupt{Signal: "SIGINT", ExitCode: statelog.ExitInterrupted}
}

// InterruptCode is the exit code of a run that ctx's signal stopped, else
// code: whatever the targets' own verdicts, a stopped run exits as a
// shell would report it.
func InterruptCode(ctx context.Context, code int) int {
	if it, ok := probe.Interrupted(ctx); ok {
		return it.ExitCode
	}
	return code
}
