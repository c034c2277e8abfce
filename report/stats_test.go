package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/statelog"
)

func TestStatsTable(t *testing.T) {
	l := &statelog.Log{Runs: 3, Attempts: []*statelog.Attempt{{Events: []statelog.Event{{Step: "resolve"}, {Step: "connect"}, {Step: "close"}}}},
		Stats: map[string]statelog.Stats{
			"connect":           {N: 3, MinMS: 0.5, P50MS: 0.75, P95MS: 1, MaxMS: 1, MeanMS: 0.75, StddevMS: 0.25},
			"resolve":           {N: 3, MinMS: 0.01, P50MS: 0.02, P95MS: 0.03, MaxMS: 0.03},
			"auth_request":      {N: 1, MinMS: 2, P50MS: 2, P95MS: 2, MaxMS: 2}, // not in the last run
			statelog.StatsTotal: {N: 3, MinMS: 5, P50MS: 6, P95MS: 7.5, MaxMS: 7.5},
		}}
	var b bytes.Buffer
	if err := StatsTable(&b, l, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n")[1:] {
		rows = append(rows, strings.Join(strings.Fields(line), " "))
	}
	want := []string{"resolve 3 0.01 0.02 0.03 0.03 0.00 0.00", "connect 3 0.50 0.75 1.00 1.00 0.75 0.25", "auth_request 1 2.00 2.00 2.00 2.00 0.00 0.00", "total 3 5.00 6.00 7.50 7.50 0.00 0.00"}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(b.String(), "STEP (3 runs)") {
		t.Errorf("header: %s", b.String())
	}
	b.Reset()
	if err := StatsTable(&b, &statelog.Log{}, nil, Options{}); err != nil || b.Len() != 0 {
		t.Errorf("no stats: %q %v", b.String(), err)
	}
}
