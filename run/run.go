// Package run probes targets the way the CLI, the exporter and scan need
// them probed: one target once, --wait's retries with backoff, --count's
// repeated runs with statistics, and fleets (bounded concurrency, results
// in the order given, streaming, so that memory is bounded by the targets
// in flight, not by the fleet). Typed options in, records out through a
// report.Writer; it knows no command-line flag.
package run

import (
	"context"
	"time"

	"github.com/pgprobe/pgprobe/diagnose"
	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/statelog"
)

// DefaultConcurrency is how many targets a fleet probes at once.
const DefaultConcurrency = 256

// Options say how often and how many at once to probe.
type Options struct {
	// Concurrency: at most this many targets are probed at once (below 1:
	// DefaultConcurrency).
	Concurrency int
	// Wait: retry each target with backoff until it succeeds or Wait is
	// spent; the record is the last try's.
	Wait time.Duration
	// Count: probe each target Count times in a row; the record is the last
	// run's, with every step's statistics (0 or 1: once).
	Count int
	// Interval is the pause between two of Count's runs (0: none).
	Interval time.Duration
	// Progress, when set, is told of Wait's tries (a terminal's status line:
	// NewProgress).
	Progress Progress
	// EventSink, when set, wraps the sink each probe streams its events to
	// (before the diagnosis, which every event passes first).
	EventSink func(statelog.Sink) statelog.Sink
}

// One probes one target: once, until it succeeds (Wait), or Count times.
// Its events go to req.Sink, if any.
func One(ctx context.Context, req probe.Request, o Options) *statelog.Log {
	return probeTarget(ctx, req, o, nil)
}

// probeTarget probes one target once, or until it succeeds (--wait), or
// o.Count times (--count). With stream, the events go to stream's sink as
// they happen; when there are several tries, only the last one's do, in one
// piece at the end.
func probeTarget(ctx context.Context, req probe.Request, o Options, stream report.Streamer) *statelog.Log {
	held := stream != nil && (o.Wait > 0 || o.Count > 1)
	var release func()
	once := func(ctx context.Context, req probe.Request) *statelog.Log {
		switch {
		case held:
			req.Sink, release = stream.HeldEvents()
		case stream != nil:
			req.Sink = stream.Events()
		}
		if o.EventSink != nil && req.Sink != nil {
			req.Sink = o.EventSink(req.Sink)
		}
		// Each event is diagnosed as it is recorded, so that a streamed
		// event carries the advice the final document gives it; the
		// finished record once, here and nowhere else.
		req.Sink = diagnose.Sink(req.Sink)
		l := probe.Probe(ctx, req)
		diagnose.Record(l)
		return l
	}
	var l *statelog.Log
	switch {
	case o.Wait > 0:
		l = waitFor(ctx, req, o.Wait, once, o.Progress)
	case o.Count > 1:
		l = repeatEvery(ctx, req, o.Count, o.Interval, once)
	default:
		l = once(ctx, req)
	}
	if release != nil {
		release()
	}
	return l
}
