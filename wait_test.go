package main

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
	got = progressLine(l, 8, 3210*time.Millisecond, 30*time.Second, 40)
	if utf8.RuneCountInString(got) != 40 || !strings.HasSuffix(got, "…") {
		t.Errorf("cut to 40: %q (%d runes)", got, utf8.RuneCountInString(got))
	}
}
