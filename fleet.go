package main

// Fleet mode and the per-target loop: several targets probed concurrently,
// each one probed once, retried with --wait, or repeated with --count.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pgprobe/pgprobe/diagnose"
	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/statelog"
	"github.com/urfave/cli/v2"
)

// defaultConcurrency is how many targets a fleet probes at once.
const defaultConcurrency = 256

// runFlags are the flags that say how often and how many at once to probe.
func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing at all: the exit code is the answer (usage errors still go to stderr)"},
		&cli.StringFlag{Name: "wait", Usage: "retry with backoff until the target succeeds or `DURATION` (such as 30s) is spent; the exit code is the last try's"},
		&cli.StringFlag{Name: "targets-file", Usage: "probe the targets listed in `FILE`, one connection string or URI a line (# comments; - for stdin)"},
		&cli.IntFlag{Name: "concurrency", Value: defaultConcurrency, Usage: "probe at most `N` targets at once"},
		&cli.IntFlag{Name: "count", Aliases: []string{"n"}, Value: 1, Usage: "probe each target `N` times in a row and report min, p50, p95 and max of every step"},
	}
}

// runOpts is how each target is probed.
type runOpts struct {
	concurrency int
	wait        time.Duration
	count       int
	// ndjson: each try or run streams its events to a buffer, and only the
	// final one's events reach sink (nothing reaches stdout before the end).
	ndjson bool
	sink   *statelog.NDJSONSink
	// progress, when set, shows --wait's progress (on a terminal).
	progress waitProgress
	// usageErrs, when set (--quiet), receives each target's settings error
	// (exit 3): a mistake in a connection string is a usage error, which
	// --quiet does not hide. The lines are written by probeAndReport's
	// emit, in the order of the targets.
	usageErrs *lockedWriter
	// fleet: report as a fleet even for one target (--targets-file).
	fleet bool
}

// lockedWriter serialises writes from the probes' goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, a...)
}

func parseRunOpts(c *cli.Context) (runOpts, error) {
	o := runOpts{concurrency: c.Int("concurrency"), count: c.Int("count")}
	if o.concurrency < 1 {
		return o, usageErr("invalid --concurrency %d: give 1 or more", o.concurrency)
	}
	if o.count < 1 {
		return o, usageErr("invalid --count %d: give 1 or more", o.count)
	}
	if s := c.String("wait"); c.IsSet("wait") {
		d, err := parseTimeout(s)
		if err != nil {
			// The same parser as --timeout's, and its reason (too long,
			// shorter than 1ns) holds for --wait too.
			return o, usageErr("%s", strings.Replace(err.Error(), "invalid --timeout", "invalid --wait", 1))
		}
		if d <= 0 {
			return o, usageErr("invalid --wait %q: it needs a time above 0 to retry in; give a duration such as 30s or 500ms, or a number of seconds", s)
		}
		o.wait = d
	}
	if o.wait > 0 && o.count > 1 {
		return o, usageErr("--wait and --count do not combine: wait for the target first, then measure it")
	}
	return o, nil
}

// readTargets reads a --targets-file: one target a line, blank lines and
// lines starting with # skipped; "-" reads stdin.
func readTargets(path string, stdin io.Reader) ([]string, error) {
	var r io.Reader
	if path == "-" {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("could not read --targets-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("could not read --targets-file %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--targets-file %s holds no target", path)
	}
	return out, nil
}

// probeEach probes every request, at most o.concurrency at once. Each
// record goes through render in the goroutine that probed it, and emit gets
// the rendered outcomes one at a time in the order of reqs, each as soon as
// it and every earlier one are done. At most window targets are probed or
// wait for an earlier one (window ≥ o.concurrency), so that what waits is
// bounded when a slow target holds up the ones after it.
func probeEach[T any](ctx context.Context, reqs []probe.Request, o runOpts, window int, render func(*statelog.Log) T, emit func(int, T)) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		next    int
		pending = make([]*T, len(reqs))
		sem     = make(chan struct{}, o.concurrency)
		ahead   = make(chan struct{}, max(window, o.concurrency))
	)
	for i, req := range reqs {
		ahead <- struct{}{}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := render(probeTarget(ctx, req, o))
			<-sem
			mu.Lock()
			defer mu.Unlock()
			pending[i] = &r
			for next < len(pending) && pending[next] != nil {
				emit(next, *pending[next])
				pending[next] = nil
				next++
				<-ahead
			}
		}()
	}
	wg.Wait()
}

// fleetWindow: with -o json or the timeline, how many targets (times
// --concurrency) may be probed ahead of the first one not yet written.
const fleetWindow = 4

// outcome is what remains of one target once it is rendered: its verdict
// and its part of the report, never its whole record.
type outcome struct {
	ok   bool
	code int
	out  []byte     // its JSON document, timeline (with statistics) or NDJSON verdict line
	row  report.Row // -o table
	err  error
	// usage: --quiet's line for a settings error (exit 3), printed by emit
	// so that the lines come in the order of the targets.
	usage string
}

var resultEncoders = sync.Pool{New: func() any { return new(report.ResultEncoder) }}

