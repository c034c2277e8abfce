package main

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadTargets(t *testing.T) {
	body := "# fleet\n\nhost=a\n  postgresql://b/x  \n\t# indented comment\nhost=c port=1\n"
	got, err := readTargets("-", strings.NewReader(body))
	if want := []string{"host=a", "postgresql://b/x", "host=c port=1"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	p := filepath.Join(t.TempDir(), "t")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if got2, err := readTargets(p, nil); err != nil || !reflect.DeepEqual(got2, got) {
		t.Errorf("from a file: %q, %v", got2, err)
	}
	if _, err := readTargets("-", strings.NewReader("# nothing\n\n")); err == nil {
		t.Error("an empty list is an error")
	}
	if _, err := readTargets(filepath.Join(p, "missing"), nil); err == nil {
		t.Error("a missing file is an error")
	}
	// On the command line both are usage errors (exit 3), and args come first.
	r := pgprobe(t, map[string]string{"STDIN": "sslmode=bogus\n"}, "-o", "json", "--targets-file", "-", "host=127.0.0.1 port=1")
	mustCode(t, r, 3)
	mustEqual(t, r, "results.0.target", "host=127.0.0.1 port=1")
	mustEqual(t, r, "results.1.target", "sslmode=bogus")
	if r := pgprobe(t, nil, "--targets-file", "/nonexistent/targets"); r.code != 3 || !strings.Contains(r.stderr, "targets-file") {
		t.Errorf("missing file: exit %d, %q", r.code, r.stderr)
	}
}

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
		got, err := parseTimeout(tc.in)
		if tc.want < 0 {
			if err == nil {
				t.Errorf("parseTimeout(%q) = %v, want an error", tc.in, got)
			} else if !strings.Contains(err.Error(), "a number of seconds") {
				t.Errorf("parseTimeout(%q): error %q should say what to give", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseTimeout(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	// Just below the limit, with a fraction (not exact in float64): long,
	// and never negative.
	for _, in := range []string{"9223372036.8547", "9223372035.5", "4611686018.4"} {
		if got, err := parseTimeout(in); err != nil || got < 4611686018*time.Second {
			t.Errorf("parseTimeout(%q) = %v, %v; want about %ss", in, got, err, in)
		}
	}
}

// A negative value is named as such; other bad values are not.
func TestParseTimeoutNegative(t *testing.T) {
	for in, neg := range map[string]bool{"-1": true, "-1.5": true, "-5s": true, "-x": false, "soon": false} {
		_, err := parseTimeout(in)
		if err == nil || strings.Contains(err.Error(), "negative") != neg {
			t.Errorf("parseTimeout(%q): %v (should name a negative value: %v)", in, err, neg)
		}
	}
}
