package run

import (
	"context"
	"sync"

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/report"
)

// fleetWindow: when the report writes each part as it comes (-o json, the
// timeline), how many targets (times Concurrency) may be probed ahead of
// the first one not yet written.
const fleetWindow = 4

// done is what remains of one target once its record is rendered: its exit
// code and its part of the report, never its whole record.
type done struct {
	code int
	part report.Part
	err  error
}

// Targets probes reqs, at most o.Concurrency at once, and writes the report
// to out while the targets are probed: each record is rendered (Prepare) in
// the goroutine that probed it, and added in the order of reqs as soon as
// it and every earlier one are done, so that a fleet's memory is bounded by
// the targets in flight, not by the fleet. When out is a report.Streamer,
// the events stream through it as they happen. It returns the highest exit
// code of the targets written and the first error writing the report,
// after which the probes still running are cancelled and nothing more is
// written.
func Targets(ctx context.Context, reqs []probe.Request, o Options, out report.Writer) (exitCode int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Concurrency < 1 {
		o.Concurrency = DefaultConcurrency
	}
	stream, _ := out.(report.Streamer)
	window := len(reqs)
	if !out.Buffered() {
		window = fleetWindow * o.Concurrency
	}
	fail := func(e error) {
		if err == nil && e != nil {
			err = e
			cancel()
		}
	}
	each(reqs, o.Concurrency, window, func(req probe.Request) done {
		l := probeTarget(ctx, req, o, stream)
		part, err := out.Prepare(l)
		return done{code: l.ExitCode, part: part, err: err}
	}, func(d done) {
		if err != nil {
			// Nothing more is written, nor counted: the probes cancelled
			// after the failure would read as interrupted.
			return
		}
		exitCode = max(exitCode, d.code)
		fail(d.err)
		if err == nil {
			fail(out.Add(d.part))
		}
	})
	if err == nil {
		fail(out.Close())
	}
	return exitCode, err
}

// each calls do for every request, at most concurrency at once, and emit
// with the results one at a time in the order of reqs, each as soon as it
// and every earlier one are done. At most window targets are probed or
// wait for an earlier one (window ≥ concurrency), so that what waits is
// bounded when a slow target holds up the ones after it.
func each[T any](reqs []probe.Request, concurrency, window int, do func(probe.Request) T, emit func(T)) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		next    int
		pending = make([]*T, len(reqs))
		sem     = make(chan struct{}, concurrency)
		ahead   = make(chan struct{}, max(window, concurrency))
	)
	for i, req := range reqs {
		ahead <- struct{}{}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := do(req)
			<-sem
			mu.Lock()
			defer mu.Unlock()
			pending[i] = &r
			for next < len(pending) && pending[next] != nil {
				emit(*pending[next])
				pending[next] = nil
				next++
				<-ahead
			}
		}()
	}
	wg.Wait()
}