// probeAndReport probes reqs, at most o.concurrency at once, and writes the
// report in output (one of outputFormats; "" writes nothing, for --quiet)
// to w while the targets are probed: a fleet's memory is bounded by the
// targets in flight, not by the fleet. It returns the highest exit code and
// the first error writing the report (after which the probes still running
// are cancelled).
//
// json: one target's document, or JSONStream's {schema, results, ok,
// exit_code} for several, results in the order of reqs. timeline: each
// target's timeline (and --count statistics) in that order. table: the
// summary rows once all are done, then the statistics. ndjson: the events
// stream through o.sink as they happen; the verdict lines come last.
func probeAndReport(ctx context.Context, w io.Writer, reqs []probe.Request, o runOpts, output string, opts report.Options) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	named := len(reqs) > 1 || o.fleet
	render := func(l *statelog.Log) outcome {
		oc := outcome{ok: l.OK, code: l.ExitCode}
		var b bytes.Buffer
		switch output {
		case "json":
			if !named {
				oc.err = report.JSON(&b, l)
				break
			}
			enc := resultEncoders.Get().(*report.ResultEncoder)
			doc, err := enc.Encode(l)
			oc.out, oc.err = bytes.Clone(doc), err
			resultEncoders.Put(enc)
			return oc
		case "ndjson":
			oc.err = statelog.NewNDJSONSink(&b).Verdict(l)
		case "table":
			oc.row = report.RowOf(l)
			if len(l.Stats) > 0 {
				b.WriteString("\n")
				oc.err = renderStats(&b, l, named)
			}
		case "":
			// Cleaned as the table is: a targets file line or an option
			// name may hold ESC sequences.
			if o.usageErrs != nil && l.ExitCode == statelog.ExitNoAttempt && l.Error != nil {
				if named {
					oc.usage = "pgprobe: " + report.Clean(l.Target) + ": " + report.Clean(l.Error.Message) + "\n"
				} else {
					oc.usage = "pgprobe: " + report.Clean(l.Error.Message) + "\n"
				}
			}
		default:
			if oc.err = report.Timeline(&b, l, opts); oc.err == nil && len(l.Stats) > 0 {
				b.WriteString("\n")
				oc.err = renderStats(&b, l, named)
			}
		}
		if b.Len() > 0 {
			oc.out = b.Bytes()
		}
		return oc
	}

	var (
		code   int
		werr   error
		stream *report.JSONStream
		rows   []report.Row
		later  [][]byte // table: statistics; ndjson: verdict lines
		window = len(reqs)
		fail   = func(err error) {
			if werr == nil && err != nil {
				werr = err
				cancel()
			}
		}
	)
	switch output {
	case "json":
		window = fleetWindow * o.concurrency
		if named {
			stream = report.NewJSONStream(w)
		}
	case "table":
		rows = make([]report.Row, 0, len(reqs))
	case "ndjson", "":
	default:
		window = fleetWindow * o.concurrency
	}
	failed := 0
	probeEach(ctx, reqs, o, window, render, func(i int, oc outcome) {
		code = max(code, oc.code)
		if !oc.ok {
			failed++
		}
		fail(oc.err)
		if oc.usage != "" {
			o.usageErrs.printf("%s", oc.usage)
		}
		switch {
		case stream != nil:
			if oc.err == nil {
				stream.Add(oc.out, oc.ok, oc.code)
				fail(stream.Err())
			}
		case output == "table":
			rows = append(rows, oc.row)
			if oc.out != nil {
				later = append(later, oc.out)
			}
		case output == "ndjson":
			later = append(later, oc.out)
		case werr != nil || output == "":
		case output == "json":
			_, err := w.Write(oc.out)
			fail(err)
		default:
			if i > 0 {
				_, err := io.WriteString(w, "\n")
				fail(err)
			}
			if werr == nil {
				_, err := w.Write(oc.out)
				fail(err)
			}
		}
	})
	switch {
	case stream != nil:
		fail(stream.Close())
	case werr != nil:
	case output == "table":
		fail(report.TableRows(w, rows, opts))
		fallthrough
	case output == "ndjson":
		// No probe is running: nothing else writes to w.
		for _, b := range later {
			if werr == nil {
				_, err := w.Write(b)
				fail(err)
			}
		}
		if output == "ndjson" && named && werr == nil {
			fail(statelog.NewNDJSONSink(w).FleetVerdict(statelog.NDJSONFleetVerdict{OK: failed == 0, ExitCode: code, Targets: len(reqs), Failed: failed}))
		}
	}
	return code, werr
}

// probeTarget probes one target once, or until it succeeds (--wait), or
// o.count times (--count).
func probeTarget(ctx context.Context, req probe.Request, o runOpts) *statelog.Log {
	buffered := o.ndjson && (o.wait > 0 || o.count > 1)
	var last *bytes.Buffer
	once := func(ctx context.Context, req probe.Request) *statelog.Log {
		if buffered {
			last = &bytes.Buffer{}
			req.Sink = statelog.NewNDJSONSink(last)
		} else if o.sink != nil {
			req.Sink = o.sink
		}
		req.Sink = diagnose.Sink(req.Sink)
		l := probe.Probe(ctx, req)
		diagnose.Record(l)
		return l
	}
	var l *statelog.Log
	switch {
	case o.wait > 0:
		l = waitFor(ctx, req, o.wait, once, o.progress)
	case o.count > 1:
		l = repeat(ctx, req, o.count, once)
	default:
		l = once(ctx, req)
	}
	if buffered && last != nil {
		o.sink.Raw(last.Bytes())
	}
	return l
}

// repeat probes the target n times in a row and returns the last run's
// record with the runs' statistics; its exit code is the highest of the
// runs' (and ok is false when any run failed).
func repeat(ctx context.Context, req probe.Request, n int, once func(context.Context, probe.Request) *statelog.Log) *statelog.Log {
	runs := make([]*statelog.Log, 0, n)
	codes := make([]int, 0, n)
	worst := 0
	for i := 0; i < n && ctx.Err() == nil; i++ {
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

// renderStats writes l's --count statistics, naming the target in a fleet.
func renderStats(w io.Writer, l *statelog.Log, named bool) error {
	if named {
		fmt.Fprintln(w, l.Target)
	}
	return report.StatsTable(w, l, nil)
}
