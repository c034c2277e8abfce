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

	"github.com/pgprobe/pgprobe/probe"
	"github.com/pgprobe/pgprobe/report"
	"github.com/pgprobe/pgprobe/statelog"
	"github.com/urfave/cli/v2"
)

// defaultConcurrency is how many targets a fleet probes at once.
const defaultConcurrency = 16

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
	// progress, when set, receives --wait's one-line progress (a terminal).
	progress io.Writer
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
		if err != nil || d <= 0 {
			return o, usageErr("invalid --wait %q: give a duration such as 30s or 500ms, or a number of seconds", s)
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

// probeAll probes every request, at most o.concurrency at once, and returns
// the records in the order of reqs.
func probeAll(ctx context.Context, reqs []probe.Request, o runOpts) []*statelog.Log {
	logs := make([]*statelog.Log, len(reqs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.concurrency)
	for i, req := range reqs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			logs[i] = probeTarget(ctx, req, o)
		}()
	}
	wg.Wait()
	return logs
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
		l := probe.Probe(ctx, req)
		report.Annotate(l)
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
