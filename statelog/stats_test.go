package statelog

import (
	"reflect"
	"testing"
)

func TestPercentile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for p, want := range map[float64]float64{0: 1, 10: 1, 50: 5, 51: 6, 95: 10, 100: 10} {
		if got := Percentile(v, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty: want 0")
	}
	if got := Percentile([]float64{7}, 95); got != 7 {
		t.Errorf("one value: %v", got)
	}
}

func run(total float64, steps ...any) *Log {
	a := &Attempt{}
	for i := 0; i < len(steps); i += 2 {
		a.Events = append(a.Events, Event{Step: steps[i].(string), DurationMS: steps[i+1].(float64)})
	}
	return &Log{DurationMS: total, Attempts: []*Attempt{a}}
}

func TestStepStats(t *testing.T) {
	var logs []*Log
	// 20 runs: connect takes 1..20 ms, parameter_status twice per run (summed),
	// auth only in the even runs.
	for i := 1; i <= 20; i++ {
		steps := []any{"connect", float64(i), "parameter_status", 0.5, "parameter_status", 0.25}
		if i%2 == 0 {
			steps = append(steps, "auth_request", float64(100+i))
		}
		logs = append(logs, run(float64(10*i), steps...))
	}
	logs = append(logs, nil)
	st, order := StepStats(logs)
	if want := []string{"connect", "parameter_status", "auth_request", StatsTotal}; !reflect.DeepEqual(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if got, want := st["connect"], (Stats{N: 20, MinMS: 1, P50MS: 10, P95MS: 19, MaxMS: 20, MeanMS: 10.5, StddevMS: 5.916}); got != want {
		t.Errorf("connect %+v, want %+v", got, want)
	}
	if got, want := st["parameter_status"], (Stats{N: 20, MinMS: 0.75, P50MS: 0.75, P95MS: 0.75, MaxMS: 0.75, MeanMS: 0.75}); got != want {
		t.Errorf("parameter_status %+v, want %+v", got, want)
	}
	if got, want := st["auth_request"], (Stats{N: 10, MinMS: 102, P50MS: 110, P95MS: 120, MaxMS: 120, MeanMS: 111, StddevMS: 6.055}); got != want {
		t.Errorf("auth_request %+v, want %+v", got, want)
	}
	if got, want := st[StatsTotal], (Stats{N: 20, MinMS: 10, P50MS: 100, P95MS: 190, MaxMS: 200, MeanMS: 105, StddevMS: 59.161}); got != want {
		t.Errorf("total %+v, want %+v", got, want)
	}
	if st, order := StepStats(nil); len(st) != 0 || len(order) != 0 {
		t.Errorf("no runs: %v %v", st, order)
	}
}

func TestMeanStddev(t *testing.T) {
	cases := []struct {
		v          []float64
		mean, sdev float64
	}{
		{nil, 0, 0},
		{[]float64{4}, 4, 0},
		{[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, 2.138}, // sample standard deviation: n-1
	}
	for _, tc := range cases {
		m, sd := MeanStddev(tc.v)
		if m != tc.mean || round3(sd) != tc.sdev {
			t.Errorf("%v: mean %v, stddev %v; want %v, %v", tc.v, m, sd, tc.mean, tc.sdev)
		}
	}
}
