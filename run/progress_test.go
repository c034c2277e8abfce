package run

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pgprobe/pgprobe/statelog"
)

// The progress line leads with what went wrong, not libpq's prefix, and
// fits the width it is given.
func TestProgressLine(t *testing.T) {
	l := &statelog.Log{Error: &statelog.Error{Class: "connect",
		Message: "connection to server at \"db.example.com\" (10.0.0.5), port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?"}}
	got := progressLine(l, 8, 3210*time.Millisecond, 30*time.Second, 100)
	if want := "pgprobe: waiting 3.2s/30s, try 8: connect: Connection refused"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, tc := range []struct{ width, runes int }{
		{40, 40}, {20, 20}, {2, 2},
		// A width below 2 (never given by progressWidth) must not panic.
		{1, 2}, {0, 2}, {-5, 2},
	} {
		got := progressLine(l, 8, 3210*time.Millisecond, 30*time.Second, tc.width)
		if utf8.RuneCountInString(got) != tc.runes || !strings.HasSuffix(got, "…") {
			t.Errorf("cut to %d: %q (%d runes, want %d)", tc.width, got, utf8.RuneCountInString(got), tc.runes)
		}
	}
}
