//go:build unix

package pgtest

import "testing"

func TestStartStandby(t *testing.T) {
	p := Start(t, Options{})
	s := StartStandby(t, p)
	if got := s.Psql(t, "select pg_is_in_recovery()"); got != "t" {
		t.Fatalf("standby: %q", got)
	}
	if got := p.Psql(t, "select pg_is_in_recovery()"); got != "f" {
		t.Fatalf("primary: %q", got)
	}
}
