package statelog

import (
	"math"
	"sort"
)

// StatsTotal is the key of the whole probe's timing in Log.Stats.
const StatsTotal = "total"

// Stats summarises one step's (or the whole probe's) duration over several
// runs, in milliseconds. N is how many runs the step happened in.
type Stats struct {
	N     int     `json:"n"`
	MinMS float64 `json:"min_ms"`
	P50MS float64 `json:"p50_ms"`
	P95MS float64 `json:"p95_ms"`
	MaxMS float64 `json:"max_ms"`
	// MeanMS is the arithmetic mean; StddevMS the sample standard
	// deviation (n-1 in the denominator, 0 for a single run).
	MeanMS   float64 `json:"mean_ms"`
	StddevMS float64 `json:"stddev_ms"`
}

// StepStats computes, for every step and for the total, the minimum, median,
// 95th percentile, maximum, mean and standard deviation of the duration over logs (nil entries are skipped).
// A step's duration in one run is the sum of the durations of its events
// across all attempts of that run (a run that sent five ParameterStatus
// messages counts their time once, added up). Percentiles use the
// nearest-rank method, so every value reported is one that was measured.
// The second result lists the step names in the order they first happened,
// then StatsTotal.
func StepStats(logs []*Log) (map[string]Stats, []string) {
	samples := map[string][]float64{}
	var order []string
	var totals []float64
	for _, l := range logs {
		if l == nil {
			continue
		}
		per := map[string]float64{}
		var seen []string
		for _, a := range l.Attempts {
			if a == nil {
				continue
			}
			for _, e := range a.Events {
				if _, ok := per[e.Step]; !ok {
					seen = append(seen, e.Step)
				}
				per[e.Step] += e.DurationMS
			}
		}
		for _, step := range seen {
			if _, ok := samples[step]; !ok {
				order = append(order, step)
			}
			samples[step] = append(samples[step], round3(per[step]))
		}
		totals = append(totals, l.DurationMS)
	}
	out := make(map[string]Stats, len(samples)+1)
	for step, v := range samples {
		out[step] = summarize(v)
	}
	if len(totals) > 0 {
		out[StatsTotal] = summarize(totals)
		order = append(order, StatsTotal)
	}
	return out, order
}

func summarize(v []float64) Stats {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	mean, sd := MeanStddev(s)
	return Stats{N: len(s), MinMS: s[0], P50MS: Percentile(s, 50), P95MS: Percentile(s, 95), MaxMS: s[len(s)-1],
		MeanMS: round3(mean), StddevMS: round3(sd)}
}

// MeanStddev is the mean and the sample standard deviation of v (0 when v
// has fewer than two values).
func MeanStddev(v []float64) (mean, stddev float64) {
	if len(v) == 0 {
		return 0, 0
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}

// Percentile is the nearest-rank p-th percentile of sorted (ascending):
// the smallest value with at least p% of the values at or below it.
// It returns 0 for an empty slice.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
