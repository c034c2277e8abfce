package cliargs

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseTimeout(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration // -1: an error
	}{
		{"10", 10 * time.Second},
		{"0", 0},
		{"500ms", 500 * time.Millisecond},
		{"1m30s", 90 * time.Second},
		{"0.5", 500 * time.Millisecond},
		{"0.001", time.Millisecond},
		{"-1", -1},
		{"-0.5", -1},
		{"soon", -1},
		{"NaN", -1},
		{"Inf", -1},
		{"1e300", -1},
		{"", -1},
		{".", -1},
		{"1.2.3", -1},
		{"+10", 10 * time.Second},
		{"1.", time.Second},
		{".25", 250 * time.Millisecond},
		// The longest Duration is 9223372036.854775807s: no overflow to
		// a negative timeout, in whole seconds or with a fraction.
		{"9223372036", 9223372036 * time.Second},
		{"9223372037", -1},
		{"10000000000", -1},
		{"99999999999999999999", -1},
		{"9223372036.854775807", -1}, // rounds to 2^63 ns
		{"2562047h47m16.854775807s", time.Duration(math.MaxInt64)},
		{"2562048h", -1},
		// A positive timeout that rounds to 0 would be none at all.
		{"0.0000000001", -1},
		{"0.0000000004", -1},
		{"0.0000000006", time.Nanosecond},
		{"0.000000001", time.Nanosecond},
		{"0.1ns", -1},
		{"0.000", 0},
		{"0s", 0},
		{"0.0s", 0},
		// Exponents and hex floats are no number of seconds.
		{"1e-10", -1},
		{"1e3", -1},
		{"0x1p-1", -1},
		{"0x10", -1},
		{"1_000", -1},
		{" 10", -1},
	} {
		got, err := ParseTimeout(tc.in)
		if tc.want < 0 {
			if err == nil {
				t.Errorf("ParseTimeout(%q) = %v, want an error", tc.in, got)
			} else if !strings.Contains(err.Error(), "a number of seconds") {
				t.Errorf("ParseTimeout(%q): error %q should say what to give", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseTimeout(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	// Just below the limit, with a fraction (not exact in float64): long,
	// and never negative.
	for _, in := range []string{"9223372036.8547", "9223372035.5", "4611686018.4"} {
		if got, err := ParseTimeout(in); err != nil || got < 4611686018*time.Second {
			t.Errorf("ParseTimeout(%q) = %v, %v; want about %ss", in, got, err, in)
		}
	}
}

// A negative value is named as such; other bad values are not.
func TestParseTimeoutNegative(t *testing.T) {
	for in, neg := range map[string]bool{"-1": true, "-1.5": true, "-5s": true, "-x": false, "soon": false} {
		_, err := ParseTimeout(in)
		if err == nil || strings.Contains(err.Error(), "negative") != neg {
			t.Errorf("ParseTimeout(%q): %v (should name a negative value: %v)", in, err, neg)
		}
	}
}

func TestParseInterval(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration // -1: an error
		why  string        // in the error
	}{
		{"0", 0, ""},
		{"1s", time.Second, ""},
		{"0.25", 250 * time.Millisecond, ""},
		{"-1s", -1, "a negative duration is no pause"},
		{"-2", -1, "a negative duration is no pause"},
		{"soon", -1, "give a duration such as"},
	} {
		got, err := ParseInterval(tc.in)
		switch {
		case tc.want < 0 && (err == nil || !strings.Contains(err.Error(), "invalid --interval") || !strings.Contains(err.Error(), tc.why)):
			t.Errorf("ParseInterval(%q) = %v, %v; want an error naming --interval and %q", tc.in, got, err, tc.why)
		case tc.want >= 0 && (err != nil || got != tc.want):
			t.Errorf("ParseInterval(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}
