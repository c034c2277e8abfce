package run

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/statelog"
)

// tries fakes a probe whose tries end with codes, then with the last one.
func tries(codes ...int) (once func(context.Context, probe.Request) *statelog.Log, timeouts *[]time.Duration) {
	timeouts = new([]time.Duration)
	n := 0
	return func(_ context.Context, req probe.Request) *statelog.Log {
		*timeouts = append(*timeouts, req.Timeout)
		code := codes[min(n, len(codes)-1)]
		n++
		l := &statelog.Log{ExitCode: code, OK: code == 0}
		if code != 0 {
			l.Error = &statelog.Error{Class: statelog.ClassConnect, Message: "refused"}
		}
		return l
	}, timeouts
}

type recorder struct {
	tried    []int
	finished int
}

func (r *recorder) Tried(_ *statelog.Log, try int, _ time.Duration) { r.tried = append(r.tried, try) }
func (r *recorder) Finished(*statelog.Log)                          { r.finished++ }

func TestWaitFor(t *testing.T) {
	// Retried until it succeeds; each try's timeout capped by the time left.
	once, timeouts := tries(2, 2, 0)
	var p recorder
	l := waitFor(context.Background(), probe.Request{Timeout: time.Hour}, 5*time.Second, once, &p)
	if l.ExitCode != 0 || l.Tries != 3 || !slices.Equal(p.tried, []int{1, 2}) || p.finished != 1 {
		t.Errorf("exit %d after %d tries; progress %v, finished %d", l.ExitCode, l.Tries, p.tried, p.finished)
	}
	for _, d := range *timeouts {
		if d > 5*time.Second {
			t.Errorf("a try's timeout %v exceeds the wait", d)
		}
	}
	// Unusable settings: retrying cannot help.
	once, _ = tries(statelog.ExitNoAttempt)
	if l := waitFor(context.Background(), probe.Request{}, 5*time.Second, once, nil); l.Tries != 1 {
		t.Errorf("exit 3 was retried: %d tries", l.Tries)
	}
	// The time is spent: 100ms, then 200ms of pauses fit in 250ms at most.
	once, _ = tries(2)
	began := time.Now()
	l = waitFor(context.Background(), probe.Request{}, 250*time.Millisecond, once, nil)
	if took := time.Since(began); l.ExitCode != 2 || l.Tries < 2 || l.Tries > 3 || took > 2*time.Second {
		t.Errorf("exit %d after %d tries in %v", l.ExitCode, l.Tries, took)
	}
}

func TestRepeat(t *testing.T) {
	once, _ := tries(0, 1, 0)
	l := repeat(context.Background(), probe.Request{}, 3, once)
	if l.Runs != 3 || l.ExitCode != 1 || l.OK || !slices.Equal(l.RunExitCodes, []int{0, 1, 0}) || l.RunsFailed == nil || *l.RunsFailed != 1 {
		t.Errorf("runs %d, exit %d, ok %v, codes %v, failed %v", l.Runs, l.ExitCode, l.OK, l.RunExitCodes, l.RunsFailed)
	}
	// A context already done still gives a record (of one run).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	once, _ = tries(2)
	if l := repeat(ctx, probe.Request{}, 3, once); l.Runs != 1 {
		t.Errorf("cancelled: %d runs", l.Runs)
	}
}

// --interval: the pause between runs ends, and no run follows, when the
// context ends.
func TestRepeatInterval(t *testing.T) {
	done := make(chan *statelog.Log)
	var l *statelog.Log
	// Cancelled from outside during the first interval: one run.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel2() }()
	go func() {
		done <- repeatEvery(ctx2, probe.Request{}, 5, time.Hour, func(context.Context, probe.Request) *statelog.Log { return &statelog.Log{OK: true} })
	}()
	select {
	case l = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the interval did not end with the context")
	}
	if l.Runs != 1 {
		t.Errorf("runs %d, want 1", l.Runs)
	}
	// A short interval: every run happens.
	once2, _ := tries(0)
	if l := repeatEvery(context.Background(), probe.Request{}, 3, time.Millisecond, once2); l.Runs != 3 {
		t.Errorf("runs %d, want 3", l.Runs)
	}
}
