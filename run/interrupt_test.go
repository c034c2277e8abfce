package run

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/statelog"
)

// interruptingTries fakes a probe whose runs end with codes; the run
// numbered at (from 1) is stopped by sig: with cut, the run itself is cut
// short (class interrupted, as the machine records it), else it completes
// and the interrupt comes right after it.
func interruptingTries(cancel context.CancelCauseFunc, sig *probe.Interrupt, at int, cut bool, codes ...int) func(context.Context, probe.Request) *statelog.Log {
	once, _ := tries(codes...)
	n := 0
	return func(ctx context.Context, req probe.Request) *statelog.Log {
		n++
		l := once(ctx, req)
		if n == at {
			cancel(sig)
			if cut {
				l.Interrupt(probe.InterruptError(sig, ": no answer to SSLRequest after 2s"), sig.ExitCode)
			}
		}
		return l
	}
}

func TestRepeatInterrupted(t *testing.T) {
	sigint := &probe.Interrupt{Signal: "SIGINT", ExitCode: statelog.ExitInterrupted}
	sigterm := &probe.Interrupt{Signal: "SIGTERM", ExitCode: statelog.ExitTerminated}
	for _, tc := range []struct {
		name      string
		sig       *probe.Interrupt
		at        int
		cut       bool
		wantRuns  int
		wantCodes []int
		wantMsg   string
	}{
		{"between runs", sigint, 2, false, 2, []int{0, 1}, "interrupted by SIGINT after 2 of 5 runs"},
		{"during a run", sigint, 3, true, 2, []int{0, 1}, "interrupted by SIGINT: no answer to SSLRequest after 2s"},
		{"during the first run", sigterm, 1, true, 0, nil, "interrupted by SIGTERM: no answer to SSLRequest after 2s"},
		{"after the last run", sigint, 5, false, 5, []int{0, 1, 0, 0, 0}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			l := repeat(ctx, probe.Request{}, 5, interruptingTries(cancel, tc.sig, tc.at, tc.cut, 0, 1, 0))
			if l.Runs != tc.wantRuns || !slices.Equal(l.RunExitCodes, tc.wantCodes) {
				t.Errorf("runs %d, codes %v; want %d, %v", l.Runs, l.RunExitCodes, tc.wantRuns, tc.wantCodes)
			}
			if tc.wantMsg == "" {
				if l.Error != nil && l.Error.Class == statelog.ClassInterrupted {
					t.Errorf("every run completed, yet the verdict is %q", l.Error.Message)
				}
				return
			}
			if l.Error == nil || l.Error.Class != statelog.ClassInterrupted || l.Error.Message != tc.wantMsg || l.ExitCode != tc.sig.ExitCode || l.OK {
				t.Fatalf("verdict %+v, exit %d; want class interrupted, %q, exit %d", l.Error, l.ExitCode, tc.wantMsg, tc.sig.ExitCode)
			}
			if tc.wantRuns > 0 && l.Stats[statelog.StatsTotal].N != tc.wantRuns {
				t.Errorf("statistics over %d runs, want the %d completed", l.Stats[statelog.StatsTotal].N, tc.wantRuns)
			}
		})
	}
}

// cancelling is a progress line that the user interrupts as try at fails.
type cancelling struct {
	recorder
	at     int
	cancel func()
}

func (c *cancelling) Tried(l *statelog.Log, try int, elapsed time.Duration) {
	c.recorder.Tried(l, try, elapsed)
	if try == c.at {
		c.cancel()
	}
}

func TestWaitForInterrupted(t *testing.T) {
	sig := &probe.Interrupt{Signal: "SIGINT", ExitCode: statelog.ExitInterrupted}
	for _, tc := range []struct {
		name    string
		during  bool // the interrupt comes during try 2, else in the pause after it
		cut     bool // try 2 is cut short by it
		wantMsg string
	}{
		{"while waiting to retry", false, false, "interrupted by SIGINT while waiting to retry (try 2 failed: connect)"},
		{"during a try", true, true, "interrupted by SIGINT: no answer to SSLRequest after 2s"},
		{"as a try ends", true, false, "interrupted by SIGINT after try 2 of --wait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			p := &cancelling{at: 2, cancel: func() { cancel(sig) }}
			at := 0
			if tc.during {
				p.at, at = 0, 2
			}
			// An hour of waiting: the test ends only if the interrupt ends it.
			l := waitFor(ctx, probe.Request{}, time.Hour, interruptingTries(cancel, sig, at, tc.cut, 2), p)
			if l.Tries != 2 || l.Error == nil || l.Error.Class != statelog.ClassInterrupted || l.Error.Message != tc.wantMsg || l.ExitCode != statelog.ExitInterrupted {
				t.Fatalf("try %d, verdict %+v, exit %d; want try 2, %q, exit 130", l.Tries, l.Error, l.ExitCode, tc.wantMsg)
			}
			if p.finished != 1 {
				t.Errorf("the progress line was finished %d times, want once (it is cleared then)", p.finished)
			}
		})
	}
}
