package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/olekukonko/tablewriter/tw"

	"github.com/pgprobe/pgprobe/statelog"
)

// StatsTable writes the per-step timing of repeated runs (-n/--count): one
// row per step in the order the steps happen, then the total, with the
// number of runs the step happened in and its min, p50, p95, max, mean and
// standard deviation in ms.
// It writes nothing when l has no Stats.
//
// It fits o's width: RUNS, MIN MS and MAX MS go when it is narrow, in that
// order (any other column first), and step names are cut.
func StatsTable(w io.Writer, l *statelog.Log, order []string, o Options) error {
	if l == nil || len(l.Stats) == 0 {
		return nil
	}
	if order == nil {
		order = StatsOrder(l)
	}
	header := []string{"STEP (" + strconv.Itoa(l.Runs) + " runs)", "RUNS", "MIN MS", "P50 MS", "P95 MS", "MAX MS", "MEAN MS", "STDDEV MS"}
	specs := map[string]colSpec{header[0]: {soft: 12, hard: 8}, "RUNS": {drop: 2}, "MIN MS": {drop: 3}, "MAX MS": {drop: 4}}
	for _, h := range header[1:] {
		if _, ok := specs[h]; !ok && h != "P50 MS" && h != "P95 MS" {
			specs[h] = colSpec{drop: 1}
		}
	}
	r := tw.AlignRight
	t := plainTable(w, []tw.Align{tw.AlignLeft, r, r, r, r, r, r, r}, o.tableWidth(), specs)
	t.Header(header)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	for _, step := range order {
		s, ok := l.Stats[step]
		if !ok {
			continue
		}
		if err := t.Append(clean(step), strconv.Itoa(s.N), f(s.MinMS), f(s.P50MS), f(s.P95MS), f(s.MaxMS), f(s.MeanMS), f(s.StddevMS)); err != nil {
			return err
		}
	}
	return t.Render()
}

// StatsOrder lists the steps of l.Stats in the order they happen in l (the
// last run), then any other step alphabetically, then the total.
func StatsOrder(l *statelog.Log) []string {
	var order []string
	seen := map[string]bool{statelog.StatsTotal: true}
	for _, a := range l.Attempts {
		for _, e := range a.Events {
			if _, ok := l.Stats[e.Step]; ok && !seen[e.Step] {
				seen[e.Step] = true
				order = append(order, e.Step)
			}
		}
	}
	var rest []string
	for step := range l.Stats {
		if !seen[step] {
			rest = append(rest, step)
		}
	}
	sort.Strings(rest)
	order = append(order, rest...)
	if _, ok := l.Stats[statelog.StatsTotal]; ok {
		order = append(order, statelog.StatsTotal)
	}
	return order
}

// statsSection writes l's --count statistics (how many runs failed, then
// the table), under the target's name in a fleet.
func statsSection(w io.Writer, l *statelog.Log, o Options) error {
	if o.Fleet {
		for _, s := range wrap(clean(l.Target), o.width()) {
			fmt.Fprintln(w, s)
		}
	}
	for _, s := range wrap(runsLine(l), o.width()) {
		fmt.Fprintln(w, s)
	}
	return StatsTable(w, l, nil, o)
}
