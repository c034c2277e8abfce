package report

import (
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/statelog"
)

func TestCleanCutsLongValues(t *testing.T) {
	long := strings.Repeat("u", 100000)
	cases := []struct {
		name, in, want string
	}{
		{"short", "user=app dbname=shop", "user=app dbname=shop"},
		{"a run of exactly the limit", strings.Repeat("x", maxRun), strings.Repeat("x", maxRun)},
		{"a long value among short ones", "user=" + long + " dbname=shop", "user=" + strings.Repeat("u", maxRun-5) + "… (100005 characters) dbname=shop"},
		{"runes, not bytes", strings.Repeat("é", maxRun+1), strings.Repeat("é", maxRun) + "… (201 characters)"},
		{"escaped first, then cut", "a\x1b" + strings.Repeat("b", maxRun), `a\x1b` + strings.Repeat("b", maxRun-5) + "… (205 characters)"},
		{"a long field of short words", strings.Repeat("ab ", 1000), strings.Repeat("ab ", 666) + "ab… (3000 characters)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := clean(c.in); got != c.want {
				t.Errorf("clean:\n got %.300q…\nwant %.300q…", got, c.want)
			}
		})
	}
}

// TestDirectTLSHint: the round-trips footer suggests direct TLS only for a
// server known to be PostgreSQL 17 or later.
func TestDirectTLSHint(t *testing.T) {
	for _, c := range []struct {
		version string
		direct  bool
		hint    bool
	}{
		{"15.18 (Debian 15.18-0+deb12u1)", false, false},
		{"", false, false},
		{"17.4", false, true},
		{"18.0", true, false},
		{"1.23.1/bouncer", false, false},
	} {
		a := &statelog.Attempt{RoundTrips: 5, SSLResponse: statelog.Str("S"), Direct: c.direct}
		if c.version != "" {
			a.Server = &statelog.Server{Parameters: map[string]string{"server_version": c.version}}
		}
		if got := strings.Contains(roundTripsLine(a), "sslnegotiation=direct would save 1"); got != c.hint {
			t.Errorf("server %q direct=%v: hint %v, want %v: %s", c.version, c.direct, got, c.hint, roundTripsLine(a))
		}
	}
}
