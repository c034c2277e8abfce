package diagnose

import (
	"strings"
	"testing"

	"github.com/pgprobe/pgprobe/statelog"
)

func TestPreferFallback(t *testing.T) {
	const prefix = `connection to server at "db", port 5432 failed: FATAL:  `
	noEnc := &statelog.Error{Class: statelog.ClassAuth, SQLState: "28000",
		Message: prefix + `no pg_hba.conf entry for host "10.0.0.1", user "app", database "app", no encryption`}
	wrongPW := &statelog.Error{Class: statelog.ClassAuth, SQLState: "28P01",
		Message: prefix + `password authentication failed for user "app"`}
	attempt := func(enc string, e *statelog.Error) *statelog.Attempt {
		return &statelog.Attempt{Host: "db", HostAddr: "10.0.0.1", Port: 5432, SSLMode: "prefer", Encryption: enc, Error: e}
	}
	for _, tc := range []struct {
		name     string
		attempts []*statelog.Attempt
		want     string // "" for no fallback advice
	}{
		{"wrong password over SSL, retry rejected", []*statelog.Attempt{attempt("ssl", wrongPW), attempt("plaintext", noEnc)}, "password authentication failed"},
		{"plaintext only (sslmode=disable)", []*statelog.Attempt{attempt("plaintext", noEnc)}, ""},
		{"SSL attempt at another address", []*statelog.Attempt{{Host: "db", HostAddr: "10.0.0.2", Port: 5432, Encryption: "ssl", Error: wrongPW}, attempt("plaintext", noEnc)}, ""},
		{"the retry failed otherwise", []*statelog.Attempt{attempt("ssl", wrongPW), attempt("plaintext", wrongPW)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			last := tc.attempts[len(tc.attempts)-1]
			l := &statelog.Log{Attempts: tc.attempts, Error: last.Error}
			got := sslOnlyRetry(l, last)
			if tc.want == "" {
				if got != "" {
					t.Errorf("got advice %q, want none", got)
				}
				return
			}
			if !strings.Contains(got, tc.want) || !strings.Contains(got, "retry without SSL") {
				t.Errorf("advice %q should name the retry and %q", got, tc.want)
			}
		})
	}
}
