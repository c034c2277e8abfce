package report

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pgprobe/pgprobe/statelog"
)

func TestFormats(t *testing.T) {
	if got, want := Formats(), []string{"timeline", "json", "ndjson", "table"}; !slices.Equal(got, want) {
		t.Errorf("Formats() = %q, want %q (the default first)", got, want)
	}
	if _, err := New("xml", &bytes.Buffer{}, Options{}); err == nil || !strings.Contains(err.Error(), "timeline, json, ndjson, table") {
		t.Errorf("an unknown format: %v", err)
	}
}

// writeAll writes logs through format's Writer as a run loop does: every
// Prepare at once, from goroutines, then Add in order, then Close.
func writeAll(t *testing.T, format string, o Options, logs ...*statelog.Log) string {
	t.Helper()
	var b bytes.Buffer
	w, err := New(format, &b, o)
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]Part, len(logs))
	var wg sync.WaitGroup
	for i, l := range logs {
		wg.Go(func() {
			var err error
			if parts[i], err = w.Prepare(l); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, p := range parts {
		if err := w.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Each format's Writer writes what its renderer writes.
func TestWritersMatchRenderers(t *testing.T) {
	logs := func() []*statelog.Log { return []*statelog.Log{okTLSScram(), refused(), wrongPassword()} }
	o := Options{Color: true, Verbose: true}
	var tl []string
	for _, l := range logs() {
		tl = append(tl, string(render(t, func(b *bytes.Buffer) error { return Timeline(b, l, o) })))
	}
	for _, tc := range []struct {
		name, format, got, want string
	}{
		{"timeline", "timeline", writeAll(t, "timeline", o, logs()[0]), tl[0]},
		{"timeline fleet", "timeline", writeAll(t, "timeline", o, logs()...), strings.Join(tl, "\n")},
		{"json", "json", writeAll(t, "json", o, refused()), string(render(t, func(b *bytes.Buffer) error { return JSON(b, refused()) }))},
		{"json fleet", "json", writeAll(t, "json", Options{Fleet: true}, logs()...), string(render(t, func(b *bytes.Buffer) error { return JSONMulti(b, logs()) }))},
		{"table", "table", writeAll(t, "table", o, logs()...), string(render(t, func(b *bytes.Buffer) error { return Table(b, logs(), o) }))},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n%s\nwant\n%s", tc.name, tc.got, tc.want)
		}
	}
}

// NDJSON: events through its sink as they happen, verdict lines at Close,
// and a fleet's verdict last; held events wait for their release.
func TestNDJSONWriter(t *testing.T) {
	var b bytes.Buffer
	w, _ := New("ndjson", &b, Options{Fleet: true})
	st, ok := w.(Streamer)
	if !ok {
		t.Fatal("the ndjson writer streams no events")
	}
	l := refused()
	a := l.Attempts[0]
	st.Events().Event(l, a, a.Events[0])
	held, release := st.HeldEvents()
	held.Event(l, a, a.Events[1])
	if n := strings.Count(b.String(), "\n"); n != 1 {
		t.Fatalf("before release: %d lines", n)
	}
	release()
	for _, l := range []*statelog.Log{okTLSScram(), refused()} {
		if err := Write(w, l); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(b.String(), "\n"); n != 2 {
		t.Fatalf("verdicts before Close: %d lines", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	var types []string
	for _, line := range lines {
		var v struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatal(err)
		}
		types = append(types, v.Type)
	}
	if want := []string{"event", "event", "verdict", "verdict", "fleet_verdict"}; !slices.Equal(types, want) {
		t.Errorf("lines %q, want %q", types, want)
	}
	if !strings.Contains(lines[4], `"ok":false,"exit_code":2,"targets":2,"failed":1`) {
		t.Errorf("fleet verdict: %s", lines[4])
	}
}

// Quiet: nothing but the settings errors, cleaned, named in a fleet.
func TestQuietWriter(t *testing.T) {
	for _, fleet := range []bool{false, true} {
		var b bytes.Buffer
		w := NewQuiet(&b, Options{Fleet: fleet})
		bad := usage()
		bad.Target = "sslmode=\x1b[31m"
		for _, l := range []*statelog.Log{okTLSScram(), bad, refused()} {
			if err := Write(w, l); err != nil {
				t.Fatal(err)
			}
		}
		want := "pgprobe: invalid sslmode value: \"bogus\"\n"
		if fleet {
			want = "pgprobe: sslmode=\\x1b[31m: invalid sslmode value: \"bogus\"\n"
		}
		if err := w.Close(); err != nil || b.String() != want {
			t.Errorf("fleet %v: %q, %v; want %q", fleet, b.String(), err, want)
		}
	}
}

// --count's statistics come before the timeline's exit line, and after the
// table, under the target's name in a fleet; both say how many runs failed.
func TestStatsInReports(t *testing.T) {
	withStats := func() *statelog.Log {
		l := refused()
		l.Runs = 3
		l.Stats = map[string]statelog.Stats{statelog.StepConnect: {N: 3, MinMS: 1, P50MS: 2, P95MS: 3, MaxMS: 3}, statelog.StatsTotal: {N: 3, MinMS: 1, P50MS: 2, P95MS: 3, MaxMS: 3}}
		return l
	}
	one := writeAll(t, "timeline", Options{}, withStats())
	fleet := writeAll(t, "timeline", Options{Fleet: true}, withStats(), okTLSScram())
	for _, out := range []string{one, fleet} {
		stats, exit := strings.Index(out, "\n3 runs\n STEP (3 runs)"), strings.Index(out, "\nexit 2")
		if stats < 0 || exit < stats {
			t.Errorf("timeline: the statistics are not before the exit line:\n%s", out)
		}
	}
	one = writeAll(t, "table", Options{}, withStats())
	fleet = writeAll(t, "table", Options{Fleet: true}, withStats(), okTLSScram())
	named := "\n" + withStats().Target + "\n3 runs\n STEP (3 runs)"
	if !strings.Contains(one, "\n3 runs\n STEP (3 runs)") || strings.Contains(one, named) || !strings.Contains(fleet, named) {
		t.Errorf("table:\n%s\n%s", one, fleet)
	}
	// With the runs' exit codes: how many failed, and which.
	l := withStats()
	l.RunExitCodes = []int{0, 2, 2}
	if out := writeAll(t, "timeline", Options{}, l); !strings.Contains(out, "3 runs, 2 failed (exit codes 0 2 2)") {
		t.Errorf("timeline: no count of failed runs:\n%s", out)
	}
}
